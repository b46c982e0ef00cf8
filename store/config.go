package store

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults applied by Config.Validate to fields left zero.
const (
	DefaultBatchSize        = 5000
	DefaultFlushInterval    = time.Second
	DefaultBufferSize       = 100_000
	DefaultSpoolCap         = 1 << 30
	DefaultTimeout          = 10 * time.Second
	DefaultMaxRetries       = 3
	DefaultRetryInterval    = 500 * time.Millisecond
	DefaultMaxRetryInterval = 30 * time.Second
	DefaultLocalFileSize    = 64 << 20
	DefaultLocalWindow      = 100_000
	DefaultLocalMaxAge      = 7 * 24 * time.Hour
	DefaultLocalMaxSize     = 1 << 30
)

// Config configures the InfluxDB sink. Library code takes it as a struct;
// the command layer fills it from a file (LoadConfigFile), the environment
// (ApplyEnv) and flags, in that order of precedence, then calls Validate.
//
// For InfluxDB 2.x set Org, Bucket and an API Token. For InfluxDB 1.8's
// v2-compatible API set Bucket to "database/retention-policy" (or just
// "database"), Token to "user:password" (anything when authentication is
// off), and leave Org empty: 1.8 ignores it.
type Config struct {
	URL    string `yaml:"url"`
	Token  string `yaml:"token"`
	Org    string `yaml:"org"`
	Bucket string `yaml:"bucket"`

	BatchSize     int           `yaml:"batch_size"`     // lines per write request
	FlushInterval time.Duration `yaml:"flush_interval"` // longest a partial batch waits
	BufferSize    int           `yaml:"buffer_size"`    // points held in memory between Write and the sender
	SpoolDir      string        `yaml:"spool_dir"`      // where points spill when InfluxDB is down; empty: no spilling
	SpoolCap      int64         `yaml:"spool_cap"`      // bytes the spool may hold; beyond it points are dropped and counted
	DisableGzip   bool          `yaml:"disable_gzip"`   // send uncompressed bodies

	Timeout          time.Duration `yaml:"timeout"`            // per write request
	MaxRetries       int           `yaml:"max_retries"`        // retries of a batch before it spills; 0: default, negative: none
	RetryInterval    time.Duration `yaml:"retry_interval"`     // first backoff; it doubles per failure
	MaxRetryInterval time.Duration `yaml:"max_retry_interval"` // backoff ceiling
}

// Enabled reports whether an InfluxDB server is configured.
func (c *Config) Enabled() bool { return c.URL != "" }

// Validate fills defaults into zero fields and checks the rest, once, up front.
func (c *Config) Validate() error {
	if c.URL == "" {
		return fmt.Errorf("%w: no InfluxDB URL (INFLUX_URL or --influx-url)", ErrConfig)
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: InfluxDB URL %q is not http(s)://host:port", ErrConfig, MaskURL(c.URL))
	}
	if c.Bucket == "" {
		return fmt.Errorf("%w: no bucket (INFLUX_BUCKET; for InfluxDB 1.8 \"database/retention-policy\")", ErrConfig)
	}
	setDefault(&c.BatchSize, DefaultBatchSize)
	setDefault(&c.FlushInterval, DefaultFlushInterval)
	setDefault(&c.BufferSize, DefaultBufferSize)
	setDefault(&c.SpoolCap, DefaultSpoolCap)
	setDefault(&c.Timeout, DefaultTimeout)
	setDefault(&c.RetryInterval, DefaultRetryInterval)
	setDefault(&c.MaxRetryInterval, DefaultMaxRetryInterval)
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0 // negative: spill at the first failure
	}
	switch {
	case c.BatchSize < 0 || c.BufferSize < 0 || c.SpoolCap < 0 || c.FlushInterval < 0 ||
		c.Timeout < 0 || c.RetryInterval < 0 || c.MaxRetryInterval < 0:
		return fmt.Errorf("%w: negative size or interval", ErrConfig)
	case c.BufferSize < c.BatchSize:
		return fmt.Errorf("%w: buffer size %d is smaller than batch size %d", ErrConfig, c.BufferSize, c.BatchSize)
	case c.MaxRetryInterval < c.RetryInterval:
		return fmt.Errorf("%w: max retry interval %v is below retry interval %v", ErrConfig, c.MaxRetryInterval, c.RetryInterval)
	}
	return nil
}

// LocalConfig configures the embedded local store.
type LocalConfig struct {
	DataDir     string `yaml:"data_dir"`      // line-protocol files go here
	MaxFileSize int64  `yaml:"max_file_size"` // a file is rotated when it would grow past this
	Window      int    `yaml:"window"`        // points kept in memory for the dashboard

	// Retention. Zero: the default (7 days, 1 GiB); negative: no limit.
	MaxAge  time.Duration `yaml:"max_age"`  // files last written longer ago are deleted
	MaxSize int64         `yaml:"max_size"` // the oldest files are deleted while all hold more
}

// Validate fills defaults into zero fields and checks the rest. Left zero
// under a MaxSize below 256 MiB, MaxFileSize is a quarter of MaxSize, so that
// retention deletes a file at a time rather than nearly everything.
func (c *LocalConfig) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("%w: no data directory", ErrConfig)
	}
	setDefault(&c.MaxAge, DefaultLocalMaxAge)
	setDefault(&c.MaxSize, DefaultLocalMaxSize)
	if c.MaxFileSize == 0 && c.MaxSize > 0 && c.MaxSize/4 < DefaultLocalFileSize {
		c.MaxFileSize = max(c.MaxSize/4, 1)
	}
	setDefault(&c.MaxFileSize, DefaultLocalFileSize)
	setDefault(&c.Window, DefaultLocalWindow)
	switch {
	case c.MaxFileSize < 0 || c.Window < 0:
		return fmt.Errorf("%w: negative local file size or window", ErrConfig)
	case c.MaxSize > 0 && c.MaxFileSize > c.MaxSize:
		return fmt.Errorf("%w: local file size %d is larger than the retention size %d", ErrConfig, c.MaxFileSize, c.MaxSize)
	}
	if c.MaxAge < 0 {
		c.MaxAge = -1
	}
	if c.MaxSize < 0 {
		c.MaxSize = -1
	}
	return nil
}

func setDefault[T int | int64 | time.Duration](v *T, d T) {
	if *v == 0 {
		*v = d
	}
}

// Environment variables read by ApplyEnv.
const (
	EnvURL    = "INFLUX_URL"
	EnvToken  = "INFLUX_TOKEN"
	EnvOrg    = "INFLUX_ORG"
	EnvBucket = "INFLUX_BUCKET"
)

// ApplyEnv overrides URL, Token, Org and Bucket from INFLUX_URL,
// INFLUX_TOKEN, INFLUX_ORG and INFLUX_BUCKET when lookup finds them. The
// command layer passes os.LookupEnv; tests pass a map.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) {
	for _, e := range []struct {
		name string
		dst  *string
	}{{EnvURL, &c.URL}, {EnvToken, &c.Token}, {EnvOrg, &c.Org}, {EnvBucket, &c.Bucket}} {
		if v, ok := lookup(e.name); ok && v != "" {
			*e.dst = v
		}
	}
}

// FileConfig is the part of zspy's YAML config file the store reads:
//
//	influx:
//	  url: http://127.0.0.1:8086
//	  token: my-token          # 1.8: "user:password"
//	  org: my-org              # 1.8: leave out
//	  bucket: zspy             # 1.8: "zspy/autogen"
//	  batch_size: 5000
//	  flush_interval: 1s
//	  buffer_size: 100000
//	  spool_dir: /var/lib/zspy/spool
//	  spool_cap: 1GiB
//	local:
//	  data_dir: /var/lib/zspy/data
//	  max_file_size: 64MiB
//	  window: 100000
//	  max_age: 7d              # retention; 0: keep files forever
//	  max_size: 1GiB           # retention; 0: no size limit
//
// Other top-level keys belong to other parts of zspy and are ignored here;
// unknown keys inside influx and local are errors (typos would otherwise
// silently fall back to defaults). Durations are Go durations ("1s",
// "250ms"), max_age also takes days ("7d"); sizes are bytes or a number with KB, MB, GB, KiB, MiB or GiB.
type FileConfig struct {
	Influx Config      `yaml:"influx"`
	Local  LocalConfig `yaml:"local"`
}

// LoadConfigFile reads the influx and local sections of a YAML config file.
func LoadConfigFile(path string) (FileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return FileConfig{}, fmt.Errorf("read config: %w", err)
	}
	fc, err := ParseConfig(data)
	if err != nil {
		return FileConfig{}, fmt.Errorf("config %s: %w", path, err)
	}
	return fc, nil
}

// ParseConfig parses the influx and local sections of a YAML config document.
func ParseConfig(data []byte) (FileConfig, error) {
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(data, &top); err != nil {
		return FileConfig{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	var fc FileConfig
	if n, ok := top["influx"]; ok {
		var raw rawInflux
		if err := decodeStrict(&n, &raw); err != nil {
			return FileConfig{}, fmt.Errorf("%w: influx: %w", ErrConfig, err)
		}
		fc.Influx = Config{
			URL: raw.URL, Token: raw.Token, Org: raw.Org, Bucket: raw.Bucket,
			BatchSize: raw.BatchSize, FlushInterval: time.Duration(raw.FlushInterval),
			BufferSize: raw.BufferSize, SpoolDir: raw.SpoolDir, SpoolCap: int64(raw.SpoolCap),
			DisableGzip: raw.DisableGzip, Timeout: time.Duration(raw.Timeout), MaxRetries: raw.MaxRetries,
			RetryInterval: time.Duration(raw.RetryInterval), MaxRetryInterval: time.Duration(raw.MaxRetryInterval),
		}
	}
	if n, ok := top["local"]; ok {
		var raw rawLocal
		if err := decodeStrict(&n, &raw); err != nil {
			return FileConfig{}, fmt.Errorf("%w: local: %w", ErrConfig, err)
		}
		fc.Local = LocalConfig{DataDir: raw.DataDir, MaxFileSize: int64(raw.MaxFileSize), Window: raw.Window}
		// In the file, 0 means no limit; in LocalConfig, zero is the default.
		if raw.MaxAge != nil {
			fc.Local.MaxAge = NoLimitIfZero(time.Duration(*raw.MaxAge))
		}
		if raw.MaxSize != nil {
			fc.Local.MaxSize = NoLimitIfZero(int64(*raw.MaxSize))
		}
	}
	return fc, nil
}

// rawInflux mirrors Config with YAML-friendly duration and size types.
type rawInflux struct {
	URL              string   `yaml:"url"`
	Token            string   `yaml:"token"`
	Org              string   `yaml:"org"`
	Bucket           string   `yaml:"bucket"`
	BatchSize        int      `yaml:"batch_size"`
	FlushInterval    duration `yaml:"flush_interval"`
	BufferSize       int      `yaml:"buffer_size"`
	SpoolDir         string   `yaml:"spool_dir"`
	SpoolCap         size     `yaml:"spool_cap"`
	DisableGzip      bool     `yaml:"disable_gzip"`
	Timeout          duration `yaml:"timeout"`
	MaxRetries       int      `yaml:"max_retries"`
	RetryInterval    duration `yaml:"retry_interval"`
	MaxRetryInterval duration `yaml:"max_retry_interval"`
}

type rawLocal struct {
	DataDir     string `yaml:"data_dir"`
	MaxFileSize size   `yaml:"max_file_size"`
	Window      int    `yaml:"window"`
	MaxAge      *age   `yaml:"max_age"`
	MaxSize     *size  `yaml:"max_size"`
}

// NoLimitIfZero maps a retention limit as people write it (0: no limit) to
// LocalConfig's convention (0: the default, negative: no limit).
func NoLimitIfZero[T int64 | time.Duration](v T) T {
	if v == 0 {
		return -1
	}
	return v
}

// decodeStrict decodes a node, rejecting unknown keys: a key the section
// does not have is named with its line and the keys it does have (as
// `zspy rules check` does), not with the Go type behind it.
func decodeStrict(n *yaml.Node, v any) error {
	if n.Kind == yaml.MappingNode {
		known := yamlKeys(reflect.TypeOf(v).Elem())
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if !slices.Contains(known, k.Value) {
				hint := ""
				if near := nearest(k.Value, known); near != "" {
					hint = fmt.Sprintf(" (did you mean %q?)", near)
				}
				return fmt.Errorf("line %d: unknown key %q%s; the keys are %s", k.Line, k.Value, hint, strings.Join(known, ", "))
			}
		}
	}
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(v)
}

type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = duration(v)
	return nil
}

type age time.Duration

func (a *age) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseAge(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*a = age(v)
	return nil
}

// ParseAge reads a duration such as "36h", "90m" or, in days, "7d".
func ParseAge(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if d, ok := strings.CutSuffix(t, "d"); ok {
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil || n < 0 || n > 100*365 {
			return 0, fmt.Errorf("bad age %q (want a duration such as 36h, or days such as 7d)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(t)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad age %q (want a duration such as 36h, or days such as 7d)", s)
	}
	return v, nil
}

type size int64

func (s *size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = size(v)
	return nil
}

// ParseSize reads a byte count such as "1048576", "512MB" or "1GiB".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q (want bytes, or a number with KB, MB, GB, KiB, MiB, GiB)", s)
	}
	return n * mult, nil
}

// yamlKeys lists the yaml keys of a struct type, in field order.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

// nearest returns the known key within two edits of s, if one is.
func nearest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(s, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/store"
)

// storeFlags are the time-series options shared by replay and capture.
type storeFlags struct {
	influxFlags
	spoolDir      string
	dataDir       string
	interval      time.Duration
	hostTag       string
	retentionAge  ageFlag
	retentionSize sizeFlag
	globalTags    []string
	precision     string
	output        string

	// filesIn is the directory the opened sink creates files in as it
	// goes (the local store's, or InfluxDB's spool): capture's default
	// privilege drop checks it.
	filesIn string
}

// ageFlag is a retention age ("36h", "7d"; 0: keep forever) and whether it was given.
type ageFlag struct {
	v   time.Duration
	set bool
}

func (f *ageFlag) String() string {
	if f.v%(24*time.Hour) == 0 && f.v > 0 {
		return fmt.Sprintf("%dd", f.v/(24*time.Hour))
	}
	return f.v.String()
}
func (f *ageFlag) Type() string { return "age" }
func (f *ageFlag) Set(s string) error {
	v, err := store.ParseAge(s)
	if err != nil {
		return err
	}
	f.v, f.set = v, true
	return nil
}

// sizeFlag is a retention size ("512MiB"; 0: no limit) and whether it was given.
type sizeFlag struct {
	v   int64
	set bool
}

func (f *sizeFlag) String() string {
	if f.v > 0 && f.v%(1<<30) == 0 {
		return fmt.Sprintf("%dGiB", f.v>>30)
	}
	if f.v > 0 && f.v%(1<<20) == 0 {
		return fmt.Sprintf("%dMiB", f.v>>20)
	}
	return fmt.Sprint(f.v)
}
func (f *sizeFlag) Type() string { return "size" }
func (f *sizeFlag) Set(s string) error {
	v, err := store.ParseSize(s)
	if err != nil {
		return err
	}
	f.v, f.set = v, true
	return nil
}

// influxFlags name an InfluxDB server and the config file, for every command
// that talks to one.
type influxFlags struct {
	config string
	url    string
	token  string
	org    string
	bucket string
}

func (f *influxFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.config, "config", "", "YAML config file (influx and local sections)")
	fl.StringVar(&f.url, "influx-url", "", "InfluxDB URL (env INFLUX_URL), e.g. http://127.0.0.1:8086")
	fl.StringVar(&f.token, "influx-token", "", "InfluxDB token, or user:password for 1.8 (env INFLUX_TOKEN)")
	fl.StringVar(&f.org, "influx-org", "", "InfluxDB organisation; empty for 1.8 (env INFLUX_ORG)")
	fl.StringVar(&f.bucket, "influx-bucket", "", "InfluxDB bucket, or db/rp for 1.8 (env INFLUX_BUCKET)")
}

// resolve reads the config file, then the environment, then the flags, a
// later source winning, and returns the file's contents and the resulting
// InfluxDB settings (not validated).
func (f *influxFlags) resolve() (store.FileConfig, store.Config, error) {
	var fc store.FileConfig
	if f.config != "" {
		var err error
		if fc, err = store.LoadConfigFile(f.config); err != nil {
			return fc, store.Config{}, err
		}
	}
	cfg := fc.Influx
	cfg.ApplyEnv(os.LookupEnv)
	for _, o := range []struct {
		v   string
		dst *string
	}{{f.url, &cfg.URL}, {f.token, &cfg.Token}, {f.org, &cfg.Org}, {f.bucket, &cfg.Bucket}} {
		if o.v != "" {
			*o.dst = o.v
		}
	}
	return fc, cfg, nil
}

func (f *storeFlags) register(fl *pflag.FlagSet, localDefault bool) {
	f.influxFlags.register(fl)
	fl.StringVar(&f.spoolDir, "spool-dir", "", "where points wait while InfluxDB is down (default: DATA_DIR/spool)")
	help := "keep time series as line-protocol files here when no InfluxDB is configured"
	if localDefault {
		help += " (default " + defaultDataDir() + ")"
	}
	fl.StringVar(&f.dataDir, "data-dir", "", help)
	fl.DurationVar(&f.interval, "interval", time.Second, "metrics interval (packet time)")
	fl.StringVar(&f.hostTag, "host-tag", "", "host tag of every point (default: this machine's host name)")
	f.retentionAge.v, f.retentionSize.v = store.DefaultLocalMaxAge, store.DefaultLocalMaxSize
	fl.Var(&f.retentionAge, "retention-age", "local store: delete its files last written longer ago than this (e.g. 36h, 30d; 0: keep them)")
	fl.Var(&f.retentionSize, "retention-size", "local store: delete its oldest files while all hold more than this (e.g. 500MB, 4GiB; 0: no limit)")
	fl.StringArrayVar(&f.globalTags, "global-tag", nil, "add tag `KEY=VALUE` to every point, e.g. dc=fra1 (repeatable; Telegraf's global_tags)")
	fl.StringVar(&f.precision, "precision", "ns", "truncate point times to this precision: ns, us, ms or s")
	fl.StringVar(&f.output, "output", "", "lp: write the time series as line protocol to standard output (for Telegraf's execd/exec input; the report goes to standard error) instead of InfluxDB or the local store")
}

// decoration reads --global-tag and --precision.
func (f *storeFlags) decoration() (store.Decoration, error) {
	var d store.Decoration
	prec, err := store.ParsePrecision(f.precision)
	if err != nil {
		return d, fmt.Errorf("--precision: %w", err)
	}
	d.Precision = prec
	for _, kv := range f.globalTags {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			return d, fmt.Errorf("--global-tag %q: want KEY=VALUE with a value", kv)
		}
		if err := metrics.Schema.CheckGlobalTag(k); err != nil {
			return d, fmt.Errorf("--global-tag: %w", err)
		}
		for _, t := range d.Tags {
			if t.Key == k {
				return d, fmt.Errorf("--global-tag: %s given twice", k)
			}
		}
		d.Tags = append(d.Tags, store.Tag{Key: k, Value: v})
	}
	return d, nil
}

// lp reports whether the time series go to standard output (--output lp).
func (f *storeFlags) lp() bool { return f.output == "lp" }

// reportOut is where the report goes: standard output, or standard error
// when standard output carries line protocol.
func (f *storeFlags) reportOut(stdout, stderr io.Writer) io.Writer {
	if f.lp() {
		return stderr
	}
	return stdout
}

func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "zspy")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "zspy")
	}
	return "zspy-data"
}

// openSink opens the configured sink: InfluxDB when a URL is given (by file,
// environment or flag, in rising precedence), else the local store when a data
// directory is given or localDefault is set; nil when neither.
// With --output lp it is a store.LineWriter on stdout. Every sink adds the
// global tags and truncates times to the precision (store.Decorate).
func (f *storeFlags) openSink(localDefault bool, stdout io.Writer) (store.Sink, string, error) {
	d, err := f.decoration()
	if err != nil {
		return nil, "", err
	}
	s, name, err := f.openPlainSink(localDefault, stdout)
	if s == nil || err != nil {
		return s, name, err
	}
	return store.Decorate(s, d), name, nil
}

func (f *storeFlags) openPlainSink(localDefault bool, stdout io.Writer) (store.Sink, string, error) {
	fc, cfg, err := f.resolve()
	if err != nil {
		return nil, "", err
	}
	switch f.output {
	case "":
	case "lp":
		if cfg.Enabled() || f.dataDir != "" {
			return nil, "", fmt.Errorf("--output lp writes the time series to standard output: leave out the InfluxDB URL (flag, INFLUX_URL or config) and --data-dir")
		}
		return store.NewLineWriter(stdout), "line protocol on standard output", nil
	default:
		return nil, "", fmt.Errorf("--output %q: the one output is lp (line protocol on standard output)", f.output)
	}
	dataDir := f.dataDir
	if dataDir == "" {
		dataDir = fc.Local.DataDir
	}
	if cfg.Enabled() {
		if f.spoolDir != "" {
			cfg.SpoolDir = f.spoolDir
		} else if cfg.SpoolDir == "" {
			d := dataDir
			if d == "" {
				d = defaultDataDir()
			}
			cfg.SpoolDir = filepath.Join(d, "spool")
		}
		if err := cfg.Validate(); err != nil {
			return nil, "", err
		}
		if err := checkInflux(cfg); err != nil {
			return nil, "", err
		}
		f.filesIn = cfg.SpoolDir
		s, err := store.NewInflux(cfg)
		if err != nil {
			return nil, "", err
		}
		return s, "influxdb " + store.MaskURL(cfg.URL), nil
	}
	if dataDir == "" && !localDefault {
		return nil, "", nil
	}
	if dataDir == "" {
		dataDir = defaultDataDir()
	}
	lc := fc.Local
	lc.DataDir = dataDir
	if f.retentionAge.set {
		lc.MaxAge = store.NoLimitIfZero(f.retentionAge.v)
	}
	if f.retentionSize.set {
		lc.MaxSize = store.NoLimitIfZero(f.retentionSize.v)
	}
	if err := lc.Validate(); err != nil {
		return nil, "", err
	}
	f.filesIn = dataDir
	s, err := store.NewLocal(lc)
	if err != nil {
		return nil, "", err
	}
	return s, "local " + dataDir, nil
}

// influxCheckTimeout bounds the target check at start.
const influxCheckTimeout = 5 * time.Second

// checkInflux asks InfluxDB at start whether it would take points in the
// configured bucket. A bucket or database that does not exist, or a token
// that may not write, stops zspy now, with InfluxDB's words, instead of
// after the flush wait at the end; a server that does not answer is a
// warning (it may come up later: the points wait in the spool).
func checkInflux(cfg store.Config) error {
	err := checkTarget(context.Background(), cfg)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrUnreachable):
		fmt.Fprintf(os.Stderr, "zspy: warning: %v; the points wait in the spool (%s) until it answers\n", err, cfg.SpoolDir)
		return nil
	}
	return err
}

// checkTarget asks InfluxDB whether it takes points where cfg writes them
// (store.CheckTarget), waiting at most influxCheckTimeout, or cfg's own
// timeout when shorter.
func checkTarget(ctx context.Context, cfg store.Config) error {
	d := influxCheckTimeout
	if cfg.Timeout > 0 {
		d = min(d, cfg.Timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return store.CheckTarget(ctx, cfg)
}

// closeSink flushes and closes sink, waiting at most d, and returns its
// counters for the report.
func closeSink(sink store.Sink, d time.Duration) (store.Stats, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	ferr := sink.Flush(ctx)
	cerr := sink.Close(ctx)
	var st store.Stats
	if s, ok := sink.(store.Stater); ok {
		st = s.Stats()
	}
	if ferr != nil {
		return st, fmt.Errorf("flush time series: %w", ferr)
	}
	if cerr != nil {
		return st, fmt.Errorf("close time series: %w", cerr)
	}
	return st, nil
}

// storeReport closes sink (waiting at most d for it to take every point) and
// returns its counters for the report; a failure to flush or close is passed
// to warn.
func storeReport(sink store.Sink, name string, d time.Duration, warn func(format string, args ...any)) *report.StoreStats {
	st, err := closeSink(sink, d)
	if err != nil {
		warn("%v", err)
	}
	rs := &report.StoreStats{Sink: name, Written: st.Written, Spilled: st.Spilled, Resent: st.Resent,
		Dropped: st.Dropped, DropEpisodes: st.DropEpisodes, Rejected: st.Rejected, Invalid: st.Invalid, Buffered: st.Buffered,
		SpoolBytes: st.SpoolBytes, RemovedFiles: st.RemovedFiles, RemovedBytes: st.RemovedBytes}
	if st.ErrorCurrent() {
		rs.LastError = st.LastError
	} else {
		rs.PastError = st.LastError // every point resent: history, not the state
	}
	return rs
}

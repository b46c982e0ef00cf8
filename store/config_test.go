package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseConfigFile(t *testing.T) {
	doc := `
rules:            # another part of zspy: ignored here
  - name: slow
influx:
  url: http://127.0.0.1:8086
  token: zspy:secret
  bucket: zspy/autogen
  batch_size: 2000
  flush_interval: 250ms
  buffer_size: 50000
  spool_dir: /var/lib/zspy/spool
  spool_cap: 512MiB
  disable_gzip: true
  timeout: 5s
  max_retries: 5
  retry_interval: 100ms
  max_retry_interval: 1m
local:
  data_dir: /var/lib/zspy/data
  max_file_size: 10MB
  window: 5000
  max_age: 3d
  max_size: 0
`
	path := filepath.Join(t.TempDir(), "zspy.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	fc, err := LoadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{URL: "http://127.0.0.1:8086", Token: "zspy:secret", Bucket: "zspy/autogen", BatchSize: 2000,
		FlushInterval: 250 * time.Millisecond, BufferSize: 50000, SpoolDir: "/var/lib/zspy/spool", SpoolCap: 512 << 20,
		DisableGzip: true, Timeout: 5 * time.Second, MaxRetries: 5, RetryInterval: 100 * time.Millisecond, MaxRetryInterval: time.Minute}
	if fc.Influx != want {
		t.Errorf("influx = %+v\nwant     %+v", fc.Influx, want)
	}
	if wl := (LocalConfig{DataDir: "/var/lib/zspy/data", MaxFileSize: 10_000_000, Window: 5000,
		MaxAge: 72 * time.Hour, MaxSize: -1}); fc.Local != wl {
		t.Errorf("local = %+v", fc.Local)
	}
	if err := fc.Influx.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if fc.Influx != want {
		t.Errorf("Validate changed set fields: %+v", fc.Influx)
	}
}

func TestParseConfigErrors(t *testing.T) {
	cases := map[string]string{
		"unknown key":  "influx:\n  ulr: http://x\n",
		"bad duration": "influx:\n  flush_interval: 5\n",
		"bad size":     "local:\n  max_file_size: 12XB\n",
		"bad age":      "local:\n  max_age: 7 days\n",
		"not yaml":     "influx: [\n",
	}
	for name, doc := range cases {
		if _, err := ParseConfig([]byte(doc)); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
	if _, err := LoadConfigFile(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

// A misspelt key is named with its line, the key meant and the keys the
// section has, not with zspy's Go types.
func TestParseConfigUnknownKeyNamesKnownKeys(t *testing.T) {
	cases := []struct{ doc, want string }{
		{"influx:\n  url: http://x\n  buckt: zspy\n", `line 3: unknown key "buckt" (did you mean "bucket"?); the keys are url, token, org, bucket,`},
		{"local:\n  data_dir: /x\n  maxage: 7d\n", `line 3: unknown key "maxage" (did you mean "max_age"?); the keys are data_dir, max_file_size, window, max_age, max_size`},
		{"influx:\n  colour: blue\n", `unknown key "colour"; the keys are url,`},
	}
	for _, c := range cases {
		_, err := ParseConfig([]byte(c.doc))
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "raw") || strings.Contains(err.Error(), "type") {
			t.Errorf("%q: %v\nwant %s", c.doc, err, c.want)
		}
	}
}

func TestConfigApplyEnv(t *testing.T) {
	c := Config{URL: "http://from-file:8086", Org: "file-org", Bucket: "file"}
	env := map[string]string{EnvURL: "http://127.0.0.1:9999", EnvToken: "tok", EnvBucket: "", "OTHER": "x"}
	c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	want := Config{URL: "http://127.0.0.1:9999", Token: "tok", Org: "file-org", Bucket: "file"}
	if c != want {
		t.Errorf("got %+v, want %+v", c, want)
	}
}

func TestConfigValidate(t *testing.T) {
	c := Config{URL: "http://127.0.0.1:8086", Bucket: "zspy"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.BatchSize != DefaultBatchSize || c.BufferSize != DefaultBufferSize || c.FlushInterval != DefaultFlushInterval ||
		c.MaxRetries != DefaultMaxRetries || c.SpoolCap != DefaultSpoolCap {
		t.Errorf("defaults not filled: %+v", c)
	}
	bad := map[string]Config{
		"no url":       {Bucket: "b"},
		"not http":     {URL: "ftp://x", Bucket: "b"},
		"no host":      {URL: "http://", Bucket: "b"},
		"no bucket":    {URL: "http://x:1"},
		"small buffer": {URL: "http://x:1", Bucket: "b", BatchSize: 10, BufferSize: 5},
		"negative":     {URL: "http://x:1", Bucket: "b", SpoolCap: -1},
		"backoff":      {URL: "http://x:1", Bucket: "b", RetryInterval: time.Minute, MaxRetryInterval: time.Second},
	}
	for name, c := range bad {
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
	if err := (&LocalConfig{}).Validate(); !errors.Is(err, ErrConfig) {
		t.Errorf("local without dir: %v", err)
	}
}

// TestLocalConfigRetention: retention defaults, "no limit", and a file size
// derived from a small retention size.
func TestLocalConfigRetention(t *testing.T) {
	c := LocalConfig{DataDir: "d"}
	if err := c.Validate(); err != nil || c.MaxAge != 7*24*time.Hour || c.MaxSize != 1<<30 || c.MaxFileSize != 64<<20 {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	c = LocalConfig{DataDir: "d", MaxAge: -5, MaxSize: -1}
	if err := c.Validate(); err != nil || c.MaxAge != -1 || c.MaxSize != -1 || c.MaxFileSize != 64<<20 {
		t.Errorf("no limits: %+v, %v", c, err)
	}
	c = LocalConfig{DataDir: "d", MaxSize: 10 << 20}
	if err := c.Validate(); err != nil || c.MaxFileSize != 10<<20/4 {
		t.Errorf("small retention size: %+v, %v", c, err)
	}
	c = LocalConfig{DataDir: "d", MaxSize: 10 << 20, MaxFileSize: 20 << 20}
	if err := c.Validate(); !errors.Is(err, ErrConfig) {
		t.Errorf("file size over the retention size: %v", err)
	}
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "0": 0, "36h": 36 * time.Hour, "90m": 90 * time.Minute} {
		if got, err := ParseAge(in); err != nil || got != want {
			t.Errorf("ParseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1h", "7", "d", "1.5d", "x"} {
		if _, err := ParseAge(in); err == nil {
			t.Errorf("ParseAge(%q) accepted", in)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1048576": 1 << 20, "512MiB": 512 << 20, "1 GiB": 1 << 30, "10MB": 10e6, "3KB": 3000, "7B": 7} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1TB", "x", "99999999999GiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

// FuzzParseConfig: any document either parses or fails with ErrConfig; it never panics.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("influx:\n  url: http://127.0.0.1:8086\n  bucket: zspy/autogen\n  spool_cap: 1GiB\n  flush_interval: 1s\nlocal:\n  data_dir: /tmp/x\n"))
	f.Add([]byte("influx: [\n"))
	f.Add([]byte("local:\n  max_file_size: 9999999999999999999GiB\n"))
	f.Add([]byte("influx:\n  <<: *a\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		fc, err := ParseConfig(doc)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v does not wrap ErrConfig", err)
			}
			return
		}
		if fc.Influx.SpoolCap < 0 || fc.Local.MaxFileSize < 0 {
			t.Fatalf("negative size parsed: %+v", fc)
		}
	})
}

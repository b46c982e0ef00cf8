package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/internal/influxtest"
	"github.com/zspy/zspy/store"
)

// writeLocal stores n points in a local data directory, as zspy does
// without InfluxDB.
func writeLocal(t *testing.T, dir string, n int) {
	t.Helper()
	l, err := store.NewLocal(store.LocalConfig{DataDir: dir, MaxFileSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		p := store.Point{Measurement: "zmtp_conn", Time: t0.Add(time.Duration(i) * time.Second)}
		p.AddTag("host", "lab")
		p.AddField(store.Int("messages", int64(i)))
		if err := l.Write([]store.Point{p}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// runZspy executes zspy with args in-process and returns its output (stdout
// and stderr) and error.
func runZspy(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestExportCommandToInfluxd(t *testing.T) {
	srv := influxtest.Start(t)
	dir := t.TempDir()
	const n = 5000
	writeLocal(t, dir, n)
	files, _ := store.DataFiles(dir)
	if len(files) < 2 {
		t.Fatalf("want several files, got %v", files)
	}

	requests := 0 // 700 lines per request (the config file's batch size), per file
	for _, f := range files {
		b, _ := os.ReadFile(f)
		requests += (bytes.Count(b, []byte("\n")) + 699) / 700
	}

	// The bucket comes from the environment, the URL from a flag, and the
	// batch size from the config file.
	conf := filepath.Join(t.TempDir(), "zspy.yaml")
	os.WriteFile(conf, []byte("influx:\n  url: http://127.0.0.1:1\n  batch_size: 700\n"), 0o644)
	t.Setenv(store.EnvBucket, srv.DB+"/autogen")
	t.Setenv(store.EnvURL, "http://127.0.0.1:2")
	out, err := runZspy(t, "export", "--config", conf, "--influx-url", srv.URL, "--data-dir", dir, "--remove")
	if err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	want := fmt.Sprintf("exported %d points from %d of %d files to %s (bucket zspy/autogen) in %d requests", n, len(files), len(files), srv.URL, requests)
	if !strings.Contains(out, want) {
		t.Errorf("output:\n%s\nwant a line starting %q", out, want)
	}
	got, err := srv.Count(`SELECT count(messages) FROM zmtp_conn WHERE host = 'lab'`)
	if err != nil || got != n {
		t.Errorf("count = %d (%v), want %d", got, err, n)
	}
	if left, _ := store.DataFiles(dir); len(left) != 0 {
		t.Errorf("--remove left %v", left)
	}
}

func TestExportCommandRefusesRemoveWhileInUse(t *testing.T) {
	dir := t.TempDir()
	writeLocal(t, dir, 10)
	l, err := store.NewLocal(store.LocalConfig{DataDir: dir}) // a running zspy
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	out, err := runZspy(t, "export", "--influx-url", "http://127.0.0.1:1", "--influx-bucket", "zspy", "--data-dir", dir, "--remove")
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("export --remove of a used dir: %v\n%s", err, out)
	}
	if left, _ := store.DataFiles(dir); len(left) != 1 {
		t.Errorf("files = %v", left)
	}
}

func TestExportCommandNeedsAServer(t *testing.T) {
	t.Setenv(store.EnvURL, "")
	_, err := runZspy(t, "export", "--data-dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "no InfluxDB") {
		t.Errorf("export without a server: %v", err)
	}
}

// TestExportCommandPartialWrite: InfluxDB stores 4,999 lines of 5,000 (one
// is a field type conflict): export says 4,999 exported and 1 not stored,
// with the server's reason, and exits non-zero.
func TestExportCommandPartialWrite(t *testing.T) {
	srv := influxtest.Start(t)
	dir := t.TempDir()
	// The shard learns messages as an integer first: a float is then refused alone.
	writeLocal(t, dir, 1)
	if out, err := runZspy(t, "export", "--influx-url", srv.URL, "--influx-bucket", srv.DB, "--data-dir", dir, "--remove"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var b []byte
	t0 := time.Date(2024, 3, 1, 13, 0, 0, 0, time.UTC).UnixNano()
	for i := 0; i < 5000; i++ {
		v := fmt.Sprintf("%di", i)
		if i == 4000 {
			v = "0.5"
		}
		b = fmt.Appendf(b, "zmtp_conn,host=lab messages=%s %d\n", v, t0+int64(i)*1e9)
	}
	file := filepath.Join(dir, "zspy-20240301-0009.lp")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runZspy(t, "export", "--influx-url", srv.URL, "--influx-bucket", srv.DB, file)
	if !strings.Contains(out, "exported 4999 points from 1 of 1 files") || !strings.Contains(out, "1 lines rejected") {
		t.Errorf("output:\n%s", out)
	}
	if err == nil || !strings.Contains(err.Error(), "1 of 5000 lines not stored (1 requests stored in part)") || !strings.Contains(err.Error(), "field type conflict") {
		t.Errorf("error: %v", err)
	}
	if got, err := srv.Count(`SELECT count(messages) FROM zmtp_conn WHERE time >= '2024-03-01T13:00:00Z'`); err != nil || got != 4999 {
		t.Errorf("InfluxDB holds %d (%v), want 4999", got, err)
	}
}

// export asks InfluxDB first, as replay and capture do: a database that
// does not exist stops it before a file is read, with InfluxDB's words,
// and the local files stay (they were not sent); a server that does not
// answer is an error too, since export has nothing to do without it.
func TestExportCommandChecksTarget(t *testing.T) {
	srv := influxtest.Start(t)
	dir := t.TempDir()
	writeLocal(t, dir, 100)
	before, _ := store.DataFiles(dir)
	out, err := runZspy(t, "export", "--influx-url", srv.URL, "--influx-bucket", "nosuchdb", "--data-dir", dir, "--remove")
	if err == nil || !strings.Contains(err.Error(), "nothing sent") || !strings.Contains(err.Error(), "database not found") ||
		strings.Contains(out, "points sent") {
		t.Errorf("wrong bucket: %v\n%s", err, out)
	}
	if after, _ := store.DataFiles(dir); len(after) != len(before) || len(before) == 0 {
		t.Errorf("files %v after a refused export, want %v", after, before)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	_, err = runZspy(t, "export", "--influx-url", down, "--influx-bucket", "zspy", "--data-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "nothing sent") {
		t.Errorf("closed port: %v", err)
	}
}

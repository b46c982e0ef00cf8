package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zspy/zspy/internal/influxtest"
	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/store"
)

type storeReportDoc struct {
	Warnings []string           `json:"warnings"`
	Store    *report.StoreStats `json:"store"`
}

func replayStore(t *testing.T, args ...string) storeReportDoc {
	t.Helper()
	out, err := runZspy(t, append([]string{"replay", "--json", "--no-rules"}, args...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var r storeReportDoc
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Store == nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return r
}

// TestReplayStoreFullDisk replays into a data directory on a 16 KiB tmpfs
// (a real filesystem that fills up): the report's written points are the
// complete lines on disk, the rest are dropped, and a warning says why.
func TestReplayStoreFullDisk(t *testing.T) {
	mnt := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=16k"); err != nil {
		t.Skipf("\n*** SKIPPED: cannot mount a tmpfs to fill (%v): run as root to test a full disk ***", err)
	}
	defer syscall.Unmount(mnt, syscall.MNT_DETACH)

	// A 1 ms interval makes over 64 KiB of points: the store writes them
	// out, and finds the disk full, while the replay runs.
	args := []string{"--interval", "1ms", pcaps + "many_conns/capture.pcap"}
	all := replayStore(t, append([]string{"--data-dir", t.TempDir()}, args...)...).Store.Written
	r := replayStore(t, append([]string{"--data-dir", mnt}, args...)...)
	st := r.Store
	files, err := store.DataFiles(mnt)
	if err != nil {
		t.Fatal(err)
	}
	var lines int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			t.Errorf("%s ends with a torn line", f)
		}
		lines += bytes.Count(b, []byte{'\n'})
	}
	if st.Written != uint64(lines) || st.Written == 0 || st.Dropped == 0 || st.Written+st.Dropped != all || st.DropEpisodes != 1 {
		t.Errorf("report: %+v; %d complete lines on disk; the capture makes %d points", st, lines, all)
	}
	// Said as it happened (the store's drop episode), not only at the end.
	var warned bool
	for _, w := range r.Warnings {
		warned = warned || (strings.Contains(w, "no space left on device") && strings.Contains(w, "dropping points"))
	}
	if !warned || !strings.Contains(st.LastError, "no space left on device") {
		t.Errorf("no warning of the full disk: %q, last error %q", r.Warnings, st.LastError)
	}
}

// TestRetentionFlags: --retention-age and --retention-size reach the local
// store, and what retention deleted is in the report.
func TestRetentionFlags(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-3 * 24 * time.Hour)
	for _, name := range []string{"zspy-20240301-0001.lp", "zspy-20240302-0001.lp"} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, bytes.Repeat([]byte("m f=1i 1\n"), 100), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, old, old); err != nil {
			t.Fatal(err)
		}
	}
	// The default (7 days) keeps 3-day-old files.
	if st := replayStore(t, "--data-dir", dir, pcaps+"reqrep/capture.pcap").Store; st.RemovedFiles != 0 || st.Written == 0 {
		t.Errorf("default retention: %+v", st)
	}
	if st := replayStore(t, "--data-dir", dir, "--retention-age", "2d", pcaps+"reqrep/capture.pcap").Store; st.RemovedFiles != 2 || st.RemovedBytes != 1800 {
		t.Errorf("--retention-age 2d: %+v", st)
	}
	// The two runs left two files, together over 1 KB: a 1 KB limit deletes them.
	if st := replayStore(t, "--data-dir", dir, "--retention-size", "1KB", pcaps+"reqrep/capture.pcap").Store; st.RemovedFiles < 2 || st.Written == 0 {
		t.Errorf("--retention-size 1KB: %+v", st)
	}
	files, _ := store.DataFiles(dir)
	var left int64
	for _, f := range files {
		info, _ := os.Stat(f)
		left += info.Size()
	}
	if left > 1000 {
		t.Errorf("%d bytes left under a 1 KB limit: %v", left, files)
	}
	if out, err := runZspy(t, "replay", "--data-dir", dir, "--retention-age", "7 days", pcaps+"reqrep/capture.pcap"); err == nil {
		t.Errorf("a bad age was accepted: %s", out)
	}
}

// TestReplayInfluxURLMasked: a password in the InfluxDB URL is masked in
// the JSON and text reports, as net/http masks it in the errors that become
// warnings (store.TestInfluxErrorsMaskURL checks those without a server).
func TestReplayInfluxURLMasked(t *testing.T) {
	srv := influxtest.Start(t, influxtest.WithAuth("admin", "s3cret"))
	withPass := strings.Replace(srv.URL, "http://", "http://admin:s3cret@", 1)
	masked := strings.Replace(srv.URL, "http://", "http://admin:***@", 1)
	r := replayStore(t, "--influx-url", withPass, "--influx-token", "admin:s3cret", "--influx-bucket", srv.DB,
		"--spool-dir", t.TempDir(), pcaps+"reqrep/capture.pcap")
	if r.Store.Sink != "influxdb "+masked || r.Store.Written == 0 {
		t.Errorf("store %+v", r.Store)
	}
	out, err := runZspy(t, "replay", "--no-rules", "--influx-url", withPass, "--influx-token", "admin:s3cret",
		"--influx-bucket", srv.DB, "--spool-dir", t.TempDir(), pcaps+"reqrep/capture.pcap")
	if err != nil || !strings.Contains(out, "time series: influxdb "+masked+":") {
		t.Errorf("%v\n%s", err, out)
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("the password is printed:\n%s", out)
	}
}

// --output lp writes the line protocol to standard output (the report goes
// to standard error): byte for byte what the local store writes (the golden
// points.lp); with --global-tag and --precision every line carries the tags
// and a time truncated to the second.
func TestReplayOutputLP(t *testing.T) {
	out, err := runZspyStdout(t, "replay", "--output", "lp", "--host-tag", "golden", pcaps+"pubsub/capture.pcap")
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile("testdata/golden/pubsub/points.lp.gz")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(golden))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := io.ReadAll(zr)
	if len(want) == 0 || !bytes.Equal(out, want) {
		t.Errorf("--output lp printed %d bytes, not the %d of the golden points.lp:\n%s", len(out), len(want), out)
	}

	out, err = runZspyStdout(t, "replay", "--output", "lp", "--global-tag", "dc=fra1", "--global-tag", "rack=r7",
		"--precision", "s", pcaps+"pubsub/capture.pcap")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != bytes.Count(want, []byte("\n")) {
		t.Errorf("%d lines with global tags, %d without", len(lines), bytes.Count(want, []byte("\n")))
	}
	for _, l := range lines {
		sp := strings.Split(l, " ")
		if !strings.HasPrefix(l, "zspy_") || !strings.Contains(sp[0], ",dc=fra1,") || !strings.Contains(sp[0], ",rack=r7") ||
			!strings.HasSuffix(sp[len(sp)-1], "000000000") {
			t.Errorf("line %q: want tags dc=fra1 and rack=r7 and a whole second", l)
		}
	}

	for _, bad := range [][]string{
		{"--global-tag", "client_host=x"}, {"--global-tag", "messages=x"}, {"--global-tag", "dc"},
		{"--precision", "m"}, {"--output", "csv"}, {"--output", "lp", "--data-dir", t.TempDir()},
	} {
		if _, err := runZspyStdout(t, append(append([]string{"replay"}, bad...), pcaps+"pubsub/capture.pcap")...); err == nil {
			t.Errorf("replay %v accepted", bad)
		}
	}
}

// InfluxDB is asked at start whether it takes points where zspy will write
// them: a database that does not exist, or a password it refuses, stops
// replay before it reads a packet, with InfluxDB's words (it waited for the
// flush at the end, in silence, before); a right one replays; a server that
// does not answer is a warning and the points wait in the spool.
func TestReplayInfluxTargetCheckedAtStart(t *testing.T) {
	srv := influxtest.Start(t, influxtest.WithAuth("admin", "s3cret"))
	base := []string{"replay", "--no-rules", "--influx-url", srv.URL, "--spool-dir", t.TempDir()}
	file := pcaps + "reqrep/capture.pcap"
	out, err := runZspy(t, append(base, "--influx-token", "admin:s3cret", "--influx-bucket", "nosuchdb", file)...)
	if err == nil || !strings.Contains(err.Error(), `bucket "nosuchdb"`) || !strings.Contains(err.Error(), "does not exist") ||
		!strings.Contains(err.Error(), "database not found") || strings.Contains(out, "connection") {
		t.Errorf("wrong bucket: %v\n%s", err, out)
	}
	_, err = runZspy(t, append(base, "--influx-token", "admin:wrong", "--influx-bucket", srv.DB, file)...)
	if err == nil || !strings.Contains(err.Error(), "may not write") {
		t.Errorf("wrong password: %v", err)
	}
	if r := replayStore(t, "--influx-url", srv.URL, "--influx-token", "admin:s3cret", "--influx-bucket", srv.DB,
		"--spool-dir", t.TempDir(), file); r.Store.Written == 0 || r.Store.LastError != "" || r.Store.PastError != "" {
		t.Errorf("right bucket: store %+v", r.Store)
	}
	// Nothing listens on a port just closed: a warning, not a failure.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	err = store.CheckTarget(context.Background(), store.Config{URL: down, Bucket: "zspy", Timeout: time.Second})
	if !errors.Is(err, store.ErrUnreachable) {
		t.Errorf("closed port: %v, want ErrUnreachable", err)
	}
}

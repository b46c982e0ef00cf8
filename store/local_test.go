package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/internal/influxtest"
)

// dayPoint is point i of a series, 2 minutes apart from 23:00 on 1 March:
// points 0-999 cover three UTC days.
func dayPoint(i int) Point {
	p := testPoint(i)
	p.Time = time.Date(2024, 3, 1, 23, 0, 0, 0, time.UTC).Add(time.Duration(i) * 2 * time.Minute)
	return p
}

func expectedLines(t *testing.T, ps []Point) []byte {
	t.Helper()
	var b []byte
	for i := range ps {
		var err error
		if b, err = AppendLine(b, &ps[i]); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func readFiles(t *testing.T, files []string) []byte {
	t.Helper()
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

func TestLocalWriteRotateReadBack(t *testing.T) {
	dir := t.TempDir()
	l, err := NewLocal(LocalConfig{DataDir: dir, MaxFileSize: 16 << 10, Window: 100})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	ps := make([]Point, n)
	for i := range ps {
		ps[i] = dayPoint(i)
	}
	for i := 0; i < n; i += 64 {
		if err := l.Write(ps[i:min(i+64, n)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, err := DataFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := readFiles(t, files), expectedLines(t, ps); !bytes.Equal(got, want) {
		t.Fatalf("files hold %d bytes, want the %d bytes of the points in order", len(got), len(want))
	}
	days := map[string]int{}
	for _, f := range files {
		info, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if info.Size() > 16<<10 {
			t.Errorf("%s is %d bytes, over the 16 KiB cap", f, info.Size())
		}
		days[strings.Split(filepath.Base(f), "-")[1]]++
		// A file's name carries the day of its first point.
		b, _ := os.ReadFile(f)
		first := b[:bytes.IndexByte(b, '\n')]
		var ts int64
		fmt.Sscan(string(first[bytes.LastIndexByte(first, ' ')+1:]), &ts)
		if want := time.Unix(0, ts).UTC().Format("20060102"); !strings.Contains(filepath.Base(f), want) {
			t.Errorf("%s starts with a point of %s", f, want)
		}
	}
	if len(days) != 3 || len(files) < 4 {
		t.Errorf("files %v: want several, over 3 days", files)
	}
	if st := l.Stats(); st.Written != n || st.Dropped != 0 || st.Invalid != 0 {
		t.Errorf("stats = %+v", st)
	}
	if err := l.Write(ps[:1]); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v", err)
	}

	// A second run in the same directory adds files; none is overwritten.
	l2, err := NewLocal(LocalConfig{DataDir: dir, MaxFileSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	more := []Point{dayPoint(0), dayPoint(n)}
	if err := l2.Write(more); err != nil {
		t.Fatal(err)
	}
	if err := l2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files2, _ := DataFiles(dir)
	old := map[string]bool{}
	for _, f := range files {
		old[f] = true
	}
	var added []string
	for _, f := range files2 {
		if !old[f] {
			added = append(added, f)
		}
	}
	if len(added) != 2 || len(files2) != len(files)+2 { // 1 March again, then 3 March
		t.Errorf("second run added %v", added)
	}
	if got, want := readFiles(t, added), expectedLines(t, more); !bytes.Equal(got, want) {
		t.Errorf("second run wrote %q, want %q", got, want)
	}
	if got, want := readFiles(t, files), expectedLines(t, ps); !bytes.Equal(got, want) {
		t.Error("second run changed the first run's files")
	}
}

// TestLocalOlderPointStaysInCurrentFile: a replayed (older) point does not
// start a file of its own day; a later day does.
func TestLocalOlderPointStaysInCurrentFile(t *testing.T) {
	dir := t.TempDir()
	l, err := NewLocal(LocalConfig{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	live := testPoint(1)
	live.Time = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	old := testPoint(2) // 2024
	next := testPoint(3)
	next.Time = live.Time.Add(24 * time.Hour)
	if err := l.Write([]Point{live, old, next}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, _ := DataFiles(dir)
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	if got := strings.Join(names, " "); got != "zspy-20261125-0001.lp zspy-20261126-0001.lp" {
		t.Errorf("files = %s", got)
	}
}

func TestLocalWindowQuery(t *testing.T) {
	l, err := NewLocal(LocalConfig{DataDir: t.TempDir(), Window: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	if err := l.Write(testPoints(0, 250)); err != nil {
		t.Fatal(err)
	}
	all := l.Query(Query{})
	if len(all) != 100 {
		t.Fatalf("window holds %d points, want 100", len(all))
	}
	for i, p := range all {
		if got := p.Fields[0].IntValue(); got != int64(150+i) {
			t.Fatalf("window[%d] = point %d, want %d", i, got, 150+i)
		}
	}
	q := Query{Measurement: "zmtp_conn", Tags: []Tag{{"conn", "c1"}, {"host", "laptop"}},
		From: testPoint(200).Time, To: testPoint(210).Time}
	got := l.Query(q)
	var ids []int64
	for _, p := range got {
		ids = append(ids, p.Fields[0].IntValue())
	}
	if fmt.Sprint(ids) != "[201 203 205 207 209]" {
		t.Errorf("query = %v", ids)
	}
	if n := len(l.Query(Query{Measurement: "other"})); n != 0 {
		t.Errorf("other measurement: %d points", n)
	}
	// Results are copies: changing them does not change the window, and
	// later writes reuse the window's slots, not the results.
	got[0].Tags[0].Value = "changed"
	if v, _ := l.Query(q)[0].Tag("conn"); v != "c1" {
		t.Errorf("a caller's change reached the window: conn=%s", v)
	}
	if err := l.Write(testPoints(250, 400)); err != nil {
		t.Fatal(err)
	}
	if v, _ := got[1].Tag("conn"); v != "c1" || got[1].Fields[0].IntValue() != 203 {
		t.Errorf("an earlier result changed: %+v", got[1])
	}
	if n := len(l.Query(q)); n != 0 {
		t.Errorf("points 200-209 should have left the window; %d found", n)
	}
	if w := l.Query(Query{}); len(w) != 100 || w[0].Fields[0].IntValue() != 300 {
		t.Errorf("window after more writes starts at %d", w[0].Fields[0].IntValue())
	}
}

func TestLocalInvalidPointCounted(t *testing.T) {
	l, err := NewLocal(LocalConfig{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ps := testPoints(0, 3)
	ps[1].Fields = nil
	err = l.Write(ps)
	if !errors.Is(err, ErrInvalidPoint) || !strings.Contains(err.Error(), "point 1 of 3") {
		t.Errorf("Write = %v", err)
	}
	if st := l.Stats(); st.Written != 2 || st.Invalid != 1 {
		t.Errorf("stats = %+v", st)
	}
	l.Close(context.Background())
}

// TestLocalExportToInfluxd stores points locally, then sends the files to a
// real InfluxDB, as `zspy export` does.
func TestLocalExportToInfluxd(t *testing.T) {
	srv := influxtest.Start(t)
	dir := t.TempDir()
	l, err := NewLocal(LocalConfig{DataDir: dir, MaxFileSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	ps := make([]Point, n)
	for i := range ps {
		ps[i] = dayPoint(i)
	}
	if err := l.Write(ps); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, err := DataFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The last file is cut mid-line, as if zspy were still writing it.
	last := files[len(files)-1]
	f, err := os.OpenFile(last, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`zmtp_conn,host=laptop messages=1i`)
	f.Close()

	cfg := testConfig(srv)
	cfg.BatchSize = 1000
	var progress []string
	rep, err := Export(context.Background(), cfg, files, ExportOptions{Remove: true, Progress: func(file string, r ExportReport) {
		progress = append(progress, fmt.Sprintf("%s:%d", filepath.Base(file), r.Sent))
	}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files != len(files) || rep.Sent != n || rep.Torn != 1 || rep.Rejected != 0 || rep.Requests < n/1000 || len(progress) != len(files) {
		t.Errorf("report = %+v, progress %v", rep, progress)
	}
	if got := count(t, srv, `SELECT count(messages) FROM zmtp_conn`); got != n {
		t.Errorf("count = %d, want %d", got, n)
	}
	var sum int64
	for i := 0; i < n; i++ {
		sum += int64(i)
	}
	if got := count(t, srv, `SELECT sum(messages) FROM zmtp_conn`); got != sum {
		t.Errorf("sum = %d, want %d", got, sum)
	}
	if left, _ := DataFiles(dir); len(left) != 0 {
		t.Errorf("files left after export with Remove: %v", left)
	}
}

// TestExportStopsWhenServerDown: with no server, Export retries, then stops
// with an error and keeps the files.
func TestExportStopsWhenServerDown(t *testing.T) {
	dir := t.TempDir()
	l, _ := NewLocal(LocalConfig{DataDir: dir})
	l.Write(testPoints(0, 10))
	l.Close(context.Background())
	files, _ := DataFiles(dir)
	cfg := Config{URL: closedURL(t), Bucket: "zspy", MaxRetries: 2, RetryInterval: time.Millisecond}
	rep, err := Export(context.Background(), cfg, files, ExportOptions{Remove: true})
	if err == nil || rep.Sent != 0 || rep.Retried != 2 {
		t.Errorf("export to nothing: %+v, %v", rep, err)
	}
	if left, _ := DataFiles(dir); len(left) != 1 {
		t.Errorf("files after a failed export: %v", left)
	}
}

func BenchmarkLocalWrite(b *testing.B) {
	l, err := NewLocal(LocalConfig{DataDir: b.TempDir(), Window: 10_000})
	if err != nil {
		b.Fatal(err)
	}
	ps := make([]Point, 100)
	for i := range ps {
		ps[i] = benchPoint()
	}
	line, _ := AppendLine(nil, &ps[0])
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(ps) {
		for j := range ps {
			ps[j].Time = ps[j].Time.Add(time.Second)
		}
		if err := l.Write(ps[:min(len(ps), b.N-i)]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
	l.Close(context.Background())
}

func TestDirLockedAgainstSecondZspy(t *testing.T) {
	dir := t.TempDir()
	l, err := NewLocal(LocalConfig{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewLocal(LocalConfig{DataDir: dir}); !errors.Is(err, ErrDirInUse) {
		t.Errorf("second Local on %s: %v, want ErrDirInUse", dir, err)
	}
	if _, err := NewInflux(Config{URL: closedURL(t), Bucket: "b", SpoolDir: dir}); !errors.Is(err, ErrDirInUse) {
		t.Errorf("spool in a used dir: %v, want ErrDirInUse", err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	l2, err := NewLocal(LocalConfig{DataDir: dir})
	if err != nil {
		t.Fatalf("after Close the directory is free: %v", err)
	}
	l2.Close(context.Background())
}

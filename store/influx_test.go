package store

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/zspy/zspy/internal/influxtest"
)

// capture0 is the packet time of the first test point: an old capture, to
// show that points keep their own timestamps.
var capture0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// testPoint is point i of a synthetic series: two connections, every field kind.
func testPoint(i int) Point {
	p := Point{Measurement: "zmtp_conn", Time: capture0.Add(time.Duration(i) * time.Millisecond)}
	p.AddTag("host", "laptop")
	p.AddTag("conn", fmt.Sprintf("c%d", i%2))
	p.AddField(Int("messages", int64(i)))
	p.AddField(Float("rate", float64(i)/4))
	p.AddField(Bool("stalled", i%3 == 0))
	p.AddField(String("peer", fmt.Sprintf("peer-%d", i%5)))
	return p
}

func testPoints(from, to int) []Point {
	ps := make([]Point, 0, to-from)
	for i := from; i < to; i++ {
		ps = append(ps, testPoint(i))
	}
	return ps
}

// testConfig is a sink config for srv with short retries.
func testConfig(srv *influxtest.Server) Config {
	return Config{
		URL:              srv.URL,
		Token:            "zspy:secret", // 1.8: user:password (auth is off, so anything goes)
		Bucket:           srv.DB + "/autogen",
		BatchSize:        500,
		FlushInterval:    50 * time.Millisecond,
		MaxRetries:       1,
		RetryInterval:    10 * time.Millisecond,
		MaxRetryInterval: 200 * time.Millisecond,
		Timeout:          30 * time.Second,
	}
}

func count(t *testing.T, srv *influxtest.Server, q string) int64 {
	t.Helper()
	n, err := srv.Count(q)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func flush(t *testing.T, s Sink) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond (a bounded poll on a condition, not a sleep-and-hope).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func TestInfluxWriteAndQueryBack(t *testing.T) {
	srv := influxtest.Start(t)
	cfg := testConfig(srv)
	s, err := NewInflux(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const n = 10_000
	var sum int64
	for i := 0; i < n; i += 700 { // uneven Write calls across batch boundaries
		ps := testPoints(i, min(i+700, n))
		for _, p := range ps {
			sum += p.Fields[0].IntValue()
		}
		if err := s.Write(ps); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, s)

	if got := count(t, srv, `SELECT count(messages) FROM zmtp_conn`); got != n {
		t.Errorf("InfluxQL count = %d, want %d", got, n)
	}
	if got := count(t, srv, `SELECT sum(messages) FROM zmtp_conn`); got != sum {
		t.Errorf("InfluxQL sum = %d, want %d", got, sum)
	}
	if got := count(t, srv, `SELECT count(messages) FROM zmtp_conn WHERE conn = 'c1' AND host = 'laptop'`); got != n/2 {
		t.Errorf("count for conn c1 = %d, want %d", got, n/2)
	}
	// One point, every field, at its own (capture) timestamp.
	want := testPoint(4242)
	r, err := srv.Query(fmt.Sprintf(`SELECT messages, rate, stalled, peer, conn FROM zmtp_conn WHERE time = %d`, want.Time.UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Series) != 1 || len(r.Series[0].Values) != 1 {
		t.Fatalf("point at %v: got %+v", want.Time, r.Series)
	}
	row := r.Series[0].Values[0]
	got := fmt.Sprint(row)
	exp := fmt.Sprint([]any{json.Number(fmt.Sprint(want.Time.UnixNano())), json.Number("4242"), json.Number("1060.5"), true, "peer-2", "c0"})
	if got != exp {
		t.Errorf("point 4242 = %s, want %s", got, exp)
	}

	// The same count through Flux on /api/v2/query.
	if got := fluxCount(t, srv, cfg.Bucket, "messages"); got != n {
		t.Errorf("Flux count = %d, want %d", got, n)
	}

	st := s.Stats()
	if st.Written != n || st.Dropped != 0 || st.Spilled != 0 || st.Rejected != 0 || st.Buffered != 0 || !st.Up {
		t.Errorf("stats = %+v", st)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(testPoints(0, 1)); err != ErrClosed {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
}

// fluxCount counts the values of field in zmtp_conn through Flux.
func fluxCount(t *testing.T, srv *influxtest.Server, bucket, field string) int64 {
	t.Helper()
	c := influxdb2.NewClient(srv.URL, "zspy:secret")
	defer c.Close()
	q := fmt.Sprintf(`from(bucket: %q)
  |> range(start: 2024-01-01T00:00:00Z, stop: 2025-01-01T00:00:00Z)
  |> filter(fn: (r) => r._measurement == "zmtp_conn" and r._field == %q)
  |> group()
  |> count()`, bucket, field)
	res, err := c.QueryAPI("").Query(context.Background(), q)
	if err != nil {
		t.Fatalf("flux: %v", err)
	}
	var total int64
	rows := 0
	for res.Next() {
		v, ok := res.Record().Value().(int64)
		if !ok {
			t.Fatalf("flux count value %T %v", res.Record().Value(), res.Record().Value())
		}
		total += v
		rows++
	}
	if res.Err() != nil {
		t.Fatalf("flux: %v", res.Err())
	}
	if rows != 1 {
		t.Fatalf("flux returned %d rows, want 1", rows)
	}
	return total
}

// TestInfluxEscapingRoundTrip writes names and values that need escaping
// and reads them back from InfluxDB 1.8.
func TestInfluxEscapingRoundTrip(t *testing.T) {
	srv := influxtest.Start(t)
	cfg := testConfig(srv)
	s, err := NewInflux(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ in, want string }{
		{"plain", "plain"},
		{"a b,c=d", "a b,c=d"},
		{`tcp://127.0.0.1:5555`, `tcp://127.0.0.1:5555`},
		{`back\slash`, `back\slash`},
		{`ends\`, `ends/`}, // a backslash cannot end a tag value
		{`x\,y`, `x/,y`},   // nor precede an escaped comma
		{`x\\y`, `x\\y`},
		{"line\nbreak", "line break"},
		{"tab\there", "tab here"},
		{`"quoted"`, `"quoted"`},
		{"ünïcødé ✓", "ünïcødé ✓"},
	}
	var ps []Point
	for i, c := range cases {
		p := Point{Measurement: "esc=test x,y", Time: capture0.Add(time.Duration(i) * time.Second)}
		p.AddTag("k", c.in)
		p.AddTag("i", fmt.Sprint(i))
		p.AddField(String("s", c.in+"\"\\"))
		p.AddField(Int("field with space,comma=eq", int64(i)))
		ps = append(ps, p)
	}
	if err := s.Write(ps); err != nil {
		t.Fatal(err)
	}
	flush(t, s)
	r, err := srv.Query(`SELECT "i", "k", "s", "field with space,comma=eq" FROM "esc=test x,y"`)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Series) != 1 || len(r.Series[0].Values) != len(cases) {
		t.Fatalf("got %+v", r.Series)
	}
	for _, row := range r.Series[0].Values {
		var i int
		fmt.Sscan(fmt.Sprint(row[1]), &i)
		c := cases[i]
		if row[2] != c.want {
			t.Errorf("tag %q read back as %q, want %q", c.in, row[2], c.want)
		}
		wantS := strings.ReplaceAll(c.in, "\n", `\n`) + "\"\\"
		if row[3] != wantS {
			t.Errorf("string field %q read back as %q, want %q", c.in+"\"\\", row[3], wantS)
		}
		if fmt.Sprint(row[4]) != fmt.Sprint(i) {
			t.Errorf("field with escaped key = %v, want %d", row[4], i)
		}
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestInfluxKillAndRecover kills the server mid-run: Write keeps returning
// (it does no I/O), points spill to the spool, and after a restart Flush
// sends them; every point is in InfluxDB and the spool is drained.
func TestInfluxKillAndRecover(t *testing.T) {
	srv := influxtest.Start(t)
	cfg := testConfig(srv)
	cfg.BatchSize = 100
	cfg.SpoolDir = filepath.Join(t.TempDir(), "spool")
	s, err := NewInflux(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const before, during, after = 3000, 5000, 2000
	if err := s.Write(testPoints(0, before)); err != nil {
		t.Fatal(err)
	}
	flush(t, s)
	if got := count(t, srv, `SELECT count(messages) FROM zmtp_conn`); got != before {
		t.Fatalf("before the kill: count = %d, want %d", got, before)
	}

	srv.Kill()
	// Write has no context and does no I/O: it returns while the server is
	// down. If it blocked on the network this test would hang, not pass.
	for i := before; i < before+during; i += 250 {
		if err := s.Write(testPoints(i, i+250)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "all points written during the outage to spill", func() bool {
		st := s.Stats()
		return st.Spilled == during && st.Buffered == 0
	})
	st := s.Stats()
	if st.Up || st.LastError == "" || !st.ErrorCurrent() || st.SpoolBytes == 0 || st.SpoolFiles == 0 || st.Retried == 0 {
		t.Errorf("during the outage: stats = %+v", st)
	}
	if files, _ := filepath.Glob(filepath.Join(cfg.SpoolDir, "spool-*.lp")); len(files) == 0 {
		t.Error("no spool file during the outage")
	}

	srv.Restart()
	// Written after the restart, but the spool still holds older points:
	// these go through the spool too.
	if err := s.Write(testPoints(before+during, before+during+after)); err != nil {
		t.Fatal(err)
	}
	flush(t, s)

	const total = before + during + after
	if got := count(t, srv, `SELECT count(messages) FROM zmtp_conn`); got != total {
		t.Errorf("after recovery: count = %d, want %d", got, total)
	}
	var sum int64
	for i := 0; i < total; i++ {
		sum += int64(i)
	}
	if got := count(t, srv, `SELECT sum(messages) FROM zmtp_conn`); got != sum {
		t.Errorf("after recovery: sum = %d, want %d", got, sum)
	}
	st = s.Stats()
	if st.Written != total || st.Dropped != 0 || st.Rejected != 0 || st.Spilled < during || st.Resent != st.Spilled ||
		st.SpoolBytes != 0 || st.SpoolFiles != 0 || st.Buffered != 0 || !st.Up {
		t.Errorf("after recovery: stats = %+v", st)
	}
	// The outage's error is kept, as history: every point was resent.
	if st.LastError == "" || st.ErrorCurrent() {
		t.Errorf("after recovery: last error %q, current %v", st.LastError, st.ErrorCurrent())
	}
	if files, _ := filepath.Glob(filepath.Join(cfg.SpoolDir, "*.lp")); len(files) != 0 {
		t.Errorf("spool not drained: %v", files)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestInfluxHungServerSpills freezes the server (SIGSTOP): the sender hangs
// in a request, the buffer fills past three quarters and the spiller moves
// batches to the spool; nothing is dropped, and after the server resumes
// every point arrives.
func TestInfluxHungServerSpills(t *testing.T) {
	srv := influxtest.Start(t)
	cfg := testConfig(srv)
	cfg.BatchSize, cfg.BufferSize = 100, 2000
	cfg.SpoolDir = filepath.Join(t.TempDir(), "spool")
	s, err := NewInflux(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	const n = 6000 // three buffers full
	for i := 0; i < n; i += 100 {
		if err := s.Write(testPoints(i, i+100)); err != nil {
			t.Fatal(err)
		}
	}
	var last Stats
	defer func() {
		if t.Failed() {
			t.Logf("last stats: %+v", last)
		}
	}()
	// The spiller starts above three quarters and spills down to half; when
	// the writes stop between the two (it depends on scheduling), the buffer
	// stays there. Either way it stays at or below three quarters, plus the
	// batch the hung sender holds.
	waitFor(t, "the spiller to bring the buffer to three quarters or less", func() bool {
		last = s.Stats()
		return last.Spilled > 0 && last.Buffered <= cfg.BufferSize*3/4+cfg.BatchSize
	})
	if st := s.Stats(); st.Dropped != 0 || st.Written != 0 {
		t.Errorf("while hung: stats = %+v", st)
	}
	srv.Resume()
	flush(t, s)
	if got := count(t, srv, `SELECT count(messages) FROM zmtp_conn`); got != n {
		t.Errorf("count = %d, want %d", got, n)
	}
	st := s.Stats()
	if st.Written != n || st.Dropped != 0 || st.Resent != st.Spilled || st.SpoolBytes != 0 {
		t.Errorf("after resume: stats = %+v", st)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestInfluxSpoolSurvivesRestartOfZspy closes a sink while InfluxDB is down:
// the points stay in the spool and a new sink sends them at start.
func TestInfluxSpoolSurvivesRestartOfZspy(t *testing.T) {
	srv := influxtest.Start(t)
	cfg := testConfig(srv)
	cfg.SpoolDir = filepath.Join(t.TempDir(), "spool")
	srv.Kill()

	s, err := NewInflux(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const n = 1234 // not a multiple of the batch size: the last batch is partial
	if err := s.Write(testPoints(0, n)); err != nil {
		t.Fatal(err)
	}
	// The server is down, so Flush cannot succeed; Close gives up at the
	// deadline and keeps everything in the spool.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err = s.Close(ctx)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "remain in spool") {
		t.Fatalf("Close while down = %v, want an error about the spool", err)
	}
	if st := s.Stats(); st.Spilled != n || st.Dropped != 0 || st.Written != 0 {
		t.Fatalf("after Close: stats = %+v", st)
	}

	srv.Restart()
	s2, err := NewInflux(cfg)
	if err != nil {
		t.Fatal(err)
	}
	flush(t, s2)
	if got := count(t, srv, `SELECT count(messages) FROM zmtp_conn`); got != n {
		t.Errorf("count = %d, want %d", got, n)
	}
	if st := s2.Stats(); st.Resent != n || st.Written != n || st.SpoolFiles != 0 {
		t.Errorf("second sink: stats = %+v", st)
	}
	if err := s2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestInflux18Authentication writes to InfluxDB 1.8 with authentication on,
// through the v2-compatible API: the token is "user:password", the org is
// left out. A wrong password is not data loss: the points wait in the spool
// and the state says why.
func TestInflux18Authentication(t *testing.T) {
	srv := influxtest.Start(t, influxtest.WithAuth("zspy", "s3cret"))
	cfg := testConfig(srv)
	cfg.Token = "zspy:s3cret"
	s, err := NewInflux(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(testPoints(0, 100)); err != nil {
		t.Fatal(err)
	}
	flush(t, s)
	if got := count(t, srv, `SELECT count(messages) FROM zmtp_conn`); got != 100 {
		t.Errorf("count = %d, want 100", got)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	cfg.Token = "zspy:wrong"
	cfg.SpoolDir = t.TempDir()
	bad, err := NewInflux(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Write(testPoints(100, 150)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the refused points to spill", func() bool { return bad.Stats().Spilled == 50 })
	st := bad.Stats()
	if st.Up || !strings.Contains(st.LastError, "401") || st.Dropped != 0 || st.Written != 0 {
		t.Errorf("wrong password: stats = %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := bad.Close(ctx); err == nil || !strings.Contains(err.Error(), "remain in spool") {
		t.Errorf("Close = %v, want the points reported as kept in the spool", err)
	}
	if got := count(t, srv, `SELECT count(messages) FROM zmtp_conn`); got != 100 {
		t.Errorf("count after the refused writes = %d, want 100", got)
	}
}

// TestInfluxSpoolTornLine: a spool file cut mid-line (zspy killed while
// spilling) is resent without its torn last line, which is counted dropped.
func TestInfluxSpoolTornLine(t *testing.T) {
	srv := influxtest.Start(t)
	cfg := testConfig(srv)
	cfg.SpoolDir = t.TempDir()
	lines := expectedLines(t, testPoints(0, 3))
	lines = append(lines, "zmtp_conn,host=laptop messages=9"...)
	if err := os.WriteFile(filepath.Join(cfg.SpoolDir, "spool-0000000000000007.lp"), lines, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := NewInflux(cfg)
	if err != nil {
		t.Fatal(err)
	}
	flush(t, s)
	if got := count(t, srv, `SELECT count(messages) FROM zmtp_conn`); got != 3 {
		t.Errorf("count = %d, want 3", got)
	}
	st := s.Stats()
	if st.Resent != 3 || st.Dropped != 1 || st.SpoolFiles != 0 || !strings.Contains(st.LastError, "torn") {
		t.Errorf("stats = %+v", st)
	}
	if err := s.Close(context.Background()); err == nil || !strings.Contains(err.Error(), "1 dropped") {
		t.Errorf("Close = %v, want the torn line reported", err)
	}
}

// TestInfluxRejectedPointsAreCounted writes a field with a conflicting type:
// InfluxDB refuses the batch with 400 and the sink counts it, without retrying.
func TestInfluxRejectedPointsAreCounted(t *testing.T) {
	srv := influxtest.Start(t)
	cfg := testConfig(srv)
	s, err := NewInflux(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(testPoints(0, 10)); err != nil {
		t.Fatal(err)
	}
	flush(t, s)
	bad := testPoint(10)
	bad.Fields[0] = String("messages", "not a number") // messages is an integer field
	if err := s.Write([]Point{bad}); err != nil {
		t.Fatal(err)
	}
	flush(t, s)
	st := s.Stats()
	if st.Rejected != 1 || st.Written != 10 || st.Retried != 0 || !strings.Contains(st.LastError, "400") {
		t.Errorf("stats = %+v", st)
	}
	err = s.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), "lost 1 points") {
		t.Errorf("Close = %v, want the loss reported", err)
	}
}

// closedURL is an http URL on 127.0.0.1 where nothing listens.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// TestInfluxSpoolCapDropsAndCounts fills a small spool while no server
// answers: what does not fit is dropped, counted and reported.
func TestInfluxSpoolCapDropsAndCounts(t *testing.T) {
	cfg := Config{URL: closedURL(t), Bucket: "zspy", BatchSize: 100, BufferSize: 100_000,
		SpoolDir: t.TempDir(), SpoolCap: 20_000, MaxRetries: -1, RetryInterval: time.Hour, MaxRetryInterval: time.Hour}
	s, err := NewInflux(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var warnings []string
	s.SetWarn(func(msg string) { warnings = append(warnings, msg) })
	const n = 2000
	if err := s.Write(testPoints(0, n)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every point spilled or dropped", func() bool {
		st := s.Stats()
		return st.Spilled+st.Dropped == n && st.Buffered == 0
	})
	st := s.Stats()
	if st.Spilled == 0 || st.Dropped == 0 || st.DropEpisodes != 1 || st.SpoolBytes > cfg.SpoolCap || !strings.Contains(st.LastError, "spool full") {
		t.Errorf("stats = %+v", st)
	}
	// The sender dropped them: the next Write says so, once for the episode.
	if err := s.Write(nil); err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "dropping points") || !strings.Contains(warnings[0], "spool full") {
		t.Errorf("warnings %q", warnings)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = s.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("lost %d points (%d dropped", st.Dropped, st.Dropped)) {
		t.Errorf("Close = %v", err)
	}
}

// TestInfluxNoSpoolBufferFull: without a spool, a full buffer drops points
// in Write, and a batch that cannot be sent is dropped; all are counted.
func TestInfluxNoSpoolBufferFull(t *testing.T) {
	cfg := Config{URL: closedURL(t), Bucket: "zspy", BatchSize: 100, BufferSize: 1000, MaxRetries: -1}
	s, err := NewInflux(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	if err := s.Write(testPoints(0, n)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every point accounted for", func() bool {
		st := s.Stats()
		return st.Dropped == n && st.Buffered == 0
	})
	if st := s.Stats(); st.Written != 0 || st.Spilled != 0 || st.Up {
		t.Errorf("stats = %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx); err == nil {
		t.Error("Close hid the loss")
	}
}

func TestMain(m *testing.M) {
	if _, ok := influxtest.Binary(); !ok {
		fmt.Fprintln(os.Stderr, "store: no influxd; tests against a real InfluxDB will be SKIPPED (set ZSPY_INFLUXD)")
	}
	os.Exit(m.Run())
}

// BenchmarkInfluxEndToEnd writes b.N points through the sink into a real
// influxd and flushes: points/s from the first Write until InfluxDB has
// accepted them all. The benchmark writes far faster than influxd takes
// points, so with the default buffer nearly everything goes through the
// spool ("spool"); with a buffer that holds every point it measures the
// direct path ("memory").
func BenchmarkInfluxEndToEnd(b *testing.B) {
	srv := influxtest.Start(b)
	b.Run("spool", func(b *testing.B) { benchEndToEnd(b, srv, 0) })
	b.Run("memory", func(b *testing.B) { benchEndToEnd(b, srv, 2*b.N+DefaultBatchSize) })
}

func benchEndToEnd(b *testing.B, srv *influxtest.Server, bufferSize int) {
	if _, err := srv.Query("DROP SERIES FROM zmtp_conn"); err != nil {
		b.Fatal(err)
	}
	cfg := Config{URL: srv.URL, Bucket: srv.DB, SpoolDir: b.TempDir(), BufferSize: bufferSize}
	s, err := NewInflux(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ps := make([]Point, 1000)
	for i := range ps {
		ps[i] = benchPoint()
		ps[i].Tags[0].Value = fmt.Sprintf("conn-%d", i%50)
	}
	line, _ := AppendLine(nil, &ps[0])
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(ps) {
		for j := range ps {
			ps[j].Time = ps[j].Time.Add(time.Millisecond)
		}
		if err := s.Write(ps[:min(len(ps), b.N-i)]); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
	st := s.Stats()
	if st.Written != uint64(b.N) || st.Dropped != 0 {
		b.Fatalf("written %d of %d: %+v", st.Written, b.N, st)
	}
	b.ReportMetric(float64(st.Spilled)/float64(b.N), "spilled/point")
	s.Close(ctx)
}

// BenchmarkInfluxWrite is the cost of Write to the caller (the capture
// pipeline): encoding into the buffer, with the sender posting to a real
// influxd meanwhile.
func BenchmarkInfluxWrite(b *testing.B) {
	srv := influxtest.Start(b)
	s, err := NewInflux(Config{URL: srv.URL, Bucket: srv.DB, SpoolDir: b.TempDir(), BufferSize: 1 << 22})
	if err != nil {
		b.Fatal(err)
	}
	ps := make([]Point, 100)
	for i := range ps {
		ps[i] = benchPoint()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(ps) {
		for j := range ps {
			ps[j].Time = ps[j].Time.Add(time.Millisecond)
		}
		s.Write(ps[:min(len(ps), b.N-i)])
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s.Close(ctx)
}

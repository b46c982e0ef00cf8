package session

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/influxtest"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
)

// influxSink opens an InfluxDB sink on srv with a spool in a temp dir.
func influxSink(t *testing.T, srv *influxtest.Server) *store.Influx {
	t.Helper()
	cfg := store.Config{URL: srv.URL, Bucket: srv.DB + "/autogen", SpoolDir: t.TempDir(),
		RetryInterval: 50 * time.Millisecond, MaxRetryInterval: 200 * time.Millisecond}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := store.NewInflux(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// replayInto replays one capture with its points written to sink, tagged host.
func replayInto(t *testing.T, name, host string, sink store.Sink) *report.Report {
	t.Helper()
	src, err := capture.OpenFile(filepath.Join(corpus, name, "capture.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cfg := Config{Pipeline: pipeline.Config{Host: host}, Files: []capture.Source{src}}
	cfg.OnInterval = func(_ time.Time, _ *tracker.Snapshot, pts []store.Point) {
		if err := sink.Write(pts); err != nil {
			t.Errorf("write: %v", err)
		}
	}
	p := New(cfg)
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p.Report()
}

func flush(t *testing.T, sink store.Sink) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := sink.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// sums queries sum(field) of zspy_connection per client host, server and dir.
func sums(t *testing.T, srv *influxtest.Server, field, host string) map[string]int64 {
	t.Helper()
	r, err := srv.Query(fmt.Sprintf(`SELECT sum(%q) FROM "zspy_connection" WHERE "host" = '%s' GROUP BY "client_host", "server", "dir"`, field, host))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, s := range r.Series {
		n, err := s.Values[0][1].(json.Number).Int64()
		if err != nil {
			t.Fatal(err)
		}
		out[s.Tags["client_host"]+" "+s.Tags["server"]+" "+s.Tags["dir"]] = n
	}
	return out
}

// Replaying real captures into a real InfluxDB: the totals queried back equal
// the replay report's, at the capture's own timestamps, and the slow-subscriber
// capture shows zero-window time on exactly the stalled connection.
func TestReplayIntoInfluxDB(t *testing.T) {
	srv := influxtest.Start(t)
	sink := influxSink(t, srv)
	defer sink.Close(context.Background())
	reports := map[string]*report.Report{}
	for _, name := range []string{"pubsub", "dealer_router", "reqrep", "slow_subscriber", "longframe"} {
		reports[name] = replayInto(t, name, "case-"+name, sink)
	}
	flush(t, sink)
	for name, r := range reports {
		// A series sums the connections of one client host to one server
		// (its tags carry no client port): so do the report's connections.
		msgs, bytes := sums(t, srv, "messages", "case-"+name), sums(t, srv, "bytes", "case-"+name)
		wantMsgs, wantBytes := map[string]int64{}, map[string]int64{}
		for _, c := range r.Connections {
			for _, d := range []struct {
				dir string
				n   report.Counts
			}{{"c2s", c.C2S}, {"s2c", c.S2C}} {
				k := netip.MustParseAddrPort(c.Client).Addr().String() + " " + c.Server + " " + d.dir
				wantMsgs[k] += int64(*d.n.Messages)
				wantBytes[k] += int64(d.n.Bytes)
			}
		}
		if len(wantMsgs) == 0 || !maps.Equal(msgs, wantMsgs) || !maps.Equal(bytes, wantBytes) {
			t.Errorf("%s: InfluxDB has messages %v bytes %v, the report %v and %v", name, msgs, bytes, wantMsgs, wantBytes)
		}
		// The points carry packet times: the first lies within an interval of
		// the capture's first connection.
		q, err := srv.Query(fmt.Sprintf(`SELECT first("messages_total") FROM "zspy_connection" WHERE "host" = 'case-%s'`, name))
		if err != nil {
			t.Fatal(err)
		}
		ns, _ := q.Series[0].Values[0][0].(json.Number).Int64()
		first := time.Unix(0, ns)
		start := r.Connections[0].Start
		if first.Before(start) || first.After(start.Add(2*time.Second)) {
			t.Errorf("%s: first point at %v, capture starts %v", name, first, start)
		}
	}
	// The slow subscriber's zero-window time is the report's, in the s2c
	// series of its client host; no other series has any.
	var wantZW float64
	for _, c := range reports["slow_subscriber"].Connections {
		wantZW += c.S2C.ZeroWindowMS
	}
	zw, err := srv.Query(`SELECT max("zero_window_ms_total") FROM "zspy_connection" WHERE "host" = 'case-slow_subscriber' GROUP BY "client_host", "dir"`)
	if err != nil {
		t.Fatal(err)
	}
	stalled := 0
	for _, s := range zw.Series {
		v, _ := s.Values[0][1].(json.Number).Float64()
		isStalled := s.Tags["client_host"] == "127.0.0.1" && s.Tags["dir"] == "s2c"
		if isStalled && (v < 100 || v < wantZW-0.01) {
			t.Errorf("stalled subscriber shows %v ms of zero window, the report %v", v, wantZW)
		}
		if !isStalled && v != 0 {
			t.Errorf("%s %s shows %v ms of zero window, only the stalled subscriber should", s.Tags["client_host"], s.Tags["dir"], v)
		}
		if isStalled {
			stalled++
		}
	}
	if stalled != 1 {
		t.Errorf("zero-window series of the stalled subscriber: %d", stalled)
	}
}

// InfluxDB killed during a replay and started again: the replay never waits
// for it (Write only buffers and spills), and after recovery every point is
// there: the points in InfluxDB, counted per measurement, are all the points
// the replays produced.
func TestReplayThroughInfluxDBOutage(t *testing.T) {
	srv := influxtest.Start(t)
	sink := influxSink(t, srv)
	defer sink.Close(context.Background())
	var written int
	counted := countingSink{Sink: sink, n: &written}
	replayInto(t, "pubsub", "before", counted)
	srv.Kill()
	// While the server is down the replays run to their end.
	replayInto(t, "slow_subscriber", "during", counted)
	replayInto(t, "dealer_router", "during", counted)
	srv.Restart()
	flush(t, sink)
	var got int64
	for m, field := range map[string]string{"zspy_connection": "messages", "zspy_subscriber": "subscriptions",
		"zspy_topic": "delivered", "zspy_endpoint": "connections", "zspy_latency": "replies"} {
		n, err := srv.Count(fmt.Sprintf(`SELECT count(%q) FROM %q`, field, m))
		if err != nil {
			t.Fatal(err)
		}
		got += n
	}
	st := sink.Stats()
	if got != int64(written) || st.Written != uint64(written) {
		t.Errorf("InfluxDB holds %d points, the replays produced %d, the sink counts %d written", got, written, st.Written)
	}
	if st.Dropped != 0 || st.Spilled == 0 || st.Resent != st.Spilled {
		t.Errorf("sink stats %+v: want spilled points all resent, none dropped", st)
	}
}

// countingSink counts the points handed to a sink.
type countingSink struct {
	store.Sink
	n *int
}

func (c countingSink) Write(pts []store.Point) error {
	*c.n += len(pts)
	return c.Sink.Write(pts)
}

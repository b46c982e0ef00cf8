package metrics_test

import (
	"bytes"
	"context"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/monitor"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
)

const corpus = "../testdata/pcaps"

var update = flag.Bool("update", false, "rewrite README.md's schema section from metrics.Schema")

// replay runs a capture (and monitor events) through a session and hands
// every interval's points to fn.
func replay(t *testing.T, path string, evs []monitor.Event, fn func(pts []store.Point)) {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s := session.New(session.Config{Pipeline: pipeline.Config{Host: "h"}, Files: []capture.Source{src},
		OnInterval: func(_ time.Time, _ *tracker.Snapshot, pts []store.Point) { fn(pts) }})
	if evs != nil {
		s.AddMonitorLog(session.MonitorEvents(evs))
	}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func readEvents(t *testing.T, path string) []monitor.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := monitor.NewLogReader(f, path, func(format string, args ...any) { t.Errorf(format, args...) })
	var evs []monitor.Event
	for ev, ok := r.Next(); ok; ev, ok = r.Next() {
		evs = append(evs, ev)
	}
	return evs
}

// TestCollectorWritesSchema replays every capture of the corpus, the
// monitor-log fixtures and PIPES_STATS events: every point the collector
// writes fits metrics.Schema (measurement, tags, fields and their kinds),
// and every tag and field of the schema's collector-written measurements is
// written somewhere, so the schema holds nothing the collector dropped.
func TestCollectorWritesSchema(t *testing.T) {
	seen := map[string]bool{}
	tagSets := map[string]map[string]bool{} // measurement → the tag sets its points carried
	check := func(name string) func(pts []store.Point) {
		return func(pts []store.Point) {
			for i := range pts {
				pt := &pts[i]
				var keys []string
				for _, tag := range pt.Tags {
					keys = append(keys, tag.Key)
				}
				if tagSets[pt.Measurement] == nil {
					tagSets[pt.Measurement] = map[string]bool{}
				}
				tagSets[pt.Measurement][strings.Join(keys, ",")] = true
				if err := metrics.Schema.Check(pt); err != nil {
					if !seen["err "+err.Error()] {
						t.Errorf("%s: %v", name, err)
					}
					seen["err "+err.Error()] = true
				}
				for _, tag := range pt.Tags {
					seen[pt.Measurement+" tag "+tag.Key] = true
				}
				for _, f := range pt.Fields {
					seen[pt.Measurement+" field "+f.Key] = true
				}
			}
		}
	}
	dirs, err := filepath.Glob(filepath.Join(corpus, "*", "capture.*"))
	if err != nil || len(dirs) < 20 {
		t.Fatalf("corpus: %d captures (%v)", len(dirs), err)
	}
	for _, path := range dirs {
		replay(t, path, nil, check(path))
	}
	for _, m := range []string{"merge", "contention"} {
		dir := filepath.Join("../monitor/testdata", m)
		replay(t, filepath.Join(dir, "capture.pcap"), readEvents(t, filepath.Join(dir, "events.jsonl")), check(dir))
	}
	// No capture carries PIPES_STATS (Debian's libzmq has no v2 monitor):
	// give every connection of one capture such an event, so that the queue
	// fields are written too.
	path := filepath.Join(corpus, "pushpull", "capture.pcap")
	var recs []*tracker.Record
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first := session.New(session.Config{Pipeline: pipeline.Config{Host: "h"}, Files: []capture.Source{src},
		OnInterval: func(_ time.Time, snap *tracker.Snapshot, _ []store.Point) { recs = snap.Records }})
	first.Run(context.Background())
	src.Close()
	var evs []monitor.Event
	for _, c := range recs {
		evs = append(evs, monitor.Event{Time: c.Start.Add(time.Millisecond), Version: 2, Code: monitor.EventPipesStats,
			Name: monitor.EventPipesStats.String(), Values: []uint64{3, 4}, Outbound: 3, Inbound: 4,
			Endpoint: "tcp://" + c.ClientName, RemoteEndpoint: "tcp://" + c.ServerName})
	}
	replay(t, path, evs, check("pushpull with PIPES_STATS"))

	// One tag set per measurement: the declared one (InfluxDB 3 fixes a
	// table's tags when it creates the table).
	for meas, sets := range tagSets {
		want := metrics.Schema.Lookup(meas).TagNames()
		slices.Sort(want)
		if len(sets) != 1 || !sets[strings.Join(want, ",")] {
			t.Errorf("%s: points carry the tag sets %v, want only %v", meas, slices.Sorted(maps.Keys(sets)), want)
		}
	}
	for _, m := range metrics.Schema {
		if m.Name == metrics.MeasAlert {
			continue // the rules package writes it (rules tests check it)
		}
		if m.Live {
			continue // live only: session's host test writes it from real processes
		}
		var missing []string
		for _, tag := range m.Tags {
			if !seen[m.Name+" tag "+tag.Name] {
				missing = append(missing, "tag "+tag.Name)
			}
		}
		for _, f := range m.Fields {
			if !seen[m.Name+" field "+f.Name] {
				missing = append(missing, "field "+f.Name)
			}
		}
		// The fixtures have no ZAP failure with a status text and no
		// CONNECT_RETRIED with an interval; the collector's MonitorEvent
		// test writes those.
		if m.Name == metrics.MeasMonitor {
			missing = slices.DeleteFunc(missing, func(s string) bool { return s == "field zap_status" || s == "field reconnect_interval_ms" })
		}
		if len(missing) > 0 {
			t.Errorf("%s: the schema has %s, which no replay wrote", m.Name, strings.Join(missing, ", "))
		}
	}
}

// TestMonitorEventFields: every kind of monitor event becomes a zspy_monitor
// point that fits the schema, with the fields its kind has.
func TestMonitorEventFields(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := []monitor.Event{
		{Time: at, Code: monitor.EventPipesStats, Name: "PIPES_STATS", Outbound: 3, Inbound: 4, Endpoint: "tcp://127.0.0.1:1", RemoteEndpoint: "tcp://127.0.0.1:2"},
		{Time: at, Code: monitor.EventHandshakeFailedProtocol, Name: "HANDSHAKE_FAILED_PROTOCOL", ProtocolError: "ZMTP_UNSPECIFIED", Source: "app"},
		{Time: at, Code: monitor.EventHandshakeFailedAuth, Name: "HANDSHAKE_FAILED_AUTH", ZAPStatus: 400, ZAPStatusText: "authentication failure"},
		{Time: at, Code: monitor.EventHandshakeFailedNoDetail, Name: "HANDSHAKE_FAILED_NO_DETAIL", ErrnoName: "ECONNRESET"},
		{Time: at, Code: monitor.EventConnectRetried, Name: "CONNECT_RETRIED", ReconnectInterval: 100 * time.Millisecond},
	}
	want := []string{"outbound", "protocol_error", "zap_status", "errno", "reconnect_interval_ms"}
	c := metrics.New("h", time.Second)
	for i := range evs {
		c.MonitorEvent(&evs[i])
	}
	pts := c.Sample(at.Add(time.Second), &tracker.Snapshot{})
	if len(pts) != len(evs) {
		t.Fatalf("%d points for %d events", len(pts), len(evs))
	}
	for i := range pts {
		if err := metrics.Schema.Check(&pts[i]); err != nil {
			t.Errorf("%s: %v", evs[i].Name, err)
		}
		if _, ok := pts[i].Field(want[i]); !ok {
			t.Errorf("%s: no field %s in %v", evs[i].Name, want[i], pts[i].Fields)
		}
	}
}

const (
	readmeBegin = "<!-- begin metrics.Schema: go test ./metrics -run README -update rewrites this -->\n"
	readmeEnd   = "<!-- end metrics.Schema -->\n"
)

// TestREADMESchema holds README.md's schema section to metrics.Schema.
func TestREADMESchema(t *testing.T) {
	const path = "../README.md"
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(readme, []byte(readmeBegin))
	j := bytes.Index(readme, []byte(readmeEnd))
	if i < 0 || j < i {
		t.Fatalf("README.md has no schema section between %q and %q", readmeBegin, readmeEnd)
	}
	got := string(readme[i+len(readmeBegin) : j])
	want := metrics.Schema.Markdown()
	if got == want {
		return
	}
	if *update {
		out := append([]byte(nil), readme[:i+len(readmeBegin)]...)
		out = append(out, want...)
		out = append(out, readme[j:]...)
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's schema section is not metrics.Schema.Markdown(); run go test ./metrics -run README -update\ngot:\n%s\nwant:\n%s", got, want)
}

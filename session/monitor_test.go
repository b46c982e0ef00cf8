package session

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/monitor"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
)

// A capture and the monitor events of the same libzmq applications (recorded
// together by monitor/testdata/merge/gen.sh) give one connection view: each
// wire connection carries its sockets' events, and the handshake failures'
// reasons from both the wire and the monitors.
func TestMonitorMerge(t *testing.T) {
	dir := "../monitor/testdata/merge/"
	evs := readEventLog(t, dir+"events.jsonl")
	src, err := capture.OpenFile(dir + "capture.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cfg := Config{Pipeline: pipeline.Config{}, Files: []capture.Source{src}}
	monPoints := 0
	cfg.OnInterval = func(_ time.Time, _ *tracker.Snapshot, pts []store.Point) {
		for i := range pts {
			if pts[i].Measurement == metrics.MeasMonitor {
				if err := pts[i].Validate(); err != nil {
					t.Fatal(err)
				}
				monPoints++
			}
		}
	}
	// The log is read as the packets go (what zspy replay --monitor-log does).
	lf, err := os.Open(dir + "events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	p := New(cfg)
	p.AddMonitorLog(monitor.NewLogReader(lf, "events.jsonl", p.Warn))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := p.Report()
	if monPoints != len(evs) {
		t.Errorf("%d zspy_monitor points for %d events", monPoints, len(evs))
	}
	bySource := map[string]*report.Connection{}
	for i := range r.Connections {
		c := &r.Connections[i]
		if c.Monitor != nil {
			bySource[c.Monitor.ClientSource+" "+c.Monitor.ServerSource] = c
		}
	}
	for _, want := range []struct {
		sources, handshake, wireErr string
	}{
		{"bind_connect/dealer bind_connect/router", "succeeded", ""},
		{"mechanism_mismatch/null_client mechanism_mismatch/plain_server", "failed: HANDSHAKE_FAILED_PROTOCOL ZMTP_MECHANISM_MISMATCH", "mechanism mismatch"},
		{"bad_password/plain_client bad_password/plain_server", "failed: HANDSHAKE_FAILED_AUTH ZAP 400 (authentication failure)", "ERROR 400"},
	} {
		c := bySource[want.sources]
		if c == nil {
			t.Errorf("no connection annotated by %s; have %v", want.sources, keys(bySource))
			continue
		}
		if c.Monitor.Handshake != want.handshake || c.HandshakeError != want.wireErr {
			t.Errorf("%s: monitor handshake %q, wire %q; want %q, %q", want.sources, c.Monitor.Handshake, c.HandshakeError, want.handshake, want.wireErr)
		}
		if c.Monitor.Disconnects == 0 {
			t.Errorf("%s: no DISCONNECTED merged", want.sources)
		}
	}
	// The retrying client never got a connection: its retries are counted on
	// the endpoint it tried, next to the refused attempts on the wire.
	var retries uint64
	for _, pe := range r.MonitorPeers {
		retries += pe.Retries
	}
	refused := 0
	for _, e := range r.Refused {
		refused += e.Count
	}
	if retries < 3 || refused < 3 {
		t.Errorf("monitor retries %d, refused attempts %d; want at least 3 each", retries, refused)
	}
}

func keys(m map[string]*report.Connection) string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	return strings.Join(k, "; ")
}

// readEventLog reads a recorded `zspy monitor --json` log whole; every line
// must be an event.
func readEventLog(t *testing.T, path string) []monitor.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []monitor.Event
	l := monitor.NewLogReader(f, path, func(format string, args ...any) { t.Fatalf(format, args...) })
	for {
		ev, ok := l.Next()
		if !ok {
			return evs
		}
		evs = append(evs, ev)
	}
}

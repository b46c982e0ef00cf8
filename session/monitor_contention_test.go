package session

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/pipeline"
)

// contentionTruth is monitor/testdata/contention/truth.json: for each line of
// events.jsonl, the client port of the connection it is about (null: none).
type contentionTruth struct {
	ServerPort uint16            `json:"server_port"`
	Sources    map[string]uint16 `json:"sources"`
	Events     []*uint16         `json:"events"`
}

// TestMonitorContention replays the v1 merge's hard case (gen.sh there):
// eight DEALERs in two processes connect to one PLAIN ROUTER at the same
// moment, two handshakes fail with ZAP 400, two with a mechanism mismatch,
// and the rest disconnect at different times. Every event must land on the
// connection the applications' system calls say it is about, or be marked
// uncertain.
func TestMonitorContention(t *testing.T) {
	dir := "../monitor/testdata/contention/"
	evs := readEventLog(t, dir+"events.jsonl")
	var truth contentionTruth
	b, err := os.ReadFile(dir + "truth.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	if len(truth.Events) != len(evs) {
		t.Fatalf("%d events, %d truths", len(evs), len(truth.Events))
	}
	src, err := capture.OpenFile(dir + "capture.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cfg := Config{Pipeline: pipeline.Config{}, Files: []capture.Source{src}}
	p := New(cfg)
	p.AddMonitorLog(MonitorEvents(evs))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := p.Report()

	type key struct {
		t          time.Time
		src, event string
	}
	type landing struct {
		port      uint16
		uncertain bool
	}
	landed := map[key]landing{}
	for _, c := range r.Connections {
		if c.Monitor == nil {
			continue
		}
		for _, n := range c.Monitor.Events {
			ap, err := netip.ParseAddrPort(c.Client)
			if err != nil {
				t.Fatal(err)
			}
			landed[key{n.Time.UTC(), n.Source, n.Event}] = landing{ap.Port(), n.Uncertain}
		}
	}
	var right, wrong, uncertain, lost int
	for i, ev := range evs {
		want := truth.Events[i]
		if want == nil {
			continue
		}
		got, ok := landed[key{ev.Time.UTC(), ev.Source, ev.Name}]
		switch {
		case !ok:
			lost++
			t.Errorf("event %d %s %s (conn :%d) is on no connection", i, ev.Source, ev.Name, *want)
		case got.port == *want && !got.uncertain:
			right++
		case got.uncertain:
			uncertain++
			t.Logf("event %d %s %s uncertain (on :%d, truth :%d)", i, ev.Source, ev.Name, got.port, *want)
		default:
			wrong++
			t.Errorf("event %d %s %s on conn :%d, want :%d", i, ev.Source, ev.Name, got.port, *want)
		}
	}
	t.Logf("%d events on connections: %d right, %d marked uncertain, %d wrong, %d lost", right+wrong+uncertain+lost, right, uncertain, wrong, lost)
}

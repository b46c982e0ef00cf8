package rules_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/truth"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
)

// TestRepStoppedReplying replays rep_noanswer up to the moment the REQ waits
// for its fourth reply (before it gives up and closes), then lets 6 s of
// packet time pass: the REP that answered three requests has stopped.
func TestRepStoppedReplying(t *testing.T) {
	tc, err := truth.Load(filepath.Join(corpus, "rep_noanswer"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.OpenFile(tc.CapturePath())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	e := rules.New(rules.Builtins())
	// The REQ times out after 300 ms: stop 100 ms in, while it waits.
	cut := &until{Source: src, d: 100 * time.Millisecond}
	var recs []*tracker.Record
	p := session.New(session.Config{Pipeline: pipeline.Config{Host: "h"}, Files: []capture.Source{cut}, Rules: e,
		OnInterval: func(_ time.Time, snap *tracker.Snapshot, _ []store.Point) { recs = snap.Records }})
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := recs; len(c) != 1 || c[0].Outstanding != 1 || c[0].Closed {
		t.Fatalf("conns %v", c)
	}
	p.Tick(cut.last.Add(6 * time.Second))
	got := map[string]rules.Alert{}
	for _, a := range e.Alerts() {
		got[a.Rule] = a
	}
	rep, stuck := got["rep_stopped_replying"], got["stuck_request"]
	if len(got) != 2 || rep.State != rules.StateFiring || stuck.State != rules.StateFiring {
		t.Fatalf("alerts %v", e.Alerts())
	}
	if rep.Client != "" || rep.Server != "127.0.0.1:16140" || !strings.Contains(rep.Message, "REP 127.0.0.1:16140 stopped replying") || !strings.Contains(rep.Message, "after 3 replies") {
		t.Errorf("rep alert %+v", rep)
	}
	if stuck.Client != "127.0.0.1:26140" || !strings.Contains(stuck.Message, "stuck request: REQ 127.0.0.1:26140 has waited") {
		t.Errorf("stuck alert %+v", stuck)
	}
	if stuck.Sender != "127.0.0.1:26140" || stuck.SenderSocket != "REQ" || stuck.Receiver != "127.0.0.1:16140" || stuck.ReceiverSocket != "REP" ||
		rep.Receiver != "127.0.0.1:16140" || rep.ReceiverSocket != "REP" {
		t.Errorf("flows: stuck %s %s → %s %s, rep → %s %s", stuck.SenderSocket, stuck.Sender, stuck.ReceiverSocket, stuck.Receiver, rep.ReceiverSocket, rep.Receiver)
	}
}

// TestReplayReport is what `zspy replay --json` does with the engine: the
// report gains an alerts array with the packet times.
func TestReplayReport(t *testing.T) {
	e := rules.New(rules.Builtins())
	src, err := capture.OpenFile(filepath.Join(corpus, "mismatch", "capture.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	p := session.New(session.Config{Files: []capture.Source{src}, Rules: e})
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := p.Report()
	r.Alerts = e.ReportAlerts()
	var b bytes.Buffer
	if err := report.WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Connections []struct {
			Client string `json:"client"`
		} `json:"connections"`
		Alerts []map[string]any `json:"alerts"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Alerts) != 1 {
		t.Fatalf("alerts %v", doc.Alerts)
	}
	a := doc.Alerts[0]
	for _, k := range []string{"rule", "severity", "state", "client", "server", "pending_at", "fired_at", "resolved_at", "message"} {
		if _, ok := a[k]; !ok {
			t.Errorf("alert lacks %s: %v", k, a)
		}
	}
	if a["rule"] != "incompatible_sockets" || a["state"] != "firing" || a["client"] != doc.Connections[0].Client || a["resolved_at"] != nil {
		t.Errorf("alert %v", a)
	}
	fired, err := time.Parse(time.RFC3339Nano, a["fired_at"].(string))
	if err != nil || fired.Year() != 2026 {
		t.Errorf("fired_at %v (%v): want a packet time", a["fired_at"], err)
	}
}

func BenchmarkBuiltinsManyConns(b *testing.B) {
	src, err := capture.OpenFile(filepath.Join(corpus, "many_conns", "capture.pcap"))
	if err != nil {
		b.Fatal(err)
	}
	var snap *tracker.Snapshot
	session.New(session.Config{Pipeline: pipeline.Config{Host: "h"}, Files: []capture.Source{src},
		OnInterval: func(_ time.Time, s *tracker.Snapshot, _ []store.Point) { snap = s }}).Run(context.Background())
	src.Close()
	conns := snap.Records
	e := rules.New(rules.Builtins())
	ts := conns[0].Last.Add(time.Second)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.EvalSnapshot(ts.Add(time.Duration(i)*time.Second), snap, nil)
	}
	b.ReportMetric(float64(len(conns)), "conns/op")
}

// TestExampleFile replays rules_hwm_stall with the example rule file: its
// expression rule fires from the metrics points, naming the stalled PULL, and
// the tuned built-in replaces the default one.
func TestExampleFile(t *testing.T) {
	e, err := rules.NewEngine("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, r := range e.Rules() {
		names[r.Name]++
	}
	if names["hwm_saturation"] != 1 || names["consumer_window_closed"] != 1 || len(e.Rules()) != len(rules.Builtins())+3 {
		t.Fatalf("rules %v", names)
	}
	alerts := replay(t, filepath.Join(corpus, "rules_hwm_stall", "capture.pcap"), e, 0)
	got := map[string]rules.Alert{}
	for _, a := range alerts {
		got[a.Rule] = a
	}
	w := got["consumer_window_closed"]
	// The expression rule reads series, whose tags name the client host (a
	// client's port would make a series per reconnect); the detector reads
	// the connection's record.
	if len(got) != 2 || got["hwm_saturation"].Client != "127.0.0.1:26400" || w.Client != "127.0.0.1" || w.Server != "127.0.0.1:16400" {
		t.Fatalf("alerts %v", alerts)
	}
	if !strings.HasPrefix(w.Message, "PULL 127.0.0.1 has kept its window shut ") || !strings.HasSuffix(w.Message, " ms in all (sender PUSH 127.0.0.1:16400)") || w.Value <= 500 {
		t.Errorf("message %q value %v", w.Message, w.Value)
	}
	if w.Labels["team"] != "pipeline" || w.Labels["dir"] != "s2c" || w.Severity != rules.SevCritical {
		t.Errorf("labels %v severity %s", w.Labels, w.Severity)
	}
}

// until is a source that ends d after its first packet.
type until struct {
	capture.Source
	d           time.Duration
	first, last time.Time
}

func (u *until) Next(seg *capture.Segment) error {
	if err := u.Source.Next(seg); err != nil {
		return err
	}
	if u.first.IsZero() {
		u.first = seg.TS
	}
	if seg.TS.Sub(u.first) > u.d {
		return io.EOF
	}
	u.last = seg.TS
	return nil
}

package rules_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
)

// TestSettledSameAlerts replays every corpus capture, at the default
// interval and at 20 ms, into two engines: one fed the snapshots
// (EvalSnapshot: each rule skips the records it settled) and one that reads
// every record at every evaluation (Eval over a Window). Then both evaluate
// the last snapshot, unchanged, for 7 minutes of packet time, past every
// hold. Every evaluation's changes, and the alerts at the end, must be the
// same.
func TestSettledSameAlerts(t *testing.T) {
	dirs, err := os.ReadDir(corpus)
	if err != nil {
		t.Fatal(err)
	}
	cases, changes := 0, 0
	for _, d := range dirs {
		path := filepath.Join(corpus, d.Name(), "capture.pcap")
		if _, err := os.Stat(path); err != nil {
			continue
		}
		for _, iv := range []time.Duration{0, 20 * time.Millisecond} {
			src, err := capture.OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			settled, full := rules.New(rules.Builtins()), rules.New(rules.Builtins())
			var w rules.Window
			var last *tracker.Snapshot
			var lastTS time.Time
			n := 0
			step := func(ts time.Time, snap *tracker.Snapshot, pts []store.Point) {
				a := settled.EvalSnapshot(ts, snap, pts)
				w.Add(ts, snap, pts)
				b := full.Eval(ts, w.Query)
				if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
					t.Errorf("%s interval %v at %s: settled engine's changes\n%+v\nevery record's\n%+v", d.Name(), iv, ts, a, b)
				}
				n += len(a)
			}
			err = session.New(session.Config{Pipeline: pipeline.Config{Interval: iv, Host: "test"}, Files: []capture.Source{src},
				OnInterval: func(ts time.Time, snap *tracker.Snapshot, pts []store.Point) {
					step(ts, snap, pts)
					last, lastTS = snap, ts
				}}).Run(context.Background())
			src.Close()
			if err != nil {
				t.Fatal(err)
			}
			for _, after := range []time.Duration{time.Second, 2 * time.Second, 10 * time.Second, time.Minute, 5 * time.Minute, 6 * time.Minute, 7 * time.Minute} {
				step(lastTS.Add(after), last, nil)
			}
			if fmt.Sprintf("%+v", settled.Alerts()) != fmt.Sprintf("%+v", full.Alerts()) {
				t.Errorf("%s interval %v: alerts differ", d.Name(), iv)
			}
			cases++
			changes += n
		}
	}
	// The corpus raises alerts and resolves them after their hold: the
	// comparison compared something.
	if cases < 20 || changes < 20 {
		t.Fatalf("%d runs, %d changes compared", cases, changes)
	}
	t.Logf("%d runs, %d changes compared", cases, changes)
}

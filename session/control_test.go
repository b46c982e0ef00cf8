package session

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/clocktest"
	"github.com/zspy/zspy/internal/pcaptest"
	"github.com/zspy/zspy/report"
)

// newTestRun returns a session replaying one corpus case at speed with a
// Latest listener (updates only when the run pushes one by itself: the
// update interval is an hour).
func newTestRun(t testing.TB, clock Clock, speed float64, paused bool, name string) (*Session, *Latest) {
	s := New(Config{Files: []capture.Source{openCase(t, name)}, Speed: speed, StartPaused: paused, Clock: clock,
		UpdateInterval: time.Hour})
	l := NewLatest()
	s.Subscribe(l)
	return s, l
}

func TestReplayPacesByPacketTime(t *testing.T) {
	first, last, _ := pcaptest.Span(t, pcap("pubsub"))
	span := last.Sub(first)
	if span < 100*time.Millisecond {
		t.Fatalf("capture spans only %v", span)
	}
	for _, speed := range []float64{1, 10, 0} {
		clk := clocktest.New(t0)
		pl, out := newTestRun(t, clk, speed, false, "pubsub")
		if err := pl.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := clk.Total()
		if speed == 0 {
			if got != 0 {
				t.Errorf("speed max: waited %v, want 0", got)
			}
			continue
		}
		want := time.Duration(float64(span) / speed)
		// Waits are quantised per packet: the sum lands within a millisecond.
		if d := got - want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("speed %g: waited %v in all, want %v (capture spans %v)", speed, got, want, span)
		}
		u := <-out.C
		if !u.Player.Done || u.Snapshot.Time != last {
			t.Errorf("speed %g: last update done=%v at %v, want done at %v", speed, u.Player.Done, u.Snapshot.Time, last)
		}
	}
}

func TestReplayPauseAndStep(t *testing.T) {
	first, _, n := pcaptest.Span(t, pcap("reqrep"))
	clk := clocktest.New(t0)
	pl, out := newTestRun(t, clk, 1, true, "reqrep")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		pl.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done }) // before the source closes
	// Updates replace each other: wait for the one that shows the state.
	until := func(ok func(u *Update) bool) *Update {
		for {
			if u := <-out.C; ok(u) {
				return u
			}
		}
	}
	// Paused before the first packet: nothing processed.
	u := until(func(u *Update) bool { return true })
	if !u.Player.Paused || len(u.Snapshot.Records) != 0 {
		t.Fatalf("start: paused=%v conns=%d", u.Player.Paused, len(u.Snapshot.Records))
	}
	// One packet: the paused update after it, at its time.
	pl.Step(0)
	u = until(func(u *Update) bool { return u.Snapshot.Time.Equal(first) })
	if !u.Player.Paused || len(u.Snapshot.Records) != 1 {
		t.Fatalf("after one packet: paused=%v conns=%d", u.Player.Paused, len(u.Snapshot.Records))
	}
	if u.Stats.Packets != 2 {
		t.Errorf("after one packet: %d packets read, want 2 (one processed, one held)", u.Stats.Packets)
	}
	// Paused again: no update until told.
	select {
	case u := <-out.C:
		t.Fatalf("an update while paused: %+v", u.Player)
	default:
	}
	// One second of packet time runs the whole (sub-second) exchange up to
	// the capture's end without waiting.
	pl.Step(time.Second)
	u = until(func(u *Update) bool { return u.Player.Done })
	if got := clk.Total(); got != 0 {
		t.Errorf("steps waited %v of wall time, want none", got)
	}
	<-done
	if u.Stats.Packets != uint64(n) {
		t.Errorf("read %d packets, want %d", u.Stats.Packets, n)
	}
	conns := report.Build(u.Snapshot.Records, report.Options{})
	if len(conns) != 1 || *conns[0].C2S.Messages != 20 || *conns[0].S2C.Messages != 20 {
		t.Errorf("after the step: %+v", conns)
	}
}

// pcap returns the path of a corpus case's capture.
func pcap(name string) string { return filepath.Join(corpus, name, "capture.pcap") }

func openCase(t testing.TB, name string) *capture.FileSource {
	t.Helper()
	s, err := capture.OpenFile(pcap(name))
	if err != nil {
		t.Fatalf("capture %s: %v", name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

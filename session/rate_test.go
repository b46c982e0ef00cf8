package session

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// meterAt feeds the meter one message event of c in direction dir at ts.
func meterAt(m *RateMeter, c *tracker.Record, dir int, ts time.Time, bytes uint64) {
	c.Dirs[dir].Messages++
	c.Dirs[dir].Bytes += bytes
	m.TrackerEvent(eventOf(c, tracker.Event{Type: tracker.EvMessage, TS: ts, Dir: zmtp.Dir(dir)}))
}

func windowOf(m *RateMeter, at time.Time, cs ...*tracker.Record) []WindowRate {
	s := &tracker.Snapshot{Time: at}
	for _, c := range cs {
		cp := *c
		s.Records = append(s.Records, &cp)
	}
	return m.Window(s)
}

func TestRateMeterWindow(t *testing.T) {
	m := NewRateMeter(nil)
	steady := &tracker.Record{ID: 1}
	once := &tracker.Record{ID: 2}
	// 1000 messages/s of 10 bytes for 3 s, and one message at 0.5 s.
	for i := range 3000 {
		ts := t0.Add(time.Duration(i) * time.Millisecond)
		meterAt(m, steady, 0, ts, 10)
		if i == 500 {
			meterAt(m, once, 1, ts, 7)
		}
		if i%250 != 0 || i < 1000 {
			continue
		}
		w := windowOf(m, ts, steady, once)
		if r := w[0].Msgs[0]; math.Abs(r-1000) > 1 {
			t.Errorf("at %v: steady rate %g, want 1000", ts.Sub(t0), r)
		}
		if r := w[0].Bytes[0]; math.Abs(r-10000) > 10 {
			t.Errorf("at %v: steady byte rate %g, want 10000", ts.Sub(t0), r)
		}
		// The single message counts for one second, then not at all (the
		// last 100 ms fade as the window's start crosses its bucket).
		quiet := ts.Sub(t0.Add(500 * time.Millisecond))
		switch r := w[1].Msgs[1]; {
		case quiet < RateWindow-RateBucket && r != 1:
			t.Errorf("at %v: one message in the window reads %g/s, want 1", ts.Sub(t0), r)
		case quiet >= RateWindow+RateBucket && r != 0:
			t.Errorf("at %v: quiet for %v, rate %g, want 0", ts.Sub(t0), quiet, r)
		}
	}
	// Long after: everything is 0, and the same rates come back whenever
	// asked (no state changes by asking).
	late := t0.Add(10 * time.Second)
	for range 2 {
		if w := windowOf(m, late, steady, once); w[0] != (WindowRate{}) || w[1] != (WindowRate{}) {
			t.Errorf("quiet connections' rates %+v", w)
		}
	}
	// One point per second of packet time: 1000 in each of the 3 seconds,
	// then zeros up to the second asked for.
	got := m.Series(1, 0, t0.Add(4500*time.Millisecond))
	if fmt.Sprint(got) != "[1000 1000 1000 0 0]" {
		t.Errorf("series %v", got)
	}
	if got := m.Series(2, 1, t0.Add(1500*time.Millisecond)); fmt.Sprint(got) != "[1 0]" {
		t.Errorf("series of one message %v", got)
	}
	// Bounded: a day later, SeriesLen points; a connection the snapshot no
	// longer holds is forgotten.
	if got := m.Series(1, 0, t0.Add(24*time.Hour)); len(got) != SeriesLen {
		t.Errorf("%d points, want %d", len(got), SeriesLen)
	}
	windowOf(m, late, once)
	if m.Len() != 1 || m.Series(1, 0, late) != nil {
		t.Errorf("evicted connection kept (%d followed)", m.Len())
	}
}

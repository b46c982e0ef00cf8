package session

import (
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/tracker"
)

func TestMessageLogRings(t *testing.T) {
	l := NewMessageLog()
	c1, c2 := &tracker.Record{ID: 1}, &tracker.Record{ID: 2}
	ev := func(c *tracker.Record, i int) *tracker.Event {
		return eventOf(c, tracker.Event{Type: tracker.EvMessage, TS: t0.Add(time.Duration(i) * time.Millisecond),
			Frames: 2, Sizes: []uint64{5, 1000}, MsgBytes: 1005, Preview: []byte(strings.Repeat("x", 100))})
	}
	for i := range 300 {
		l.TrackerEvent(ev(c1, i))
		l.TrackerEvent(ev(c2, i))
	}
	l.Select(1)
	if l.Seen() != 300 {
		t.Errorf("Seen %d after selecting a connection with 300 events in the global ring", l.Seen())
	}
	got := l.Recent(1)
	if len(got) != ConnLogLen {
		t.Fatalf("%d entries kept for the selected connection, want %d", len(got), ConnLogLen)
	}
	if got[len(got)-1].TS != t0.Add(299*time.Millisecond) || got[0].Conn != 1 {
		t.Errorf("newest entry at %v", got[len(got)-1].TS)
	}
	if e := got[0]; e.NData != MaxPreview || e.NSizes != 2 {
		t.Errorf("entry keeps %d preview bytes and %d sizes", e.NData, e.NSizes)
	}
	if l.Recent(2) != nil {
		t.Error("events of an unselected connection returned")
	}
	// Events of the selected connection go on being kept beyond the global ring.
	for i := 300; i < 300+GlobalLogLen; i++ {
		l.TrackerEvent(ev(c2, i))
	}
	l.TrackerEvent(ev(c1, 9999))
	if l.Seen() != 301 {
		t.Errorf("Seen %d after one more event, want 301", l.Seen())
	}
	if got := l.Recent(1); len(got) != ConnLogLen || got[len(got)-1].TS != t0.Add(9999*time.Millisecond) {
		t.Errorf("selected ring after a flood elsewhere: %d entries", len(got))
	}
}

package rules

import (
	"testing"
	"time"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// TestHandshakeSettled: a connection closed within the hold settles for
// handshake_failure when it has no failure to tell (time cannot make one),
// and stays unsettled, with its alert, while it has one.
func TestHandshakeSettled(t *testing.T) {
	d := &handshakeDetector{HandshakeParams{Hold: defaultHold}}
	ts := t0.Add(time.Minute) // within the hold of every record's close
	closed := func(edit func(c *tracker.Record)) *tracker.Record {
		c := conn(1, 40000, zmtp.REQ, zmtp.REP)
		c.State, c.Closed = zmtp.StateClosed, true
		edit(c)
		return c
	}
	for _, tc := range []struct {
		name    string
		c       *tracker.Record
		settled bool
	}{
		{"sound", closed(func(c *tracker.Record) {}), true},
		{"agreed mismatch", closed(func(c *tracker.Record) { c.HandshakeError = "mechanism mismatch" }), true},
		{"monitor reason only", closed(func(c *tracker.Record) { c.HandshakeError = "monitor: HANDSHAKE_FAILED_AUTH" }), true},
		{"other note", closed(func(c *tracker.Record) {
			c.MonitorNotes = []tracker.MonitorNote{{Time: t0, Source: "a", Event: "CONNECTED"}}
		}), true},
		{"mismatch", closed(func(c *tracker.Record) {
			c.HandshakeError, c.HandshakeDone = "mechanism mismatch", [2]bool{true, false}
		}), false},
		{"error command", closed(func(c *tracker.Record) { c.ErrorReasons = []string{"400"} }), false},
		{"failed note", closed(func(c *tracker.Record) {
			c.MonitorNotes = []tracker.MonitorNote{{Time: t0, Source: "a", Event: evFailedAuth}}
		}), false},
	} {
		if got := d.settled(tc.c, ts, t0, true); got != tc.settled {
			t.Errorf("%s: settled %v, want %v", tc.name, got, tc.settled)
		}
		// A settled record is one detect finds nothing in.
		q := func(time.Time, Query) Result { return Result{Records: []*tracker.Record{tc.c}} }
		if n := len(d.detect(ts, q, &monitorState{})); (n == 0) != tc.settled {
			t.Errorf("%s: %d findings, settled %v", tc.name, n, tc.settled)
		}
	}
}

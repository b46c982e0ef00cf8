package dissect

import (
	"testing"
	"time"
)

// snapFeed feeds stream to c as segments of seg bytes of which only the first
// keep bytes were captured (a short snap length): the rest of each is a gap.
func snapFeed(c *Conn, stream []byte, seg, keep int, ts time.Time) {
	for len(stream) > 0 {
		n := min(seg, len(stream))
		k := min(keep, n)
		c.Feed(s2c, stream[:k], ts)
		c.Skip(s2c, n-k, ts)
		stream = stream[n:]
	}
}

func steadyStream(n, size int) []byte {
	var b []byte
	for i := range n {
		body := make([]byte, size)
		for j := range body {
			body[j] = byte(i + j)
		}
		b = append(b, frame(0, body)...)
	}
	return b
}

// derivedRecorder counts frames and the derived ones.
type derivedRecorder struct {
	frames, derived, lostSync int
	bytes                     uint64
}

func (r *derivedRecorder) Event(e *Event) {
	switch e.Kind {
	case KindFrame:
		r.frames++
		r.bytes += e.Size
		if e.Derived {
			r.derived++
		}
	case KindGap:
		if e.Err != nil {
			r.lostSync++
		}
	}
}

// TestDeriveSteadyStream: 500 frames of 200 bytes in 1448-byte segments of
// which 62 bytes were captured: every frame is counted, most derived.
func TestDeriveSteadyStream(t *testing.T) {
	r := &derivedRecorder{}
	c := NewConn(r, Options{}, true)
	ts := time.Unix(0, 0)
	c.Feed(s2c, greeting("NULL", 1), ts)
	c.Feed(s2c, frame(4, cmd("READY", prop("Socket-Type", "PUB"))), ts)
	snapFeed(c, steadyStream(500, 200), 1448, 62, ts)
	c.Finish(ts)
	if r.frames != 500 || r.bytes != 500*200 || r.lostSync != 0 || r.derived == 0 || r.derived == 500 {
		t.Fatalf("frames %d bytes %d derived %d lost sync %d; want 500 frames, 100000 bytes, some derived, no lost sync", r.frames, r.bytes, r.derived, r.lostSync)
	}
}

// TestDeriveContradicted: a stream whose sizes change inside the gaps: a
// captured header where the hypothesis put another size loses sync, and the
// frames pending since the last confirmation are not reported.
func TestDeriveContradicted(t *testing.T) {
	r := &derivedRecorder{}
	c := NewConn(r, Options{}, true)
	ts := time.Unix(0, 0)
	c.Feed(s2c, greeting("NULL", 1), ts)
	c.Feed(s2c, frame(4, cmd("READY", prop("Socket-Type", "PUB"))), ts)
	var stream []byte
	for i := range 400 {
		stream = append(stream, frame(0, make([]byte, 150+i%7))...)
	}
	snapFeed(c, stream, 1448, 62, ts)
	c.Finish(ts)
	if r.lostSync == 0 || r.derived != 0 || r.frames >= 400 {
		t.Fatalf("frames %d derived %d lost sync %d; want lost sync, no derived frames", r.frames, r.derived, r.lostSync)
	}
}

// TestDeriveUnconfirmedAtEnd: frames passed in a gap that no captured header
// confirmed are not reported; the direction lost sync.
func TestDeriveUnconfirmedAtEnd(t *testing.T) {
	r := &derivedRecorder{}
	c := NewConn(r, Options{}, true)
	ts := time.Unix(0, 0)
	c.Feed(s2c, greeting("NULL", 1), ts)
	c.Feed(s2c, frame(4, cmd("READY", prop("Socket-Type", "PUB"))), ts)
	stream := steadyStream(20, 200)
	c.Feed(s2c, stream[:50], ts)
	c.Skip(s2c, len(stream)-50-100, ts) // ends inside a frame
	c.Finish(ts)
	// The frame whose header was captured is counted; the 18 after it,
	// passed in the gap, are not.
	if r.frames != 1 || r.derived != 0 || r.lostSync != 1 {
		t.Fatalf("frames %d derived %d lost sync %d; want 1 frame and lost sync", r.frames, r.derived, r.lostSync)
	}
}

// TestDeriveNotForCurve: CURVE boxes are counted by their plaintext sizes,
// which a box passed in a gap cannot give: no hypothesis, lost sync.
func TestDeriveNotForCurve(t *testing.T) {
	r := &derivedRecorder{}
	c := NewConn(r, Options{}, true)
	ts := time.Unix(0, 0)
	c.Feed(s2c, greeting("CURVE", 1), ts)
	var stream []byte
	for range 100 {
		box := append([]byte("\x07MESSAGE"), make([]byte, 8+16+1+150)...)
		stream = append(stream, frame(0, box)...)
	}
	snapFeed(c, stream, 1448, 62, ts)
	c.Finish(ts)
	if r.derived != 0 || r.lostSync == 0 {
		t.Fatalf("derived %d, lost sync %d: want none derived, lost sync", r.derived, r.lostSync)
	}
}

package dissect

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/zspy/zspy/zmtp"
)

// segments cuts b into chunks of n bytes, as TCP cuts a stream that queued in
// the sender's buffer: without regard to frame boundaries.
func segments(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > n {
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

// TestResyncPredictsNextHeader: a capture that starts inside a frame of a
// stream of frames larger than a segment, whose headers all lie in the
// middle of segments. The first long header seen predicts where the next
// one is; when a later segment holds a plausible header exactly there, both
// are taken, and the first frame is counted though its body was passed over.
func TestResyncPredictsNextHeader(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	body := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		return b
	}
	var stream []byte
	for _, n := range []int{20000, 5000, 300, 7000} {
		stream = append(stream, frame(0, body(n))...)
	}
	r := &recorder{}
	c := NewConn(r, Options{}, false)
	ts := time.Unix(0, 0)
	join := 15000 // inside the first frame
	for _, seg := range segments(stream[join:], 1448) {
		c.Feed(c2s, seg, ts)
	}
	want := []string{
		"c2s resync skipped=5009", // the rest of the first frame (header 9 + 20000 - 15000)
		"c2s frame size=5000 more=false",
		"c2s frame size=300 more=false",
		"c2s frame size=7000 more=false",
	}
	check(t, r.lines, want)
	if c.Detected() != zmtp.IsZMTP || !c.MidStream() {
		t.Fatalf("detected %v, mid-stream %v", c.Detected(), c.MidStream())
	}
}

// TestResyncPredictionWrong: a long header whose predicted successor is not a
// plausible header is dropped; the stream stays undecided and, past the scan
// limit, is not ZMTP.
func TestResyncPredictionWrong(t *testing.T) {
	r := &recorder{}
	c := NewConn(r, Options{MaxScan: 4096}, false)
	ts := time.Unix(0, 0)
	junk := make([]byte, 1448)
	for i := range junk {
		junk[i] = 0xEE // no flags byte is 0xEE
	}
	first := append([]byte(nil), junk...)
	copy(first[700:], []byte{2, 0, 0, 0, 0, 0, 0, 0x10, 0}) // a 4096-byte long header
	c.Feed(c2s, first, ts)
	for range 8 {
		c.Feed(c2s, junk, ts)
	}
	if len(r.lines) != 0 || c.Detected() != zmtp.NotZMTP {
		t.Fatalf("detected %v, events %v", c.Detected(), r.lines)
	}
}

// TestResyncPredictionKeepsScanning: a pending prediction keeps an undecided
// stream alive past the scan limit until its header is due.
func TestResyncPredictionKeepsScanning(t *testing.T) {
	r := &recorder{}
	c := NewConn(r, Options{MaxScan: 2048}, false)
	ts := time.Unix(0, 0)
	junk := make([]byte, 1000)
	for i := range junk {
		junk[i] = 0xEE
	}
	first := append([]byte(nil), junk...)
	copy(first[100:], []byte{2, 0, 0, 0, 0, 0, 0, 0x17, 0x70}) // 6000 bytes: next header at 6109
	c.Feed(c2s, first, ts)
	for range 5 {
		c.Feed(c2s, junk, ts) // 1000..5999
	}
	next := append([]byte(nil), junk...)
	copy(next[109:], frame(0, []byte("hello")))
	c.Feed(c2s, next[:116], ts)
	want := []string{
		"c2s resync skipped=100",
		"c2s frame size=6000 more=false",
		"c2s frame size=5 more=false",
	}
	check(t, r.lines, want)
}

// TestMidStreamChunkStartingWithFF: a capture that joins where a frame body
// byte 0xFF happens to open the chunk does not take it for a greeting (whose
// signature is FF, zero padding, 7F): frames are found by resynchronising.
func TestMidStreamChunkStartingWithFF(t *testing.T) {
	r := &recorder{}
	c := NewConn(r, Options{}, false)
	ts := time.Unix(0, 0)
	chunk := []byte{0xFF, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10} // the end of a body; byte 9 odd
	chunk = append(chunk, frame(1, []byte("key"))...)
	chunk = append(chunk, frame(0, []byte("value"))...)
	c.Feed(c2s, chunk, ts)
	want := []string{
		"c2s resync skipped=11",
		"c2s frame size=3 more=true",
		"c2s frame size=5 more=false",
	}
	check(t, r.lines, want)
}

package dissect

import (
	"bytes"
	"testing"
	"time"
)

type counter struct{ n int }

func (c *counter) Event(e *Event) {
	c.n++
	// Touch every slice the event carries, so aliasing bugs show up under -race.
	_ = len(e.Body) + len(e.CmdName) + len(e.Topic) + len(e.Reason) + len(e.Username)
	for _, p := range e.Props {
		_ = len(p.Name) + len(p.Value)
	}
	if e.Kind == KindFrame && uint64(len(e.Body)) > e.Size {
		panic("body longer than the frame")
	}
}

// FuzzConn feeds arbitrary bytes, split at arbitrary points, to both directions
// of a connection, with and without the start of the connection, with gaps. It
// must never panic, and what it keeps of a frame stays within the caps.
func FuzzConn(f *testing.F) {
	seed := append(greeting("NULL", 1), cmd("READY", prop("Socket-Type", "DEALER"), prop("Identity", "abc"))...)
	seed = append(seed, frame(1, []byte("hi"))...)
	seed = append(seed, frame(0, bytes.Repeat([]byte{1}, 300))...)
	f.Add(seed, seed, uint8(7), true)
	f.Add(greeting("PLAIN", 1), append(greeting("PLAIN", 1), frame(4, []byte("\x5eRROR\x03400"))...), uint8(3), true)
	f.Add([]byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 1, 5, 0, 0, 0, 2, 'h', 'i'}, []byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 6, 0, 0}, uint8(1), true)
	f.Add([]byte{2, 0, 'x', 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0}, []byte{}, uint8(2), false)
	f.Add([]byte{0, 0xFF, 2, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, []byte{4, 5, 4, 'P', 'I', 'N', 'G'}, uint8(0), false)
	f.Fuzz(func(t *testing.T, a, b []byte, split uint8, fromStart bool) {
		h := &counter{}
		c := NewConn(h, Options{PreviewCap: 16, CommandCap: 64}, fromStart)
		ts := time.Unix(1, 0)
		step := int(split%17) + 1
		for len(a) > 0 || len(b) > 0 {
			na, nb := min(step, len(a)), min(step, len(b))
			c.Feed(c2s, a[:na], ts)
			c.Feed(s2c, b[:nb], ts)
			a, b = a[na:], b[nb:]
			if split&0x80 != 0 && len(a) > 0 {
				c.Skip(c2s, int(split&0x0F)+1, ts)
			}
		}
		for i := range c.s {
			if len(c.s[i].buf) > 64 || cap(c.s[i].big) > 64 {
				t.Fatalf("direction %d kept %d bytes (cap %d)", i, len(c.s[i].buf), cap(c.s[i].big))
			}
		}
	})
}

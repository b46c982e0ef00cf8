package dissect

import (
	"bytes"
	"testing"
	"time"

	"github.com/zspy/zspy/zmtp"
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
	steady := append(greeting("NULL", 1), cmd("READY", prop("Socket-Type", "PUB"))...)
	for range 12 {
		steady = append(steady, frame(0, []byte("steady"))...)
	}
	f.Add(steady, []byte{}, uint8(0x85), true)
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
		c.Finish(ts)
		for i := range c.s {
			if len(c.s[i].buf) > 64 || cap(c.s[i].big) > 64 {
				t.Fatalf("direction %d kept %d bytes (cap %d)", i, len(c.s[i].buf), cap(c.s[i].big))
			}
		}
	})
}

// FuzzCommand decodes arbitrary command bodies (and 3.0-style subscription
// messages) under each mechanism, after real greetings and READYs, whole and
// cut by the command cap.
func FuzzCommand(f *testing.F) {
	f.Add([]byte("\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER\x08Identity\x00\x00\x00\x03abc"), uint8(0))
	f.Add([]byte("\x05HELLO\x05admin\x06secret"), uint8(1))
	f.Add([]byte("\x5eRROR\x03400"), uint8(1))
	f.Add([]byte("\x05WELCOME\x05admin\x06secret"), uint8(1))
	f.Add([]byte("\x07MESSAGE\x00\x00\x00\x00\x00\x00\x00\x030123456789abcdef0123456789"), uint8(2))
	f.Add([]byte("\x04PING\x00\x1e"), uint8(0))
	f.Add([]byte("\x09SUBSCRIBE"), uint8(0))
	f.Add([]byte("\x08INITIATE\x01X\x7f\xff\xff\xff"), uint8(1))
	f.Fuzz(func(t *testing.T, body []byte, mode uint8) {
		mech := [...]string{"NULL", "PLAIN", "CURVE"}[mode%3]
		h := &counter{}
		c := NewConn(h, Options{CommandCap: 32 + int(mode>>2)}, true)
		ts := time.Unix(1, 0)
		c.Feed(c2s, greeting(mech, 1), ts)
		c.Feed(s2c, greeting(mech, mode&8>>3), ts)
		c.Feed(c2s, cmd("READY", prop("Socket-Type", "SUB")), ts)
		c.Feed(s2c, cmd("READY", prop("Socket-Type", "PUB")), ts)
		c.Feed(c2s, frame(4, body), ts)
		c.Feed(c2s, frame(0, body), ts)
		c.Feed(s2c, frame(4, body), ts)
		if c.Detected() != zmtp.IsZMTP {
			t.Fatalf("detection %v", c.Detected())
		}
	})
}

// FuzzCommandLength reaches commands of every length the dissector keeps, up
// to the 4 KiB default command cap and past it: the body is the fuzzer's
// prefix padded with its fill byte to the fuzzer's length, so that long
// fields (a 255-byte PLAIN username, a 4 KiB topic) are one mutation away
// instead of hundreds. FuzzCommand's bodies stay within its small caps.
func FuzzCommandLength(f *testing.F) {
	f.Add([]byte("\x05HELLO\xff"), uint16(1+5+1+255+1+255), byte(0xFF), uint8(1))
	f.Add([]byte("\x05HELLO\x00"), uint16(1+5+1+1+255), byte(0xFF), uint8(1))
	f.Add([]byte("\x05ERROR\xff"), uint16(1+5+1+255), byte('r'), uint8(1))
	f.Add([]byte("\x5eRROR\xff"), uint16(5+1+255), byte('r'), uint8(1))
	f.Add([]byte("\x09SUBSCRIBE"), uint16(4096), byte('t'), uint8(0))
	f.Add([]byte("\x05READY\x0bSocket-Type\x00\x00\x0f\xf0"), uint16(4097), byte('v'), uint8(0))
	f.Add([]byte("\x07MESSAGE"), uint16(4200), byte(0), uint8(2))
	f.Fuzz(func(t *testing.T, prefix []byte, length uint16, fill byte, mode uint8) {
		const cmdCap = 4096
		n := int(length) % (cmdCap + 128)
		body := make([]byte, n)
		k := copy(body, prefix)
		for i := k; i < n; i++ {
			body[i] = fill
		}
		mech := [...]string{"NULL", "PLAIN", "CURVE"}[mode%3]
		var seen int
		h := handlerFunc(func(e *Event) {
			seen++
			if len(e.Body) > cmdCap {
				t.Fatalf("kept %d bytes of a command, cap %d", len(e.Body), cmdCap)
			}
			for _, s := range [][]byte{e.Username, e.Password, e.Reason} {
				if len(s) > 255 {
					t.Fatalf("a 1-byte-length field of %d bytes", len(s))
				}
			}
		})
		c := NewConn(h, Options{}, true)
		ts := time.Unix(1, 0)
		c.Feed(c2s, greeting(mech, 1), ts)
		c.Feed(s2c, greeting(mech, 1), ts)
		b := frame(4, body)
		if step := int(mode>>2) + 1; mode&0x80 != 0 {
			// In pieces, as segments bring it.
			for len(b) > 0 {
				m := min(step, len(b))
				c.Feed(c2s, b[:m], ts)
				b = b[m:]
			}
		} else {
			c.Feed(c2s, b, ts)
		}
		c.Feed(s2c, frame(4, body), ts)
		if seen < 4 {
			t.Fatalf("%d events for two greetings and two commands", seen)
		}
	})
}

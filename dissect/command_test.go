package dissect

import (
	"bytes"
	"testing"
	"time"
)

// A PLAIN username and password may each be 255 bytes, and so may an ERROR
// reason: their length byte plus one must not wrap to 0 (it did, and the
// dissector panicked on the slice).
func TestLongestShortStrings(t *testing.T) {
	user := bytes.Repeat([]byte{'u'}, 255)
	pass := bytes.Repeat([]byte{'p'}, 255)
	reason := bytes.Repeat([]byte{'r'}, 255)
	for _, n := range []int{0, 1, 254, 255} {
		r := &recorder{}
		c := NewConn(r, Options{}, true)
		ts := time.Unix(0, 0)
		c.Feed(c2s, greeting("PLAIN", 1), ts)
		c.Feed(s2c, greeting("PLAIN", 1), ts)
		c.Feed(c2s, cmd("HELLO", []byte{byte(n)}, user[:n], []byte{255}, pass), ts)
		c.Feed(s2c, cmd("ERROR", []byte{byte(n)}, reason[:n]), ts)
		check(t, r.lines, []string{
			"c2s greeting 3.1 PLAIN sock=",
			"s2c greeting 3.1 PLAIN sock=",
			"c2s command HELLO user=" + string(user[:n]) + " pass=" + string(pass),
			"s2c command ERROR reason=" + string(reason[:n]),
		})
	}
}

// A length byte that runs past the command is malformed, not a panic, for
// every length up to the largest.
func TestShortStringPastTheEnd(t *testing.T) {
	for _, n := range []int{1, 128, 255} {
		var got []*Event
		h := handlerFunc(func(e *Event) {
			if e.Kind == KindCommand {
				cp := *e
				got = append(got, &cp)
			}
		})
		c := NewConn(h, Options{}, true)
		ts := time.Unix(0, 0)
		c.Feed(c2s, greeting("PLAIN", 1), ts)
		body := bytes.Repeat([]byte{'x'}, n-1)
		c.Feed(c2s, cmd("HELLO", []byte{byte(n)}, body), ts)
		c.Feed(c2s, cmd("HELLO", []byte{0, byte(n)}, body), ts)
		c.Feed(c2s, cmd("ERROR", []byte{byte(n)}, body), ts)
		if len(got) != 3 {
			t.Fatalf("length %d: %d commands, want 3", n, len(got))
		}
		for i, e := range got {
			if e.Err != ErrBadCommand {
				t.Errorf("length %d: command %d (%s): err %v, want %v", n, i, e.Cmd, e.Err, ErrBadCommand)
			}
		}
	}
}

type handlerFunc func(*Event)

func (f handlerFunc) Event(e *Event) { f(e) }

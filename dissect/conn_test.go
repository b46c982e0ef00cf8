package dissect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/zmtp"
)

// recorder keeps a printable line per event.
type recorder struct{ lines []string }

func (r *recorder) Event(e *Event) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", e.Dir, e.Kind)
	switch e.Kind {
	case KindGreeting:
		fmt.Fprintf(&b, " %s %s sock=%s", e.Version, e.Mechanism, e.SocketType)
	case KindCommand:
		fmt.Fprintf(&b, " %s", e.Cmd)
		for _, p := range e.Props {
			fmt.Fprintf(&b, " %s=%s", p.Name, p.Value)
		}
		if e.Username != nil {
			fmt.Fprintf(&b, " user=%s pass=%s", e.Username, e.Password)
		}
		if e.Reason != nil {
			fmt.Fprintf(&b, " reason=%s", e.Reason)
		}
		if e.Topic != nil {
			fmt.Fprintf(&b, " topic=%q", e.Topic)
		}
		if e.Cmd == zmtp.CmdPING {
			fmt.Fprintf(&b, " ttl=%d", e.TTL)
		}
	case KindFrame, KindIdentity:
		fmt.Fprintf(&b, " size=%d more=%v", e.Size, e.More)
		if e.Lost > 0 {
			fmt.Fprintf(&b, " lost=%d", e.Lost)
		}
		if e.Curve {
			fmt.Fprintf(&b, " curve plain=%d nonce=%d", e.Plain, e.Nonce)
		}
		if e.Legacy {
			fmt.Fprintf(&b, " %s topic=%q", e.Cmd, e.Topic)
		}
	case KindGap:
		fmt.Fprintf(&b, " lost=%d sync=%v", e.Lost, e.Err == nil)
	case KindResync:
		fmt.Fprintf(&b, " skipped=%d", e.Skipped)
	case KindMalformed:
		fmt.Fprintf(&b, " %v", e.Err)
	}
	r.lines = append(r.lines, b.String())
}

func greeting(mech string, minor byte) []byte {
	g := make([]byte, 64)
	g[0] = 0xFF
	g[8] = 1
	g[9] = 0x7F
	g[10] = 3
	g[11] = minor
	copy(g[12:], mech)
	return g
}

func frame(flags byte, body []byte) []byte {
	if len(body) > 255 {
		h := make([]byte, 9)
		h[0] = flags | 2
		binary.BigEndian.PutUint64(h[1:], uint64(len(body)))
		return append(h, body...)
	}
	return append([]byte{flags, byte(len(body))}, body...)
}

func cmd(name string, data ...[]byte) []byte {
	b := append([]byte{byte(len(name))}, name...)
	for _, d := range data {
		b = append(b, d...)
	}
	return frame(4, b)
}

func prop(name, value string) []byte {
	b := append([]byte{byte(len(name))}, name...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(value)))
	return append(b, value...)
}

const c2s, s2c = zmtp.ClientToServer, zmtp.ServerToClient

func TestNullDealerRouterInPieces(t *testing.T) {
	r := &recorder{}
	c := NewConn(r, Options{}, true)
	ts := time.Unix(0, 0)
	gc, gs := greeting("NULL", 1), greeting("NULL", 1)
	// libzmq sends 10, then 1, then 53 bytes each way.
	c.Feed(c2s, gc[:10], ts)
	c.Feed(s2c, gs[:10], ts)
	c.Feed(c2s, gc[10:11], ts)
	c.Feed(s2c, gs[10:11], ts)
	c.Feed(c2s, gc[11:], ts)
	c.Feed(s2c, gs[11:], ts)
	c.Feed(c2s, cmd("READY", prop("Socket-Type", "DEALER"), prop("Identity", "abc")), ts)
	c.Feed(s2c, cmd("READY", prop("Socket-Type", "ROUTER"), prop("Identity", "")), ts)
	msg := append(frame(1, []byte("hello")), frame(0, bytes.Repeat([]byte{'x'}, 300))...)
	// Deliver byte by byte to exercise split headers.
	for i := range msg {
		c.Feed(c2s, msg[i:i+1], ts)
	}
	c.Feed(s2c, append(cmd("PING", []byte{0, 30}), frame(0, nil)...), ts)
	want := []string{
		"c2s greeting 3.1 NULL sock=",
		"s2c greeting 3.1 NULL sock=",
		"c2s command READY Socket-Type=DEALER Identity=abc",
		"s2c command READY Socket-Type=ROUTER Identity=",
		"c2s frame size=5 more=true",
		"c2s frame size=300 more=false",
		"s2c command PING ttl=30",
		"s2c frame size=0 more=false",
	}
	check(t, r.lines, want)
	if c.Detected() != zmtp.IsZMTP || c.Version() != zmtp.V31 || c.Mechanism() != zmtp.MechNULL {
		t.Fatalf("detected %v version %v mech %v", c.Detected(), c.Version(), c.Mechanism())
	}
	if c.SocketType(c2s) != zmtp.DEALER || c.SocketType(s2c) != zmtp.ROUTER {
		t.Fatalf("socket types %v %v", c.SocketType(c2s), c.SocketType(s2c))
	}
}

func check(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPlainQuirksAndLegacySubscribe(t *testing.T) {
	r := &recorder{}
	c := NewConn(r, Options{}, true)
	ts := time.Unix(0, 0)
	c.Feed(c2s, greeting("PLAIN", 0), ts)
	c.Feed(s2c, greeting("PLAIN", 1), ts)
	c.Feed(c2s, cmd("HELLO", []byte{5}, []byte("admin"), []byte{6}, []byte("secret")), ts)
	c.Feed(s2c, frame(4, []byte("\x5eRROR\x03400")), ts)
	want := []string{
		"c2s greeting 3.0 PLAIN sock=",
		"s2c greeting 3.1 PLAIN sock=",
		"c2s command HELLO user=admin pass=secret",
		"s2c command ERROR reason=400",
	}
	check(t, r.lines, want)
	if c.Version() != zmtp.V30 {
		t.Fatalf("version %v", c.Version())
	}
}

func TestZMTP20Peer(t *testing.T) {
	r := &recorder{}
	c := NewConn(r, Options{}, true)
	ts := time.Unix(0, 0)
	// A 2.0 client (revision 1, socket type 5 = DEALER), then its identity frame.
	c.Feed(c2s, []byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 1, 5, 0, 0}, ts)
	// libzmq answers with its signature, major 3, then the socket type (ROUTER).
	c.Feed(s2c, []byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F}, ts)
	c.Feed(s2c, []byte{3}, ts)
	c.Feed(s2c, []byte{6, 0, 0}, ts)
	c.Feed(c2s, frame(0, []byte("hi")), ts)
	want := []string{
		"c2s greeting 2.0 NULL sock=DEALER",
		"c2s identity size=0 more=false",
		"s2c greeting 2.0 NULL sock=ROUTER",
		"s2c identity size=0 more=false",
		"c2s frame size=2 more=false",
	}
	check(t, r.lines, want)
}

func TestMidStreamAndGap(t *testing.T) {
	r := &recorder{}
	c := NewConn(r, Options{}, false)
	ts := time.Unix(0, 0)
	seg := append(frame(1, nil), frame(0, []byte("request"))...)
	c.Feed(c2s, seg[3:], ts) // starts inside a frame: no chain at offset 0
	c.Feed(c2s, seg, ts)
	big := frame(0, bytes.Repeat([]byte{7}, 1000))
	c.Feed(c2s, big[:100], ts)
	c.Skip(c2s, 800, ts)
	c.Feed(c2s, big[900:], ts)
	c.Skip(c2s, 5, ts) // lost in a header: resync
	c.Feed(c2s, seg, ts)
	want := []string{
		"c2s resync skipped=8",
		"c2s frame size=0 more=true",
		"c2s frame size=7 more=false",
		"c2s gap lost=800 sync=true",
		"c2s frame size=1000 more=false lost=800",
		"c2s gap lost=5 sync=false",
		"c2s resync skipped=5",
		"c2s frame size=0 more=true",
		"c2s frame size=7 more=false",
	}
	check(t, r.lines, want)
	if !c.MidStream() {
		t.Fatal("not marked mid-stream")
	}
}

func TestNotZMTP(t *testing.T) {
	r := &recorder{}
	c := NewConn(r, Options{}, true)
	ts := time.Unix(0, 0)
	c.Feed(c2s, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), ts)
	c.Feed(s2c, []byte("HTTP/1.1 200 OK\r\n\r\n"), ts)
	if c.Detected() != zmtp.NotZMTP || len(r.lines) != 0 {
		t.Fatalf("detected %v, events %v", c.Detected(), r.lines)
	}
}

// libzmq 4.3.4's XPUB applies every frame an XSUB sends that starts with 0x01
// or 0x00 as a subscription or cancel, also inside a multipart message (found
// with real XSUB/XPUB_VERBOSER peers: [0x01 "multi", "body"] and ["\x02data",
// 0x01 "sneaky"] both subscribed).
func TestXSUBLegacySubscribeInMultipart(t *testing.T) {
	r := &recorder{}
	c := NewConn(r, Options{}, true)
	ts := time.Unix(0, 0)
	c.Feed(c2s, greeting("NULL", 1), ts)
	c.Feed(s2c, greeting("NULL", 1), ts)
	c.Feed(c2s, cmd("READY", prop("Socket-Type", "XSUB")), ts)
	c.Feed(s2c, cmd("READY", prop("Socket-Type", "XPUB")), ts)
	var b []byte
	b = append(b, frame(1, []byte("\x01multi"))...)
	b = append(b, frame(0, []byte("body"))...)
	b = append(b, frame(1, []byte("\x02data"))...)
	b = append(b, frame(0, []byte("\x00sneaky"))...)
	c.Feed(c2s, b, ts)
	want := []string{
		"c2s greeting 3.1 NULL sock=",
		"s2c greeting 3.1 NULL sock=",
		"c2s command READY Socket-Type=XSUB",
		"s2c command READY Socket-Type=XPUB",
		`c2s frame size=6 more=true SUBSCRIBE topic="multi"`,
		"c2s frame size=4 more=false",
		"c2s frame size=5 more=true",
		`c2s frame size=7 more=false CANCEL topic="sneaky"`,
	}
	check(t, r.lines, want)
}

// A capture that joined during the greetings (no SYN, the first 10 bytes of
// one side missed): the rest of that side's greeting is recognised, not read
// as a 1.0 identity or as frames, and the connection is mid-stream.
func TestGreetingTailAfterCut(t *testing.T) {
	r := &recorder{}
	c := NewConn(r, Options{}, false)
	ts := time.Unix(0, 0)
	g := greeting("NULL", 1)
	c.Feed(c2s, g[:10], ts)
	c.Feed(s2c, g[10:11], ts) // libzmq sends the major version alone
	c.Feed(c2s, g[10:], ts)
	c.Feed(s2c, g[11:], ts)
	c.Feed(s2c, cmd("READY", prop("Socket-Type", "ROUTER")), ts)
	c.Feed(c2s, cmd("READY", prop("Socket-Type", "DEALER")), ts)
	c.Feed(s2c, frame(0, []byte("hi")), ts)
	want := []string{
		"c2s greeting 3.1 NULL sock=",
		"s2c greeting 3.1 NULL sock=",
		"s2c command READY Socket-Type=ROUTER",
		"c2s command READY Socket-Type=DEALER",
		"s2c frame size=2 more=false",
	}
	check(t, r.lines, want)
	if !c.MidStream() {
		t.Fatal("not marked mid-stream")
	}
}

// A capture that joined during a 2.0 handshake (found by cutting the zmtp20
// corpus case): libzmq's last two greeting bytes to a 2.0 peer (major
// version 3, socket type ROUTER) open its direction, so its next frame is
// its identity, not data.
func TestGreeting2TailAfterCut(t *testing.T) {
	r := &recorder{}
	c := NewConn(r, Options{}, false)
	ts := time.Unix(0, 0)
	c.Feed(s2c, []byte{3, 6}, ts)
	c.Feed(s2c, []byte{0, 0}, ts) // its (empty) identity frame
	c.Feed(s2c, frame(0, []byte("reply 0")), ts)
	want := []string{
		"s2c greeting 2.0 NULL sock=ROUTER",
		"s2c identity size=0 more=false",
		"s2c frame size=7 more=false",
	}
	check(t, r.lines, want)
	if !c.MidStream() {
		t.Fatal("not marked mid-stream")
	}
}

// go-zeromq/zmq4 writes an ERROR's reason without its length byte
// (SendCmd(CmdError, []byte("invalid command"))): the whole text is the
// reason, not the text after its first letter; it is still malformed.
func TestErrorReasonWithoutLength(t *testing.T) {
	r := &recorder{}
	c := NewConn(r, Options{}, true)
	ts := time.Unix(0, 0)
	c.Feed(c2s, greeting("PLAIN", 0), ts)
	c.Feed(c2s, cmd("ERROR", []byte("invalid command")), ts)
	c.Feed(c2s, cmd("ERROR", []byte{3}, []byte("400")), ts)
	check(t, r.lines, []string{
		"c2s greeting 3.0 PLAIN sock=",
		"c2s command ERROR reason=invalid command",
		"c2s command ERROR reason=400",
	})
}

// A greeting's rest must name a known mechanism: "00 50" then zeros (a frame
// of 80 zero bytes, found by cutting the zmtp20 corpus case) is not the end
// of a greeting for mechanism "P" followed by fourteen empty messages.
func TestGreetingTailNeedsKnownMechanism(t *testing.T) {
	for _, o := range []int{10, 11, 12} {
		if greetingTailAt(append([]byte{0, 'P'}, make([]byte, 80)...), o) {
			t.Errorf("offset %d: a one-letter mechanism taken for a greeting", o)
		}
	}
	g := greeting("PLAIN", 1)
	for o := 10; o <= 12; o++ {
		if !greetingTailAt(g[o:], o) || !greetingTailAt(g[o:o+3], o) {
			t.Errorf("offset %d: PLAIN greeting tail not recognised", o)
		}
	}
	r := &recorder{}
	c := NewConn(r, Options{}, false)
	ts := time.Unix(0, 0)
	c.Feed(c2s, append([]byte{0, 80}, make([]byte, 80)...), ts)
	check(t, r.lines, []string{"c2s resync skipped=0", "c2s frame size=80 more=false"})
}

// Resynchronisation does not take zero padding, or a READY's 4-byte property
// lengths, for empty frames (zmq4 sends a command's header and body in
// separate segments).
func TestResyncIgnoresZeroRunsAndPropertyLengths(t *testing.T) {
	r := &recorder{}
	c := NewConn(r, Options{}, false)
	ts := time.Unix(0, 0)
	ready := cmd("READY", prop("Identity", "abc"), prop("Socket-Type", "REP"))
	c.Feed(s2c, ready[2:], ts)         // the body without its header
	c.Feed(s2c, make([]byte, 300), ts) // the inside of a zero-filled frame
	c.Feed(s2c, append(make([]byte, 40), frame(0, bytes.Repeat([]byte{9}, 300))...), ts)
	c.Feed(s2c, frame(1, nil), ts)
	c.Feed(s2c, frame(0, []byte("reply")), ts)
	want := []string{
		"s2c resync skipped=690",
		"s2c frame size=0 more=true",
		"s2c frame size=5 more=false",
	}
	check(t, r.lines, want)
}

// A capture with a short snap length keeps only the start of the segment that
// carries a greeting's last 53 bytes: the gap falls inside the 64-byte 3.x
// greeting, whose length is known, so the frames after it decode in step
// (found by replaying a real capture cut to 96 bytes a packet: every message
// after the handshake used to go to resynchronisation). A gap over the
// mechanism name leaves that side's mechanism unknown, not mismatched.
func TestGapInsideGreeting(t *testing.T) {
	r := &recorder{}
	c := NewConn(r, Options{}, true)
	ts := time.Unix(0, 0)
	gc, gs := greeting("NULL", 1), greeting("NULL", 1)
	c.Feed(c2s, gc[:11], ts)
	c.Feed(s2c, gs[:11], ts)
	c.Feed(c2s, gc[11:41], ts) // the mechanism is whole
	c.Skip(c2s, 23, ts)
	c.Feed(s2c, gs[11:14], ts) // "NU", then lost
	c.Skip(s2c, 50+5, ts)      // the rest of the greeting and 5 bytes of READY
	ready := cmd("READY", prop("Socket-Type", "PUSH"))
	c.Feed(c2s, ready, ts)
	c.Feed(c2s, frame(0, []byte("hello")), ts)
	want := []string{
		"c2s gap lost=23 sync=true",
		"c2s greeting 3.1 NULL sock=",
		"s2c gap lost=50 sync=true",
		"s2c greeting 3.1  sock=",
		"s2c gap lost=5 sync=false",
		"c2s command READY Socket-Type=PUSH",
		"c2s frame size=5 more=false",
	}
	check(t, r.lines, want)
	if c.Mechanism() != zmtp.MechNULL {
		t.Fatalf("mechanism %v", c.Mechanism())
	}

	// The name ended before the gap: it is known.
	r = &recorder{}
	c = NewConn(r, Options{}, true)
	c.Feed(c2s, gc[:20], ts)
	c.Skip(c2s, 44, ts)
	c.Feed(c2s, ready, ts)
	check(t, r.lines, []string{"c2s gap lost=44 sync=true", "c2s greeting 3.1 NULL sock=", "c2s command READY Socket-Type=PUSH"})
}

// A mechanism name zspy does not know, even one that does not start with a
// capital letter, still makes a 3.x greeting. Byte 12 was taken for the flags
// of a 2.0 identity frame, so the minor version became a socket type (PUB on
// both sides) and the rest of the greeting frames: false incompatible_sockets
// and handshake_failure alerts.
func TestUnknownMechanismName(t *testing.T) {
	for _, mech := range []string{"x-custom", "plain", "9P", "FOO"} {
		r := &recorder{}
		c := NewConn(r, Options{}, true)
		ts := time.Unix(0, 0)
		gc, gs := greeting(mech, 1), greeting(mech, 1)
		// As libzmq sends them: 10, 1, then 53 bytes each way.
		for _, cut := range [][2]int{{0, 10}, {10, 11}, {11, 64}} {
			c.Feed(c2s, gc[cut[0]:cut[1]], ts)
			c.Feed(s2c, gs[cut[0]:cut[1]], ts)
		}
		c.Feed(c2s, cmd("READY", prop("Socket-Type", "REQ")), ts)
		c.Feed(s2c, cmd("READY", prop("Socket-Type", "REP")), ts)
		c.Feed(c2s, append(frame(1, nil), frame(0, []byte("hi"))...), ts)
		check(t, r.lines, []string{
			"c2s greeting 3.1 OTHER sock=",
			"s2c greeting 3.1 OTHER sock=",
			"c2s command READY Socket-Type=REQ",
			"s2c command READY Socket-Type=REP",
			"c2s frame size=0 more=true",
			"c2s frame size=2 more=false",
		})
		if c.SocketType(c2s) != zmtp.REQ || c.SocketType(s2c) != zmtp.REP {
			t.Errorf("%s: socket types %v %v", mech, c.SocketType(c2s), c.SocketType(s2c))
		}
	}
}

// A frame may declare up to 2^63-1 bytes; one declaring more than any zspy
// believes draws a warning (KindMalformed, ErrHugeFrame) and is followed as
// declared, while 2^63 and above still break the framing.
func TestHugeFrameWarns(t *testing.T) {
	long := func(size uint64) []byte {
		h := make([]byte, 9)
		h[0] = 2
		binary.BigEndian.PutUint64(h[1:], size)
		return h
	}
	r := &recorder{}
	c := NewConn(r, Options{ResyncMaxFrame: 1 << 20}, true)
	ts := time.Unix(0, 0)
	c.Feed(c2s, greeting("NULL", 1), ts)
	c.Feed(c2s, cmd("READY", prop("Socket-Type", "PUSH")), ts)
	c.Feed(c2s, append(long(1<<20), make([]byte, 1<<20)...), ts) // at the bound: no warning
	c.Feed(c2s, append(long(1<<63-1), "first bytes"...), ts)
	check(t, r.lines, []string{
		"c2s greeting 3.1 NULL sock=",
		"c2s command READY Socket-Type=PUSH",
		"c2s frame size=1048576 more=false",
		"c2s malformed implausibly large frame: 9223372036854775807 bytes declared (more than 1048576)",
	})
	if !errors.Is(lastErr(t, long(1<<63)), ErrBadSize) {
		t.Error("a size of 2^63 did not break the framing")
	}
}

// lastErr feeds b to a fresh connection after a NULL greeting and returns the
// error of its last malformed event.
func lastErr(t *testing.T, b []byte) error {
	t.Helper()
	var err error
	c := NewConn(handlerFunc(func(e *Event) {
		if e.Kind == KindMalformed {
			err = e.Err
		}
	}), Options{}, true)
	c.Feed(c2s, greeting("NULL", 1), time.Unix(0, 0))
	c.Feed(c2s, b, time.Unix(0, 0))
	return err
}

// TestSharedConnsInterleaved feeds two connections whose dissectors share
// one Shared (options and event scratch) in small pieces, in turn: each must
// report what it reports with a dissector of its own fed the same pieces.
func TestSharedConnsInterleaved(t *testing.T) {
	stream := func(sock, ident string) [2][]byte {
		c := append(greeting("NULL", 1), cmd("READY", prop("Socket-Type", sock), prop("Identity", ident))...)
		c = append(c, frame(1, []byte(ident))...)
		c = append(c, frame(0, bytes.Repeat([]byte{'x'}, 300))...)
		s := append(greeting("NULL", 1), cmd("READY", prop("Socket-Type", "ROUTER"))...)
		s = append(s, cmd("PING", []byte{0, 30})...)
		return [2][]byte{c, s}
	}
	streams := [2][2][]byte{stream("DEALER", "abc"), stream("REQ", "defgh")}
	ts := time.Unix(0, 0)
	feed := func(conns [2]*Conn) {
		for off := 0; off < 1000; off += 7 {
			for i, c := range conns {
				for d, b := range streams[i] {
					if off < len(b) {
						c.Feed(zmtp.Dir(d), b[off:min(off+7, len(b))], ts)
					}
				}
			}
		}
	}
	alone := [2]*recorder{{}, {}}
	feed([2]*Conn{NewConn(alone[0], Options{}, true), NewConn(alone[1], Options{}, true)})
	sh := NewShared(Options{})
	shared := [2]*recorder{{}, {}}
	var conns [2]Conn
	for i := range conns {
		conns[i].Init(shared[i], sh, true)
	}
	feed([2]*Conn{&conns[0], &conns[1]})
	for i := range conns {
		if len(alone[i].lines) != 7 {
			t.Fatalf("connection %d alone: %d events, want 7: %q", i, len(alone[i].lines), alone[i].lines)
		}
		check(t, shared[i].lines, alone[i].lines)
	}
}

package filter

import (
	"errors"
	"strings"
	"testing"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

func events() map[string]*tracker.Event {
	return map[string]*tracker.Event{
		"sub": {Type: tracker.EvSubscription, Client: "10.0.0.1:40000", Server: "10.0.0.2:5556", Dir: zmtp.ClientToServer,
			ClientSocket: zmtp.SUB, ServerSocket: zmtp.PUB, Topic: []byte("prices.eur")},
		"cancel": {Type: tracker.EvSubscription, Client: "10.0.0.1:40000", Server: "10.0.0.2:5556", Dir: zmtp.ClientToServer,
			ClientSocket: zmtp.SUB, ServerSocket: zmtp.PUB, Topic: []byte("prices.eur"), Cancel: true},
		"bigmsg": {Type: tracker.EvMessage, Client: "10.0.0.1:40000", Server: "10.0.0.2:5556", Dir: zmtp.ServerToClient,
			ClientSocket: zmtp.SUB, ServerSocket: zmtp.PUB, Topic: []byte("prices.usd"), MsgBytes: 5000, Frames: 2},
		"smallmsg": {Type: tracker.EvMessage, Client: "[::1]:41000", Server: "[::1]:5555", Dir: zmtp.ClientToServer,
			ClientSocket: zmtp.REQ, ServerSocket: zmtp.REP, Topic: []byte("hello"), MsgBytes: 5, Frames: 1},
		"error": {Type: tracker.EvCommand, Command: zmtp.CmdERROR, Client: "10.0.0.3:40001", Server: "10.0.0.2:5555",
			Dir: zmtp.ServerToClient, Reason: []byte("no")},
		"bad": {Type: tracker.EvError, Client: "10.0.0.3:40001", Server: "10.0.0.2:5555", Err: errors.New("frame size over budget")},
		"greet": {Type: tracker.EvGreeting, Client: "10.0.0.3:40001", Server: "10.0.0.2:5555", Dir: zmtp.ServerToClient,
			SocketType: zmtp.ROUTER, Mechanism: zmtp.MechCURVE},
	}
}

func TestMatch(t *testing.T) {
	evs := events()
	cases := []struct {
		expr string
		want string // the events that match, sorted, comma-separated
	}{
		{`command == "SUBSCRIBE"`, "sub"},
		{`command in ["SUBSCRIBE", "CANCEL"] and topic startsWith "prices."`, "cancel,sub"},
		{`topic startsWith "prices."`, "bigmsg,cancel,sub"},
		{`event == "message" and size > 1000`, "bigmsg"},
		{`port(5555)`, "bad,error,greet,smallmsg"},
		{`port(40000) and dir == "s2c"`, "bigmsg"},
		{`host("10.0.0.3")`, "bad,error,greet"},
		{`host("::1")`, "smallmsg"},
		{`host("0:0::1")`, "smallmsg"},
		{`socket("PUB")`, "bigmsg,cancel,sub"},
		{`src_socket == "PUB"`, "bigmsg"},
		{`src_socket == "ROUTER"`, "greet"},
		{`event == "error" or command == "ERROR"`, "bad,error"},
		{`error contains "budget"`, "bad"},
		{`server_port == 5556 and client_host == "10.0.0.1"`, "bigmsg,cancel,sub"},
		{`src == "10.0.0.2:5556"`, "bigmsg"},
		{`mechanism == "CURVE"`, "greet"},
		{`not (event in ["message", "subscription"])`, "bad,error,greet"},
		{`[1, 2][frames + 5] == 1`, ""}, // fails at run time: matches nothing, no panic
	}
	for _, c := range cases {
		f, err := Compile(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		var got []string
		for _, name := range []string{"bad", "bigmsg", "cancel", "error", "greet", "smallmsg", "sub"} {
			if f.Match(evs[name]) {
				got = append(got, name)
			}
		}
		if g := strings.Join(got, ","); g != c.want {
			t.Errorf("%s: matched %q, want %q", c.expr, g, c.want)
		}
	}
}

// A mistake names its column and what is wrong, at start.
func TestCompileErrors(t *testing.T) {
	cases := []struct {
		expr   string
		column int
		says   string
	}{
		{`event == "mesage"`, 10, `event is never "mesage"`},
		{`command == "subscribe"`, 12, `did you mean "SUBSCRIBE"?`},
		{`socket("PUBB")`, 8, `not a socket type`},
		{`port("x")`, 6, `port number`},
		{`port(70000)`, 6, `out of range`},
		{`host("db1")`, 6, `not an IP address`},
		{`size > `, 7, `unexpected token`},
		{`sise > 10`, 1, `unknown name sise`},
		{`topic > 3`, 7, `invalid operation`},
		{`size`, 1, `bool`},
		{``, 1, `empty`},
		{"event ==\n\"x\"", 9, `one line`},
	}
	for _, c := range cases {
		_, err := Compile(c.expr)
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("%q: %v, want a *filter.Error", c.expr, err)
			continue
		}
		if fe.Column != c.column || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%q: column %d, %q; want column %d and %q", c.expr, fe.Column, err, c.column, c.says)
		}
		if !strings.Contains(err.Error(), "^") {
			t.Errorf("%q: no caret: %q", c.expr, err)
		}
	}
}

func FuzzCompileMatch(f *testing.F) {
	for _, s := range []string{`command == "SUBSCRIBE"`, `port(5555) and size > 10`, `host("::1")`,
		`topic startsWith "a" or socket("PUB")`, `size / 0`, `[1,2][5]`, `event in ["gap"]`, `topic matches "("`} {
		f.Add(s, "10.0.0.1:1", []byte("topic"), uint64(12))
	}
	f.Fuzz(func(t *testing.T, src, client string, topic []byte, size uint64) {
		flt, err := Compile(src)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("%q: %T %v", src, err, err)
			}
			return
		}
		for _, e := range events() {
			e.Client, e.Topic, e.MsgBytes = client, topic, size
			flt.Match(e)
		}
	})
}

// BenchmarkMatch is the per-event cost of a filter of the README's shape.
func BenchmarkMatch(b *testing.B) {
	f, err := Compile(`event == "message" and port(5556) and topic startsWith "prices." and size > 100`)
	if err != nil {
		b.Fatal(err)
	}
	e := events()["bigmsg"]
	b.ReportAllocs()
	for b.Loop() {
		f.Match(e)
	}
}

package tracker

import (
	"net/netip"
	"testing"
	"time"

	"github.com/zspy/zspy/monitor"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ms(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

// wireConns adds wire connections to server :5555 from client ports 1, 2, ...
func wireConns(tr *Tracker, n int) []*conn {
	srv := netip.MustParseAddrPort("127.0.0.1:5555")
	var out []*conn
	for i := 1; i <= n; i++ {
		c := &conn{Record: Record{Client: netip.AddrPortFrom(srv.Addr(), uint16(i)), Server: srv}, t: tr}
		tr.conns = append(tr.conns, c)
		out = append(out, c)
	}
	return out
}

func ev(at time.Time, src string, code monitor.EventCode, name string, fd int64) *monitor.Event {
	return &monitor.Event{Time: at, Source: src, Version: 1, Code: code, Name: name, FD: fd, Endpoint: "tcp://127.0.0.1:5555"}
}

func sourcesOf(cs []*conn, side int) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.MonitorSource[side])
	}
	return out
}

// A failed handshake only matches a connection whose handshake failed on the
// wire: the connecting session moves there, its CONNECTED note with it.
func TestMonitorHandshakeKindMovesSession(t *testing.T) {
	tr := New(Options{})
	cs := wireConns(tr, 2)
	tr.MonitorEvent(ev(ms(1), "bad", monitor.EventConnected, "CONNECTED", 10)) // claims conn 1
	tr.MonitorEvent(ev(ms(1), "good", monitor.EventConnected, "CONNECTED", 11))
	cs[0].hsEnd, cs[0].hsFailed = ms(2), false
	cs[1].hsEnd, cs[1].hsFailed = ms(3), true
	tr.MonitorEvent(ev(ms(4), "bad", monitor.EventHandshakeFailedAuth, "HANDSHAKE_FAILED_AUTH", 0))
	tr.MonitorEvent(ev(ms(5), "good", monitor.EventHandshakeSucceeded, "HANDSHAKE_SUCCEEDED", 0))
	if got := sourcesOf(cs, 0); got[0] != "good" || got[1] != "bad" {
		t.Fatalf("client sources %v", got)
	}
	if cs[0].MonitorHandshake != "succeeded" || cs[1].MonitorHandshake == "succeeded" {
		t.Errorf("handshakes %q, %q", cs[0].MonitorHandshake, cs[1].MonitorHandshake)
	}
	for _, c := range cs {
		if len(c.MonitorNotes) != 2 || c.MonitorNotes[0].Event != "CONNECTED" || c.MonitorNotes[0].Source != c.MonitorSource[0] {
			t.Errorf("%s: notes %+v", c.Client, c.MonitorNotes)
		}
	}
}

// A listener reports handshakes in the order they ended on the wire; two
// that ended within the ambiguity window are marked uncertain.
func TestMonitorListenerHandshakeOrder(t *testing.T) {
	tr := New(Options{})
	cs := wireConns(tr, 3)
	for i := range cs {
		tr.MonitorEvent(ev(ms(1), "srv", monitor.EventAccepted, "ACCEPTED", int64(20+i)))
	}
	cs[0].hsEnd = ms(30)
	cs[1].hsEnd = ms(10)
	cs[2].hsEnd = ms(10).Add(100 * time.Microsecond)
	tr.MonitorEvent(ev(ms(40), "srv", monitor.EventHandshakeSucceeded, "HANDSHAKE_SUCCEEDED", 0))
	last := func(c *conn) MonitorNote { return c.MonitorNotes[len(c.MonitorNotes)-1] }
	if n := last(cs[1]); n.Event != "HANDSHAKE_SUCCEEDED" || !n.Uncertain {
		t.Errorf("first handshake: %+v", n)
	}
	tr.MonitorEvent(ev(ms(41), "srv", monitor.EventHandshakeSucceeded, "HANDSHAKE_SUCCEEDED", 0))
	tr.MonitorEvent(ev(ms(42), "srv", monitor.EventHandshakeSucceeded, "HANDSHAKE_SUCCEEDED", 0))
	if n := last(cs[0]); n.Event != "HANDSHAKE_SUCCEEDED" || n.Uncertain {
		t.Errorf("last handshake: %+v", n)
	}
}

// DISCONNECTED(fd) goes to the connection that ended first among its
// socket's sessions: an ACCEPTED claim made in the wrong order is undone.
func TestMonitorDisconnectFollowsFIN(t *testing.T) {
	tr := New(Options{})
	cs := wireConns(tr, 2)
	tr.MonitorEvent(ev(ms(1), "srv", monitor.EventAccepted, "ACCEPTED", 20)) // conn 1
	tr.MonitorEvent(ev(ms(1), "srv", monitor.EventAccepted, "ACCEPTED", 21)) // conn 2
	cs[1].endAt = ms(50)
	tr.MonitorEvent(ev(ms(51), "srv", monitor.EventDisconnected, "DISCONNECTED", 20))
	if cs[1].MonitorDisconnects != 1 || cs[0].MonitorDisconnects != 0 {
		t.Fatalf("disconnects %d, %d", cs[0].MonitorDisconnects, cs[1].MonitorDisconnects)
	}
	if cs[1].MonitorNotes[0].Detail != "fd 20" || cs[0].MonitorNotes[0].Detail != "fd 21" {
		t.Errorf("ACCEPTED notes not traded: %+v / %+v", cs[0].MonitorNotes, cs[1].MonitorNotes)
	}
}

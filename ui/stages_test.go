package ui

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/host"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/tracing"
)

type lastUpdate struct{ u *session.Update }

func (l *lastUpdate) SessionUpdate(u *session.Update) { l.u = u }

// The Stages view (key 4 or s), on a simulation screen: a replay of the
// real capture of the seed's broker shows the broker recognised by
// forwarding, each hop with its p50/p99 and count, and nothing left
// inside; the processes section lists a host view's processes (made here
// by hand: the host view is live only), and the stages by process say where
// they come from when there are none.
func TestStagesView(t *testing.T) {
	src, err := capture.OpenFile("../testdata/pcaps/broker/capture.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s := session.New(session.Config{Files: []capture.Source{src}, Trace: &tracing.Config{}})
	var last lastUpdate
	s.Subscribe(&last)
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if last.u == nil || last.u.Tracing == nil {
		t.Fatalf("the last update carries no tracing: %+v", last.u)
	}
	u := *last.u
	a, b := netip.MustParseAddrPort("127.0.0.1:16530"), netip.MustParseAddrPort("127.0.0.1:26530")
	u.Host = &host.View{Conns: map[uint64]host.Conn{1: {Sides: [2]*host.TCPSocket{
		{Local: b, Remote: a, Owners: host.Owners{Procs: []*host.Process{{PID: 4242, Comm: "client", Cmdline: "python3 client.py", User: "zmq"}}}},
		{Local: a, Remote: b, Owners: host.Owners{Procs: []*host.Process{{PID: 4200, Comm: "broker[x]"}}}},
	}}}}
	d, scr := newDash(t, 160, 30, DashboardOptions{})
	d.SetFrame(NewModel(ModelOptions{}).Apply(&u))
	d.captureKey(tcell.NewEventKey(tcell.KeyRune, '6', tcell.ModNone))
	if d.View() != ViewStages {
		t.Fatalf("key 4 opened %q", d.View())
	}
	lines := draw(d, scr)
	text := strings.Join(lines, "\n")
	for _, want := range [][]string{
		{"broker on 127.0.0.1:", "ROUTER 127.0.0.1:16530", "DEALER 127.0.0.1:16531"},
		{"queued front→back", "p50", "p99", "60"},
		{"queued back→front", "60"},
		{"in the worker", "60"},
		{"end to end", "60"},
		{"0 never left, 0 waiting"},
		{"none (live capture with the host view"},
		{"broker[x][4200]", "1 ends"},
		{"client[4242]", "zmq", "python3 client.py"},
	} {
		if findLine(lines, want...) < 0 {
			t.Errorf("no line with %q in:\n%s", want, text)
		}
	}
	d.captureKey(tcell.NewEventKey(tcell.KeyEscape, 0, tcell.ModNone))
	if d.View() != ViewConnections {
		t.Fatalf("esc from Stages went to %q", d.View())
	}
}

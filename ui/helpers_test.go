package ui

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// newDash returns a dashboard drawing on a w×h simulation screen (not
// running: tests call SetFrame and draw() on the test goroutine).
func newDash(t testing.TB, w, h int, opt DashboardOptions) (*Dashboard, tcell.SimulationScreen) {
	t.Helper()
	s := tcell.NewSimulationScreen("UTF-8")
	opt.Screen = s // NewDashboard initialises it (at 80×25)
	d := NewDashboard(opt)
	s.SetSize(w, h)
	return d, s
}

// draw draws the dashboard and returns the screen's lines.
func draw(d *Dashboard, s tcell.SimulationScreen) []string {
	d.App.ForceDraw()
	return screenLines(s)
}

// screenLines returns the screen's text, one string per line, trailing
// spaces trimmed.
func screenLines(s tcell.SimulationScreen) []string {
	cells, w, h := s.GetContents()
	out := make([]string, h)
	for y := range h {
		var b strings.Builder
		for x := range w {
			c := cells[y*w+x]
			if len(c.Runes) == 0 {
				b.WriteByte(' ')
				continue
			}
			b.WriteString(string(c.Runes))
		}
		out[y] = strings.TrimRight(b.String(), " ")
	}
	return out
}

func screenText(s tcell.SimulationScreen) string { return strings.Join(screenLines(s), "\n") }

// findLine returns the first line containing all parts, or -1.
func findLine(lines []string, parts ...string) int {
	for i, l := range lines {
		ok := true
		for _, p := range parts {
			if !strings.Contains(l, p) {
				ok = false
				break
			}
		}
		if ok {
			return i
		}
	}
	return -1
}

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// handConn makes a tracker connection by hand (for tests that do not need a
// capture).
func handConn(id uint64, client, server string, cs, ss zmtp.SocketType, c2s, s2c uint64) *tracker.Record {
	v := new(tracker.Record)
	v.ID = id
	v.Client = netip.MustParseAddrPort(client)
	v.Server = netip.MustParseAddrPort(server)
	v.SawSYN = true
	v.Start, v.Last = t0, t0.Add(time.Second)
	v.State = zmtp.StateOpen
	v.Detection = zmtp.IsZMTP
	v.Version = zmtp.V31
	v.Mechanism = zmtp.MechNULL
	v.Sides[0].SocketType, v.Sides[1].SocketType = cs, ss
	v.ClientSocket, v.ServerSocket = cs, ss
	v.Compatible = cs == zmtp.SocketUnknown || ss == zmtp.SocketUnknown || zmtp.Compatible(cs, ss)
	v.Handshake = zmtp.HandshakePending
	v.Sides[0].Version, v.Sides[1].Version = zmtp.V31, zmtp.V31
	v.Dirs[0].Messages, v.Dirs[1].Messages = c2s, s2c
	v.Dirs[0].Frames, v.Dirs[1].Frames = c2s, s2c
	v.Dirs[0].Bytes, v.Dirs[1].Bytes = c2s*100, s2c*100
	v.TCP[0].WScale, v.TCP[1].WScale = -1, -1
	return v
}

// eventOf fills e's connection part from r, as the tracker does.
func eventOf(r *tracker.Record, e tracker.Event) *tracker.Event {
	e.ConnID, e.Client, e.Server = r.ID, r.ClientName, r.ServerName
	for i := range r.Dirs {
		e.Msgs[i] = r.Dirs[i].Messages
		if r.Curve {
			e.Msgs[i] = r.Dirs[i].Frames
		}
		e.Bytes[i] = r.Dirs[i].Bytes
	}
	return &e
}

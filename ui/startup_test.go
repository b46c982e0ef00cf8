package ui

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// A client started before its server (libzmq REQ, REP bound 3.2 s late):
// rules_late_bind has 22 refused connects and the one connection that got
// through; late_bind 2 and 1. At every size the table lists the connection
// alone, the status bar says "1 conn, 22 refused", the connection's row
// (detail at every size, NOTES where it fits) says after how many refused
// over how long, and the topology and Warnings views tell the start-up
// episode under the server's endpoint.
func TestLateBindAtEverySize(t *testing.T) {
	for _, c := range []struct {
		name  string
		rules bool
	}{{"rules_late_bind", true}, {"late_bind", false}} {
		tr := loadTruth(t, c.name)
		for _, z := range sizes {
			t.Run(fmt.Sprintf("%s/%dx%d", c.name, z.w, z.h), func(t *testing.T) {
				var h *harness
				if c.rules {
					h = startCaseWithRules(t, c.name, "capture.pcap", z.w, z.h)
				} else {
					h = startReplay(t, c.name, z.w, z.h, runOpts{})
				}
				f := h.waitFrame(done)
				h.sync()
				if len(f.Rows) != 1 || len(f.Refused) != 1 {
					t.Fatalf("%d rows, %d episodes; want 1 and 1", len(f.Rows), len(f.Refused))
				}
				r, e := f.Rows[0], &f.Refused[0]
				if r.Rec.State == zmtp.StateRefused || r.Rec.RefusedBefore != e.Count || e.Connection != r.ID || uint64(e.Count) != f.Status.Refused {
					t.Fatalf("row %d (%s, after %d), episode %+v, %d refused", r.ID, r.Rec.State, r.Rec.RefusedBefore, *e, f.Status.Refused)
				}
				if e.Server.String() != endpoint(tr.Connections[0].Server) {
					t.Fatalf("episode's server %s, truth's %s", e.Server, endpoint(tr.Connections[0].Server))
				}
				nl := fmtDur(e.NotListening())
				lines := h.lines()
				status := lines[len(lines)-2]
				if want := fmt.Sprintf("1 conn, %d refused", e.Count); !strings.Contains(status, want) {
					t.Errorf("status %q lacks %q", status, want)
				}
				note := fmt.Sprintf("after %d refused over %s", e.Count, nl)
				if !slices.Contains(r.C.Notes, note) {
					t.Errorf("notes %q lack %q", r.C.Notes, note)
				}
				if z.w >= 200 && findLine(lines, note) < 0 {
					t.Errorf("row lacks the note:\n%s", strings.Join(lines, "\n"))
				}
				h.key(tcell.KeyEnter, 0)
				if findLine(h.lines(), "notes:", note) < 0 || findLine(h.lines(), "server was not listening for "+nl) < 0 {
					t.Errorf("detail lacks the start-up:\n%s", strings.Join(h.lines(), "\n"))
				}
				h.key(tcell.KeyEscape, 0)
				h.key(tcell.KeyRune, 't')
				lines = h.lines()
				head := findLine(lines, e.Server.String(), "1 peer(s)")
				story := squeeze(fmt.Sprintf("start-up: not listening for %s: %d connects from %s refused; connection %d got through",
					nl, e.Count, e.ClientHost, r.ID))
				if head < 0 || !strings.HasPrefix(squeeze(strings.Join(lines[head+1:], "")), squeeze(story)[:min(len(story), z.w/2)]) {
					t.Errorf("topology lacks %q under its endpoint:\n%s", story, strings.Join(lines, "\n"))
				}
				h.key(tcell.KeyRune, 'w')
				all := squeeze(strings.Join(h.lines(), ""))
				want := squeeze(StartupLine(e))
				if !strings.Contains(all, squeeze(fmt.Sprintf("Start-up (%d refused connects)", e.Count))) || !strings.Contains(all, want) {
					t.Errorf("Warnings view lacks %q:\n%s", StartupLine(e), strings.Join(h.lines(), "\n"))
				}
				h.quit()
			})
		}
	}
}

// StartupLine while no connection got through, and after one did.
func TestStartupLine(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	e := tracker.RefusedAttempts{ClientHost: netip.MustParseAddr("127.0.0.1"), Server: netip.MustParseAddrPort("127.0.0.1:5555"),
		Count: 21, First: t0, Last: t0.Add(2900 * time.Millisecond)}
	if got, want := StartupLine(&e), "127.0.0.1:5555 not listening for at least 2.9s: 21 connects from 127.0.0.1 refused; none got through yet"; got != want {
		t.Errorf("failing: %q, want %q", got, want)
	}
	e.Connection, e.Established = 23, t0.Add(3*time.Second)
	if got, want := StartupLine(&e), "127.0.0.1:5555 not listening for 3.0s: 21 connects from 127.0.0.1 refused; connection 23 got through"; got != want {
		t.Errorf("got through: %q, want %q", got, want)
	}
	e.Count = 1
	if got := StartupLine(&e); !strings.Contains(got, ": 1 connect from") {
		t.Errorf("one: %q", got)
	}
}

// While the client is still refused (rules_late_bind's frames before its
// connection got through): no row, the status bar counts the refused
// connects, the empty table, the Topology and the Warnings view say the
// endpoint is not listening and none got through yet; no frame ever lists
// a refused attempt as a row.
func TestLateBindWhileRefused(t *testing.T) {
	frames, _, _, _ := replayFrames(t, "rules_late_bind", 100*time.Millisecond, ModelOptions{})
	var during *Frame
	for _, f := range frames {
		for _, r := range f.Rows {
			if r.Rec.State == zmtp.StateRefused {
				t.Fatalf("frame at %s lists refused attempt %d", fmtTime(f.Time), r.ID)
			}
		}
		if len(f.Refused) == 1 && f.Refused[0].Connection == 0 && f.Refused[0].Count >= 2 {
			during = f
		}
	}
	if during == nil {
		t.Fatal("no frame while the client was refused")
	}
	e := &during.Refused[0]
	if len(during.Rows) != 0 || uint64(e.Count) != during.Status.Refused {
		t.Fatalf("%d rows, episode of %d, %d refused", len(during.Rows), e.Count, during.Status.Refused)
	}
	line := StartupLine(e)
	if !strings.HasSuffix(line, "none got through yet") || !strings.Contains(line, "not listening for at least "+fmtDur(e.Last.Sub(e.First))) {
		t.Errorf("start-up line %q", line)
	}
	if s, want := StatusLine(during, 0, true, false, 120, -1), fmt.Sprintf("0 conns, %d refused", e.Count); !strings.Contains(s, want) {
		t.Errorf("status %q lacks %q", s, want)
	}
	if got := emptyText(during, &Filter{}); got != "no ZeroMQ connection yet: "+line {
		t.Errorf("empty table says %q", got)
	}
	topo := strings.Join(RenderTopology(withStartup(nil, during.Refused, true), 200), "\n")
	if !strings.Contains(topo, e.Server.String()) || !strings.Contains(topo, "not listening") || !strings.Contains(topo, "none got through yet") {
		t.Errorf("topology:\n%s", topo)
	}
	if !strings.Contains(strings.Join(RenderWarnings(during, 200), "\n"), esc(line)) {
		t.Errorf("Warnings view lacks %q", line)
	}
	last := frames[len(frames)-1]
	if len(last.Refused) != 1 || last.Refused[0].Connection == 0 || len(last.Rows) != 1 {
		t.Errorf("at the end: %d episodes (%+v), %d rows", len(last.Refused), last.Refused, len(last.Rows))
	}
}

package ui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"

	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/zmtp"
)

// pressKey hands a key to a dashboard that is not running, as tview would.
func pressKey(d *Dashboard, k tcell.Key, r rune) {
	d.captureKey(tcell.NewEventKey(k, r, tcell.ModNone))
}

// The store's state always fits the status bar as a short label, whatever
// else the bar holds (drops, warnings, a long source error), at every size;
// the whole error is in the Warnings view, with the pipeline's warnings and
// the monitor forwarders' notes (escaped: U+202E shows as \u202e).
func TestStoreLabelAndWarningsViewAtEverySize(t *testing.T) {
	const longErr = `post "http://influx.example:8086/api/v2/write?bucket=zspy&org=ops&precision=ns": dial tcp 10.1.2.3:8086: connect: connection refused`
	for _, z := range sizes {
		t.Run(fmt.Sprintf("%dx%d", z.w, z.h), func(t *testing.T) {
			notes := &Notes{}
			m := NewModel(ModelOptions{Notes: notes})
			notes.Add("monitor tcp://10.0.0.9:5999: malformed event from \u202etxt.exe")
			d, s := newDash(t, z.w, z.h, DashboardOptions{History: m.History})
			u := snapAt(t0.Add(3e9), handConn(1, "10.0.0.1:40000", "10.0.0.2:5555", zmtp.DEALER, zmtp.ROUTER, 5, 5))
			u.Store = &session.StoreStatus{Name: "influx", LastError: longErr, SpoolBytes: 13000, Written: 10}
			u.Stats.KernelDrops, u.Stats.InternalDrops = 12, 3
			u.Warnings, u.LastWarning = 2, "capture.pcap: packet 812: truncated record"
			u.Player = session.PlayerState{Err: "read capture.pcap: unexpected end of file after a very long description of the problem"}
			d.SetFrame(m.Apply(u))
			lines := draw(d, s)
			status := lines[z.h-2]
			for _, want := range []string{"influx DOWN, spool 13kB", "drops k12 i3"} {
				if !strings.Contains(status, want) {
					t.Errorf("status bar %q lacks %q", status, want)
				}
			}
			pressKey(d, tcell.KeyRune, 'w')
			text := squeeze(strings.Join(draw(d, s), "\n"))
			for _, want := range []string{longErr, "capture.pcap: packet 812: truncated record", `\u202etxt.exe`, "13kB"} {
				if !strings.Contains(text, squeeze(want)) {
					t.Errorf("Warnings view lacks %q:\n%s", want, strings.Join(draw(d, s), "\n"))
				}
			}
			if strings.ContainsRune(screenText(s), '\u202e') {
				t.Error("U+202E reached the screen")
			}
			if !strings.Contains(draw(d, s)[0], "(3)") {
				t.Errorf("Warnings tab lacks the count: %q", draw(d, s)[0])
			}
		})
	}
}

// capture --ui keeps the alert history: every state change, in order, in the
// History view, at every size.
func TestAlertHistoryViewAtEverySize(t *testing.T) {
	for _, z := range sizes {
		t.Run(fmt.Sprintf("%dx%d", z.w, z.h), func(t *testing.T) {
			h := startRulesReplay(t, "slow_subscriber", z.w, z.h)
			f := h.waitFrame(done)
			h.sync()
			if len(f.AlertLog) == 0 {
				t.Fatal("no alert change recorded")
			}
			h.key(tcell.KeyRune, 'h')
			lines := h.lines()
			if !strings.Contains(lines[0], "Hist") {
				t.Errorf("no History tab: %q", lines[0])
			}
			// The view opens at its newest change: the resolution, why it
			// resolved first.
			if findLine(lines, "resolved", "slow_subscriber") < 0 || findLine(lines, "resolved: not compared now") < 0 {
				t.Errorf("history's newest change lacks its resolution:\n%s", strings.Join(lines, "\n"))
			}
			h.key(tcell.KeyHome, 0) // the oldest; the head counts them
			lines = h.lines()
			pending, firing := findLine(lines, "pending", "slow_subscriber"), findLine(lines, "firing", "slow_subscriber")
			if pending < 0 || firing < 0 || firing < pending {
				t.Errorf("history lacks pending then firing (lines %d, %d):\n%s", pending, firing, strings.Join(lines, "\n"))
			}
			if findLine(lines, fmt.Sprintf("%d changes", len(f.AlertLog))) < 0 {
				t.Errorf("history does not count its %d changes:\n%s", len(f.AlertLog), strings.Join(lines, "\n"))
			}
			h.quit()
		})
	}
}

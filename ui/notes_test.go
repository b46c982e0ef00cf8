package ui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"

	"github.com/zspy/zspy/zmtp"
)

// A connection's short facts (RowNotes) show in the NOTES column when it
// fits, in the detail at every size, and the filter finds them.
func TestRowNotesAtEverySize(t *testing.T) {
	a := handConn(1, "10.0.0.1:40000", "10.0.0.2:5555", zmtp.DEALER, zmtp.ROUTER, 5, 5)
	a.RefusedBefore = 3
	b := handConn(2, "10.0.0.3:40000", "10.0.0.2:6000", zmtp.SUB, zmtp.PUB, 0, 0)
	b.PubSub, b.Handshake = true, zmtp.HandshakeComplete
	b.NoSubscription, b.NeverSubscribed = true, true
	for _, z := range sizes {
		t.Run(fmt.Sprintf("%dx%d", z.w, z.h), func(t *testing.T) {
			m := NewModel(ModelOptions{})
			d, s := newDash(t, z.w, z.h, DashboardOptions{History: m.History})
			d.SetFrame(m.Apply(snapAt(t0.Add(3e9), a, b)))
			lines := draw(d, s)
			if z.w >= 120 {
				if !strings.Contains(lines[1], "NOTES") || findLine(lines, "10.0.0.1:40000", "after 3 refused") < 0 || findLine(lines, "10.0.0.3:40000", "never subscribed: receives nothing") < 0 {
					t.Errorf("NOTES column:\n%s", strings.Join(lines[:5], "\n"))
				}
			}
			d.openDetail(2)
			if findLine(draw(d, s), "notes:", "never subscribed: receives nothing") < 0 {
				t.Errorf("detail lacks the notes:\n%s", strings.Join(draw(d, s), "\n"))
			}
			pressKey(d, tcell.KeyEscape, 0)
			d.SetFilter("refused")
			if rows := tableRows(draw(d, s)); len(rows) != 1 || !strings.Contains(rows[0], "10.0.0.1:40000") {
				t.Errorf("filter on a note: %q", rows)
			}
		})
	}
}

// Text from the wire shows escaped on every view at every size: a PLAIN
// user with U+202E (which reorders what follows) and an escape sequence.
func TestWireTextEscapedAtEverySize(t *testing.T) {
	a := handConn(1, "10.0.0.1:40000", "10.0.0.2:5555", zmtp.DEALER, zmtp.ROUTER, 5, 5)
	a.PlainUsername = "adm\u202enim\x1b[2J"
	a.Mechanism = zmtp.MechPLAIN
	a.Errors = []string{"ERROR from server: \u202edenied"}
	for _, z := range sizes {
		t.Run(fmt.Sprintf("%dx%d", z.w, z.h), func(t *testing.T) {
			m := NewModel(ModelOptions{})
			d, s := newDash(t, z.w, z.h, DashboardOptions{History: m.History})
			d.SetFrame(m.Apply(snapAt(t0.Add(3e9), a)))
			for _, k := range []rune{'1', 't'} {
				pressKey(d, tcell.KeyRune, k)
				if text := screenText(s); strings.ContainsAny(draw(d, s)[0]+text, "\u202e\x1b") {
					t.Errorf("%s: raw control on screen", d.View())
				}
			}
			if findLine(draw(d, s), `user=adm\u202enim\x1b[2J`) < 0 && z.w >= 120 {
				t.Errorf("topology: user not shown escaped:\n%s", screenText(s))
			}
			d.openDetail(1)
			lines := draw(d, s)
			if strings.ContainsAny(strings.Join(lines, ""), "\u202e\x1b") {
				t.Error("detail: raw control on screen")
			}
			all := RenderDetail(DetailInput{Row: d.frame.Row(1), Width: z.w}) // below the screen at 80×24
			if findLine(lines, `adm\u202enim\x1b[2J`) < 0 || findLine(all, `\u202edenied`) < 0 {
				t.Errorf("detail: user or error not shown escaped:\n%s", strings.Join(all, "\n"))
			}
		})
	}
}

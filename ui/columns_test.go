package ui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"
)

// sizes are the terminal sizes every dashboard item is tried at.
var sizes = []struct{ w, h int }{{80, 24}, {120, 40}, {200, 50}}

// TestCountModeAtEverySize: once a replay has ended the table leads with
// totals at every size (at 80 columns, where only one pair of count columns
// fits, the rates would all read 0), with the subscriptions when they fit;
// T switches to rates and back, and the header says which.
func TestCountModeAtEverySize(t *testing.T) {
	tr := loadTruth(t, "pubsub")
	for _, z := range sizes {
		t.Run(fmt.Sprintf("%dx%d", z.w, z.h), func(t *testing.T) {
			h := startReplay(t, "pubsub", z.w, z.h, runOpts{Speed: 0})
			h.waitFrame(done)
			h.sync()
			lines := h.lines()
			if !strings.Contains(lines[0], "totals") || !strings.Contains(lines[1], "↓MSGS") || !strings.Contains(lines[1], "SUBS") {
				t.Fatalf("ended replay: header\n%s\n%s", lines[0], lines[1])
			}
			for _, c := range tr.Connections {
				k := findLine(lines, endpoint(c.Client))
				if k < 0 || !strings.Contains(lines[k], fmt.Sprintf(" %d ", *c.S2C.Messages)) {
					t.Errorf("%s: row lacks its %d messages:\n%s", c.ID, *c.S2C.Messages, strings.Join(lines[:6], "\n"))
				}
			}
			if findLine(lines, "127.0.0.1:26022", `"news"`) < 0 {
				t.Errorf("subscription not on its row:\n%s", strings.Join(lines[:6], "\n"))
			}
			h.key(tcell.KeyRune, 'T')
			lines = h.lines()
			if !strings.Contains(lines[0], "rates") || !strings.Contains(lines[1], "↓MSG/S") {
				t.Errorf("after T: header\n%s\n%s", lines[0], lines[1])
			}
			if z.w == 80 && strings.Contains(lines[1], "↓MSGS") {
				t.Errorf("80 columns, rates first: totals still shown: %s", lines[1])
			}
			if findLine(lines, "T:rate/total") < 0 {
				t.Errorf("no hint for T:\n%s", strings.Join(lines, "\n"))
			}
			h.key(tcell.KeyRune, 'T')
			if lines = h.lines(); !strings.Contains(lines[0], "totals") || !strings.Contains(lines[1], "↓MSGS") {
				t.Errorf("T again: header\n%s\n%s", lines[0], lines[1])
			}
			h.quit()
		})
	}
}

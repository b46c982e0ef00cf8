package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/zmtp"
)

// startCaseWithRules replays a corpus case's capture (whatever its file is
// called: rules_pipeline_stall's is gzipped) with the built-in rules.
func startCaseWithRules(t *testing.T, name, file string, w, h int) *harness {
	t.Helper()
	src, err := capture.OpenFile(filepath.Join("..", "testdata", "pcaps", name, file))
	if err != nil {
		t.Fatalf("capture %s: %v", name, err)
	}
	t.Cleanup(func() { src.Close() })
	opt := runOpts{Rules: rules.New(rules.Builtins())}
	hs := newHarness(t, w, h, 10000, &opt)
	return hs.start(func(ctx context.Context) error {
		return opt.run(ctx, session.Config{Files: []capture.Source{src}, Name: name})
	})
}

// groupSizes are the sizes of the tests, and one so short that a group's
// children collapse into their count in the Alerts view.
var groupSizes = append(sizes[:len(sizes):len(sizes)], struct{ w, h int }{80, 14})

// paneText returns the evidence pane's text without its border and spaces
// (it wraps lines).
func paneText(lines []string) string {
	var pane []string
	for i := findLine(lines, "┌ evidence") + 1; i > 0 && i < len(lines) && !strings.Contains(lines[i], "└──"); i++ {
		pane = append(pane, strings.Trim(lines[i], "│ "))
	}
	return squeeze(strings.Join(pane, ""))
}

// rules_pipeline_stall: one sink PULL stopped reading, 6 stalled
// connections behind it. The Alerts view lists the root first, its 6
// children indented under it (or, short of room, "+6 blocked behind it");
// the evidence says why the root resolved, then what it was, its flow and
// what is blocked behind it; the History view indents the children's
// changes under their root's (collapsed to their count when the whole does
// not fit).
func TestAlertGroupAtEverySize(t *testing.T) {
	for _, z := range groupSizes {
		t.Run(fmt.Sprintf("%dx%d", z.w, z.h), func(t *testing.T) {
			h := startCaseWithRules(t, "rules_pipeline_stall", "capture.pcap.gz", z.w, z.h)
			f := h.waitFrame(done)
			h.sync()
			if len(f.Alerts) != 7 || !f.Alerts[0].Root || f.Alerts[0].Group == "" {
				t.Fatalf("alerts %+v: want a root first, then its 6 children", f.Alerts)
			}
			root, kids := f.Alerts[0], f.Alerts[1:]
			for _, c := range kids {
				if c.Root || c.Group != root.Group || c.SenderSocket != "PUSH" || c.ReceiverSocket != "PULL" || c.Sender == "" || c.Receiver == "" {
					t.Errorf("child %+v", c)
				}
			}
			if root.Receiver != "127.0.0.1:16431" || root.ReceiverSocket != "PULL" || root.State != StateResolved || root.Resolution == "" {
				t.Fatalf("root %+v", root)
			}

			h.key(tcell.KeyRune, '3')
			lines := h.lines()
			k := findLine(lines, "resolved", "hwm_saturation", root.Server)
			if k < 0 || strings.HasPrefix(lines[k], " ") {
				t.Fatalf("no root row at the left edge:\n%s", strings.Join(lines, "\n"))
			}
			if z.h >= 24 {
				for j, c := range kids {
					mark := "├"
					if j == len(kids)-1 {
						mark = "└"
					}
					if l := lines[k+1+j]; !strings.HasPrefix(l, " "+mark+" resolved") || !strings.Contains(l, c.Client) {
						t.Errorf("child %d row %q: want it indented under the root (%s), naming %s", j, l, mark, c.Client)
					}
				}
			} else if !strings.Contains(lines[k+1], "└") || !strings.Contains(lines[k+1], "+6 blocked behind it") || findLine(lines, kids[0].Client) >= 0 {
				t.Errorf("short of room, the children are not collapsed under the root:\n%s", strings.Join(lines, "\n"))
			}
			// The root's evidence: why it resolved, then what it was.
			pane := paneText(lines)
			if !strings.HasPrefix(strings.SplitN(pane, "since", 2)[1][len("02:49:27.000"):], squeeze("resolved: "+root.Resolution)) {
				t.Errorf("evidence does not say first why the root resolved: %q", pane)
			}
			if z.h >= 24 {
				want := squeeze("resolved: " + root.Resolution + " it was: " + root.Message + " flow: - → PULL 127.0.0.1:16431")
				if !strings.Contains(pane, want) {
					t.Errorf("evidence %q lacks %q", pane, want)
				}
			}
			if z.w >= 120 && !strings.Contains(pane, squeeze("6 blocked behind it: resolved hwm_saturation "+kids[0].flow())) {
				t.Errorf("root's evidence does not list its children: %q", pane)
			}
			// The next row: a child (its flow, its root), or the collapsed
			// children (each of them).
			h.key(tcell.KeyDown, 0)
			pane = paneText(h.lines())
			if z.h >= 24 {
				c := kids[0]
				for _, want := range []string{"resolved: " + c.Resolution + " it was: ", "flow: " + c.flow()} {
					if !strings.Contains(pane, squeeze(want)) {
						t.Errorf("child's evidence %q lacks %q", pane, want)
					}
				}
			} else if !strings.HasPrefix(pane, squeeze("6 blocked behind hwm_saturation PULL 127.0.0.1:16431 stopped reading:")) {
				t.Errorf("collapsed row's evidence %q", pane)
			}

			// History: the root's pending change, its children's under it.
			h.key(tcell.KeyRune, 'h')
			h.key(tcell.KeyHome, 0)
			lines = h.lines()
			k = findLine(lines, "pending", "hwm_saturation", "127.0.0.1:16431: PULL")
			if k < 0 || !strings.HasPrefix(lines[k], " 0") {
				t.Fatalf("no root change at the left:\n%s", strings.Join(lines, "\n"))
			}
			indented, collapsed := findLine(lines[k:], " ├ ", "pending", "hwm_saturation"), findLine(lines[k:], "  └ +6 blocked behind it")
			if z.h >= 50 {
				if indented < 0 || collapsed >= 0 {
					t.Errorf("children's changes not indented under the root's:\n%s", strings.Join(lines, "\n"))
				}
				if findLine(lines, " ├ ", "resolved", "resolved: connection closed (FIN); it was: stalled consumer") < 0 {
					t.Errorf("children's resolutions:\n%s", strings.Join(lines, "\n"))
				}
			} else if collapsed < 0 || indented >= 0 {
				t.Errorf("short of room, the children's changes are not collapsed:\n%s", strings.Join(lines, "\n"))
			}
			h.quit()
		})
	}
}

// A lone SUB that never subscribed (rules_lone_sub, libzmq): its row says
// it receives nothing (in the NOTES column where it fits, in the detail at
// every size), and the pub_no_subscribers alert's evidence names the flow,
// PUB to SUB.
func TestLoneSubscriberAtEverySize(t *testing.T) {
	tr := loadTruth(t, "rules_lone_sub")
	sub := endpoint(tr.Connections[0].Client)
	for _, z := range sizes {
		t.Run(fmt.Sprintf("%dx%d", z.w, z.h), func(t *testing.T) {
			h := startCaseWithRules(t, "rules_lone_sub", "capture.pcap", z.w, z.h)
			f := h.waitFrame(done)
			h.sync()
			if len(f.Rows) != 1 || !f.Rows[0].Rec.NeverSubscribed {
				t.Fatalf("rows %+v", f.Rows)
			}
			lines := h.lines()
			if z.w >= 120 && findLine(lines, sub, "never subscribed: receives nothing") < 0 {
				t.Errorf("row lacks the note:\n%s", strings.Join(lines, "\n"))
			}
			h.key(tcell.KeyEnter, 0)
			if findLine(h.lines(), "notes:", "never subscribed: receives nothing") < 0 {
				t.Errorf("detail lacks the note:\n%s", strings.Join(h.lines(), "\n"))
			}
			h.key(tcell.KeyRune, '3')
			pane := paneText(h.lines())
			if len(f.Alerts) != 1 || f.Alerts[0].Rule != "pub_no_subscribers" || f.Alerts[0].Receiver != sub {
				t.Fatalf("alerts %+v", f.Alerts)
			}
			if a := f.Alerts[0]; !strings.Contains(pane, squeeze("flow: "+a.SenderSocket+" "+a.Sender+" → SUB "+sub)) {
				t.Errorf("evidence %q lacks the flow to SUB %s", pane, sub)
			}
			h.quit()
		})
	}
}

// A SUB that cancelled every subscription: "unsubscribed", not "never
// subscribed".
func TestRowNotesUnsubscribed(t *testing.T) {
	b := handConn(2, "10.0.0.3:40000", "10.0.0.2:6000", zmtp.SUB, zmtp.PUB, 0, 0)
	b.PubSub, b.Handshake, b.NoSubscription = true, zmtp.HandshakeComplete, true
	if got := RowNotes(b); !slices.Equal(got, []string{"unsubscribed: receives nothing"}) {
		t.Errorf("RowNotes = %q", got)
	}
	b.NeverSubscribed = true
	if got := RowNotes(b); !slices.Equal(got, []string{"never subscribed: receives nothing"}) {
		t.Errorf("RowNotes = %q", got)
	}
	b.NoSubscription, b.NeverSubscribed = false, false
	if got := RowNotes(b); len(got) != 0 {
		t.Errorf("RowNotes of a subscribed SUB = %q", got)
	}
}

// alertLayout collapses a group's children only when the rows do not fit,
// and a child whose root is gone is not drawn under another alert.
func TestAlertLayout(t *testing.T) {
	as := []Alert{{Rule: "r", Group: "g", Root: true}, {Rule: "c", Group: "g"}, {Rule: "c", Group: "g"}, {Rule: "c", Group: "g"},
		{Rule: "orphan", Group: "h"}, {Rule: "plain"}}
	if got := alertLayout(as, 6); len(got) != 6 || slices.ContainsFunc(got, func(r alertRow) bool { return r.hidden > 0 }) {
		t.Errorf("room for all: %+v", got)
	}
	want := []alertRow{{0, 0}, {0, 3}, {4, 0}, {5, 0}}
	if got := alertLayout(as, 4); !slices.Equal(got, want) {
		t.Errorf("room for 4: %+v, want %+v", got, want)
	}
	for i, want := range []bool{false, true, true, true, false, false} {
		if underRoot(as, i) != want {
			t.Errorf("underRoot(%s %d) = %v", as[i].Rule, i, !want)
		}
	}
	if treeMark(as, 2) != " ├ " || treeMark(as, 3) != " └ " {
		t.Errorf("tree marks %q %q", treeMark(as, 2), treeMark(as, 3))
	}
}

// rules_nosub (libzmq): of a PUB's two SUBs one never subscribed. Its row
// alone carries the note (in the NOTES column where it fits), and the filter
// finds it by the note at every size.
func TestNeverSubscribedRowAtEverySize(t *testing.T) {
	tr := loadTruth(t, "rules_nosub")
	var none, ok string
	for _, c := range tr.Connections {
		if c.ID == "sub-none" {
			none = endpoint(c.Client)
		} else {
			ok = endpoint(c.Client)
		}
	}
	for _, z := range sizes {
		t.Run(fmt.Sprintf("%dx%d", z.w, z.h), func(t *testing.T) {
			h := startCaseWithRules(t, "rules_nosub", "capture.pcap", z.w, z.h)
			h.waitFrame(done)
			h.sync()
			lines := h.lines()
			if z.w >= 120 && (findLine(lines, none, "never subscribed: receives nothing") < 0 || findLine(lines, ok, "receives nothing") >= 0) {
				t.Errorf("NOTES:\n%s", strings.Join(lines, "\n"))
			}
			h.key(tcell.KeyRune, '/')
			h.typeText("never subscribed")
			h.key(tcell.KeyEnter, 0)
			if rows := tableRows(h.lines()); len(rows) != 1 || !strings.Contains(rows[0], none) {
				t.Errorf("filter on the note: rows %q, want %s's alone", rows, none)
			}
			h.quit()
		})
	}
}

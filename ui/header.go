package ui

import (
	"fmt"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// tabs are the header's views; each tab names the first key of the binding
// that opens its view (see binding.opens).
var tabs = []struct{ name, short, view string }{
	{"Connections", "Conns", ViewConnections},
	{"Topology", "Topo", ViewTopology},
	{"Alerts", "Alerts", ViewAlerts},
	{"History", "Hist", ViewHistory},
	{"Warnings", "Warn", ViewWarnings},
	{"Help", "Help", ViewHelp},
}

// headerBar is the tab line: view names (clickable) and the sort order.
type headerBar struct {
	*tview.Box
	d *Dashboard
}

// Draw draws the tabs and the sort order.
func (h *headerBar) Draw(screen tcell.Screen) {
	h.DrawForSubclass(screen, h)
	x, y, w, _ := h.GetInnerRect()
	base := tcell.StyleDefault.Background(tcell.ColorNavy).Foreground(tcell.ColorWhite)
	fill(screen, x, y, w, base)
	cx := x
	put := func(s string, st tcell.Style) {
		drawText(screen, cx, y, x+w-cx, []byte(s), st, false)
		cx += len([]rune(s))
	}
	put(" zspy ", base.Bold(true))
	for _, t := range h.tabs() {
		st := base
		if t.view == h.d.view || (t.view == ViewConnections && h.d.view == ViewDetail) {
			st = st.Reverse(true)
		}
		put(" ", base)
		put(t.label, st)
	}
	var right string
	if h.d.view == ViewConnections || h.d.view == ViewDetail {
		name, desc := h.d.SortColumn()
		arrow := "▲"
		if desc {
			arrow = "▼"
		}
		right = h.d.CountMode().String() + " · sort " + name + arrow + " "
	}
	if n := len([]rune(right)); cx+n < x+w {
		drawText(screen, x+w-n, y, n, []byte(right), base, false)
	}
}

type tab struct {
	label, view string
}

func (h *headerBar) tabs() []tab {
	out := make([]tab, 0, len(tabs))
	_, _, w, _ := h.GetInnerRect()
	for _, t := range tabs {
		label := t.name
		if w < 120 {
			label = t.short
		}
		if k, ok := opener(t.view); ok {
			label = k.String() + " " + label
		}
		if t.view == ViewAlerts && h.d.frame != nil {
			firing := 0
			for _, a := range h.d.frame.Alerts {
				if a.State == StateFiring {
					firing++
				}
			}
			if firing > 0 {
				label += fmt.Sprintf("(%d!)", firing)
			}
		}
		if f := h.d.frame; t.view == ViewWarnings && f != nil && f.Status.Warnings+f.NotesTotal > 0 {
			label += fmt.Sprintf("(%d)", f.Status.Warnings+f.NotesTotal)
		}
		out = append(out, tab{label, t.view})
	}
	return out
}

// MouseHandler switches views on a click on a tab.
func (h *headerBar) MouseHandler() func(action tview.MouseAction, event *tcell.EventMouse, setFocus func(p tview.Primitive)) (bool, tview.Primitive) {
	return h.WrapMouseHandler(func(action tview.MouseAction, ev *tcell.EventMouse, _ func(p tview.Primitive)) (bool, tview.Primitive) {
		mx, my := ev.Position()
		if action != tview.MouseLeftClick || !h.InRect(mx, my) {
			return false, nil
		}
		x, _, _, _ := h.GetInnerRect()
		cx := x + len(" zspy ")
		for _, t := range h.tabs() {
			cx++
			n := len([]rune(t.label))
			if mx >= cx && mx < cx+n {
				h.d.show(t.view)
				return true, nil
			}
			cx += n
		}
		return false, nil
	})
}

package ui

import (
	"fmt"
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// alertRow is what one row of the Alerts table shows: the alert
// frame.Alerts[idx], or, when hidden > 0, the collapsed children of the
// root alert idx ("+N blocked behind it").
type alertRow struct {
	idx    int
	hidden int
}

// newAlertsView builds the Alerts view: a table of the frame's alerts
// (⏎ opens an alert's connection) over a pane with the selected alert's
// whole evidence.
func (d *Dashboard) newAlertsView() {
	d.alerts = tview.NewTable().SetSelectable(true, false).SetFixed(1, 0)
	d.alerts.SetSelectedFunc(func(row, _ int) {
		if row-1 >= 0 && row-1 < len(d.alertIDs) && d.alertIDs[row-1] != 0 {
			d.openDetail(d.alertIDs[row-1])
		}
	})

	d.alerts.SetSelectionChangedFunc(func(row, _ int) { d.showEvidence(row) })
	d.evidence = tview.NewTextView().SetDynamicColors(true).SetWrap(true)
	d.evidence.SetBorder(true).SetTitle(" evidence ").SetTitleAlign(tview.AlignLeft)
	d.alertsView = tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(d.alerts, 0, 1, true).
		AddItem(d.evidence, 6, 0, false)
}

// alertLayout lays the alerts out as the table lists them: each group's
// root with its children under it (FromRules put them there), in at most
// room rows when it can: the largest groups first collapse their children
// into one "+N blocked behind it" row.
func alertLayout(as []Alert, room int) []alertRow {
	type group struct{ root, n int }
	var groups []group
	for i := range as {
		if as[i].Root && as[i].Group != "" {
			n := 0
			for j := i + 1; j < len(as) && as[j].child() && as[j].Group == as[i].Group; j++ {
				n++
			}
			if n > 1 {
				groups = append(groups, group{i, n})
			}
		}
	}
	collapsed := map[int]bool{}
	rows := len(as)
	for rows > room {
		best := -1
		for k, g := range groups {
			if !collapsed[g.root] && (best < 0 || g.n > groups[best].n) {
				best = k
			}
		}
		if best < 0 {
			break
		}
		collapsed[groups[best].root] = true
		rows -= groups[best].n - 1
	}
	out := make([]alertRow, 0, rows)
	for i := 0; i < len(as); i++ {
		out = append(out, alertRow{idx: i})
		if collapsed[i] {
			n := 0
			for j := i + 1; j < len(as) && as[j].child() && as[j].Group == as[i].Group; j++ {
				n++
			}
			out = append(out, alertRow{idx: i, hidden: n})
			i += n
		}
	}
	return out
}

// underRoot reports whether as[i] is a child listed under its root (a
// child whose root the engine no longer holds stands alone).
func underRoot(as []Alert, i int) bool {
	if !as[i].child() {
		return false
	}
	for j := i - 1; j >= 0 && as[j].Group == as[i].Group; j-- {
		if as[j].Root {
			return true
		}
	}
	return false
}

// treeMark is the tree drawing before a child alert's state: "├" for one
// that has a sibling under it, "└" for the last.
func treeMark(as []Alert, i int) string {
	if i+1 < len(as) && as[i+1].child() && as[i+1].Group == as[i].Group {
		return " ├ "
	}
	return " └ "
}

func (d *Dashboard) refreshAlerts() {
	t := d.alerts
	t.Clear()
	hdr := []string{"STATE", "SEVERITY", "RULE", "CLIENT", "SERVER", "SINCE", "EVIDENCE"}
	for i, h := range hdr {
		t.SetCell(0, i, tview.NewTableCell(h).SetSelectable(false).SetTextColor(tcell.ColorAqua).SetAttributes(tcell.AttrBold))
	}
	d.alertIDs, d.alertRows = d.alertIDs[:0], d.alertRows[:0]
	if d.frame == nil || len(d.frame.Alerts) == 0 {
		t.SetCell(1, 0, tview.NewTableCell("no alerts").SetTextColor(tcell.ColorGray).SetSelectable(false))
		d.evidence.SetText("")
		return
	}
	as := d.frame.Alerts
	// The table keeps at least half the view (the evidence pane takes the
	// rest), less its header.
	d.alertRows = alertLayout(as, d.viewHeight()/2-1)
	for k, ar := range d.alertRows {
		a := &as[ar.idx]
		color := tcell.ColorGray
		switch a.level() {
		case 3, 2:
			color = tcell.ColorRed
		case 1:
			color = tcell.ColorYellow
		}
		var cells []string
		switch {
		case ar.hidden > 0:
			cells = []string{" └ ", "", fmt.Sprintf("+%d blocked behind it", ar.hidden), "", "", "", "(select it: the evidence lists them)"}
		case underRoot(as, ar.idx):
			cells = []string{treeMark(as, ar.idx) + string(a.State), string(a.Severity), a.Rule, dashStr(a.Client), dashStr(a.Server), fmtTime(a.Since), a.Message}
		default:
			cells = []string{string(a.State), string(a.Severity), a.Rule, dashStr(a.Client), dashStr(a.Server), fmtTime(a.Since), a.Message}
		}
		if a.State == StateResolved && a.Resolution != "" && ar.hidden == 0 {
			cells[len(cells)-1] = "resolved: " + a.Resolution
		}
		for i, s := range cells {
			c := tview.NewTableCell(esc(s)).SetTextColor(color)
			if i == len(cells)-1 {
				c.SetExpansion(1)
			}
			t.SetCell(k+1, i, c)
		}
		var id uint64
		for _, r := range d.frame.Rows {
			if a.matches(r.C.Client, r.C.Server) {
				id = r.ID
				break
			}
		}
		d.alertIDs = append(d.alertIDs, id)
	}
	row, _ := t.GetSelection()
	if row < 1 || row > len(d.alertRows) {
		t.Select(1, 0)
		row = 1
	}
	d.showEvidence(row)
}

// showEvidence shows the whole of the alert in table row row: for a
// resolved one why it resolved first, then what it was; the flow it is
// about; for a root the connections blocked behind it, for a child its root.
func (d *Dashboard) showEvidence(row int) {
	if d.frame == nil || row < 1 || row > len(d.alertRows) {
		d.evidence.SetText("")
		return
	}
	as := d.frame.Alerts
	i := d.alertRows[row-1].idx
	a := &as[i]
	if d.alertRows[row-1].hidden > 0 {
		// The collapsed children: the root's headline, then each of them.
		d.setEvidence(fmt.Sprintf("%d blocked behind %s %s:\n", d.alertRows[row-1].hidden, esc(a.Rule), esc(firstLine(a.Message))) +
			escLines(childLines(as, i)))
		return
	}
	text := fmt.Sprintf("%s %s [::b]%s[::-] %s → %s since %s", alertTag(a), a.Severity, esc(a.Rule),
		esc(dashStr(a.Client)), esc(dashStr(a.Server)), fmtTime(a.Since))
	if a.State == StateResolved && a.Resolution != "" {
		text += "\nresolved: " + esc(a.Resolution) + "\nit was: " + esc(a.Message)
	} else {
		text += "\n" + esc(a.Message)
	}
	if fl := a.flow(); fl != "" {
		text += "\n[gray]flow:[-] " + esc(fl)
	}
	switch {
	case a.Root && a.Group != "":
		if kids := childLines(as, i); len(kids) > 0 {
			text += fmt.Sprintf("\n%d blocked behind it:\n", len(kids)) + escLines(kids)
		}
	case a.child():
		for j := range as {
			if as[j].Root && as[j].Group == a.Group {
				text += "\n[gray]behind:[-] " + esc(as[j].Rule+" "+firstLine(as[j].Message))
				break
			}
		}
	}
	if l := labelsText(a.Labels); l != "" {
		text += "\n[gray]labels: " + esc(l) + "[-]"
	}
	d.setEvidence(text)
}

// childLines lists the children of the root alert as[i], one line each:
// state, rule and flow.
func childLines(as []Alert, i int) []string {
	var out []string
	for j := i + 1; j < len(as) && as[j].child() && as[j].Group == as[i].Group; j++ {
		c := &as[j]
		s := c.flow()
		if s == "" {
			s = dashStr(c.Client) + " → " + dashStr(c.Server)
		}
		out = append(out, "  "+string(c.State)+" "+c.Rule+" "+s)
	}
	return out
}

// setEvidence shows text in the evidence pane, as high as it needs within
// half the view.
func (d *Dashboard) setEvidence(text string) {
	d.evidence.SetText(text)
	d.evidence.ScrollToBeginning()
	// Room for the whole message (word wrap may need a line more per
	// paragraph), but the table keeps at least half the view.
	inner := max(d.width()-2, 10)
	n := 0
	for _, p := range strings.Split(text, "\n") {
		n += (tview.TaggedStringWidth(p)+inner-1)/inner + 1
	}
	vh := d.viewHeight()
	d.alertsView.ResizeItem(d.evidence, max(4, min(n+2, vh/2)), 0)
}

// firstLine is s up to its first ';' or line end: a root's headline
// ("PULL 127.0.0.1:5641 stopped reading").
func firstLine(s string) string {
	if k := strings.IndexAny(s, ";\n"); k >= 0 {
		return s[:k]
	}
	return s
}

// escLines escapes each line (esc would escape the line breaks too) and
// joins them.
func escLines(lines []string) string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = esc(l)
	}
	return strings.Join(out, "\n")
}

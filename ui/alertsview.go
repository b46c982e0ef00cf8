package ui

import (
	"fmt"
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

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

func (d *Dashboard) refreshAlerts() {
	t := d.alerts
	t.Clear()
	hdr := []string{"STATE", "SEVERITY", "RULE", "CLIENT", "SERVER", "SINCE", "EVIDENCE"}
	for i, h := range hdr {
		t.SetCell(0, i, tview.NewTableCell(h).SetSelectable(false).SetTextColor(tcell.ColorAqua).SetAttributes(tcell.AttrBold))
	}
	d.alertIDs = d.alertIDs[:0]
	if d.frame == nil || len(d.frame.Alerts) == 0 {
		t.SetCell(1, 0, tview.NewTableCell("no alerts").SetTextColor(tcell.ColorGray).SetSelectable(false))
		d.evidence.SetText("")
		return
	}
	for k, a := range d.frame.Alerts {
		color := tcell.ColorGray
		switch a.level() {
		case 3, 2:
			color = tcell.ColorRed
		case 1:
			color = tcell.ColorYellow
		}
		cells := []string{string(a.State), string(a.Severity), a.Rule, dashStr(a.Client), dashStr(a.Server), fmtTime(a.Since), a.Message}
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
	if row < 1 || row > len(d.frame.Alerts) {
		t.Select(1, 0)
		row = 1
	}
	d.showEvidence(row)
}

// showEvidence shows the whole of the alert in table row row.
func (d *Dashboard) showEvidence(row int) {
	if d.frame == nil || row < 1 || row > len(d.frame.Alerts) {
		d.evidence.SetText("")
		return
	}
	a := &d.frame.Alerts[row-1]
	text := fmt.Sprintf("%s %s [::b]%s[::-] %s → %s since %s\n%s", alertTag(a), a.Severity, esc(a.Rule),
		esc(dashStr(a.Client)), esc(dashStr(a.Server)), fmtTime(a.Since), esc(a.Message))
	if l := labelsText(a.Labels); l != "" {
		text += "\n[gray]labels: " + esc(l) + "[-]"
	}
	d.evidence.SetText(text)
	d.evidence.ScrollToBeginning()
	// Room for the whole message (word wrap may need a line more per
	// paragraph), but the table keeps at least half the view.
	inner := max(d.width()-2, 10)
	n := 0
	for _, p := range strings.Split(text, "\n") {
		n += (tview.TaggedStringWidth(p)+inner-1)/inner + 1
	}
	_, _, _, vh := d.pages.GetRect()
	if vh <= 0 {
		vh = 20
	}
	d.alertsView.ResizeItem(d.evidence, max(4, min(n+2, vh/2)), 0)
}

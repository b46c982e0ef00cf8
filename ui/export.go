package ui

import (
	"fmt"

	"github.com/zspy/zspy/tracker"
)

// Exporter writes a connection's packets to a capture file and says where
// (zspy replay --ui re-reads its files; capture --ui the files it writes
// with -w, and refuses without). It runs on a goroutine of its own.
type Exporter func(r *tracker.Record) (string, error)

// exportHere exports the packets of the connection the current view points
// at; the hint line says what happened.
func (d *Dashboard) exportHere() {
	id := d.cursorConn()
	r := d.frame.Row(id)
	switch {
	case r == nil:
		d.setNotice("yellow", "export: no connection selected")
		return
	case d.export == nil:
		d.setNotice("yellow", "export: this run cannot export packets")
		return
	case d.exporting:
		d.setNotice("yellow", "export: one is under way")
		return
	}
	d.exporting = true
	d.setNotice("aqua", fmt.Sprintf("exporting connection %d…", id))
	rec, export := r.Rec, d.export
	go func() {
		msg, err := export(rec)
		d.App.QueueUpdateDraw(func() {
			d.exporting = false
			if err != nil {
				d.setNotice("red", err.Error())
				return
			}
			d.setNotice("green", msg)
		})
		if d.exportDone != nil {
			d.exportDone <- struct{}{}
		}
	}()
}

// setNotice shows a one-off message (plain text) in a colour at the head of
// the hint line, until the next key.
func (d *Dashboard) setNotice(color, text string) {
	d.notice, d.noticeColor = text, color
	d.updateChrome()
}

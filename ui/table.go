package ui

import (
	"unicode"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"
	"github.com/mattn/go-runewidth"
	"github.com/rivo/tview"

	"github.com/zspy/zspy/zmtp"
)

// connTable is the connections table: a header line and one line per row,
// drawn straight onto the screen (only the visible rows are rendered, so the
// cost of a draw does not grow with the number of connections).
type connTable struct {
	*tview.Box
	rows    []*Row // sorted and filtered
	sortCol int
	desc    bool
	mode    CountMode // rates or totals first
	sel     int       // index into rows
	selID   uint64    // the selected connection, kept across updates
	offset  int       // first visible row

	layout      Layout
	layoutWidth int
	layoutSort  int
	layoutMode  CountMode
	layoutStale bool
	// empty says why there are no rows (set with the rows).
	empty        string
	onEnter      func(r *Row)
	onSortChange func()
	buf          []byte
}

func newConnTable() *connTable {
	return &connTable{Box: tview.NewBox(), layoutStale: true}
}

// setRows replaces the rows (already sorted and filtered), keeping the
// selection on the same connection when it is still there.
func (t *connTable) setRows(rows []*Row) {
	t.rows = rows
	t.layoutStale = true
	t.sel = -1
	for i, r := range rows {
		if r.ID == t.selID {
			t.sel = i
			break
		}
	}
	if t.sel < 0 {
		t.sel = 0
		if len(rows) > 0 && t.selID == 0 {
			t.selID = rows[0].ID
		}
	}
	t.clamp()
}

func (t *connTable) selected() *Row {
	if t.sel >= 0 && t.sel < len(t.rows) {
		return t.rows[t.sel]
	}
	return nil
}

func (t *connTable) move(d int) {
	if len(t.rows) == 0 {
		return
	}
	t.sel = max(0, min(len(t.rows)-1, t.sel+d))
	t.selID = t.rows[t.sel].ID
	t.clamp()
}

func (t *connTable) visible() int {
	_, _, _, h := t.GetInnerRect()
	return max(h-1, 1)
}

func (t *connTable) clamp() {
	if t.sel >= len(t.rows) {
		t.sel = len(t.rows) - 1
	}
	if t.sel < 0 {
		t.sel = 0
	}
	n := t.visible()
	if t.sel < t.offset {
		t.offset = t.sel
	}
	if t.sel >= t.offset+n {
		t.offset = t.sel - n + 1
	}
	if t.offset > max(0, len(t.rows)-n) {
		t.offset = max(0, len(t.rows)-n)
	}
	if t.offset < 0 {
		t.offset = 0
	}
}

func (t *connTable) currentLayout(width int) Layout {
	if t.layoutStale || width != t.layoutWidth || t.layoutSort != t.sortCol || t.layoutMode != t.mode {
		t.layout = LayoutColumns(t.rows, width, t.sortCol, t.mode)
		t.layoutWidth, t.layoutSort, t.layoutMode, t.layoutStale = width, t.sortCol, t.mode, false
	}
	return t.layout
}

// drawText puts s at (x, y) within w cells, cut with '…' when too long, and
// right-aligned when asked. It allocates nothing.
func drawText(screen tcell.Screen, x, y, w int, s []byte, style tcell.Style, right bool) {
	if w <= 0 {
		return
	}
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRune(s[i:])
		n += max(runewidth.RuneWidth(r), 1)
		i += size
	}
	cut := n > w
	if right && !cut {
		x += w - n
	}
	col := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRune(s[i:])
		i += size
		rw := max(runewidth.RuneWidth(r), 1)
		if cut && col+rw > w-1 {
			screen.SetContent(x+col, y, '…', nil, style)
			return
		}
		if r < 0x20 || r == utf8.RuneError || (r >= 0x7f && !unicode.IsPrint(r)) {
			r = '?' // a control or a bidirectional override (U+202E) acts instead of showing
		}
		screen.SetContent(x+col, y, r, nil, style)
		col += rw
	}
}

func fill(screen tcell.Screen, x, y, w int, style tcell.Style) {
	for i := range w {
		screen.SetContent(x+i, y, ' ', nil, style)
	}
}

// rowStyle colours a row by its alert level and state.
func rowStyle(r *Row) tcell.Style {
	st := tcell.StyleDefault
	switch {
	case r.Alert >= 3:
		return st.Foreground(tcell.ColorRed).Bold(true)
	case r.Alert == 2:
		return st.Foreground(tcell.ColorRed)
	case r.Alert == 1:
		return st.Foreground(tcell.ColorYellow)
	case hasErrors(r.Rec):
		return st.Foreground(tcell.ColorFuchsia)
	case r.Rec.State == zmtp.StateOpen:
		return st
	}
	return st.Foreground(tcell.ColorGray)
}

// cellStyle refines the row style for the state and backlog cells.
func cellStyle(col *Column, r *Row, base tcell.Style) tcell.Style {
	switch col.Name {
	case "STATE":
		if r.Alert == 0 {
			return base.Foreground(tcell.GetColor(stateColor(r.Rec.State)))
		}
	case "BACKLOG":
		d, b, z := r.Backlog()
		switch {
		case z:
			return base.Foreground(tcell.ColorRed).Bold(true)
		case r.Rec.TCP[d].Window > 0 && uint64(b)*2 >= uint64(r.Rec.TCP[d].Window):
			return base.Foreground(tcell.ColorYellow)
		}
	case "ALERT":
		if r.Alert >= 2 {
			return base.Foreground(tcell.ColorRed).Bold(true)
		}
	}
	return base
}

// Draw draws the header and the visible rows.
func (t *connTable) Draw(screen tcell.Screen) {
	t.DrawForSubclass(screen, t)
	x, y, w, h := t.GetInnerRect()
	if w <= 0 || h <= 0 {
		return
	}
	t.clamp()
	l := t.currentLayout(w)
	hdr := tcell.StyleDefault.Bold(true).Foreground(tcell.ColorAqua)
	fill(screen, x, y, w, hdr)
	cx := x
	for k, i := range l.Cols {
		c := Columns[i]
		t.buf = append(t.buf[:0], c.Name...)
		if i == t.sortCol {
			if t.desc {
				t.buf = append(t.buf, "▼"...)
			} else {
				t.buf = append(t.buf, "▲"...)
			}
		}
		drawText(screen, cx, y, l.Widths[k], t.buf, hdr, c.Right)
		cx += l.Widths[k] + 1
	}
	if len(t.rows) == 0 {
		drawText(screen, x, y+1, w, []byte(t.empty), tcell.StyleDefault.Foreground(tcell.ColorGray), false)
		return
	}
	for line := 1; line < h; line++ {
		ri := t.offset + line - 1
		if ri >= len(t.rows) {
			break
		}
		r := t.rows[ri]
		st := rowStyle(r)
		if ri == t.sel {
			st = st.Reverse(true)
			fill(screen, x, y+line, w, st)
		}
		cx := x
		for k, i := range l.Cols {
			c := Columns[i]
			t.buf = c.Append(t.buf[:0], r)
			drawText(screen, cx, y+line, l.Widths[k], t.buf, cellStyle(c, r, st), c.Right)
			cx += l.Widths[k] + 1
		}
	}
}

// columnAt returns the column under screen x on the header, or -1.
func (t *connTable) columnAt(px int) int {
	x, _, w, _ := t.GetInnerRect()
	l := t.currentLayout(w)
	cx := x
	for k, i := range l.Cols {
		if px >= cx && px < cx+l.Widths[k]+1 {
			return i
		}
		cx += l.Widths[k] + 1
	}
	return -1
}

// sortBy sorts by column i, reversing the order when it already is the sort
// column.
func (t *connTable) sortBy(i int) {
	if i == t.sortCol {
		t.desc = !t.desc
	} else {
		t.sortCol, t.desc = i, false
	}
	if t.onSortChange != nil {
		t.onSortChange()
	}
}

// MouseHandler sorts on a header click, selects on a row click, opens on a
// double click and scrolls with the wheel.
func (t *connTable) MouseHandler() func(action tview.MouseAction, event *tcell.EventMouse, setFocus func(p tview.Primitive)) (bool, tview.Primitive) {
	return t.WrapMouseHandler(func(action tview.MouseAction, ev *tcell.EventMouse, setFocus func(p tview.Primitive)) (bool, tview.Primitive) {
		mx, my := ev.Position()
		if !t.InRect(mx, my) {
			return false, nil
		}
		_, y, _, _ := t.GetInnerRect()
		switch action {
		case tview.MouseLeftClick, tview.MouseLeftDoubleClick:
			setFocus(t)
			if my == y {
				if c := t.columnAt(mx); c >= 0 && action == tview.MouseLeftClick {
					t.sortBy(c)
				}
				return true, nil
			}
			ri := t.offset + my - y - 1
			if ri >= 0 && ri < len(t.rows) {
				t.sel, t.selID = ri, t.rows[ri].ID
				if action == tview.MouseLeftDoubleClick && t.onEnter != nil {
					t.onEnter(t.rows[ri])
				}
			}
			return true, nil
		case tview.MouseScrollUp:
			t.move(-3)
			return true, nil
		case tview.MouseScrollDown:
			t.move(3)
			return true, nil
		}
		return false, nil
	})
}

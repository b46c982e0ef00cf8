package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// Control is what the dashboard asks of a replay: pause, step and speed. A
// live capture has none (pausing then freezes the display instead).
type Control interface {
	// TogglePause pauses or resumes the replay.
	TogglePause()
	// Step lets one packet through when d is 0, else d of packet time.
	Step(d time.Duration)
	// SetSpeed sets the replay speed: 1 real time, N for N×, 0 as fast as
	// possible.
	SetSpeed(speed float64)
}

// View names.
const (
	ViewConnections = "connections"
	ViewTopology    = "topology"
	ViewAlerts      = "alerts"
	ViewDetail      = "detail"
	ViewHelp        = "help"
)

var tabs = []struct{ key, name, view string }{
	{"1", "Connections", ViewConnections},
	{"2", "Topology", ViewTopology},
	{"3", "Alerts", ViewAlerts},
	{"?", "Help", ViewHelp},
}

// Dashboard is the tview application: a tab line, the current view, a status
// bar and a hint or filter line. All its methods except NewDashboard run on
// the UI goroutine (inside Application callbacks or QueueUpdateDraw).
type Dashboard struct {
	App *tview.Application

	root   *tview.Flex
	header *headerBar
	pages  *tview.Pages
	table  *connTable
	topo   *tview.TextView
	detail *tview.TextView
	alerts *tview.Table
	// evidence shows the selected alert's whole message under the table;
	// it grows to fit the message.
	evidence   *tview.TextView
	alertsView *tview.Flex
	help       *tview.TextView
	status     *tview.TextView
	// warning shows the latest pipeline warning (a truncated capture, a
	// read error...) above the status bar; it takes no line when there is
	// none.
	warning *tview.TextView
	bottom  *tview.Pages
	hints   *tview.TextView
	prompt  *tview.InputField
	filter  *Filter
	editing bool

	frame    *Frame
	pending  *Frame // latest frame while the display is frozen
	frozen   bool
	view     string
	back     string
	detailID uint64
	alertIDs []uint64 // connection of each alert row (0: none)
	screenW  int      // the screen width the texts were laid out for

	ctl   Control
	speed float64
	log   *MessageLog
	hist  *History
	rates *RateMeter

	// quit ends the application (RunReplay and RunLive stop their
	// goroutines first).
	quit func()
	// keyDone, when set (tests), receives after every key event is handled.
	keyDone chan struct{}
}

// DashboardOptions configure a Dashboard.
type DashboardOptions struct {
	// Control drives a replay; nil for live capture.
	Control Control
	// Speed is the replay's initial speed (see Control.SetSpeed).
	Speed float64
	// Log, History and Rates feed the detail view (Rates its message-rate
	// sparklines); any may be nil.
	Log     *MessageLog
	History *History
	Rates   *RateMeter
	// Screen replaces the terminal (tests use tcell's simulation screen).
	Screen tcell.Screen
}

// NewDashboard builds the dashboard's widgets and key bindings.
func NewDashboard(opt DashboardOptions) *Dashboard {
	d := &Dashboard{App: tview.NewApplication(), ctl: opt.Control, speed: opt.Speed, log: opt.Log, hist: opt.History,
		rates: opt.Rates, filter: ParseFilter(""), view: ViewConnections}
	if opt.Screen != nil {
		d.App.SetScreen(opt.Screen)
	}
	d.App.EnableMouse(true)

	d.header = &headerBar{Box: tview.NewBox(), d: d}
	d.table = newConnTable()
	d.table.onEnter = func(r *Row) { d.openDetail(r.ID) }
	d.table.onSortChange = d.refreshTable

	d.topo = tview.NewTextView().SetDynamicColors(true).SetScrollable(true).SetWrap(false)
	d.detail = tview.NewTextView().SetDynamicColors(true).SetScrollable(true).SetWrap(false)
	d.help = tview.NewTextView().SetDynamicColors(true).SetScrollable(true).SetWrap(true)
	d.help.SetText(helpPage())

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

	d.pages = tview.NewPages().
		AddPage(ViewConnections, d.table, true, true).
		AddPage(ViewTopology, d.topo, true, false).
		AddPage(ViewAlerts, d.alertsView, true, false).
		AddPage(ViewDetail, d.detail, true, false).
		AddPage(ViewHelp, d.help, true, false)

	d.status = tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	d.status.SetBackgroundColor(tcell.ColorNavy)
	d.hints = tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	d.warning = tview.NewTextView().SetDynamicColors(true).SetWrap(true).SetWordWrap(true)
	d.prompt = tview.NewInputField().SetLabel("filter (regexp, !inverse): ")
	d.prompt.SetChangedFunc(func(text string) {
		d.filter = ParseFilter(text)
		d.refreshViews()
	})
	d.prompt.SetDoneFunc(func(key tcell.Key) {
		if key == tcell.KeyEscape {
			d.filter = ParseFilter("")
			d.prompt.SetText("")
		}
		d.endFilter()
	})
	d.bottom = tview.NewPages().AddPage("hints", d.hints, true, true).AddPage("prompt", d.prompt, true, false)

	d.root = tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(d.header, 1, 0, false).
		AddItem(d.pages, 0, 1, true).
		AddItem(d.warning, 0, 0, false).
		AddItem(d.status, 1, 0, false).
		AddItem(d.bottom, 1, 0, false)
	d.App.SetRoot(d.root, true).SetFocus(d.table)
	d.App.SetInputCapture(d.captureKey)
	// The status, hint, topology and detail texts are laid out for the
	// screen's width: on a resize, lay them out again (no frame may come
	// after the end of a replay to do it).
	d.App.SetBeforeDrawFunc(func(screen tcell.Screen) bool {
		if w, _ := screen.Size(); w != d.screenW {
			d.screenW = w
			d.refreshViews()
		}
		return false
	})
	d.quit = func() { d.App.Stop() }
	d.updateChrome()
	return d
}

// Run runs the application until the user quits.
func (d *Dashboard) Run() error { return d.App.Run() }

// SetFrame shows a new frame (UI goroutine). While the display is frozen
// (live capture paused) it is kept for later.
func (d *Dashboard) SetFrame(f *Frame) {
	if d.frozen {
		d.pending = f
		d.updateChrome()
		return
	}
	d.frame = f
	d.refreshViews()
}

// Frame returns the frame on screen.
func (d *Dashboard) Frame() *Frame { return d.frame }

// View returns the current view's name.
func (d *Dashboard) View() string { return d.view }

// Filter returns the filter in force.
func (d *Dashboard) Filter() *Filter { return d.filter }

// Selected returns the selected connection's row in the connections table.
func (d *Dashboard) Selected() *Row { return d.table.selected() }

// SortColumn returns the sort column's name and whether it is descending.
func (d *Dashboard) SortColumn() (string, bool) { return Columns[d.table.sortCol].Name, d.table.desc }

// SetSort sorts the connections table by the named column.
func (d *Dashboard) SetSort(name string, desc bool) {
	if i := ColumnIndex(name); i >= 0 {
		d.table.sortCol, d.table.desc = i, desc
		d.refreshTable()
	}
}

// SetFilter sets the filter expression (as if typed after '/').
func (d *Dashboard) SetFilter(expr string) {
	d.prompt.SetText(expr) // runs the changed func
	d.filter = ParseFilter(expr)
	d.refreshViews()
}

func (d *Dashboard) rows() []*Row {
	if d.frame == nil {
		return nil
	}
	return d.filter.Apply(d.frame.Rows)
}

func (d *Dashboard) refreshTable() {
	rows := d.rows()
	sorted := make([]*Row, len(rows))
	copy(sorted, rows)
	SortRows(sorted, d.table.sortCol, d.table.desc)
	d.table.setRows(sorted)
	d.table.empty = emptyText(d.frame, d.filter)
	d.updateChrome()
}

// emptyText says why the connections table (or the topology) is empty: no
// packet yet, none of the connections matches the filter, or the capture held
// no ZeroMQ connection.
func emptyText(f *Frame, flt *Filter) string {
	switch {
	case f == nil:
		return "waiting for the first packet…"
	case len(f.Rows) > 0 && flt.Active():
		return fmt.Sprintf("none of the %d connections matches %s (esc clears the filter)", len(f.Rows), flt.String())
	case f.Status.Player.Done:
		return fmt.Sprintf("no ZeroMQ connection in %s packets (%d other TCP flows)", fmtSI(float64(f.Status.Stats.Packets)), f.Status.NonZMTP)
	}
	return "no ZeroMQ connection yet"
}

func (d *Dashboard) refreshViews() {
	d.refreshTable()
	switch d.view {
	case ViewTopology:
		d.refreshTopology()
	case ViewAlerts:
		d.refreshAlerts()
	case ViewDetail:
		d.refreshDetail()
	}
	d.updateChrome()
}

func (d *Dashboard) width() int {
	if d.screenW > 0 {
		return d.screenW
	}
	_, _, w, _ := d.pages.GetRect()
	if w <= 0 {
		w = 80
	}
	return w
}

func (d *Dashboard) refreshTopology() {
	rows := d.rows()
	if len(rows) == 0 {
		d.topo.SetText("[gray]" + tview.Escape(emptyText(d.frame, d.filter)) + "[-]")
		return
	}
	lines := RenderTopology(BuildTopology(rows), d.width())
	d.topo.SetText(strings.Join(lines, "\n"))
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
			c := tview.NewTableCell(tview.Escape(s)).SetTextColor(color)
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
	text := fmt.Sprintf("%s %s [::b]%s[::-] %s → %s since %s\n%s", alertTag(a), a.Severity, tview.Escape(a.Rule),
		tview.Escape(dashStr(a.Client)), tview.Escape(dashStr(a.Server)), fmtTime(a.Since), tview.Escape(a.Message))
	d.evidence.SetText(text)
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

func (d *Dashboard) refreshDetail() {
	r := d.frame.Row(d.detailID)
	if r == nil {
		d.detail.SetText(fmt.Sprintf("[gray]connection %d is no longer tracked[-]", d.detailID))
		return
	}
	in := DetailInput{Row: r, Alerts: DetailAlerts(d.frame, r), Monitor: d.frame.Monitor[r.ID], Width: d.width()}
	if d.hist != nil {
		for s := range numSeries {
			in.Series[s] = d.hist.Series(r.ID, s)
		}
	}
	if d.rates != nil {
		in.Series[SeriesRateC2S] = d.rates.Series(r.ID, 0, d.frame.Time)
		in.Series[SeriesRateS2C] = d.rates.Series(r.ID, 1, d.frame.Time)
	}
	if d.log != nil {
		in.Log = d.log.Recent(r.ID)
	}
	d.detail.SetText(strings.Join(RenderDetail(in), "\n"))
}

func (d *Dashboard) openDetail(id uint64) {
	d.detailID = id
	if d.log != nil {
		d.log.Select(id)
	}
	d.detail.ScrollToBeginning()
	d.show(ViewDetail)
}

// show switches to a view, remembering where back leads.
func (d *Dashboard) show(view string) {
	if view == d.view {
		return
	}
	if view == ViewDetail || view == ViewHelp {
		if d.view != ViewDetail && d.view != ViewHelp {
			d.back = d.view
		}
	} else {
		d.back = ""
	}
	d.view = view
	d.pages.SwitchToPage(view)
	switch view {
	case ViewConnections:
		d.App.SetFocus(d.table)
	case ViewTopology:
		d.App.SetFocus(d.topo)
	case ViewAlerts:
		d.App.SetFocus(d.alerts)
	case ViewDetail:
		d.App.SetFocus(d.detail)
	case ViewHelp:
		d.App.SetFocus(d.help)
	}
	d.refreshViews()
}

func (d *Dashboard) goBack() {
	if d.back != "" {
		d.show(d.back)
		return
	}
	if d.view == ViewConnections && d.filter.Active() {
		d.SetFilter("")
		return
	}
	d.show(ViewConnections)
}

func (d *Dashboard) beginFilter() {
	if d.view != ViewConnections && d.view != ViewTopology {
		d.show(ViewConnections)
	}
	d.editing = true
	d.bottom.SwitchToPage("prompt")
	d.App.SetFocus(d.prompt)
}

func (d *Dashboard) endFilter() {
	d.editing = false
	d.bottom.SwitchToPage("hints")
	v := d.view
	d.view = ""
	d.show(v)
}

// openSelected opens the selected connection's detail.
func (d *Dashboard) openSelected() {
	if r := d.table.selected(); r != nil {
		d.openDetail(r.ID)
	}
}

// toggleHelp shows the help, or leaves it.
func (d *Dashboard) toggleHelp() {
	if d.view == ViewHelp {
		d.goBack()
	} else {
		d.show(ViewHelp)
	}
}

// sortNext sorts the table by the next column (dir 1) or the previous (-1).
func (d *Dashboard) sortNext(dir int) {
	d.table.sortCol = (d.table.sortCol + dir + len(Columns)) % len(Columns)
	d.refreshTable()
}

// reverseSort reverses the table's order.
func (d *Dashboard) reverseSort() {
	d.table.desc = !d.table.desc
	d.refreshTable()
}

func (d *Dashboard) cycle(dir int) {
	order := []string{ViewConnections, ViewTopology, ViewAlerts}
	k := 0
	for i, v := range order {
		if v == d.view {
			k = i
		}
	}
	d.show(order[(k+dir+len(order))%len(order)])
}

func (d *Dashboard) togglePause() {
	if d.ctl != nil {
		d.ctl.TogglePause()
		return
	}
	d.frozen = !d.frozen
	if !d.frozen && d.pending != nil {
		f := d.pending
		d.pending = nil
		d.SetFrame(f)
	}
	d.updateChrome()
}

func (d *Dashboard) step(dt time.Duration) {
	if d.ctl != nil {
		d.ctl.Step(dt)
	}
}

func (d *Dashboard) faster() float64 {
	switch {
	case d.speed == 0:
		return 0
	case d.speed >= 1000:
		return 0
	}
	return d.speed * 2
}

func (d *Dashboard) slower() float64 {
	switch {
	case d.speed == 0:
		return 1000
	case d.speed <= 1.0/16:
		return d.speed
	}
	return d.speed / 2
}

func (d *Dashboard) setSpeed(s float64) {
	if d.ctl == nil {
		return
	}
	d.speed = s
	d.ctl.SetSpeed(s)
	d.updateChrome()
}

// updateChrome redraws the header, status bar and hint line text.
func (d *Dashboard) updateChrome() {
	if d.status == nil {
		return
	}
	shown := -1
	if d.filter.Active() {
		shown = len(d.table.rows)
	}
	d.status.SetText(StatusLine(d.frame, d.speed, d.ctl != nil, d.frozen, d.width(), shown))
	d.hints.SetText(d.hintLine())
	w := WarningLine(d.frame)
	d.warning.SetText(w)
	h := 0
	if w != "" {
		// Wrapped, up to 3 lines (a long file name comes first).
		h = min(3, (tview.TaggedStringWidth(w)+d.width()-1)/d.width())
	}
	d.root.ResizeItem(d.warning, h, 0)
}

// WarningLine tells the latest pipeline warning (a capture cut short, a
// packet that could not be read...) and how many there were; "" when none.
// The report printed on quit lists them all.
func WarningLine(f *Frame) string {
	if f == nil || f.Status.Warnings == 0 || f.Status.LastWarning == "" {
		return ""
	}
	s := &f.Status
	if s.Warnings == 1 {
		return "[yellow::b] warning:[-::-] " + tview.Escape(s.LastWarning)
	}
	return fmt.Sprintf("[yellow::b] %d warnings[-::-] (all in the report on quit), latest: %s", s.Warnings, tview.Escape(s.LastWarning))
}

// linePart is one piece of the status or hint line. When the line does not
// fit, the parts with the lowest keep go first; a keep of keepAlways or more
// always stays.
type linePart struct {
	text string
	keep int
}

const keepAlways = 9

// fitLine joins parts (first before the first, sep before each other),
// leaving parts out, lowest keep first and right to left within one keep,
// until the line fits width; width <= 0 keeps them all.
func fitLine(parts []linePart, first, sep string, width int) string {
	for {
		var b strings.Builder
		for i, p := range parts {
			if i == 0 {
				b.WriteString(first)
			} else {
				b.WriteString(sep)
			}
			b.WriteString(p.text)
		}
		out := b.String()
		if width <= 0 || tview.TaggedStringWidth(out) <= width {
			return out
		}
		drop := -1
		for i, p := range parts {
			if p.keep < keepAlways && (drop < 0 || p.keep <= parts[drop].keep) {
				drop = i
			}
		}
		if drop < 0 {
			return out
		}
		parts = slices.Delete(parts, drop, drop+1)
	}
}

// StatusLine renders the status bar: packet time, packets and their rate,
// connections, drops (kernel, internal, skipped screen updates), warnings,
// InfluxDB state and the replay state. shown is how many connections the
// filter keeps ("3 of 10 conns"), or negative when no filter is on. It fits
// width: when everything does not, the least useful parts go first (packet
// counts, then connections, InfluxDB, warnings, time); the replay state and
// the drops always stay.
func StatusLine(f *Frame, speed float64, replay, frozen bool, width, shown int) string {
	if f == nil {
		return " waiting for packets…"
	}
	s := &f.Status
	// Parts in display order; keep is the order they are dropped in (lower
	// goes first).
	var parts []linePart
	add := func(keep int, format string, args ...any) {
		parts = append(parts, linePart{fmt.Sprintf(format, args...), keep})
	}
	add(4, "%s", fmtTime(f.Time))
	add(0, "%s pkts %s/s", fmtSI(float64(s.Stats.Packets)), fmtSI(s.PacketRate))
	if shown >= 0 {
		add(1, "%d of %d conns", shown, len(f.Rows))
	} else {
		add(1, "%d conns", len(f.Rows))
	}
	drops := s.Stats.KernelDrops + s.Stats.InternalDrops
	tag := "[white]"
	if drops > 0 {
		tag = "[red::b]"
	}
	d := fmt.Sprintf("%sdrops k%d i%d[-::-]", tag, s.Stats.KernelDrops, s.Stats.InternalDrops)
	if s.Skipped > 0 {
		d += fmt.Sprintf(" ui%d", s.Skipped)
	}
	add(9, "%s", d)
	if s.Warnings > 0 {
		add(3, "[yellow]%d warn[-]", s.Warnings)
	}
	if s.Influx != "" {
		tag := "[green]"
		if s.Influx != "ok" {
			tag = "[yellow]"
		}
		add(2, "influx %s%s[-]", tag, tview.Escape(s.Influx))
	}
	var st string
	p := &s.Player
	switch {
	case frozen:
		st = "[yellow::b]FROZEN[-::-]"
	case p.Err != "":
		st = "[red]" + tview.Escape(p.Err) + "[-]"
	case p.Done && !p.Live:
		st = "[green]end of capture[-]"
	case p.Done:
		st = "[yellow]capture stopped[-]"
	case p.Paused:
		st = "[yellow::b]PAUSED[-::-]"
	case p.Live:
		st = "[green]live[-]"
	default:
		st = "▶"
	}
	if replay {
		st += " " + speedText(speed)
	}
	add(10, "%s", st)
	return fitLine(parts, " ", " │ ", width)
}

func speedText(s float64) string {
	switch {
	case s == 0:
		return "max"
	case s == 1:
		return "1×"
	case s >= 1:
		return fmt.Sprintf("%g×", s)
	}
	return fmt.Sprintf("%.3g×", s)
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
		right = "sort " + name + arrow + " "
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
	for _, t := range tabs {
		label := t.key + " " + t.name
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

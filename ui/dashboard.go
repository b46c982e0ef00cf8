package ui

import (
	"fmt"
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
	ViewHistory     = "history"
	ViewWarnings    = "warnings"
	ViewDetail      = "detail"
	ViewHelp        = "help"
	ViewStream      = "stream"
)

// allViews are the dashboard's views: the pages, and what the key table's
// sets of views are made from.
var allViews = []string{ViewConnections, ViewTopology, ViewAlerts, ViewHistory, ViewWarnings, ViewDetail, ViewStream, ViewHelp}

const filterLabel = "filter (regexp, !inverse): "

// Dashboard is the tview application: a tab line, the current view, a status
// bar and a hint or filter line. All its methods except NewDashboard run on
// the UI goroutine (inside Application callbacks or QueueUpdateDraw).
type Dashboard struct {
	App *tview.Application

	root   *tview.Flex
	header *headerBar
	pages  *tview.Pages
	table  *connTable
	topo   *cursorText
	detail *tview.TextView
	alerts *tview.Table
	// evidence shows the selected alert's whole message under the table;
	// it grows to fit the message.
	evidence   *tview.TextView
	alertsView *tview.Flex
	help       *tview.TextView
	// alertHist lists every alert state change; warnView the store's
	// whole state, the pipeline's warnings and the monitor forwarders'.
	alertHist *cursorText
	warnView  *tview.TextView
	// streamText follows one connection's message stream (sv: where it
	// shows from, the search); searching says the prompt takes a search.
	streamText *tview.TextView
	sv         streamView
	searching  bool
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

	frame   *Frame
	pending *Frame // latest frame while the display is frozen
	frozen  bool
	// modeSet says the user chose rates or totals (mode); until then the
	// table shows rates while packets come and totals once they stopped.
	modeSet bool
	mode    CountMode
	view    string
	back    string
	// streamBack is the view the stream was opened from when it was the
	// detail (esc leads back to it, then to back); helpBack the view the
	// help was opened from.
	streamBack string
	helpBack   string
	detailID   uint64
	alertIDs   []uint64 // connection of each alert row (0: none)
	alertRows  []alertRow
	screenW    int // the screen size the texts were laid out for
	screenH    int

	ctl        Control
	speed      float64
	hist       *History
	selectConn func(id uint64)

	// export writes a connection's packets to a file (nil: not possible);
	// exporting says one runs; notice is the hint line's one-off message
	// (an export's result), cleared by the next key.
	export      Exporter
	exporting   bool
	notice      string
	noticeColor string
	exportDone  chan struct{} // tests: receives after an export's result is queued

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
	// History feeds the detail view's latency and backlog sparklines (nil:
	// none); Select asks the run for a connection's events and rates (nil:
	// none).
	History *History
	Select  func(id uint64)
	// Screen replaces the terminal (tests use tcell's simulation screen).
	Screen tcell.Screen
	// Export writes a connection's packets to a capture file (nil: the
	// export key says it cannot).
	Export Exporter
}

// NewDashboard builds the dashboard's widgets and key bindings.
func NewDashboard(opt DashboardOptions) *Dashboard {
	d := &Dashboard{App: tview.NewApplication(), ctl: opt.Control, speed: opt.Speed, hist: opt.History,
		selectConn: opt.Select, filter: ParseFilter(""), view: ViewConnections, export: opt.Export}
	if opt.Screen != nil {
		d.App.SetScreen(opt.Screen)
	}
	d.App.EnableMouse(true)

	d.header = &headerBar{Box: tview.NewBox(), d: d}
	d.table = newConnTable()
	d.table.onEnter = func(r *Row) { d.openDetail(r.ID) }
	d.table.onSortChange = d.refreshTable

	d.topo = newCursorText(false)
	d.detail = tview.NewTextView().SetDynamicColors(true).SetScrollable(true).SetWrap(false)
	d.help = tview.NewTextView().SetDynamicColors(true).SetScrollable(true).SetWrap(true)
	d.help.SetText(helpPage())
	d.alertHist = newCursorText(true)
	d.streamText = tview.NewTextView().SetDynamicColors(true).SetScrollable(false).SetWrap(false)
	d.warnView = tview.NewTextView().SetDynamicColors(true).SetScrollable(true).SetWrap(false)
	d.newAlertsView()

	d.pages = tview.NewPages().
		AddPage(ViewConnections, d.table, true, true).
		AddPage(ViewTopology, d.topo, true, false).
		AddPage(ViewAlerts, d.alertsView, true, false).
		AddPage(ViewHistory, d.alertHist, true, false).
		AddPage(ViewWarnings, d.warnView, true, false).
		AddPage(ViewDetail, d.detail, true, false).
		AddPage(ViewStream, d.streamText, true, false).
		AddPage(ViewHelp, d.help, true, false)

	d.status = tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	d.status.SetBackgroundColor(tcell.ColorNavy)
	d.hints = tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	d.warning = tview.NewTextView().SetDynamicColors(true).SetWrap(true).SetWordWrap(true)
	d.prompt = tview.NewInputField().SetLabel(filterLabel)
	d.prompt.SetChangedFunc(func(text string) {
		if d.searching {
			return // the stream's search applies on ⏎
		}
		d.filter = ParseFilter(text)
		d.refreshViews()
	})
	d.prompt.SetDoneFunc(func(key tcell.Key) {
		if d.searching {
			d.endSearch(key)
			return
		}
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
		if w, h := screen.Size(); w != d.screenW || h != d.screenH {
			d.screenW, d.screenH = w, h
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

// CountMode returns what the connections table leads with: the user's
// choice (ToggleCounts), else totals once the replay or capture has ended
// or the display is frozen (rates then read 0 or stand still) and rates
// before.
func (d *Dashboard) CountMode() CountMode {
	switch {
	case d.modeSet:
		return d.mode
	case d.frozen || (d.frame != nil && d.frame.Status.Player.Done):
		return ModeTotals
	}
	return ModeRates
}

// toggleCounts switches the table between rates and totals (bandwhich's
// -t): the choice then stays.
func (d *Dashboard) toggleCounts() {
	d.mode, d.modeSet = 1-d.CountMode(), true
	d.refreshViews()
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
	d.table.mode = d.CountMode()
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
	case len(f.Rows) == 0 && len(f.Refused) > 0:
		// A client started before its server: its refused connects are not
		// connections; the latest episode says how it stands.
		return "no ZeroMQ connection yet: " + StartupLine(&f.Refused[len(f.Refused)-1])
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
	case ViewHistory:
		d.refreshAlertHistory()
	case ViewWarnings:
		d.refreshWarnings()
	case ViewDetail:
		d.refreshDetail()
	case ViewStream:
		d.refreshStream()
	case ViewStages:
		d.refreshStages()
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

// viewHeight is the height of the views' area (the screen's less the
// header and the status lines before the first draw).
func (d *Dashboard) viewHeight() int {
	if _, _, _, h := d.pages.GetRect(); h > 0 && d.screenH > 0 {
		return h
	}
	if d.screenH > 0 {
		return max(d.screenH-4, 4)
	}
	return 20
}

// show switches to a view, remembering where back leads.
func (d *Dashboard) show(view string) {
	if view == d.view {
		return
	}
	switch {
	case view == ViewStream && d.view == ViewHelp:
		// Back from the help: where the stream leads back to stays.
	case view == ViewStream && d.view == ViewDetail:
		d.streamBack = ViewDetail
	case view == ViewStream:
		d.streamBack = ""
		if d.view != ViewHelp {
			d.back = d.view
		}
	case view == ViewDetail || view == ViewHelp:
		if d.view != ViewDetail && d.view != ViewHelp && d.view != ViewStream {
			d.back = d.view
		}
	default:
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
	case ViewHistory:
		d.App.SetFocus(d.alertHist)
	case ViewWarnings:
		d.App.SetFocus(d.warnView)
	case ViewDetail:
		d.App.SetFocus(d.detail)
	case ViewStream:
		d.App.SetFocus(d.streamText)
	case ViewHelp:
		d.App.SetFocus(d.help)
	}
	d.refreshViews()
}

func (d *Dashboard) goBack() {
	if d.view == ViewStream && d.streamBack != "" {
		d.show(d.streamBack)
		return
	}
	if d.view == ViewHelp && d.helpBack != "" {
		d.show(d.helpBack)
		return
	}
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
		return
	}
	d.helpBack = ""
	if d.view == ViewDetail || d.view == ViewStream {
		d.helpBack = d.view
	}
	d.show(ViewHelp)
}

// cursorConn returns the connection the current view points at: the
// selected row, the topology's or the alert history's cursor, the alert
// selected, the connection shown (0: none).
func (d *Dashboard) cursorConn() uint64 {
	switch d.view {
	case ViewConnections:
		if r := d.table.selected(); r != nil {
			return r.ID
		}
	case ViewTopology:
		return d.topo.selected()
	case ViewHistory:
		return d.alertHist.selected()
	case ViewAlerts:
		if row, _ := d.alerts.GetSelection(); row-1 >= 0 && row-1 < len(d.alertIDs) {
			return d.alertIDs[row-1]
		}
	case ViewDetail, ViewStream:
		return d.detailID
	}
	return 0
}

// openHere opens the detail of the connection the current view points at.
func (d *Dashboard) openHere() {
	if id := d.cursorConn(); id != 0 {
		d.openDetail(id)
	}
}

// beginSearch opens the prompt for the stream's search.
func (d *Dashboard) beginSearch() {
	d.searching, d.editing = true, true
	d.prompt.SetLabel("search the stream (regexp, !inverse): ")
	d.prompt.SetText(d.sv.search.Expr)
	d.bottom.SwitchToPage("prompt")
	d.App.SetFocus(d.prompt)
}

// endSearch applies the search typed (⏎) or leaves it as it was (esc).
func (d *Dashboard) endSearch(key tcell.Key) {
	text := d.prompt.GetText()
	d.searching, d.editing = false, false
	d.prompt.SetLabel(filterLabel)
	d.prompt.SetText(d.filter.Expr)
	d.bottom.SwitchToPage("hints")
	d.App.SetFocus(d.streamText)
	if key != tcell.KeyEscape {
		d.setSearch(text)
	}
	d.updateChrome()
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
	order := []string{ViewConnections, ViewTopology, ViewAlerts, ViewHistory, ViewWarnings}
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

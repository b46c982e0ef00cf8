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
	ViewDetail      = "detail"
	ViewHelp        = "help"
)

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

	ctl        Control
	speed      float64
	hist       *History
	selectConn func(id uint64)

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
}

// NewDashboard builds the dashboard's widgets and key bindings.
func NewDashboard(opt DashboardOptions) *Dashboard {
	d := &Dashboard{App: tview.NewApplication(), ctl: opt.Control, speed: opt.Speed, hist: opt.History,
		selectConn: opt.Select, filter: ParseFilter(""), view: ViewConnections}
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
	d.newAlertsView()

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

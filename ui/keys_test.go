package ui

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/clocktest"
	"github.com/zspy/zspy/internal/pcaptest"
	"github.com/zspy/zspy/internal/truth"
	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/session"
)

// harness runs RunReplay on a simulation screen and drives it with key events.
// Every step synchronises with the UI goroutine: a key is handled when
// keyDone fires, and a QueueUpdateDraw after it returns once the redraw that
// follows the key is done. Nothing sleeps.
type harness struct {
	t      *testing.T
	s      tcell.SimulationScreen
	d      *Dashboard
	frames chan *Frame
	keys   chan struct{}
	errc   chan error
	ready  chan struct{}
}

// newHarness sets opt up to draw on a w×h simulation screen, with keys
// acknowledged, frames collected (up to buffer waiting) and, unless opt has
// one, a fake clock. start runs the dashboard.
func newHarness(t *testing.T, w, h, buffer int, opt *runOpts) *harness {
	t.Helper()
	hs := &harness{t: t, s: tcell.NewSimulationScreen("UTF-8"), frames: make(chan *Frame, buffer),
		keys: make(chan struct{}), errc: make(chan error, 1), ready: make(chan struct{})}
	opt.Screen, opt.keyDone = hs.s, hs.keys
	if opt.Clock == nil {
		opt.Clock = clocktest.New(t0)
	}
	opt.onFrame = func(f *Frame) { hs.frames <- f }
	opt.onDashboard = func(d *Dashboard) {
		hs.s.SetSize(w, h)
		hs.d = d
		close(hs.ready)
	}
	return hs
}

// start runs run (a replay or a live capture with the harness's options)
// until the test ends, and returns once its dashboard runs.
func (hs *harness) start(run func(ctx context.Context) error) *harness {
	hs.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hs.t.Cleanup(cancel)
	go func() { hs.errc <- run(ctx) }()
	select {
	case <-hs.ready:
	case err := <-hs.errc:
		hs.t.Fatalf("replay ended before the dashboard ran: %v", err)
	}
	return hs
}

func startReplay(t *testing.T, name string, w, h int, opt runOpts) *harness {
	t.Helper()
	hs := newHarness(t, w, h, 10000, &opt)
	file := name // a test case's name, or a path
	if !strings.ContainsRune(name, '/') {
		file = pcap(t, name)
	}
	return hs.start(func(ctx context.Context) error { return runReplay(ctx, []string{file}, opt) })
}

// waitFrame waits until a frame satisfying ok has been drawn.
func (h *harness) waitFrame(ok func(f *Frame) bool) *Frame {
	h.t.Helper()
	for {
		select {
		case f := <-h.frames:
			if ok(f) {
				return f
			}
		case err := <-h.errc:
			h.t.Fatalf("replay ended: %v", err)
		}
	}
}

func (h *harness) sync() { h.d.App.QueueUpdateDraw(func() {}) }

// key injects one key and waits for it to be handled and drawn.
func (h *harness) key(k tcell.Key, r rune) {
	h.s.InjectKey(k, r, tcell.ModNone)
	<-h.keys
	h.sync()
}

func (h *harness) typeText(s string) {
	for _, r := range s {
		h.key(tcell.KeyRune, r)
	}
}

func (h *harness) lines() []string { return screenLines(h.s) }

// state reads dashboard state on the UI goroutine.
func (h *harness) state() (view string, sortCol string, desc bool, sel *Row, filter string) {
	h.d.App.QueueUpdate(func() {
		view = h.d.View()
		sortCol, desc = h.d.SortColumn()
		sel = h.d.Selected()
		filter = h.d.Filter().Expr
	})
	return
}

func (h *harness) quit() {
	h.t.Helper()
	h.s.InjectKey(tcell.KeyRune, 'q', tcell.ModNone)
	<-h.keys
	if err := <-h.errc; err != nil {
		h.t.Fatalf("RunReplay: %v", err)
	}
}

func done(f *Frame) bool { return f.Status.Player.Done }

func TestKeysSortFilterDrillDownBackQuit(t *testing.T) {
	tr := loadTruth(t, "pubsub")
	h := startReplay(t, "pubsub", 100, 30, runOpts{})
	f := h.waitFrame(done)
	if len(f.Rows) != len(tr.Connections) {
		t.Fatalf("%d rows, want %d", len(f.Rows), len(tr.Connections))
	}
	h.sync()
	if rows := tableRows(h.lines()); len(rows) != len(tr.Connections) {
		t.Fatalf("screen rows:\n%s", strings.Join(h.lines(), "\n"))
	}

	// '>' moves the sort to the next column, 'r' reverses it.
	h.key(tcell.KeyRune, '>')
	if _, col, desc, _, _ := h.state(); col != "CLIENT" || desc {
		t.Errorf("after '>': sort %s desc=%v", col, desc)
	}
	h.key(tcell.KeyRune, 'r')
	_, col, desc, _, _ := h.state()
	if col != "CLIENT" || !desc {
		t.Errorf("after 'r': sort %s desc=%v", col, desc)
	}
	order := rowOrder(h.lines())
	if len(order) != 3 || order[0] < order[1] || order[1] < order[2] {
		t.Errorf("CLIENT descending on screen: %v", order)
	}
	if !strings.Contains(h.lines()[1], "CLIENT▼") {
		t.Errorf("header %q", h.lines()[1])
	}

	// '/' opens the filter; typing filters as you type; Enter keeps it.
	h.key(tcell.KeyRune, '/')
	if !strings.Contains(h.lines()[29], "filter") {
		t.Errorf("no filter prompt: %q", h.lines()[29])
	}
	h.typeText("26022")
	if rows := rowOrder(h.lines()); len(rows) != 1 || rows[0] != "127.0.0.1:26022" {
		t.Errorf("while typing: rows %v", rows)
	}
	h.key(tcell.KeyEnter, 0)
	if _, _, _, _, expr := h.state(); expr != "26022" {
		t.Errorf("filter %q after Enter", expr)
	}
	// Keys act on the table again ('q' would quit, so use 'r').
	h.key(tcell.KeyRune, 'r')
	if rows := rowOrder(h.lines()); len(rows) != 1 {
		t.Errorf("filter lost: %v", rows)
	}

	// Enter drills down into the selected (only) connection; Esc comes back.
	h.key(tcell.KeyEnter, 0)
	view, _, _, sel, _ := h.state()
	if view != ViewDetail || sel == nil || sel.C.Client != "127.0.0.1:26022" {
		t.Fatalf("Enter: view %s, selected %v", view, sel)
	}
	if findLine(h.lines(), "Connection", "127.0.0.1:26022 → 127.0.0.1:16020") < 0 {
		t.Errorf("detail not on screen:\n%s", strings.Join(h.lines(), "\n"))
	}
	h.key(tcell.KeyEscape, 0)
	if view, _, _, _, expr := h.state(); view != ViewConnections || expr != "26022" {
		t.Errorf("Esc from detail: view %s filter %q", view, expr)
	}
	// Esc on the table clears the filter.
	h.key(tcell.KeyEscape, 0)
	if rows := rowOrder(h.lines()); len(rows) != 3 {
		t.Errorf("Esc did not clear the filter: %v", rows)
	}
	// An inverse filter, cancelled with Esc.
	h.key(tcell.KeyRune, '/')
	h.typeText("!26022")
	if rows := rowOrder(h.lines()); len(rows) != 2 {
		t.Errorf("inverse filter: %v", rows)
	}
	h.key(tcell.KeyEscape, 0)
	if rows := rowOrder(h.lines()); len(rows) != 3 {
		t.Errorf("Esc in the prompt keeps the filter: %v", rows)
	}

	// Views by number and Tab; help and back.
	h.key(tcell.KeyRune, '2')
	if findLine(h.lines(), "PUB 127.0.0.1:16020", "pub/sub") < 0 {
		t.Errorf("topology not shown:\n%s", strings.Join(h.lines(), "\n"))
	}
	h.key(tcell.KeyTab, 0)
	if view, _, _, _, _ := h.state(); view != ViewAlerts || findLine(h.lines(), "no alerts") < 0 {
		t.Errorf("Tab from topology: %s", view)
	}
	h.key(tcell.KeyRune, '?')
	if findLine(h.lines(), "zspy dashboard") < 0 {
		t.Errorf("help not shown")
	}
	h.key(tcell.KeyEscape, 0)
	if view, _, _, _, _ := h.state(); view != ViewAlerts {
		t.Errorf("back from help: %s", view)
	}
	h.quit()
}

func TestKeysPauseStepSpeed(t *testing.T) {
	first, last, _ := pcaptest.Span(t, pcap(t, "reqrep"))
	clk := clocktest.New(t0)
	h := startReplay(t, "reqrep", 80, 24, runOpts{Speed: 1, StartPaused: true, Clock: clk})
	// 'n' steps one packet: a paused frame at the first packet's time.
	h.key(tcell.KeyRune, 'n')
	f := h.waitFrame(func(f *Frame) bool { return f.Time.Equal(first) })
	if !f.Status.Player.Paused {
		t.Error("stepping does not keep the replay paused")
	}
	h.sync()
	if !strings.Contains(h.lines()[22], "PAUSED") || !strings.Contains(h.lines()[22], "1×") {
		t.Errorf("status %q", h.lines()[22])
	}
	// '+' doubles the speed; space resumes; the replay runs to its end.
	h.key(tcell.KeyRune, '+')
	h.key(tcell.KeyRune, ' ')
	f = h.waitFrame(done)
	if !f.Time.Equal(last) || f.Status.Player.Paused || f.Status.Player.Speed != 2 {
		t.Errorf("last frame at %v (want %v) paused=%v speed %v", f.Time, last, f.Status.Player.Paused, f.Status.Player.Speed)
	}
	h.sync()
	if !strings.Contains(h.lines()[22], "end of capture") || !strings.Contains(h.lines()[22], "2×") {
		t.Errorf("status %q", h.lines()[22])
	}
	h.quit()
}

// stuckClock never lets a wait end: the pacer holds the second packet for
// ever, and only quitting can end the replay.
type stuckClock struct{}

func (stuckClock) Now() time.Time                       { return t0 }
func (stuckClock) After(time.Duration) <-chan time.Time { return nil }

func TestQuitWhilePacerWaits(t *testing.T) {
	h := startReplay(t, "slow_subscriber", 80, 24, runOpts{Speed: 1, Clock: stuckClock{}})
	f := h.waitFrame(func(*Frame) bool { return true })
	if f.Status.Player.Done {
		t.Fatal("the replay ended without waiting")
	}
	h.quit()
}

func TestCtrlCQuits(t *testing.T) {
	h := startReplay(t, "reqrep", 80, 24, runOpts{})
	h.waitFrame(done)
	h.s.InjectKey(tcell.KeyCtrlC, 0, tcell.ModCtrl)
	<-h.keys
	if err := <-h.errc; err != nil {
		t.Fatal(err)
	}
}

func TestLiveFromFileSource(t *testing.T) {
	tr := loadTruth(t, "dealer_router")
	var opt runOpts
	var p *session.Session
	opt.onSession = func(s *session.Session) { p = s }
	hs := newHarness(t, 100, 30, 10000, &opt)
	src := openCase(t, "dealer_router")
	hs.start(func(ctx context.Context) error {
		return opt.run(ctx, session.Config{Live: src, Name: src.Name()})
	})
	f := hs.waitFrame(done)
	if !f.Status.Player.Live || len(f.Rows) != len(tr.Connections) {
		t.Fatalf("live frame: live=%v rows=%d", f.Status.Player.Live, len(f.Rows))
	}
	hs.sync()
	lines := hs.lines()
	for _, c := range tr.Connections {
		if findLine(lines, endpoint(c.Client), "DEALER→ROUTER") < 0 {
			t.Errorf("no row for %s:\n%s", c.ID, strings.Join(lines, "\n"))
		}
	}
	if !strings.Contains(lines[28], "capture stopped") || strings.Contains(lines[28], "×") {
		t.Errorf("live status %q", lines[28])
	}
	// Space freezes a live display instead of pausing a replay.
	hs.key(tcell.KeyRune, ' ')
	if !strings.Contains(hs.lines()[28], "FROZEN") {
		t.Errorf("status after space %q", hs.lines()[28])
	}
	hs.quit()
	if r := p.Report(); len(r.Connections) != len(tr.Connections) {
		t.Errorf("report after the dashboard: %d connections", len(r.Connections))
	}
}

// The rules engine, driven by the replay's own pipeline, raises its
// slow_subscriber alert on the slow_subscriber capture; the dashboard lists
// it with its evidence in the Alerts view, and Enter on it opens the
// connection.
func TestRulesAlertOnSlowSubscriber(t *testing.T) {
	tr := loadTruth(t, "slow_subscriber")
	var slow truth.Conn
	for _, c := range tr.Connections {
		if c.ZeroWindow {
			slow = c
		}
	}
	e := rules.New(rules.Builtins())
	src := openCase(t, "slow_subscriber")
	opt := runOpts{Rules: e}
	hs := newHarness(t, 120, 30, 10000, &opt)
	hs.start(func(ctx context.Context) error {
		return opt.run(ctx, session.Config{Files: []capture.Source{src}, Name: "slow_subscriber"})
	})
	f := hs.waitFrame(done)
	var got *Alert
	for i, a := range f.Alerts {
		if a.Rule == "slow_subscriber" {
			got = &f.Alerts[i]
		}
	}
	if got == nil || got.Client != endpoint(slow.Client) || got.Server != endpoint(slow.Server) {
		t.Fatalf("alerts %+v: no slow_subscriber alert for %s", f.Alerts, slow.ID)
	}
	// The row names the most urgent of the subscriber's active alerts (by the
	// end of this capture slow_subscriber has resolved; hwm_saturation, which
	// the same stall raises, still fires).
	var firing []string
	for _, a := range f.Alerts {
		if a.State == StateFiring && a.matches(endpoint(slow.Client), endpoint(slow.Server)) {
			firing = append(firing, a.Rule)
		}
	}
	hs.sync()
	k := findLine(hs.lines(), endpoint(slow.Client))
	if k < 0 || (len(firing) > 0 && !strings.Contains(hs.lines()[k], firing[0])) {
		t.Errorf("the subscriber's row does not carry its firing alerts %v:\n%s", firing, strings.Join(hs.lines(), "\n"))
	}
	hs.key(tcell.KeyRune, '3')
	lines := hs.lines()
	// A resolved alert's row says why it resolved; the pane says what it was.
	evidence := "slow subscriber: SUB"
	if got.State == StateResolved && got.Resolution != "" {
		evidence = "resolved: " + got.Resolution[:10]
	}
	k = findLine(lines, string(got.State), string(got.Severity), "slow_subscriber", endpoint(slow.Client), endpoint(slow.Server), evidence)
	if k < 0 {
		t.Fatalf("no alert row:\n%s", strings.Join(lines, "\n"))
	}
	// Select the alert's row: the pane below shows its whole evidence. Enter
	// opens its connection.
	for range k - 2 {
		hs.key(tcell.KeyDown, 0)
	}
	// The pane wraps lines inside a border: compare without the spaces.
	var pane []string
	all := hs.lines()
	for i := findLine(all, "evidence") + 1; i > 0 && i < len(all) && !strings.Contains(all[i], "└"); i++ {
		pane = append(pane, strings.Trim(all[i], "│ "))
	}
	squeeze := func(s string) string { return strings.Join(strings.Fields(s), "") }
	if p := squeeze(strings.Join(pane, "")); !strings.Contains(p, squeeze(got.Message)) {
		t.Errorf("evidence pane %q lacks the message %q", pane, got.Message)
	} else if got.Resolution != "" && !strings.Contains(p, squeeze("resolved: "+got.Resolution+"it was: "+got.Message)) {
		t.Errorf("evidence pane %q lacks the resolution %q, then the message", pane, got.Resolution)
	}
	hs.key(tcell.KeyEnter, 0)
	if view, _, _, _, _ := hs.state(); view != ViewDetail ||
		findLine(hs.lines(), "Connection", endpoint(slow.Client)+" → "+endpoint(slow.Server)) < 0 {
		t.Errorf("Enter on the alert: view %s\n%s", view, strings.Join(hs.lines(), "\n"))
	}
	hs.quit()
}

// ctlRecorder is a replay Control that only counts what it is asked.
type ctlRecorder struct{ pauses, steps, speeds int }

func (c *ctlRecorder) TogglePause()       { c.pauses++ }
func (c *ctlRecorder) Step(time.Duration) { c.steps++ }
func (c *ctlRecorder) SetSpeed(float64)   { c.speeds++ }

// drawnDash returns a dashboard drawn once on a 200×30 screen (so that its
// lines are laid out for that width).
func drawnDash(t *testing.T, opt DashboardOptions) *Dashboard {
	d, s := newDash(t, 200, 30, opt)
	draw(d, s)
	return d
}

// keyModes are a replay (with a Control) and a live capture (without).
func keyModes(t *testing.T) map[string]func() *Dashboard {
	return map[string]func() *Dashboard{
		"replay": func() *Dashboard { return drawnDash(t, DashboardOptions{Control: &ctlRecorder{}, Speed: 1}) },
		"live":   func() *Dashboard { return drawnDash(t, DashboardOptions{}) },
	}
}

// Every key of every binding reaches that binding's action, in every view
// the binding names (no other binding shadows it); a binding without an
// action passes its keys on to the view's widget, as does a key the table
// does not bind.
func TestKeyTableDrivesDispatch(t *testing.T) {
	saved := keyTable
	t.Cleanup(func() { keyTable = saved })
	keyTable = slices.Clone(saved)
	var got int
	for i := range keyTable {
		if keyTable[i].act != nil {
			keyTable[i].act = func(*Dashboard) { got = i }
		}
	}
	checked := 0
	for mode, newD := range keyModes(t) {
		d := newD()
		for _, view := range allViews {
			d.show(view)
			for i := range keyTable {
				b := &keyTable[i]
				if !b.actsIn(d, view) {
					continue
				}
				for _, k := range b.keys {
					ev := tcell.NewEventKey(k.k, k.r, tcell.ModNone)
					if l := d.lookup(k); l != b {
						t.Errorf("%s, %s: key %s finds binding %d, not %d (%q)", mode, view, k, bindingIndex(l), i, b.help)
						continue
					}
					got = -1
					out := d.captureKey(ev)
					switch {
					case b.act == nil && out != ev:
						t.Errorf("%s, %s: key %s of a widget's binding was not passed on", mode, view, k)
					case b.act != nil && (out != nil || got != i):
						t.Errorf("%s, %s: key %s ran binding %d, want %d", mode, view, k, got, i)
					}
					checked++
				}
			}
			// A key bound nowhere goes on to the widget.
			ev := tcell.NewEventKey(tcell.KeyRune, 'Z', tcell.ModNone)
			if d.lookup(keyOf(ev)) != nil || d.captureKey(ev) != ev {
				t.Errorf("%s, %s: an unbound key was taken", mode, view)
			}
		}
		// While the filter is typed only Ctrl-C acts.
		d.show(ViewConnections)
		d.editing = true
		for i := range keyTable {
			for _, k := range keyTable[i].keys {
				if l := d.lookup(k); l != nil && !l.prompt {
					t.Errorf("%s: key %s acts while the filter is typed", mode, k)
				}
			}
		}
		if l := d.lookup(key{k: tcell.KeyCtrlC}); l == nil {
			t.Errorf("%s: Ctrl-C does not quit from the filter prompt", mode)
		}
	}
	if checked < 100 {
		t.Errorf("only %d keys checked", checked)
	}
}

// Every bound key is named in the help page's key column, on a line the
// table wrote (a binding without help text is described by another's label).
func TestKeyTableInHelp(t *testing.T) {
	page := helpPage()
	named := map[string]bool{}
	for _, b := range keyTable {
		if b.help == "" {
			continue
		}
		line := fmt.Sprintf("  %-8s %s", b.label, strings.Split(b.help, "\n")[0])
		if b.inline {
			line = "   " + b.label + "  " + b.help
		}
		if !strings.Contains(page, line) {
			t.Errorf("help page lacks %q", line)
		}
		for _, f := range strings.Fields(b.label) {
			named[f] = true
			if utf8.RuneCountInString(f) > 1 && !unicode.IsLetter([]rune(f)[0]) && !strings.HasPrefix(f, "^") && f != "⇧tab" {
				for _, r := range f { // "↑↓" names both arrows
					named[string(r)] = true
				}
			}
		}
	}
	for _, b := range keyTable {
		for _, k := range b.keys {
			if !named[k.String()] {
				t.Errorf("key %s (binding %q, hint %q) is not named in the help", k, b.help, b.hint)
			}
		}
	}
}

var hintPart = regexp.MustCompile(`\[aqua\](.+?)\[-\]:(\S+)`)

// The hint line names only keys that act in the view on screen, and only
// hints of the table; every hint the table gives a view shows on a wide
// screen.
func TestHintsComeFromKeyTable(t *testing.T) {
	byName := map[string]key{}
	for _, b := range keyTable {
		for _, k := range b.keys {
			byName[k.String()] = k
		}
	}
	for mode, newD := range keyModes(t) {
		for _, ended := range []bool{false, true} {
			d := newD()
			d.SetFrame(&Frame{Status: Status{Player: session.PlayerState{Done: ended}}})
			for _, view := range allViews {
				d.show(view)
				line := d.hintLine()
				parts := hintPart.FindAllStringSubmatch(line, -1)
				if len(parts) == 0 {
					t.Fatalf("%s, %s: no hints in %q", mode, view, line)
				}
				for _, p := range parts {
					hint := p[1] + ":" + p[2]
					if !slices.ContainsFunc(keyTable, func(b binding) bool { return b.hint == hint }) {
						t.Errorf("%s, %s: hint %q is not the table's", mode, view, hint)
					}
					names := []string{p[1]}
					if _, ok := byName[p[1]]; !ok {
						names = strings.Split(p[1], "") // "<>" names two keys
					}
					for _, n := range names {
						k, ok := byName[n]
						if !ok || d.lookup(k) == nil {
							t.Errorf("%s, %s (ended %v): hint %q names key %q, which does nothing here", mode, view, ended, hint, n)
						}
					}
				}
				for _, b := range keyTable {
					hv := b.hintViews
					if hv == nil {
						hv = b.views
					}
					shown := b.hint != "" && b.actsIn(d, view) && (hv == nil || slices.Contains(hv, view)) && (b.hintIf == nil || b.hintIf(d))
					k, w, _ := strings.Cut(b.hint, ":")
					if has := strings.Contains(line, "[aqua]"+k+"[-]:"+w); shown && !has {
						t.Errorf("%s, %s (ended %v): hint %q missing from %q", mode, view, ended, b.hint, line)
					}
				}
			}
		}
	}
}

// bindingIndex returns b's index in keyTable, or -1.
func bindingIndex(b *binding) int {
	for i := range keyTable {
		if &keyTable[i] == b {
			return i
		}
	}
	return -1
}

// Every tab of the header names a key that opens its view.
func TestTabsNameTheirKeys(t *testing.T) {
	for _, tb := range tabs {
		d := drawnDash(t, DashboardOptions{})
		d.show(ViewDetail)
		var label string
		for _, x := range d.header.tabs() {
			if x.view == tb.view {
				label = x.label
			}
		}
		k, name, ok := strings.Cut(label, " ")
		if !ok || name != tb.name || utf8.RuneCountInString(k) != 1 {
			t.Errorf("tab %q: label %q does not name a key", tb.name, label)
			continue
		}
		d.captureKey(tcell.NewEventKey(tcell.KeyRune, []rune(k)[0], tcell.ModNone))
		if d.View() != tb.view {
			t.Errorf("tab %q names key %q, which opens %s", label, k, d.View())
		}
	}
}

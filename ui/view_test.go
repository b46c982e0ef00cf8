package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/truth"
	"github.com/zspy/zspy/monitor"
	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/zmtp"
)

func loadTruth(t testing.TB, name string) *truth.Truth {
	t.Helper()
	tr, err := truth.Load(filepath.Join("..", "testdata", "pcaps", name))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func endpoint(p truth.Peer) string { return fmt.Sprintf("%s:%d", p.Addr, p.Port) }

// caseDash replays a capture to its end and shows the last frame on a w×h
// screen.
func caseDash(t testing.TB, name string, w, h int, opt ModelOptions) (*Dashboard, tcell.SimulationScreen, []*Frame) {
	t.Helper()
	frames, m, log, rm := replayFrames(t, name, 100*time.Millisecond, opt)
	var d *Dashboard
	d, s := newDash(t, w, h, DashboardOptions{History: m.History, Select: func(id uint64) { detailInto(d.frame, log, rm, id) }})
	d.SetFrame(frames[len(frames)-1])
	return d, s, frames
}

// tableRows returns the connection-table lines (below the column header) that
// hold an endpoint, in screen order.
func tableRows(lines []string) []string {
	var out []string
	for _, l := range lines[2:] {
		if endpointRE.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

func TestConnectionsViewPubsub(t *testing.T) {
	tr := loadTruth(t, "pubsub")
	d, s, _ := caseDash(t, "pubsub", 80, 24, ModelOptions{})
	lines := draw(d, s)
	if len(lines) != 24 {
		t.Fatalf("%d lines", len(lines))
	}
	hdr := lines[1]
	// The replay has ended: totals lead (every rate is 0).
	for _, col := range []string{"CLIENT", "SERVER", "SOCKETS", "STATE", "↑MSGS", "↓MSGS", "BACKLOG"} {
		if !strings.Contains(hdr, col) {
			t.Errorf("80 columns: header %q lacks %s", hdr, col)
		}
	}
	rows := tableRows(lines)
	if len(rows) != len(tr.Connections) {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), len(tr.Connections), screenText(s))
	}
	for _, c := range tr.Connections {
		k := findLine(rows, endpoint(c.Client), endpoint(c.Server), c.Client.SocketType+"→"+c.Server.SocketType, c.State)
		if k < 0 {
			t.Errorf("no row for %s (%s → %s, %s):\n%s", c.ID, endpoint(c.Client), endpoint(c.Server), c.State, strings.Join(rows, "\n"))
		}
	}
	if !strings.Contains(lines[22], fmt.Sprintf("%d conns", len(tr.Connections))) || !strings.Contains(lines[22], "drops k0 i0") ||
		!strings.Contains(lines[22], "end of capture") {
		t.Errorf("status bar %q", lines[22])
	}
	// A wide terminal shows the cumulative columns too, with the counts.
	s.SetSize(160, 40)
	lines = draw(d, s)
	if !strings.Contains(lines[1], "↓MSGS") || !strings.Contains(lines[1], "MECH") {
		t.Errorf("160 columns: header %q", lines[1])
	}
	col := strings.Index(lines[1], "↓MSGS")
	for _, c := range tr.Connections {
		k := findLine(lines, endpoint(c.Client))
		if k < 0 {
			t.Fatalf("no row for %s", c.ID)
		}
		want := fmt.Sprint(*c.S2C.Messages)
		// Right-aligned: the count ends where the header ends.
		end := len([]rune(lines[1][:col])) + len([]rune("↓MSGS"))
		if cell := strings.TrimSpace(string([]rune(lines[k])[end-6 : end])); cell != want {
			t.Errorf("%s: ↓MSGS cell %q in %q, want %s", c.ID, cell, lines[k], want)
		}
		if !strings.Contains(lines[k], " "+want+" ") {
			t.Errorf("%s: row %q lacks its %s messages", c.ID, lines[k], want)
		}
	}
}

var endpointRE = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+:\d+`)

// rowOrder returns the client ports of the table rows, in screen order.
func rowOrder(lines []string) []string {
	var out []string
	for _, l := range tableRows(lines) {
		out = append(out, endpointRE.FindString(l))
	}
	return out
}

func TestConnectionsSortedOrder(t *testing.T) {
	tr := loadTruth(t, "pubsub")
	d, s, _ := caseDash(t, "pubsub", 120, 24, ModelOptions{})
	// The truth's order by messages received, most first.
	conns := slices.Clone(tr.Connections)
	slices.SortFunc(conns, func(a, b truth.Conn) int { return *b.S2C.Messages - *a.S2C.Messages })
	var want []string
	for _, c := range conns {
		want = append(want, endpoint(c.Client))
	}
	d.SetSort("↓MSGS", true)
	if got := rowOrder(draw(d, s)); !slices.Equal(got, want) {
		t.Errorf("by ↓MSGS descending: %v, want %v", got, want)
	}
	d.SetSort("↓MSGS", false)
	slices.Reverse(want)
	if got := rowOrder(draw(d, s)); !slices.Equal(got, want) {
		t.Errorf("by ↓MSGS ascending: %v, want %v", got, want)
	}
	if !strings.Contains(screenLines(s)[1], "↓MSGS▲") {
		t.Errorf("header does not mark the sort column: %q", screenLines(s)[1])
	}
	// All three have the same server and state: ties keep connection order.
	d.SetSort("SERVER", true)
	first := rowOrder(draw(d, s))
	d.SetSort("STATE", false)
	if got := rowOrder(draw(d, s)); !slices.Equal(got, first) {
		t.Errorf("ties: by STATE %v, by SERVER %v; both should be in connection order", got, first)
	}
	// A new frame with the same data does not move rows.
	d.SetSort("↓BYTES", true)
	before := rowOrder(draw(d, s))
	d.SetFrame(d.Frame())
	if after := rowOrder(draw(d, s)); !slices.Equal(after, before) {
		t.Errorf("rows moved on redraw: %v → %v", before, after)
	}
}

func TestConnectionsFilter(t *testing.T) {
	tr := loadTruth(t, "pubsub")
	d, s, _ := caseDash(t, "pubsub", 80, 24, ModelOptions{})
	byID := map[string]string{}
	subs := map[string][]string{}
	for _, c := range tr.Connections {
		byID[c.ID] = endpoint(c.Client)
		subs[endpoint(c.Client)] = c.Subscriptions
	}
	all := rowOrder(draw(d, s))
	// A subscription topic finds its subscriber (the filter sees beyond the cells).
	var topic, who string
	for ep, ss := range subs {
		for _, x := range ss {
			if x != "" {
				topic, who = x, ep
			}
		}
	}
	for _, c := range []struct {
		expr string
		want func(ep string) bool
	}{
		{topic, func(ep string) bool { return ep == who }},
		{"!" + topic, func(ep string) bool { return ep != who }},
		{strings.TrimPrefix(who, "127.0.0.1"), func(ep string) bool { return ep == who }},
		{"2602[01]$|:2602[01] ", func(ep string) bool { return strings.HasSuffix(ep, ":26020") || strings.HasSuffix(ep, ":26021") }},
		{"[bad", func(string) bool { return false }},
		{"", func(string) bool { return true }},
	} {
		d.SetFilter(c.expr)
		got := rowOrder(draw(d, s))
		var want []string
		for _, ep := range all {
			if c.want(ep) {
				want = append(want, ep)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("filter %q: rows %v, want %v", c.expr, got, want)
		}
		if c.expr != "" && !strings.Contains(screenLines(s)[23], c.expr) {
			t.Errorf("filter %q not shown on the hint line %q", c.expr, screenLines(s)[23])
		}
	}
}

func TestDetailPlainRedactsPassword(t *testing.T) {
	tr := loadTruth(t, "plain_ok")
	c := tr.Connections[0]
	for _, show := range []bool{false, true} {
		d, s, frames := caseDash(t, "plain_ok", 100, 60, ModelOptions{ShowSecrets: show})
		d.openDetail(frames[len(frames)-1].Rows[0].ID)
		lines := draw(d, s)
		k := findLine(lines, "mechanism PLAIN", "user "+c.PlainUsername)
		if k < 0 {
			t.Fatalf("no PLAIN user line:\n%s", strings.Join(lines, "\n"))
		}
		redacted := strings.Contains(lines[k], "password "+report.Redacted)
		if redacted == show {
			t.Errorf("show secrets %v: %q", show, lines[k])
		}
		if !show && strings.Contains(strings.Join(lines, "\n"), "secret") {
			t.Error("the password appears on screen")
		}
		for _, want := range []string{"Greeting", "client ZMTP " + c.ZMTPVersion, c.Client.SocketType, c.Server.SocketType,
			"Request → reply", fmt.Sprintf("messages           %d", *c.C2S.Messages)} {
			if !strings.Contains(strings.Join(lines, "\n"), want) {
				t.Errorf("detail lacks %q", want)
			}
		}
	}
}

func TestDetailPubsubSubscriptionsAndLog(t *testing.T) {
	tr := loadTruth(t, "pubsub")
	c := tr.Connections[0]
	d, s, frames := caseDash(t, "pubsub", 120, 200, ModelOptions{})
	var id uint64
	for _, r := range frames[len(frames)-1].Rows {
		if r.C.Client == endpoint(c.Client) {
			id = r.ID
		}
	}
	// The message log keeps events from the moment a connection is selected
	// (and the last of all): here the whole capture fits in the global ring.
	d.openDetail(id)
	lines := draw(d, s)
	text := strings.Join(lines, "\n")
	want := []string{
		fmt.Sprintf("Connection %d  %s → %s", id, endpoint(c.Client), endpoint(c.Server)),
		fmt.Sprintf("Subscriptions (%d,", len(c.Subscriptions)),
		"Traffic", "TCP backlog", "Monitor events", "History (msg/s: one point per second of packet time", "Recent events",
		fmt.Sprintf("messages           %d                   %d", *c.C2S.Messages, *c.S2C.Messages),
		"↑ SUBSCRIBE",
	}
	for _, s := range c.Subscriptions {
		want = append(want, fmt.Sprintf("%q", s))
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("detail lacks %q", w)
		}
	}
	// Every message in the log: frames, sizes, hex and text preview.
	msgs := 0
	for _, l := range lines {
		if strings.Contains(l, " ↓ msg 2F ") {
			msgs++
			if !strings.Contains(l, "] ") || !strings.Contains(l, `"`) || !strings.Contains(l, "|") {
				t.Errorf("message line %q lacks sizes or previews", l)
			}
		}
	}
	if msgs != *c.S2C.Messages {
		t.Errorf("%d message lines, want %d", msgs, *c.S2C.Messages)
	}
	// Back to the table.
	d.goBack()
	if d.View() != ViewConnections || !strings.Contains(draw(d, s)[1], "CLIENT") {
		t.Errorf("back: view %s", d.View())
	}
}

func TestTopologyView(t *testing.T) {
	for _, name := range []string{"pubsub", "dealer_router", "pushpull", "reqrep"} {
		tr := loadTruth(t, name)
		d, s, _ := caseDash(t, name, 120, 40, ModelOptions{})
		d.show(ViewTopology)
		lines := draw(d, s)
		srv := tr.Connections[0].Server
		k := findLine(lines, srv.SocketType+" "+endpoint(srv), fmt.Sprintf("%d peer(s)", len(tr.Connections)))
		if k < 0 {
			t.Errorf("%s: no group for %s %s:\n%s", name, srv.SocketType, endpoint(srv), strings.Join(lines, "\n"))
			continue
		}
		pattern := map[string]string{"pubsub": "pub/sub", "dealer_router": "router", "pushpull": "pipeline", "reqrep": "req/rep"}[name]
		if !strings.Contains(lines[k], pattern) {
			t.Errorf("%s: group line %q lacks pattern %s", name, lines[k], pattern)
		}
		for _, c := range tr.Connections {
			p := findLine(lines[k+1:], c.Client.SocketType+" "+endpoint(c.Client))
			if p < 0 {
				t.Errorf("%s: peer %s missing under its group", name, c.ID)
				continue
			}
			l := lines[k+1+p]
			if c.Client.Identity != nil && *c.Client.Identity != "" && !strings.Contains(l, "id="+*c.Client.Identity) {
				t.Errorf("%s: peer line %q lacks identity %q", name, l, *c.Client.Identity)
			}
			if name == "pushpull" && !strings.Contains(l, "──▶") {
				t.Errorf("%s: PUSH→PULL flow not drawn: %q", name, l)
			}
			for _, sub := range c.Subscriptions {
				if findLine(lines[k+1+p:k+3+p], "subscriptions:", fmt.Sprintf("%q", sub)) < 0 {
					t.Errorf("%s: subscription %q of %s not shown", name, sub, c.ID)
				}
			}
		}
	}
}

// slowAlert is the alert the rules engine would raise for the slow subscriber.
func slowAlert(tr *truth.Truth) Alert {
	for _, c := range tr.Connections {
		if c.ZeroWindow {
			return Alert{Rule: "slow-subscriber", Severity: SevCritical, State: StateFiring,
				Client: endpoint(c.Client), Server: endpoint(c.Server),
				Message: "receiver advertised a zero window", Since: t0}
		}
	}
	return Alert{}
}

func TestSlowSubscriberBacklogAndAlert(t *testing.T) {
	tr := loadTruth(t, "slow_subscriber")
	a := slowAlert(tr)
	if a.Rule == "" {
		t.Fatal("slow_subscriber truth marks no zero-window connection")
	}
	frames, m, log, _ := replayFrames(t, "slow_subscriber", 100*time.Millisecond, ModelOptions{})
	// Some frame catches the slow subscriber's receive window at zero.
	var zf *Frame
	for _, f := range frames {
		for _, r := range f.Rows {
			if r.C.Client == a.Client && r.ZeroWindow[1] {
				zf = f
			}
		}
	}
	if zf == nil {
		t.Fatal("no frame shows the slow subscriber's zero window")
	}
	zf.Alerts = []Alert{a}
	for _, r := range zf.Rows {
		if a.matches(r.C.Client, r.C.Server) {
			r.Alert, r.AlertRule = a.level(), a.Rule
		}
	}
	var d *Dashboard
	d, s := newDash(t, 80, 24, DashboardOptions{History: m.History, Select: func(id uint64) { detailInto(d.frame, log, nil, id) }})
	d.SetFrame(zf)
	lines := draw(d, s)
	k := findLine(lines, a.Client)
	if k < 0 || !strings.Contains(lines[k], "↓ZW ") {
		t.Fatalf("slow subscriber's row lacks the zero-window backlog:\n%s", strings.Join(lines, "\n"))
	}
	// At 80 columns the alert's rule is cut to the space left (the ID
	// column, sorted by, keeps its room).
	if !strings.Contains(lines[1], "ALERT") || !strings.Contains(lines[k], "slow…") {
		t.Errorf("no ALERT column for the alert: %q / %q", lines[1], lines[k])
	}
	// The row is red: the state cell takes the alert's colour.
	cells, w, _ := s.GetContents()
	x := strings.Index(lines[k], a.Client)
	if fg, _, _ := cells[k*w+x].Style.Decompose(); fg != tcell.ColorRed {
		t.Errorf("alert row colour %v, want red", fg)
	}
	if !strings.Contains(lines[0], "3 Alerts(1!)") {
		t.Errorf("tab line does not count the firing alert: %q", lines[0])
	}
	d.SetSort("BACKLOG", true)
	if rows := rowOrder(draw(d, s)); len(rows) == 0 || rows[0] != a.Client {
		t.Errorf("sorted by backlog, the slow subscriber is not first: %v", rows)
	}

	// The alerts view lists it with its evidence; Enter opens its connection.
	d.show(ViewAlerts)
	lines = draw(d, s)
	k = findLine(lines, "firing", "critical", "slow-subscriber", a.Client)
	if k < 0 {
		t.Fatalf("no alert row:\n%s", strings.Join(lines, "\n"))
	}
	d.alerts.Select(1, 0)
	d.alerts.InputHandler()(tcell.NewEventKey(tcell.KeyEnter, 0, tcell.ModNone), func(tview.Primitive) {})
	lines = draw(d, s)
	if d.View() != ViewDetail || findLine(lines, "Connection", a.Client+" → "+a.Server) < 0 {
		t.Errorf("Enter on the alert: view %s\n%s", d.View(), strings.Join(lines, "\n"))
	}
	s.SetSize(120, 60)
	text := strings.Join(draw(d, s), "\n")
	for _, want := range []string{"Alerts (1)", "slow-subscriber", "zero windows", "NOW"} {
		if !strings.Contains(text, want) {
			t.Errorf("detail lacks %q", want)
		}
	}
}

func TestManyConnectionsScroll(t *testing.T) {
	tr := loadTruth(t, "many_conns")
	d, s, _ := caseDash(t, "many_conns", 80, 24, ModelOptions{})
	lines := draw(d, s)
	rows := tableRows(lines)
	if len(rows) != 20 { // 24 lines: tabs, header, 20 rows, status, hints
		t.Fatalf("%d rows on an 80×24 screen, want 20", len(rows))
	}
	if !strings.Contains(lines[22], fmt.Sprintf("%d conns", len(tr.Connections))) {
		t.Errorf("status %q", lines[22])
	}
	key := func(k tcell.Key) {
		d.captureKey(tcell.NewEventKey(k, 0, tcell.ModNone))
	}
	key(tcell.KeyEnd)
	lines = draw(d, s)
	last := rowOrder(lines)
	sel := d.Selected()
	if sel == nil || last[len(last)-1] != sel.C.Client || sel.ID != uint64(len(tr.Connections)) {
		t.Errorf("End: selected %+v, last row %v", sel, last[len(last)-1])
	}
	key(tcell.KeyPgUp)
	if d.Selected().ID != uint64(len(tr.Connections)-20) {
		t.Errorf("PgUp: selected %d", d.Selected().ID)
	}
	key(tcell.KeyHome)
	if rowOrder(draw(d, s))[0] != d.Selected().C.Client || d.Selected().ID != 1 {
		t.Errorf("Home: selected %d", d.Selected().ID)
	}
}

func TestMouse(t *testing.T) {
	d, s, _ := caseDash(t, "pubsub", 120, 24, ModelOptions{})
	lines := draw(d, s)
	mouse := func(a tview.MouseAction, x, y int) {
		d.table.MouseHandler()(a, tcell.NewEventMouse(x, y, tcell.Button1, tcell.ModNone), func(tview.Primitive) {})
	}
	// Click the ↓BYTES header: sorted ascending; again: descending.
	x := strings.Index(lines[1], "↓BYTES")
	x = len([]rune(lines[1][:x]))
	mouse(tview.MouseLeftClick, x+1, 1)
	if name, desc := d.SortColumn(); name != "↓BYTES" || desc {
		t.Errorf("after a click on the header: sort %s desc=%v", name, desc)
	}
	mouse(tview.MouseLeftClick, x+1, 1)
	if _, desc := d.SortColumn(); !desc {
		t.Error("a second click does not reverse")
	}
	rows := rowOrder(draw(d, s))
	mouse(tview.MouseLeftClick, 5, 4) // third row
	if d.Selected().C.Client != rows[2] {
		t.Errorf("click on the third row selected %s, want %s", d.Selected().C.Client, rows[2])
	}
	mouse(tview.MouseLeftDoubleClick, 5, 3)
	if d.View() != ViewDetail || d.detailID != d.Selected().ID {
		t.Errorf("double-click: view %s", d.View())
	}
}

func TestFreezeLiveDisplay(t *testing.T) {
	a := handConn(1, "10.0.0.1:40000", "10.0.0.2:5555", zmtp.SUB, zmtp.PUB, 0, 5)
	m := NewModel(ModelOptions{})
	d, s := newDash(t, 80, 24, DashboardOptions{History: m.History})
	d.SetFrame(m.Apply(snapAt(t0.Add(time.Second), a)))
	d.togglePause() // no Control: freezes the display
	b := handConn(2, "10.0.0.3:40000", "10.0.0.2:5555", zmtp.SUB, zmtp.PUB, 0, 5)
	d.SetFrame(m.Apply(snapAt(t0.Add(2*time.Second), a, b)))
	lines := draw(d, s)
	if len(tableRows(lines)) != 1 || !strings.Contains(lines[22], "FROZEN") {
		t.Errorf("frozen display changed:\n%s", strings.Join(lines, "\n"))
	}
	d.togglePause()
	if lines = draw(d, s); len(tableRows(lines)) != 2 || strings.Contains(lines[22], "FROZEN") {
		t.Errorf("thawed display lacks the latest frame:\n%s", strings.Join(lines, "\n"))
	}
}

func TestHelpStatesRetention(t *testing.T) {
	d, s := newDash(t, 80, 150, DashboardOptions{})
	d.show(ViewHelp)
	text := strings.Join(draw(d, s), "\n")
	for _, want := range []string{"Retention", fmt.Sprintf("last %d points per connection", HistoryLen),
		fmt.Sprintf("last %d events of all connections", session.GlobalLogLen), fmt.Sprintf("last %d of the connection", session.ConnLogLen)} {
		if !strings.Contains(text, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestStatusLine(t *testing.T) {
	f := &Frame{Time: t0, Rows: rowsOf(1, 2)}
	down := &session.StoreStatus{Name: "influx", LastError: "connection refused"}
	f.Status = Status{PacketRate: 1500, Warnings: 3, Store: down, StoreLabel: StoreLabel(down), Skipped: 7,
		Player: session.PlayerState{Paused: true}}
	f.Status.Stats.Packets, f.Status.Stats.KernelDrops, f.Status.Stats.InternalDrops = 123456, 5, 9
	s := StatusLine(f, 10, true, false, 120, -1)
	for _, want := range []string{"12:00:00.000", "123k pkts 1.5k/s", "2 conns", "drops k5 i9", "ui7", "3 warn",
		"[red::b]influx DOWN", "PAUSED", "10×"} {
		if !strings.Contains(s, want) {
			t.Errorf("status %q lacks %q", s, want)
		}
	}
	up := &session.StoreStatus{Name: "influx", Up: true, Written: 5}
	f.Status.Store, f.Status.StoreLabel, f.Status.Player = up, StoreLabel(up), session.PlayerState{Live: true}
	s = StatusLine(f, 0, false, false, 120, -1)
	if !strings.Contains(s, "[green]influx ok") || !strings.Contains(s, "live") || strings.Contains(s, "max") {
		t.Errorf("live status %q", s)
	}
	if s := StatusLine(f, 0, false, true, 120, -1); !strings.Contains(s, "FROZEN") {
		t.Errorf("frozen status %q", s)
	}
}

func TestDetailMonitorEventsAndSparklines(t *testing.T) {
	frames, m, log, rm := replayFrames(t, "slow_subscriber", 100*time.Millisecond, ModelOptions{})
	f := frames[len(frames)-1]
	if len(frames) < 5 {
		t.Fatalf("only %d frames", len(frames))
	}
	r := f.Rows[0]
	f.Monitor = map[uint64][]string{r.ID: {"12:00:00.000 CONNECTED fd=12", "12:00:01.000 DISCONNECTED [::1]"}}
	var d *Dashboard
	d, s := newDash(t, 100, 80, DashboardOptions{History: m.History, Select: func(id uint64) { detailInto(d.frame, log, rm, id) }})
	d.SetFrame(f)
	d.openDetail(r.ID)
	lines := draw(d, s)
	if findLine(lines, "CONNECTED fd=12") < 0 || findLine(lines, "DISCONNECTED [::1]") < 0 {
		t.Errorf("monitor events missing:\n%s", strings.Join(lines, "\n"))
	}
	k := findLine(lines, "↓ msg/s ")
	if k < 0 {
		t.Fatalf("no rate sparkline:\n%s", strings.Join(lines, "\n"))
	}
	// One point per second of packet time (whatever the frames), the peak
	// a full block.
	secs := int(f.Time.Unix()-r.Rec.Start.Unix()) + 1
	spark := strings.Fields(lines[k])[2]
	if n := len([]rune(spark)); n != secs || !strings.Contains(spark, "█") {
		t.Errorf("sparkline %q: %d points for %d seconds of packet time", spark, n, secs)
	}
}

// The monitor events recorded with a capture (monitor/testdata/merge) show in
// the detail of the connection they were merged into, with the handshake's
// fate from both the wire and the monitors.
func TestDetailMergedMonitorEvents(t *testing.T) {
	dir := filepath.Join("..", "monitor", "testdata", "merge")
	raw, err := os.ReadFile(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Skipf("no merge test data: %v", err)
	}
	var evs []monitor.Event
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var ev monitor.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	src, err := capture.OpenFile(filepath.Join(dir, "capture.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	p := session.New(session.Config{Files: []capture.Source{src}})
	p.AddMonitorLog(session.MonitorEvents(evs))
	l := session.NewLatest()
	p.Subscribe(l)
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var last *session.Update
	for u := range l.C {
		if last = u; u.Player.Done {
			break
		}
	}
	f := NewModel(ModelOptions{}).Apply(last)
	var r *Row
	for _, x := range f.Rows {
		if x.Rec.MonitorSource[0] == "bad_password/plain_client" {
			r = x
		}
	}
	if r == nil {
		t.Fatal("no connection carries the bad_password monitor events")
	}
	d, s := newDash(t, 120, 80, DashboardOptions{})
	d.SetFrame(f)
	d.openDetail(r.ID)
	lines := draw(d, s)
	text := strings.Join(lines, "\n")
	for _, want := range []string{"handshake failed", "sources: client bad_password/plain_client, server bad_password/plain_server",
		"HANDSHAKE_FAILED_AUTH"} {
		if !strings.Contains(text, want) {
			t.Errorf("detail lacks %q:\n%s", want, text)
		}
	}
	if n := len(r.Rec.MonitorNotes); n == 0 || findLine(lines, r.Rec.MonitorNotes[n-1].Event) < 0 {
		t.Errorf("monitor events not listed")
	}
}

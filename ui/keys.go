package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/zspy/zspy/session"
)

// key is one keystroke: a special key, or a character (k is tcell.KeyRune).
type key struct {
	k tcell.Key
	r rune
}

func ch(r rune) key { return key{tcell.KeyRune, r} }

// keyOf returns the keystroke of an event (modifiers of characters aside, as
// the terminal sends 'N' for shift-n).
func keyOf(ev *tcell.EventKey) key {
	if ev.Key() == tcell.KeyRune {
		return ch(ev.Rune())
	}
	return key{k: ev.Key()}
}

// keyNames are the names the help page gives the special keys.
var keyNames = map[tcell.Key]string{
	tcell.KeyEnter: "⏎", tcell.KeyEscape: "esc", tcell.KeyBackspace: "⌫", tcell.KeyBackspace2: "⌫",
	tcell.KeyTab: "tab", tcell.KeyBacktab: "⇧tab", tcell.KeyCtrlC: "^C", tcell.KeyUp: "↑", tcell.KeyDown: "↓",
	tcell.KeyPgUp: "PgUp", tcell.KeyPgDn: "PgDn", tcell.KeyHome: "Home", tcell.KeyEnd: "End",
}

// String returns the key as the help page names it.
func (k key) String() string {
	switch {
	case k.k != tcell.KeyRune:
		if n, ok := keyNames[k.k]; ok {
			return n
		}
		return tcell.KeyNames[k.k]
	case k.r == ' ':
		return "space"
	}
	return string(k.r)
}

// binding is one line of the key table: keys, where they act and what they
// do, and how the help page and the hint line name them. The table (keyTable)
// is the only place keys are bound: dispatch (Dashboard.captureKey), the hint
// line and the help page all read it.
type binding struct {
	keys []key
	// views are the views the keys act in; nil means every view.
	views []string
	// when, if set, says whether the binding exists at all (a replay's keys,
	// a live capture's).
	when func(d *Dashboard) bool
	// act does what the keys do. Nil leaves the keys to the view's widget
	// (tview's scrolling, the alerts table's ⏎): the table still documents
	// and hints them.
	act func(d *Dashboard)
	// prompt is set on the bindings that act while the filter is typed.
	prompt bool
	// opens names the view the keys open: the header's tab for it shows
	// the first key.
	opens string

	// The help page: section, the keys' column and what they do. A binding
	// whose help is empty is described by another's line (the label of
	// which names its keys). A help of several lines continues under the
	// first; an inline one follows the previous binding's on its line.
	section, label, help string
	inline               bool

	// The hint line: hint ("⏎:detail") shows in hintViews (nil: views),
	// while hintIf holds; keep says how long it stays when the line is too
	// narrow (see fitLine). Hints of one view come before those of every
	// view, in table order.
	hint      string
	hintViews []string
	hintIf    func(d *Dashboard) bool
	keep      int
}

// Help page sections, in display order.
const (
	secViews   = "Views"
	secTable   = "Connections table"
	secReplay  = "Replay"
	secCursor  = "Topology and History"
	secStream  = "Stream (f)"
	helpIndent = "           " // where a help text's continuation lines start
)

// Conditions and sets of views the table uses. A new view joins allViews
// (dashboard.go); it then has the keys of every view but the table's and
// the stream's, and joins scrolled when tview scrolls it, toConn when it
// points at one connection (cursorConn says which).
var (
	inReplay = func(d *Dashboard) bool { return d.ctl != nil }
	inLive   = func(d *Dashboard) bool { return d.ctl == nil }
	notEnded = func(d *Dashboard) bool { return d.frame == nil || !d.frame.Status.Player.Done }
	notTable = allBut(ViewConnections)
	onTable  = []string{ViewConnections}
	// withCursor are the text views with a cursor on their items.
	withCursor = []string{ViewTopology, ViewHistory}
	onStream   = []string{ViewStream}
	// notStream are the views but the stream, whose / searches and n N
	// move between matches.
	notStream = allBut(ViewStream)
	// scrolled are the views tview scrolls itself.
	scrolled = []string{ViewDetail, ViewAlerts, ViewWarnings, ViewHelp}
	// toConn are the views that point at one connection, whose stream f
	// follows; exportable adds the stream itself.
	toConn     = []string{ViewConnections, ViewTopology, ViewHistory, ViewAlerts, ViewDetail}
	exportable = append(slices.Clone(toConn), ViewStream)
)

// allBut returns every view but v.
func allBut(v string) []string {
	return slices.DeleteFunc(slices.Clone(allViews), func(x string) bool { return x == v })
}

// keyTable binds every key the dashboard answers to. It is set by init: its
// actions lead back to it (an action redraws the hint line).
var keyTable []binding

func init() { keyTable = bindings() }

func bindings() []binding {
	return []binding{
		{keys: []key{ch('1'), ch('c')}, opens: ViewConnections, act: func(d *Dashboard) { d.show(ViewConnections) },
			section: secViews, label: "1 c", help: "Connections: one row per ZeroMQ connection"},
		{keys: []key{ch('2'), ch('t')}, opens: ViewTopology, act: func(d *Dashboard) { d.show(ViewTopology) },
			section: secViews, label: "2 t", help: "Topology: bound endpoints with their peers, by pattern"},
		{keys: []key{ch('3'), ch('a')}, opens: ViewAlerts, act: func(d *Dashboard) { d.show(ViewAlerts) },
			section: secViews, label: "3 a", help: "Alerts: firing and recent alerts with their evidence"},
		{keys: []key{ch('4'), ch('h')}, opens: ViewHistory, act: func(d *Dashboard) { d.show(ViewHistory) },
			section: secViews, label: "4 h", help: "History: every alert state change, newest last"},
		{keys: []key{ch('5'), ch('w')}, opens: ViewWarnings, act: func(d *Dashboard) { d.show(ViewWarnings) },
			section: secViews, label: "5 w", help: "Warnings: the store's state and last error, the capture's and the\n" +
				"monitor forwarders' warnings"},
		{keys: []key{ch('6'), ch('s')}, opens: ViewStages, act: (*Dashboard).showStages,
			section: secViews, label: "6 s", help: "Stages: brokers, forwarders, workers by process and by forwarding (per-hop p50/p99), processes"},
		{keys: []key{{k: tcell.KeyEnter}}, views: onTable, act: (*Dashboard).openSelected,
			section: secViews, label: "⏎", help: "open the selected connection (or the alert's connection)",
			hint: "⏎:detail", keep: 5},
		{keys: []key{{k: tcell.KeyEnter}}, views: []string{ViewAlerts}, // the alerts table's selected func
			section: secViews, hint: "⏎:connection", keep: 5},
		{keys: []key{{k: tcell.KeyEnter}}, views: withCursor, act: (*Dashboard).openHere,
			section: secViews, hint: "⏎:detail", keep: 5},
		{keys: []key{ch('f')}, views: toConn, act: (*Dashboard).openStreamHere,
			section: secViews, label: "f", help: `follow the connection's message stream (from any view that points at
one: the selected row, the topology's or history's cursor, the
alert, the detail shown), newest last, kept back to the last
` + fmt.Sprint(StreamLen) + ` events; / searches it, n N next / previous match`,
			hint: "f:stream", hintViews: []string{ViewDetail, ViewTopology}, keep: 5},

		{keys: []key{ch('e')}, views: exportable, act: (*Dashboard).exportHere,
			section: secViews, label: "e", help: `export the connection's packets, both directions, to a capture file
(replay: read again from its files, into zspy-connID.pcap in the
current directory; capture: from the files -w writes, and not
possible without -w: zspy keeps no packets)`,
			hint: "e:export", hintViews: []string{ViewDetail, ViewStream}, keep: 4},

		{keys: []key{{k: tcell.KeyUp}, ch('k')}, views: withCursor, act: func(d *Dashboard) { d.cursorView().move(-1) },
			section: secCursor, label: "↑↓ j k", help: "move the cursor (Topology: peers; History: changes)"},
		{keys: []key{{k: tcell.KeyDown}, ch('j')}, views: withCursor, act: func(d *Dashboard) { d.cursorView().move(1) },
			section: secCursor},
		{keys: []key{{k: tcell.KeyPgUp}}, views: withCursor, act: func(d *Dashboard) { c := d.cursorView(); c.move(-c.height() / 2) },
			section: secCursor, label: "PgUp PgDn", help: "half a page"},
		{keys: []key{{k: tcell.KeyPgDn}}, views: withCursor, act: func(d *Dashboard) { c := d.cursorView(); c.move(c.height() / 2) },
			section: secCursor},
		{keys: []key{ch('g'), {k: tcell.KeyHome}}, views: withCursor, act: func(d *Dashboard) { d.cursorView().move(-1 << 30) },
			section: secCursor, label: "g G", help: "first, last", inline: true},
		{keys: []key{ch('G'), {k: tcell.KeyEnd}}, views: withCursor, act: func(d *Dashboard) { d.cursorView().move(1 << 30) },
			section: secCursor},

		{keys: []key{{k: tcell.KeyUp}, ch('k')}, views: onStream, act: func(d *Dashboard) { d.streamMove(-1) },
			section: secStream, label: "↑↓ j k", help: "scroll (scrolling up stops following; G or End follows)"},
		{keys: []key{{k: tcell.KeyDown}, ch('j')}, views: onStream, act: func(d *Dashboard) { d.streamMove(1) },
			section: secStream},
		{keys: []key{{k: tcell.KeyPgUp}}, views: onStream, act: func(d *Dashboard) { d.streamMove(-d.streamHeight()) },
			section: secStream, label: "PgUp PgDn", help: "page up, down"},
		{keys: []key{{k: tcell.KeyPgDn}}, views: onStream, act: func(d *Dashboard) { d.streamMove(d.streamHeight()) },
			section: secStream},
		{keys: []key{ch('g'), {k: tcell.KeyHome}}, views: onStream, act: func(d *Dashboard) { d.streamEnd(false) },
			section: secStream, label: "g G", help: "oldest kept, newest (follow)", inline: true},
		{keys: []key{ch('G'), {k: tcell.KeyEnd}}, views: onStream, act: func(d *Dashboard) { d.streamEnd(true) },
			section: secStream},
		{keys: []key{ch('/')}, views: onStream, act: (*Dashboard).beginSearch,
			section: secStream, label: "/", help: "search: a case-insensitive regular expression over the lines\n(other text is matched literally; ! finds lines that do not match)",
			hint: "/:search", keep: 5},
		{keys: []key{ch('n')}, views: onStream, act: func(d *Dashboard) { d.streamFind(1) },
			section: secStream, label: "n N", help: "next / previous match", hint: "nN:match", keep: 5},
		{keys: []key{ch('N')}, views: onStream, act: func(d *Dashboard) { d.streamFind(-1) },
			section: secStream},
		{keys: []key{{k: tcell.KeyUp}, {k: tcell.KeyDown}, ch('k'), ch('j')}, views: scrolled, // tview's own
			section: secViews, hint: "↑↓:scroll", hintViews: []string{ViewDetail}, keep: 5},

		{keys: []key{{k: tcell.KeyUp}, ch('k')}, views: onTable, act: func(d *Dashboard) { d.table.move(-1) },
			section: secTable, label: "↑↓ j k", help: "move"},
		{keys: []key{{k: tcell.KeyDown}, ch('j')}, views: onTable, act: func(d *Dashboard) { d.table.move(1) },
			section: secTable},
		{keys: []key{{k: tcell.KeyPgUp}}, views: onTable, act: func(d *Dashboard) { d.table.move(-d.table.visible()) },
			section: secTable, label: "PgUp PgDn", help: "page up, down", inline: true},
		{keys: []key{{k: tcell.KeyPgDn}}, views: onTable, act: func(d *Dashboard) { d.table.move(d.table.visible()) },
			section: secTable},
		{keys: []key{ch('g'), {k: tcell.KeyHome}}, views: onTable, act: func(d *Dashboard) { d.table.move(-len(d.table.rows)) },
			section: secTable, label: "g Home", help: "top", inline: true},
		{keys: []key{ch('G'), {k: tcell.KeyEnd}}, views: onTable, act: func(d *Dashboard) { d.table.move(len(d.table.rows)) },
			section: secTable, label: "G End", help: "bottom", inline: true},
		{keys: []key{ch('/')}, views: notStream, act: (*Dashboard).beginFilter,
			section: secTable, label: "/", help: `filter: a case-insensitive regular expression over the
row's text (endpoints, sockets, state, mechanism, identities,
PLAIN user, subscriptions, alert rule, "alert", "error",
"zerowindow"); text that is not a valid expression is matched
literally; a leading ! keeps the rows that do NOT match.
⏎ keeps the filter, esc clears it.`,
			hint: "/:filter", hintViews: []string{ViewConnections, ViewTopology}, keep: 5},
		{keys: []key{ch('<'), ch(',')}, act: func(d *Dashboard) { d.sortNext(-1) },
			section: secTable, label: "< > , .", help: "sort by the previous / next column (or click a header)",
			hint: "<>:sort", hintViews: onTable, keep: 4},
		{keys: []key{ch('>'), ch('.')}, act: func(d *Dashboard) { d.sortNext(1) },
			section: secTable},
		{keys: []key{ch('T')}, views: onTable, act: (*Dashboard).toggleCounts,
			section: secTable, label: "T", help: `rates or totals first: which counts the columns lead with
(totals once a replay has ended, where every rate is 0; the
header says which); narrow terminals keep the leading ones`,
			hint: "T:rate/total", keep: 4},
		{keys: []key{ch('r')}, act: (*Dashboard).reverseSort,
			section: secTable, label: "r", help: "reverse the order; ties keep connection-ID order",
			hint: "r:rev", hintViews: onTable, keep: 4},

		{keys: []key{{k: tcell.KeyEscape}, {k: tcell.KeyBackspace}, {k: tcell.KeyBackspace2}}, act: (*Dashboard).goBack,
			section: secViews, label: "esc ⌫", help: "back; on Connections, clear the filter",
			hint: "esc:back", hintViews: notTable, keep: 5},
		{keys: []key{{k: tcell.KeyTab}}, act: func(d *Dashboard) { d.cycle(1) },
			section: secViews, label: "tab ⇧tab", help: "next / previous view"},
		{keys: []key{{k: tcell.KeyBacktab}}, act: func(d *Dashboard) { d.cycle(-1) },
			section: secViews},

		{keys: []key{ch(' '), ch('p')}, when: inReplay, act: (*Dashboard).togglePause,
			section: secReplay, label: "space p", help: "pause / resume (live capture: freeze the display)",
			hint: "space:pause", hintIf: notEnded, keep: 3},
		{keys: []key{ch(' '), ch('p')}, when: inLive, act: (*Dashboard).togglePause,
			section: secReplay, hint: "space:freeze", hintIf: notEnded, keep: 3},
		{keys: []key{ch('n')}, views: notStream, when: inReplay, act: func(d *Dashboard) { d.step(0) },
			section: secReplay, label: "n", help: "step one packet",
			hint: "n:step", hintIf: notEnded, keep: 3},
		{keys: []key{ch('N')}, views: notStream, when: inReplay, act: func(d *Dashboard) { d.step(time.Second) },
			section: secReplay, label: "N", help: "step one second of packet time", inline: true},
		{keys: []key{ch('+')}, when: inReplay, act: func(d *Dashboard) { d.setSpeed(d.faster()) },
			section: secReplay, label: "+ -", help: "double / halve the speed",
			hint: "+-:speed", hintIf: notEnded, keep: 2},
		{keys: []key{ch('-')}, when: inReplay, act: func(d *Dashboard) { d.setSpeed(d.slower()) },
			section: secReplay},
		{keys: []key{ch('=')}, when: inReplay, act: func(d *Dashboard) { d.setSpeed(1) },
			section: secReplay, label: "=", help: "real time", inline: true},
		{keys: []key{ch('m')}, when: inReplay, act: func(d *Dashboard) { d.setSpeed(0) },
			section: secReplay, label: "m", help: "as fast as possible", inline: true},

		{keys: []key{ch('?')}, opens: ViewHelp, act: (*Dashboard).toggleHelp,
			section: secViews, label: "?", help: "this help", inline: true,
			hint: "?:help", keep: keepAlways},
		{keys: []key{ch('q')}, act: func(d *Dashboard) { d.quit() },
			section: secViews, label: "q ^C", help: "quit", inline: true,
			hint: "q:quit", keep: keepAlways},
		{keys: []key{{k: tcell.KeyCtrlC}}, act: func(d *Dashboard) { d.quit() }, prompt: true,
			section: secViews},
	}
}

// cursorView returns the current view's cursor.
func (d *Dashboard) cursorView() *cursorText {
	if d.view == ViewHistory {
		return d.alertHist
	}
	return d.topo
}

// actsIn reports whether the binding's keys act in view.
func (b *binding) actsIn(d *Dashboard, view string) bool {
	return (b.views == nil || slices.Contains(b.views, view)) && (b.when == nil || b.when(d))
}

// opener returns the first key of the binding that opens view.
func opener(view string) (key, bool) {
	for _, b := range keyTable {
		if b.opens == view && len(b.keys) > 0 {
			return b.keys[0], true
		}
	}
	return key{}, false
}

// lookup returns the binding of k in the dashboard's current state, or nil.
func (d *Dashboard) lookup(k key) *binding {
	for i := range keyTable {
		b := &keyTable[i]
		if (d.editing && !b.prompt) || !slices.Contains(b.keys, k) || !b.actsIn(d, d.view) {
			continue
		}
		return b
	}
	return nil
}

// captureKey dispatches a key through the key table: a binding with an act
// takes it; any other key goes on to the focused widget (the filter prompt,
// tview's scrolling).
func (d *Dashboard) captureKey(ev *tcell.EventKey) *tcell.EventKey {
	if d.keyDone != nil {
		defer func() { d.keyDone <- struct{}{} }()
	}
	if d.notice != "" && !d.exporting {
		d.notice = ""
		defer d.updateChrome()
	}
	b := d.lookup(keyOf(ev))
	if b == nil || b.act == nil {
		return ev
	}
	b.act(d)
	return nil
}

// hintLine lists the keys of the current view, within the screen's width:
// the filter in force and help and quit always show; the replay keys go first
// when they do not fit, and are left out once the replay has ended.
func (d *Dashboard) hintLine() string {
	var hs []linePart
	w := d.width()
	if d.notice != "" {
		hs = append(hs, linePart{"[" + d.noticeColor + "]" + esc(truncate(d.notice, w)) + "[-]", keepAlways + 1})
	}
	if d.filter.Active() {
		hs = append(hs, linePart{"[yellow]" + esc(truncate(d.filter.String(), max(w/3, 12))) + "[-] ", keepAlways})
	}
	// This view's hints, then those of every view.
	for _, local := range []bool{true, false} {
		for i := range keyTable {
			b := &keyTable[i]
			views := b.hintViews
			if views == nil {
				views = b.views
			}
			if b.hint == "" || (views != nil) != local || !b.actsIn(d, d.view) || (views != nil && !slices.Contains(views, d.view)) ||
				(b.hintIf != nil && !b.hintIf(d)) {
				continue
			}
			k, word, _ := strings.Cut(b.hint, ":")
			hs = append(hs, linePart{"[aqua]" + k + "[-]:" + word, b.keep})
		}
	}
	return fitLine(hs, "", " ", w)
}

// helpSections are the help page's sections: the key table's, each followed
// by its notes, then text alone.
var helpSections = []struct{ name, notes string }{
	{secViews, ""},
	{secTable, `  Columns: ↑ is client→server, ↓ server→client. MSG/S and B/S are per
  second of packet time over the last screen update. MSGS with * are
  CURVE boxes (messages are encrypted). BACKLOG is the larger direction's
  bytes in flight (sent, not yet acknowledged); "ZW 1.2s" means that
  direction's receiver has advertised a zero window for 1.2 s (it is not
  reading). LAT is the request→reply median. SUBS are the subscribed
  topics, IDENTITY the client's routing ID, NOTES short facts (refused
  attempts before it and over how long, no subscription, unanswered
  requests, evicted). ALERT shows when an alert concerns a connection.
  Cut text ends in "…". Refused connects (a client started before its
  server) are not rows: the status bar counts them, Topology and
  Warnings (5) tell each start-up ("not listening for 3.2s: 22 connects
  refused; connection 23 got through").
  Colours: red/yellow rows carry firing/pending alerts; magenta rows have
  errors or incompatible socket types; grey rows are over (STATE in
  yellow: evicted at the cap on tracked connections, --max-connections).
`},
	{secCursor, ""},
	{secStream, ""},
	{secReplay, ""},
	{"Mouse", `  click a row to select it, double-click to open it, click a column
  header to sort (again to reverse), click a tab to switch views, wheel
  to scroll.
`},
	{"Retention (memory stays bounded)", fmt.Sprintf(`  Sparklines: the last %d points per connection: message rates one
  per second of packet time, latency and backlog one per screen update
  that advanced packet time. With the rate window, about 2.5 KB per
  connection.
  Rates: messages and bytes over the last second of packet time (the
  same at any replay speed; 0 once a connection has been quiet for a
  second).
  Events for the detail log: the last %d events of all connections,
  plus the last %d of the connection being viewed; the stream (f)
  keeps up to the last %d of it (about 2.2 MB), counting the rest.
  Alert history: up to the last %d changes; warnings: up to the
  last %d, and %d of the monitor forwarders'.
  Screen updates: at most one pending; a newer one replaces it and the
  skip is counted (status bar "ui N"). The screen redraws at most 5 times
  a second whatever the traffic.
  Connections: those the tracker keeps (closed ones may be evicted, and
  counted); its per-connection caps (subscriptions, identities, errors)
  apply here too.
`, HistoryLen, session.GlobalLogLen, session.ConnLogLen, StreamLen, AlertLogLen, WarningsLen, NotesLen)},
	{"Status bar", `  packet time │ packets and rate │ connections ("N of M" when a
  filter is on; "1 conn, 22 refused") │ connections evicted at
  --max-connections, when any │ drops: k kernel,
  i internal (zspy's queues), ui skipped screen updates │ warnings │
  the store's state ("influx DOWN, spool 13kB": always shown; the
  whole error in Warnings, 5) │ replay state and speed. When the pipeline warned (a
  capture cut short, a packet it could not read), the latest warning
  shows in yellow above the status bar; the report on quit lists all.
`},
}

// helpPage renders the help: every section's bindings (label and help, in
// table order), then its notes.
func helpPage() string {
	var b strings.Builder
	b.WriteString("[::b]zspy dashboard[::-]\n")
	for _, s := range helpSections {
		fmt.Fprintf(&b, "\n[yellow]%s[-]\n", s.name)
		var lines []string
		for i := range keyTable {
			k := &keyTable[i]
			if k.section != s.name || k.help == "" {
				continue
			}
			if k.inline && len(lines) > 0 {
				lines[len(lines)-1] += "   " + k.label + "  " + k.help
				continue
			}
			lines = append(lines, fmt.Sprintf("  %-8s %s", k.label, strings.ReplaceAll(k.help, "\n", "\n"+helpIndent)))
		}
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
		b.WriteString(s.notes)
	}
	return b.String()
}

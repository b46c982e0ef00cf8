package ui

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rivo/tview"

	"github.com/zspy/zspy/internal/textsafe"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// DetailInput is what the detail view of one connection shows.
type DetailInput struct {
	Row     *Row
	Alerts  []Alert  // alerts matching the connection
	Monitor []string // socket-monitor events for it
	// Series are the sparkline histories (index by Series* constants).
	Series [numSeries][]float32
	Log    []session.LogEntry // recent events, oldest first
	Width  int
}

// openDetail shows the detail of connection id, and asks the run for its
// events and rates from now on (Update.Detail).
func (d *Dashboard) openDetail(id uint64) {
	d.detailID = id
	if d.selectConn != nil {
		d.selectConn(id)
	}
	d.detail.ScrollToBeginning()
	d.show(ViewDetail)
}

// refreshDetail renders the detail view of the frame on screen.
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
	if dt := d.frame.Detail; dt != nil && dt.ID == r.ID {
		in.Series[SeriesRateC2S] = dt.Rates[0]
		in.Series[SeriesRateS2C] = dt.Rates[1]
		in.Log = dt.Log
	}
	d.detail.SetText(strings.Join(RenderDetail(in), "\n"))
}

// DetailAlerts returns the alerts of f that concern r.
func DetailAlerts(f *Frame, r *Row) []Alert {
	var out []Alert
	for _, a := range f.Alerts {
		if a.matches(r.C.Client, r.C.Server) {
			out = append(out, a)
		}
	}
	return out
}

// esc makes text from the wire, a monitor forwarder or a rule safe to show:
// controls, bidirectional overrides (U+202E...) and invalid bytes escaped
// (textsafe), and tview's colour tags neutralised.
func esc(s string) string { return tview.Escape(textsafe.String(s)) }

// visible quotes text that is empty or whose edges are white space (an
// identity of " " or "" would otherwise vanish from the screen); other text
// is shown as it is.
func visible(s string) string {
	if strings.TrimSpace(s) != s || s == "" {
		return strconv.Quote(s)
	}
	return s
}

func dashStr(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// RenderDetail renders the connection detail as tview-tagged lines: greeting,
// mechanism, metadata, PLAIN user (password as the row shows it, i.e.
// redacted unless secrets were asked for), subscriptions, traffic and backlog
// per direction, latency, errors, alerts, monitor events, sparklines and the
// recent message log.
func RenderDetail(in DetailInput) []string {
	r := in.Row
	v, c := r.Rec, &r.C
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	section := func(name string) { add("[yellow::b]%s[-::-]", name) }

	add("[::b]Connection %d[::-]  %s → %s  %s", r.ID, esc(c.Client), esc(c.Server), stateTag(v.State))
	d := v.Last.Sub(v.Start)
	how := "SYN seen"
	if !v.SawSYN {
		how = "joined mid-capture"
	}
	if v.MidStream {
		how += ", ZMTP mid-stream"
	}
	// wrapped adds plain text (escaped here) after indent, wrapped at the
	// view's width with continuation lines indented two more.
	wrappedIn := func(color, indent, text string) {
		for i, l := range wrapWords(text, in.Width-len(indent), 2) {
			if i > 0 {
				l = "  " + l
			}
			l = esc(l)
			if color != "" {
				l = "[" + color + "]" + l + "[-]"
			}
			out = append(out, indent+l)
		}
	}
	wrapped := func(indent, text string) { wrappedIn("", indent, text) }
	wrapped("  ", fmt.Sprintf("first packet %d, %s – %s (%s), %s", v.FirstPacket, fmtTime(v.Start), fmtTime(v.Last), fmtDur(d), how))
	if v.RefusedBefore > 0 {
		add("  [yellow]connected after %d refused attempt(s): the server was not listening for %s (from %s)[-]",
			v.RefusedBefore, fmtDur(v.NotListening()), fmtTime(v.RefusedFirst))
	}
	switch {
	case v.State == zmtp.StateEvicted:
		wrappedIn("yellow", "  ", "evicted at the cap on tracked connections (--max-connections, oldest idle first): "+
			"its traffic, if it comes back continuing it, resumes this record")
	case v.Unjoined && v.Continues != 0:
		wrappedIn("yellow", "  ", fmt.Sprintf("came back after an eviction but did not continue connection %d's sequence numbers: not joined to it", v.Continues))
	case v.Unjoined:
		wrappedIn("yellow", "  ", "came back after an eviction but did not continue the evicted connection's sequence numbers: not joined to it")
	case v.Evictions > 0:
		wrappedIn("yellow", "  ", fmt.Sprintf("resumed after %d eviction(s) at the cap on tracked connections", v.Evictions))
	}
	// The row's notes (RowNotes): short facts no section below holds
	// whole; the tracker's new facts join here and in the NOTES column.
	if len(c.Notes) > 0 {
		add("  notes: [yellow]%s[-]", esc(strings.Join(c.Notes, ", ")))
	}

	section("Greeting")
	for i, who := range []string{"client", "server"} {
		side := &v.Sides[i]
		sock := []zmtp.SocketType{v.ClientSocket, v.ServerSocket}[i]
		id := []string{c.ClientIdentity, c.ServerIdentity}[i]
		ver := "not captured"
		if side.Version != zmtp.VersionUnknown {
			ver = "ZMTP " + side.Version.String()
		}
		extra := ""
		if side.AsServer {
			extra += " as-server"
		}
		if v.HandshakeDone[i] {
			extra += " READY"
		}
		sent := slices.ContainsFunc(side.Metadata, func(p tracker.Property) bool { return p.Name == "Identity" })
		if id != "" || sent {
			extra += " identity " + esc(visible(id))
		}
		add("  %-6s %-16s %-7s%s", who, ver, dashStr(sock.String()), extra)
	}
	if v.RolesInferred {
		add("  [gray]socket types inferred from the traffic (no handshake captured)[-]")
	}
	if v.Handshake != zmtp.HandshakeNone {
		hs := v.Handshake.String()
		switch v.Handshake {
		case zmtp.HandshakeFailed:
			hs = "[red]failed[-]"
			if v.HandshakeError != "" {
				hs += ": " + esc(v.HandshakeError)
			}
		case zmtp.HandshakePending:
			hs = "[yellow]pending[-]"
		}
		add("  handshake %s", hs)
	}
	if !v.Compatible {
		add("  [red]incompatible socket types %s and %s[-]", v.ClientSocket, v.ServerSocket)
	}
	mech := dashStr(v.Mechanism.String())
	if v.PlainUsername != "" || c.PlainPassword != "" {
		mech += fmt.Sprintf("  user %s  password %s", esc(v.PlainUsername), esc(c.PlainPassword))
	}
	add("  mechanism %s", mech)
	for i, who := range []string{"client", "server"} {
		if line := metadataText(v.Sides[i].Metadata); line != "" {
			add("  %s metadata: %s", who, line)
		}
	}

	if len(v.Subscriptions) > 0 || len(v.SubHistory) > 0 {
		section(fmt.Sprintf("Subscriptions (%d, %d changes)", len(v.Subscriptions), len(v.SubHistory)))
		q := make([]string, len(c.Subscriptions))
		for k, s := range c.Subscriptions {
			q[k] = esc(fmt.Sprintf("%q", s))
		}
		if len(q) > 0 {
			add("  %s", strings.Join(q, " "))
		}
		start := max(0, len(v.SubHistory)-5)
		for _, h := range v.SubHistory[start:] {
			op := "subscribe"
			if h.Cancel {
				op = "cancel"
			}
			add("  %s %-9s %s (packet %d)", fmtTime(h.TS), op, esc(fmt.Sprintf("%q", tracker.Printable(h.Topic))), h.Packet)
		}
	}

	section("Traffic              ↑ client→server     ↓ server→client")
	unit := "messages"
	if v.Curve {
		unit = "boxes (CURVE)"
	}
	c2s, s2c := &v.Dirs[0], &v.Dirs[1]
	line := func(name string, a, b string) { add("  %-18s %-19s %s", name, a, b) }
	line(unit, fmt.Sprint(r.Msgs[0]), fmt.Sprint(r.Msgs[1]))
	line("frames", fmt.Sprint(c2s.Frames), fmt.Sprint(s2c.Frames))
	line("bytes", fmt.Sprint(c2s.Bytes), fmt.Sprint(s2c.Bytes))
	line("commands", fmt.Sprint(c2s.Commands), fmt.Sprint(s2c.Commands))
	line("msg/s", fmtSI(r.MsgRate[0]), fmtSI(r.MsgRate[1]))
	line("bytes/s", fmtSI(r.ByteRate[0]), fmtSI(r.ByteRate[1]))
	if c2s.Lost+s2c.Lost > 0 {
		line("[red]lost bytes[-]", fmt.Sprint(c2s.Lost), fmt.Sprint(s2c.Lost))
	}
	if c2s.Partial+s2c.Partial > 0 {
		line("open message frames", fmt.Sprint(c2s.Partial), fmt.Sprint(s2c.Partial))
	}
	section("TCP backlog")
	line("in flight (bytes)", fmt.Sprint(r.InFlight[0]), fmt.Sprint(r.InFlight[1]))
	line("receiver window", fmt.Sprint(v.TCP[0].Window), fmt.Sprint(v.TCP[1].Window))
	zw := func(i int) string {
		t := &v.TCP[i]
		s := fmt.Sprintf("%d (%.0fms)", t.ZeroWindows, ms(t.ZeroWindowTime))
		if r.ZeroWindow[i] {
			s = "[red]NOW[-] " + s
		}
		return s
	}
	line("zero windows", zw(0), zw(1))
	line("window full", fmt.Sprint(v.TCP[0].WindowFull), fmt.Sprint(v.TCP[1].WindowFull))
	line("retransmits", fmt.Sprint(v.TCP[0].Retransmits), fmt.Sprint(v.TCP[1].Retransmits))

	if l := &v.Latency; l.Count > 0 || v.Outstanding > 0 {
		section("Request → reply")
		if l.Count > 0 {
			add("  %d replies  p50 %.3fms  p99 %.3fms  max %.3fms  mean %.3fms", l.Count, ms(l.Quantile(0.5)),
				ms(l.Quantile(0.99)), ms(l.Max), ms(l.Mean()))
		}
		if v.Outstanding > 0 {
			add("  [yellow]%d unanswered, oldest since %s[-]", v.Outstanding, fmtTime(v.OldestRequest))
		}
	}
	if hasErrors(v) {
		errs := errorsOf(v)
		section(fmt.Sprintf("Errors (%d)", len(errs)))
		for _, e := range errs {
			wrappedIn("red", "  ", e)
		}
	}
	if len(in.Alerts) > 0 {
		section(fmt.Sprintf("Alerts (%d)", len(in.Alerts)))
		for _, a := range in.Alerts {
			add("  %s %s %s since %s:", alertTag(&a), a.Severity, esc(a.Rule), fmtTime(a.Since))
			if a.State == StateResolved && a.Resolution != "" {
				wrapped("    ", "resolved: "+a.Resolution)
				wrapped("    ", "it was: "+a.Message)
			} else {
				wrapped("    ", a.Message)
			}
			if fl := a.flow(); fl != "" {
				wrapped("    ", "flow: "+fl)
			}
			if l := labelsText(a.Labels); l != "" {
				wrapped("    ", "labels: "+l)
			}
		}
	}
	section("Monitor events")
	mon := len(v.MonitorNotes) > 0 || v.HasPipes[0] || v.HasPipes[1]
	if !mon && len(in.Monitor) == 0 {
		add("  [gray]none (merge socket-monitor events: --monitor, --monitor-log)[-]")
	}
	if mon {
		if v.MonitorSource[0] != "" || v.MonitorSource[1] != "" {
			add("  sources: client %s, server %s", esc(dashStr(v.MonitorSource[0])), esc(dashStr(v.MonitorSource[1])))
		}
		if v.MonitorHandshake != "" || v.MonitorDisconnects > 0 {
			add("  handshake %s, %d disconnect(s)", esc(dashStr(v.MonitorHandshake)), v.MonitorDisconnects)
		}
		for i, who := range []string{"client", "server"} {
			if p := &v.Pipes[i]; v.HasPipes[i] {
				add("  %s libzmq queues at %s: %d outbound, %d inbound (messages)", who, fmtTime(p.Time), p.Outbound, p.Inbound)
			}
		}
		for _, n := range v.MonitorNotes {
			line := fmtTime(n.Time) + " " + n.Event
			if n.Source != "" {
				line += " (" + n.Source + ")"
			}
			if n.Detail != "" {
				line += " " + n.Detail
			}
			add("  %s", esc(line))
		}
	}
	for _, m := range in.Monitor {
		add("  %s", esc(m))
	}

	sw := max(in.Width-24, 10)
	section("History (msg/s: one point per second of packet time; latency, backlog: per update)")
	spark := func(name string, s []float32, format func(float64) string) {
		var hi float32
		for _, v := range s {
			hi = max(hi, v)
		}
		add("  %-9s [green]%s[-] max %s", name, Sparkline(s, sw), format(float64(hi)))
	}
	spark("↑ msg/s", in.Series[SeriesRateC2S], fmtSI)
	spark("↓ msg/s", in.Series[SeriesRateS2C], fmtSI)
	// Latency points are milliseconds; µs-scale replies would read "0.0ms".
	spark("latency", in.Series[SeriesLatency], func(ms float64) string { return fmtDur(time.Duration(ms * float64(time.Millisecond))) })
	spark("backlog", in.Series[SeriesBacklog], func(b float64) string { return fmtSI(b) + "B" })

	section(fmt.Sprintf("Recent events (%d kept, newest last)", len(in.Log)))
	if len(in.Log) == 0 {
		add("  [gray]none yet (events are kept from the moment a connection is selected, and the last %d of all)[-]", session.GlobalLogLen)
	}
	hexN := 0
	if in.Width >= 100 {
		hexN = 16
	} else if in.Width >= 70 {
		hexN = 8
	}
	for i := range in.Log {
		add("  %s", esc(FormatEntry(&in.Log[i], hexN)))
	}
	if in.Width > 0 {
		for i := range out {
			out[i] = cutTagged(out[i], in.Width)
		}
	}
	return out
}

// labelsText returns an alert's labels as name=value pairs sorted by name,
// "" when there are none.
func labelsText(labels map[string]string) string {
	keys := slices.Sorted(maps.Keys(labels))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return strings.Join(parts, " ")
}

// metadataText returns a side's metadata as name=value pairs sorted by name
// (a name sent twice shows its last value), "" when there is none.
func metadataText(props []tracker.Property) string {
	if len(props) == 0 {
		return ""
	}
	m := make(map[string]string, len(props))
	for _, p := range props {
		m[p.Name] = tracker.Printable(p.Value)
	}
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for k, name := range keys {
		parts[k] = esc(name) + "=" + esc(m[name])
	}
	return strings.Join(parts, " ")
}

// ms returns d in milliseconds to the microsecond, as the report gives them.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("15:04:05.000")
}

func stateTag(s zmtp.ConnState) string {
	return "[" + stateColor(s) + "]" + s.String() + "[-]"
}

func stateColor(s zmtp.ConnState) string {
	switch s {
	case zmtp.StateOpen:
		return "green"
	case zmtp.StateReset, zmtp.StateRefused:
		return "red"
	case zmtp.StateIdle, zmtp.StateEvicted:
		return "yellow"
	}
	return "gray"
}

func alertTag(a *Alert) string {
	switch a.level() {
	case 3:
		return "[red::b]" + string(a.State) + "[-::-]"
	case 2:
		return "[red]" + string(a.State) + "[-]"
	case 1:
		return "[yellow]" + string(a.State) + "[-]"
	}
	return "[gray]" + string(a.State) + "[-]"
}

// wrapWords cuts text into lines of at most width runes at spaces (a word
// longer than a line is cut), continuation lines having room for hang runes
// less. A width of 0 or less leaves text whole.
func wrapWords(text string, width, hang int) []string {
	if width <= 0 || utf8.RuneCountInString(text) <= width {
		return []string{text}
	}
	var out []string
	w := width
	for utf8.RuneCountInString(text) > w {
		r := []rune(text)
		cut := w
		for i := w; i > w/2; i-- {
			if r[i] == ' ' {
				cut = i
				break
			}
		}
		out = append(out, strings.TrimRight(string(r[:cut]), " "))
		text = strings.TrimLeft(string(r[cut:]), " ")
		w = max(width-hang, 10)
	}
	if text != "" {
		out = append(out, text)
	}
	return out
}

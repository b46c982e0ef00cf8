package ui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rivo/tview"

	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/session"
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

func esc(s string) string { return tview.Escape(s) }

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
// mechanism, metadata, PLAIN user (password as the report renders it, i.e.
// redacted unless secrets were asked for), subscriptions, traffic and backlog
// per direction, latency, errors, alerts, monitor events, sparklines and the
// recent message log.
func RenderDetail(in DetailInput) []string {
	r := in.Row
	c := &r.C
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	section := func(name string) { add("[yellow::b]%s[-::-]", name) }

	add("[::b]Connection %d[::-]  %s → %s  %s", r.ID, esc(c.Client), esc(c.Server), stateTag(c.State))
	d := r.Last.Sub(r.Start)
	how := "SYN seen"
	if !c.SawSYN {
		how = "joined mid-capture"
	}
	if c.MidStream {
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
	wrapped("  ", fmt.Sprintf("first packet %d, %s – %s (%s), %s", c.FirstPacket, fmtTime(r.Start), fmtTime(r.Last), fmtDur(d), how))
	if c.RefusedBefore > 0 {
		add("  [yellow]connected after %d refused attempt(s)[-]", c.RefusedBefore)
	}

	section("Greeting")
	for i, who := range []string{"client", "server"} {
		sock := []string{c.ClientSocket, c.ServerSocket}[i]
		id := []string{c.ClientIdentity, c.ServerIdentity}[i]
		v := "not captured"
		if r.Version[i] != "" {
			v = "ZMTP " + r.Version[i]
		}
		extra := ""
		if r.AsServer[i] {
			extra += " as-server"
		}
		if r.Handshake[i] {
			extra += " READY"
		}
		if _, sent := []map[string]string{c.ClientMeta, c.ServerMeta}[i]["Identity"]; id != "" || sent {
			extra += " identity " + esc(visible(id))
		}
		add("  %-6s %-16s %-7s%s", who, v, dashStr(sock), extra)
	}
	if c.RolesInferred {
		add("  [gray]socket types inferred from the traffic (no handshake captured)[-]")
	}
	if c.Handshake != "" {
		hs := c.Handshake
		switch hs {
		case "failed":
			hs = "[red]failed[-]"
			if c.HandshakeError != "" {
				hs += ": " + esc(c.HandshakeError)
			}
		case "pending":
			hs = "[yellow]pending[-]"
		}
		add("  handshake %s", hs)
	}
	if !c.Compatible {
		add("  [red]incompatible socket types %s and %s[-]", c.ClientSocket, c.ServerSocket)
	}
	mech := dashStr(c.Mechanism)
	if c.PlainUsername != "" || c.PlainPassword != "" {
		mech += fmt.Sprintf("  user %s  password %s", esc(c.PlainUsername), esc(c.PlainPassword))
	}
	add("  mechanism %s", mech)
	for i, m := range []map[string]string{c.ClientMeta, c.ServerMeta} {
		if len(m) == 0 {
			continue
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for k, name := range keys {
			parts[k] = esc(name) + "=" + esc(m[name])
		}
		add("  %s metadata: %s", []string{"client", "server"}[i], strings.Join(parts, " "))
	}

	if len(c.Subscriptions) > 0 || len(c.SubHistory) > 0 {
		section(fmt.Sprintf("Subscriptions (%d, %d changes)", len(c.Subscriptions), len(c.SubHistory)))
		q := make([]string, len(c.Subscriptions))
		for k, s := range c.Subscriptions {
			q[k] = esc(fmt.Sprintf("%q", s))
		}
		if len(q) > 0 {
			add("  %s", strings.Join(q, " "))
		}
		start := max(0, len(c.SubHistory)-5)
		for _, h := range c.SubHistory[start:] {
			add("  %s %-9s %s (packet %d)", fmtTime(h.Time), h.Op, esc(fmt.Sprintf("%q", h.Topic)), h.Packet)
		}
	}

	section("Traffic              ↑ client→server     ↓ server→client")
	unit := "messages"
	if r.Curve {
		unit = "boxes (CURVE)"
	}
	line := func(name string, a, b string) { add("  %-18s %-19s %s", name, a, b) }
	line(unit, fmt.Sprint(r.Msgs[0]), fmt.Sprint(r.Msgs[1]))
	line("frames", fmt.Sprint(c.C2S.Frames), fmt.Sprint(c.S2C.Frames))
	line("bytes", fmt.Sprint(c.C2S.Bytes), fmt.Sprint(c.S2C.Bytes))
	line("commands", fmt.Sprint(c.C2S.Commands), fmt.Sprint(c.S2C.Commands))
	line("msg/s", fmtSI(r.MsgRate[0]), fmtSI(r.MsgRate[1]))
	line("bytes/s", fmtSI(r.ByteRate[0]), fmtSI(r.ByteRate[1]))
	if c.C2S.LostBytes+c.S2C.LostBytes > 0 {
		line("[red]lost bytes[-]", fmt.Sprint(c.C2S.LostBytes), fmt.Sprint(c.S2C.LostBytes))
	}
	if c.C2S.PartialFrames+c.S2C.PartialFrames > 0 {
		line("open message frames", fmt.Sprint(c.C2S.PartialFrames), fmt.Sprint(c.S2C.PartialFrames))
	}
	section("TCP backlog")
	line("in flight (bytes)", fmt.Sprint(r.InFlight[0]), fmt.Sprint(r.InFlight[1]))
	line("receiver window", fmt.Sprint(r.Window[0]), fmt.Sprint(r.Window[1]))
	zw := func(i int, cn zeroWin) string {
		s := fmt.Sprintf("%d (%.0fms)", cn.n, cn.ms)
		if r.ZeroWindow[i] {
			s = "[red]NOW[-] " + s
		}
		return s
	}
	line("zero windows", zw(0, zeroWin{c.C2S.ZeroWindows, c.C2S.ZeroWindowMS}), zw(1, zeroWin{c.S2C.ZeroWindows, c.S2C.ZeroWindowMS}))
	line("window full", fmt.Sprint(r.WindowFull[0]), fmt.Sprint(r.WindowFull[1]))
	line("retransmits", fmt.Sprint(c.C2S.Retransmits), fmt.Sprint(c.S2C.Retransmits))

	if c.Latency != nil || c.Outstanding > 0 {
		section("Request → reply")
		if l := c.Latency; l != nil {
			add("  %d replies  p50 %.3fms  p99 %.3fms  max %.3fms  mean %.3fms", l.Count, l.P50, l.P99, l.Max, l.Mean)
		}
		if c.Outstanding > 0 {
			add("  [yellow]%d unanswered, oldest since %s[-]", c.Outstanding, fmtTime(r.OldestRequest))
		}
	}
	if len(c.Errors) > 0 {
		section(fmt.Sprintf("Errors (%d)", len(c.Errors)))
		for _, e := range c.Errors {
			wrappedIn("red", "  ", e)
		}
	}
	if len(in.Alerts) > 0 {
		section(fmt.Sprintf("Alerts (%d)", len(in.Alerts)))
		for _, a := range in.Alerts {
			add("  %s %s %s since %s:", alertTag(&a), a.Severity, esc(a.Rule), fmtTime(a.Since))
			wrapped("    ", a.Message)
		}
	}
	section("Monitor events")
	mon := c.Monitor
	if mon == nil && len(in.Monitor) == 0 {
		add("  [gray]none (merge socket-monitor events: --monitor, --monitor-log)[-]")
	}
	if mon != nil {
		if mon.ClientSource != "" || mon.ServerSource != "" {
			add("  sources: client %s, server %s", esc(dashStr(mon.ClientSource)), esc(dashStr(mon.ServerSource)))
		}
		if mon.Handshake != "" || mon.Disconnects > 0 {
			add("  handshake %s, %d disconnect(s)", esc(dashStr(mon.Handshake)), mon.Disconnects)
		}
		for i, p := range []*report.Pipes{mon.ClientPipes, mon.ServerPipes} {
			if p != nil {
				add("  %s libzmq queues at %s: %d outbound, %d inbound (messages)", []string{"client", "server"}[i], fmtTime(p.Time), p.Outbound, p.Inbound)
			}
		}
		for _, n := range mon.Events {
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
	return out
}

// zeroWin is a zero-window count and its total duration.
type zeroWin struct {
	n  uint64
	ms float64
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("15:04:05.000")
}

func stateTag(s string) string {
	return "[" + stateColor(s) + "]" + s + "[-]"
}

func stateColor(s string) string {
	switch s {
	case "open":
		return "green"
	case "reset", "refused":
		return "red"
	case "idle":
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

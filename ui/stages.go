package ui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/rivo/tview"

	"github.com/zspy/zspy/host"
	"github.com/zspy/zspy/patterns"
	"github.com/zspy/zspy/tracing"
)

// ViewStages is the view of stages and processes: the brokers, forwarders
// and pipeline workers by process (host view) and by the messages they
// forward (message tracing, with per-hop times), and the processes that
// hold the connections' ends.
const ViewStages = "stages"

// showStages opens the Stages view; its page is made on first use.
func (d *Dashboard) showStages() {
	if !d.pages.HasPage(ViewStages) {
		tv := tview.NewTextView().SetDynamicColors(true).SetScrollable(true).SetWrap(false)
		d.pages.AddPage(ViewStages, tv, true, false)
	}
	d.show(ViewStages)
	d.App.SetFocus(d.pages.GetPage(ViewStages))
}

// refreshStages draws the frame's stages and processes.
func (d *Dashboard) refreshStages() {
	tv, ok := d.pages.GetPage(ViewStages).(*tview.TextView)
	if !ok {
		return
	}
	f := d.frame
	if f == nil {
		tv.SetText("[gray]waiting for the first packet…[-]")
		return
	}
	tv.SetText(strings.Join(RenderStages(f.Stages, f.Tracing, f.Host), "\n"))
}

// RenderStages lays out the stages by process, the traced stages with
// their hops, and the processes (tview color tags; text from the wire and
// from /proc escaped).
func RenderStages(stages []patterns.Stage, tr *tracing.Result, v *host.View) []string {
	var out []string
	esc := func(s string) string { return tview.Escape(TextPreview([]byte(s))) }
	proc := func(p *host.Process) string {
		if p == nil {
			return "unknown"
		}
		return fmt.Sprintf("%s[%d]", esc(p.Comm), p.PID)
	}
	out = append(out, "[::b]Stages by process[::-] (host view)")
	if len(stages) == 0 {
		out = append(out, "  [gray]none (live capture with the host view, or a pcapng written by capture -w, names processes)[-]")
	}
	for _, st := range stages {
		l := fmt.Sprintf("  %s %s: %s → %s; %d in, %d out", st.Kind, proc(st.Process), endsOf(st.Front, proc), endsOf(st.Back, proc), st.In, st.Out)
		if st.FrontRecvQ > 0 {
			l += fmt.Sprintf(", %d B unread", st.FrontRecvQ)
		}
		if st.Stalled {
			l += " [red::b]STALLED[-::-]"
		}
		out = append(out, l)
	}
	out = append(out, "", "[::b]Stages by forwarding[::-] (message tracing)")
	switch {
	case tr == nil:
		out = append(out, "  [gray]tracing is off (--no-trace)[-]")
	case len(tr.Stages) == 0:
		out = append(out, fmt.Sprintf("  [gray]none yet: %d messages, none forwarded by a ROUTER|DEALER, XSUB|XPUB or PULL|PUSH stage[-]", tr.Messages))
	}
	if tr != nil {
		for _, st := range tr.Stages {
			out = append(out, fmt.Sprintf("  %s on %s: %s → %s", st.Kind, esc(st.Host), tracedEnds(st.Front), tracedEnds(st.Back)))
			for i, h := range st.Hops {
				if h.Count == 0 {
					continue
				}
				out = append(out, fmt.Sprintf("      %-18s p50 %-9s p99 %-9s max %-9s %d", tracing.HopNames[i], fmtDur(h.P50), fmtDur(h.P99), fmtDur(h.Max), h.Count))
			}
			l := fmt.Sprintf("      %d never left, %d waiting", st.NeverLeft, st.Waiting)
			if st.NeverLeft > 0 {
				l = "[yellow]" + l + "[-]"
			}
			if st.Evicted+st.NotKept > 0 {
				l += fmt.Sprintf(", [yellow]%d evicted, %d not kept (caps)[-]", st.Evicted, st.NotKept)
			}
			out = append(out, l)
		}
		if c := tr.Counters; c.Evicted+c.NotKept+c.EndsOverflow+c.ConnsOverflow+c.StagesOverflow+c.OutstandingLost > 0 {
			out = append(out, fmt.Sprintf("  [yellow]caps reached: %d evicted, %d not kept, %d ends, %d connections, %d stages over their caps, %d requests untimed[-]",
				c.Evicted, c.NotKept, c.EndsOverflow, c.ConnsOverflow, c.StagesOverflow, c.OutstandingLost))
		}
	}
	out = append(out, "", "[::b]Processes[::-] (connection ends on this host)")
	type pc struct {
		p     *host.Process
		conns int
	}
	byPID := map[int]*pc{}
	if v != nil {
		for _, c := range v.Conns {
			for _, t := range c.Sides {
				if t == nil || t.First() == nil {
					continue
				}
				p := t.First()
				if byPID[p.PID] == nil {
					byPID[p.PID] = &pc{p: p}
				}
				byPID[p.PID].conns++
			}
		}
	}
	if len(byPID) == 0 {
		out = append(out, "  [gray]none known[-]")
	}
	ps := make([]*pc, 0, len(byPID))
	for _, p := range byPID {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b *pc) int { return cmp.Compare(a.p.PID, b.p.PID) })
	for _, p := range ps {
		l := fmt.Sprintf("  %-22s %3d ends", proc(p.p), p.conns)
		if p.p.User != "" {
			l += "  " + esc(p.p.User)
		}
		if p.p.Container != "" {
			l += "  container " + esc(p.p.Container)
		}
		if p.p.Cmdline != "" {
			l += "  [gray]" + esc(p.p.Cmdline) + "[-]"
		}
		out = append(out, l)
	}
	return out
}

func endsOf(es []patterns.End, proc func(*host.Process) string) string {
	if len(es) == 0 {
		return "-"
	}
	peers := make([]string, 0, len(es))
	for _, e := range es {
		if e.PeerProcess != nil {
			peers = append(peers, proc(e.PeerProcess))
		} else {
			peers = append(peers, tview.Escape(e.Peer))
		}
	}
	return fmt.Sprintf("%s %s (%s)", es[0].Socket, tview.Escape(es[0].Local), strings.Join(peers, ", "))
}

func tracedEnds(es []tracing.End) string {
	if len(es) == 0 {
		return "-"
	}
	var listen []string
	n := 0
	for _, e := range es {
		if e.Listen {
			listen = append(listen, e.Addr)
		} else {
			n++
		}
	}
	s := es[0].Socket.String() + " " + tview.Escape(strings.Join(listen, ","))
	if n > 0 {
		s += fmt.Sprintf(" +%d connecting", n)
	}
	return s
}

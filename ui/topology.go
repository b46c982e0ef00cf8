package ui

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// Group is one bound endpoint and the peers connected to it: the shape of a
// ZeroMQ pattern (a PUB and its SUBs, a ROUTER and its DEALERs, a PUSH and its
// PULLs...).
type Group struct {
	Server string
	// Socket is the bound side's socket type (SocketUnknown when no peer
	// said).
	Socket zmtp.SocketType
	// Pattern names the shape: "pub/sub", "req/rep", "router", "pipeline",
	// "pair", or "?".
	Pattern string
	Peers   []*Row // sorted by client endpoint, then ID
	// Rates summed over the peers, per direction (messages/s).
	In, Out float64
	Open    int
	// Startup are the start-up episodes of this endpoint: connects refused
	// while it was not listening (the refused ones are not peers).
	Startup []*tracker.RefusedAttempts
}

// withStartup attaches the start-up episodes to the groups of their server
// endpoints; an episode whose endpoint has no group (no connection got
// through yet) gets a group of its own, without peers, after the others
// when all is true (no filter hides it).
func withStartup(gs []Group, eps []tracker.RefusedAttempts, all bool) []Group {
	if len(eps) == 0 {
		return gs
	}
	// By the connection that got through (its endpoint may show by name),
	// else by the endpoint.
	idx := make(map[string]int, len(gs))
	byConn := make(map[uint64]int)
	for i := range gs {
		idx[gs[i].Server] = i
		for _, r := range gs[i].Peers {
			if r.Rec.RefusedBefore > 0 {
				byConn[r.ID] = i
			}
		}
	}
	for i := range eps {
		e := &eps[i]
		srv := e.Server.String()
		k, ok := byConn[e.Connection]
		if !ok || e.Connection == 0 {
			k, ok = idx[srv]
		}
		if !ok {
			if !all {
				continue
			}
			pattern := "not listening"
			if e.Connection != 0 {
				pattern = "start-up" // its connection is no longer listed
			}
			gs = append(gs, Group{Server: srv, Pattern: pattern})
			k = len(gs) - 1
			idx[srv] = k
		}
		gs[k].Startup = append(gs[k].Startup, e)
	}
	return gs
}

// patternOf names the pattern a bound socket type serves.
func patternOf(server, client zmtp.SocketType) string {
	switch server {
	case zmtp.PUB, zmtp.XPUB, zmtp.SUB, zmtp.XSUB:
		return "pub/sub"
	case zmtp.REP:
		return "req/rep"
	case zmtp.ROUTER:
		return "router"
	case zmtp.DEALER:
		if client == zmtp.REQ || client == zmtp.REP || client == zmtp.ROUTER || client == zmtp.DEALER {
			return "router"
		}
	case zmtp.PUSH, zmtp.PULL:
		return "pipeline"
	case zmtp.PAIR:
		return "pair"
	}
	return "?"
}

// BuildTopology groups rows by their bound endpoint (the server side), with
// the bound socket type, the pattern, and peer rates. Groups are ordered by
// pattern, then endpoint.
func BuildTopology(rows []*Row) []Group {
	idx := make(map[string]int)
	var gs []Group
	for _, r := range rows {
		k, ok := idx[r.C.Server]
		if !ok {
			k = len(gs)
			idx[r.C.Server] = k
			gs = append(gs, Group{Server: r.C.Server})
		}
		g := &gs[k]
		g.Peers = append(g.Peers, r)
		g.Out += r.MsgRate[1]
		g.In += r.MsgRate[0]
		if r.Rec.State == zmtp.StateOpen {
			g.Open++
		}
	}
	for i := range gs {
		g := &gs[i]
		// The bound side's type: the most frequent known one (the first by
		// name among equals).
		count := map[zmtp.SocketType]int{}
		client := zmtp.SocketUnknown
		for _, r := range g.Peers {
			if r.Rec.ServerSocket != zmtp.SocketUnknown {
				count[r.Rec.ServerSocket]++
			}
			if r.Rec.ClientSocket != zmtp.SocketUnknown && client == zmtp.SocketUnknown {
				client = r.Rec.ClientSocket
			}
		}
		g.Socket = zmtp.SocketUnknown
		best := 0
		for s, n := range count {
			if n > best || (n == best && s.String() < g.Socket.String()) {
				g.Socket, best = s, n
			}
		}
		g.Pattern = patternOf(g.Socket, client)
		if g.Socket == zmtp.SocketUnknown && client != zmtp.SocketUnknown {
			g.Pattern = patternOf(client, zmtp.SocketUnknown)
		}
		if g.Pattern == "?" && !slices.ContainsFunc(g.Peers, func(r *Row) bool { return !r.Rec.Curve }) {
			g.Pattern = "encrypted (CURVE)"
		}
		slices.SortFunc(g.Peers, func(a, b *Row) int {
			if c := a.Rec.Client.Compare(b.Rec.Client); c != 0 {
				return c
			}
			return cmp.Compare(a.ID, b.ID)
		})
	}
	slices.SortFunc(gs, func(a, b Group) int {
		if c := cmp.Compare(a.Pattern, b.Pattern); c != 0 {
			return c
		}
		return cmp.Compare(a.Server, b.Server)
	})
	return gs
}

// flowArrow shows which way messages flow between a bound socket and a peer.
func flowArrow(server, client zmtp.SocketType) string {
	switch {
	case server == zmtp.PUB || server == zmtp.XPUB || server == zmtp.PUSH || client == zmtp.PULL || client == zmtp.SUB || client == zmtp.XSUB:
		return "──▶"
	case server == zmtp.SUB || server == zmtp.XSUB || server == zmtp.PULL || client == zmtp.PUSH || client == zmtp.PUB || client == zmtp.XPUB:
		return "◀──"
	}
	return "◀─▶"
}

// RenderTopology renders the groups as tview-tagged lines: each bound
// endpoint, then its peers with rates, identities and subscriptions.
func RenderTopology(gs []Group, width int) []string {
	lines, _, _ := topologyLines(gs, width)
	return lines
}

// topologyLines renders the groups as RenderTopology does, with the peer
// (index into peers) each line shows (-1: a group's head).
func topologyLines(gs []Group, width int) (out []string, item []int, peers []*Row) {
	if len(gs) == 0 {
		return []string{"[gray]no ZeroMQ connections yet[-]"}, []int{-1}, nil
	}
	for _, g := range gs {
		head := fmt.Sprintf("[::b]%s %s[::-]  [aqua]%s[-]  %d peer(s), %d open  ↑%s ↓%s msg/s",
			esc(socketOrQuestion(g.Socket)), esc(g.Server), g.Pattern, len(g.Peers), g.Open, fmtSI(g.In), fmtSI(g.Out))
		out = append(out, head)
		item = append(item, -1)
		for _, e := range g.Startup {
			// The endpoint is the head's: the line starts after it (unless
			// the head names it).
			l := strings.TrimPrefix(StartupLine(e), g.Server+" ")
			out = append(out, " [yellow]start-up: "+esc(l)+"[-]")
			item = append(item, -1)
		}
		for i, r := range g.Peers {
			peers = append(peers, r)
			branch := "├"
			if i == len(g.Peers)-1 {
				branch = "└"
			}
			var b strings.Builder
			fmt.Fprintf(&b, " %s─%s %s %s", branch, flowArrow(r.Rec.ServerSocket, r.Rec.ClientSocket),
				esc(dash(r.Rec.ClientSocket.String())), esc(r.C.Client))
			if r.Rec.State != zmtp.StateOpen {
				fmt.Fprintf(&b, " [gray](%s)[-]", r.C.State)
			}
			fmt.Fprintf(&b, "  ↑%s ↓%s msg/s", fmtSI(r.MsgRate[0]), fmtSI(r.MsgRate[1]))
			if r.LatencyOK {
				fmt.Fprintf(&b, "  p50 %s", fmtDur(r.Latency))
			}
			if _, bl, z := r.Backlog(); z {
				fmt.Fprintf(&b, "  [red]zero window %sB[-]", fmtSI(float64(bl)))
			} else if bl > 0 {
				fmt.Fprintf(&b, "  backlog %sB", fmtSI(float64(bl)))
			}
			if r.C.ClientIdentity != "" {
				fmt.Fprintf(&b, "  id=%s", esc(r.C.ClientIdentity))
			}
			if r.Rec.PlainUsername != "" {
				fmt.Fprintf(&b, "  user=%s", esc(r.Rec.PlainUsername))
			}
			if r.AlertRule != "" {
				fmt.Fprintf(&b, "  [red]! %s[-]", esc(r.AlertRule))
			}
			out = append(out, b.String())
			item = append(item, len(peers)-1)
			if len(r.C.Subscriptions) > 0 {
				q := make([]string, len(r.C.Subscriptions))
				for k, s := range r.C.Subscriptions {
					q[k] = fmt.Sprintf("%q", s)
				}
				cont := "│"
				if i == len(g.Peers)-1 {
					cont = " "
				}
				out = append(out, fmt.Sprintf(" %s     subscriptions: %s", cont, esc(truncate(strings.Join(q, " "), max(width-22, 10)))))
				item = append(item, len(peers)-1)
			}
		}
	}
	for i := range out {
		out[i] = cutTagged(out[i], width)
	}
	return out, item, peers
}

// socketOrQuestion names a bound side's socket type, "?" when unknown.
func socketOrQuestion(s zmtp.SocketType) string {
	if s == zmtp.SocketUnknown {
		return "?"
	}
	return s.String()
}

// refreshTopology lays the filtered rows out as the Topology view.
func (d *Dashboard) refreshTopology() {
	rows := d.rows()
	var eps []tracker.RefusedAttempts
	if d.frame != nil {
		eps = d.frame.Refused
	}
	gs := withStartup(BuildTopology(rows), eps, !d.filter.Active())
	if len(gs) == 0 {
		d.topo.set([]string{"[gray]" + esc(emptyText(d.frame, d.filter)) + "[-]"}, []int{-1}, nil, nil)
		return
	}
	lines, item, peers := topologyLines(gs, d.width())
	keys := make([]string, len(peers))
	conns := make([]uint64, len(peers))
	for i, r := range peers {
		keys[i] = strconv.FormatUint(r.ID, 10)
		conns[i] = r.ID
	}
	d.topo.set(lines, item, keys, conns)
}

package rules

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// HWMParams are hwm_saturation's parameters. longframe's healthy PAIR
// closes its window for well under 1 ms while it takes a 64 MB frame in; a
// consumer that stops reading keeps it closed until it reads again.
type HWMParams struct {
	ZeroWindow, InFlightFull time.Duration
}

func (p *HWMParams) params() []param {
	return []param{
		{"zero_window", "zero-window time (one episode, or accrued since the last evaluation) that counts as a stall", &p.ZeroWindow},
		{"in_flight_full", "how long the sender's in-flight bytes may fill the window (seen at successive evaluations)", &p.InFlightFull},
	}
}

func init() {
	register(detectorDef[HWMParams]{
		Name:     "hwm_saturation",
		Doc:      "a receiver keeps its TCP window at zero (or the sender's in-flight bytes stay at the window) longer than a threshold: the consumer is stalled and the sender is at its high-water mark. Stalls with one cause (one consumer's connections, and the blocked senders' own stalled inputs upstream) are children of one root alert",
		Severity: SevCritical,
		Order:    1,
		Defaults: HWMParams{ZeroWindow: 100 * time.Millisecond, InFlightFull: time.Second},
		New: func(p HWMParams) detector {
			return &hwmDetector{HWMParams: p, fullSince: map[uint64]*[2]time.Time{}}
		},
	})
}

// atHWM says what a sender of type s does when its pipe to a stalled peer
// reaches the high-water mark.
func atHWM(s zmtp.SocketType) string {
	switch s {
	case zmtp.PUB, zmtp.XPUB, zmtp.RADIO:
		return "drops the messages for it"
	case zmtp.PUSH, zmtp.DEALER, zmtp.REQ, zmtp.PAIR, zmtp.CLIENT, zmtp.SCATTER, zmtp.CHANNEL, zmtp.PEER:
		return "blocks (send waits, or fails with EAGAIN when non-blocking)"
	case zmtp.ROUTER, zmtp.SERVER:
		return "drops the messages for it (or blocks/fails with EHOSTUNREACH under ROUTER_MANDATORY)"
	case zmtp.SUB, zmtp.XSUB:
		return "queues its subscriptions"
	}
	return "queues up to its high-water mark"
}

type hwmDetector struct {
	HWMParams
	// fullSince holds, per connection and direction, the first of the
	// successive evaluations that saw the sender's in-flight bytes fill the
	// window.
	fullSince map[uint64]*[2]time.Time
}

// settled: not ZMTP, or closed with no zero window open and the same record
// as at the evaluation before (so no zero-window time accrued since it).
func (d *hwmDetector) settled(c *tracker.Record, _, _ time.Time, same bool) bool {
	if c.Detection != zmtp.IsZMTP {
		return true
	}
	return same && c.Closed && d.ZeroWindow > 0 && c.TCP[0].ZeroSince.IsZero() && c.TCP[1].ZeroSince.IsZero()
}

func (d *hwmDetector) detect(ts time.Time, query QueryFunc, mon *monitorState) []*finding {
	var out []*finding
	recs := query(ts, Query{Unsettled: true}).Records
	// The zero-window time accrued since the last evaluation is the
	// difference to the connection's record then.
	prev := byID{recs: query(ts, Query{Back: 1}).Records}
	for _, c := range recs {
		if c.Detection != zmtp.IsZMTP {
			continue
		}
		var zeroBefore [2]time.Duration
		if p := prev.find(c.ID); p != nil && p.Detection == zmtp.IsZMTP {
			zeroBefore = [2]time.Duration{p.TCP[0].ZeroWindowTime, p.TCP[1].ZeroWindowTime}
		}
		fs := d.fullSince[c.ID]
		for i := range c.TCP {
			t := &c.TCP[i]
			var stalled time.Duration
			var since time.Time
			how := ""
			switch {
			case !t.ZeroSince.IsZero() && ts.Sub(t.ZeroSince) >= d.ZeroWindow:
				stalled, since = ts.Sub(t.ZeroSince), t.ZeroSince
				how = "has kept its TCP window at zero for " + fmtDur(stalled)
			case t.ZeroWindowTime-zeroBefore[i] >= d.ZeroWindow:
				stalled = t.ZeroWindowTime - zeroBefore[i]
				since = ts.Add(-stalled)
				how = "kept its TCP window at zero for " + fmtDur(stalled) + " (" + plural(t.ZeroWindows, "episode") + " so far)"
			}
			full := !c.Closed && t.Window > 0 && t.InFlight() >= t.Window
			switch {
			case !full && fs != nil:
				fs[i] = time.Time{}
			case full && fs == nil:
				fs = &[2]time.Time{}
				d.fullSince[c.ID] = fs
				fallthrough
			case full && fs[i].IsZero():
				fs[i] = ts
			}
			if how == "" && full && ts.Sub(fs[i]) >= d.InFlightFull {
				stalled, since = ts.Sub(fs[i]), fs[i]
				how = fmt.Sprintf("has left %d bytes unacknowledged, its whole window, for %s", t.InFlight(), fmtDur(stalled))
			}
			if how == "" {
				continue
			}
			// Direction i carries side i's messages to side 1-i, the consumer.
			snd, rcv := c.Sides[i].SocketType, c.Sides[1-i].SocketType
			f := connFinding(c, "/"+strconv.Itoa(i))
			f.since, f.value = since, ms(stalled)
			f.labels["dir"] = [2]string{"c2s", "s2c"}[i]
			f.labels["consumer"] = sideEP(c, 1-i)
			f.labels["consumer_type"] = sockName(rcv)
			f.labels["sender_type"] = sockName(snd)
			f.evidence = fmt.Sprintf("stalled consumer: %s %s %s; its sender %s %s %s at its high-water mark",
				sockName(rcv), sideEP(c, 1-i), how, sockName(snd), sideEP(c, i), atHWM(snd))
			f.flow(c, i)
			out = append(out, f)
		}
		if fs != nil && fs[0].IsZero() && fs[1].IsZero() {
			delete(d.fullSince, c.ID)
		}
	}
	out = group(out)
	// Forget connections that left the snapshot while full.
	if len(d.fullSince) > 0 {
		cur := byID{recs: recs}
		for id := range d.fullSince {
			if c := cur.find(id); c == nil || c.Detection != zmtp.IsZMTP {
				delete(d.fullSince, id)
			}
		}
	}
	return out
}

// host returns the address of an "ip:port" endpoint.
func host(ep string) string {
	if i := strings.LastIndexByte(ep, ':'); i >= 0 {
		return ep[:i]
	}
	return ep
}

// stallGroup is the stalls of one consumer endpoint.
type stallGroup struct {
	consumer, consumerType string
	since                  time.Time
	members                []*finding
	// root is the group this one is blocked behind (itself for a root).
	root *stallGroup
}

// group puts stalls that one consumer caused under one root alert, the
// Alertmanager idea of grouping and inhibition: every stalled connection of
// one consumer endpoint (a sink PULL and its workers) belongs to it, and so
// do the stalls upstream of its blocked senders: a consumer on the host of
// one of them that stalled later (the workers' PULLs, which stop reading
// while their PUSHes wait, and the ventilator behind them). Hosts stand for
// processes here (the wire knows no more); the root's message says so. A
// group of one connection stays a plain alert. The root's finding is
// put before out; its children keep their own alerts, labelled with the
// group.
func group(out []*finding) []*finding {
	if len(out) < 2 {
		return out
	}
	byConsumer := map[string]*stallGroup{}
	var groups []*stallGroup
	for _, f := range out {
		g := byConsumer[f.receiver]
		if g == nil {
			g = &stallGroup{consumer: f.receiver, consumerType: f.receiverSocket, since: f.since}
			byConsumer[f.receiver] = g
			groups = append(groups, g)
		}
		if f.since.Before(g.since) {
			g.since = f.since
		}
		g.members = append(g.members, f)
	}
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].since.Before(groups[j].since) })
	var roots []*finding
	for k, g := range groups {
		g.root = g
		for _, a := range groups[:k] {
			if a.since.After(g.since) {
				continue
			}
			blocked := false
			for _, m := range a.members {
				// Only a sender that blocks at its HWM stops its own
				// process from reading upstream; a PUB or ROUTER drops.
				if blocksAtHWM(m.senderSocket) && host(m.sender) == host(g.consumer) {
					blocked = true
					break
				}
			}
			if blocked {
				g.root = a.root
				break
			}
		}
	}
	for _, r := range groups {
		if r.root != r {
			continue
		}
		var direct, upstream []*finding
		var upSenders []string
		direct = r.members
		for _, g := range groups {
			if g != r && g.root == r {
				upstream = append(upstream, g.members...)
				for _, m := range g.members {
					if !contains(upSenders, m.senderSocket+" "+m.sender) {
						upSenders = append(upSenders, m.senderSocket+" "+m.sender)
					}
				}
			}
		}
		if len(direct)+len(upstream) < 2 {
			continue
		}
		id := "stalled " + r.consumerType + " " + r.consumer
		var senders []string
		for _, m := range direct {
			if !contains(senders, m.senderSocket+" "+m.sender) {
				senders = append(senders, m.senderSocket+" "+m.sender)
			}
		}
		var ev strings.Builder
		fmt.Fprintf(&ev, "%s %s stopped reading; %s blocked behind it (%s)", r.consumerType, r.consumer,
			are(len(senders), "sender"), strings.Join(senders, ", "))
		if len(upstream) > 0 {
			fmt.Fprintf(&ev, ", and %s upstream of them (%s: its consumers stalled later, on those senders' hosts)",
				are(len(upSenders), "more"), strings.Join(upSenders, ", "))
		}
		fmt.Fprintf(&ev, ": %d stalled connections, one cause", len(direct)+len(upstream))
		root := &finding{key: "root|" + r.consumer, since: r.since, value: float64(len(direct) + len(upstream)),
			receiver: r.consumer, receiverSocket: r.consumerType, group: id, root: true,
			labels: map[string]string{"consumer": r.consumer, "consumer_type": r.consumerType}}
		// The root names the consumer in its connections' roles: the
		// server when it bound, else its one connection.
		m := direct[0]
		if m.server == r.consumer {
			root.server = r.consumer
		} else {
			root.client, root.server = m.client, m.server
		}
		root.evidence = ev.String()
		for _, m := range direct {
			m.group = id
		}
		for _, m := range upstream {
			m.group = id
		}
		roots = append(roots, root)
	}
	// Roots first: a change batch (the console, the webhook) and the report
	// list the cause before the connections that suffer from it.
	return append(roots, out...)
}

// resolve says how a stall ended: the window open again (with what is in
// flight now), or, for a root, no stalled connection left.
func (d *hwmDetector) resolve(en *entry, ts time.Time, query QueryFunc) string {
	a := en.alert
	if a.Root {
		return fmt.Sprintf("%s %s reads again: none of its group's connections is stalled", a.ReceiverSocket, a.Receiver)
	}
	c := en.record(ts, query)
	if c == nil || c.Closed {
		return ""
	}
	i := 0
	if a.Labels["dir"] == "s2c" {
		i = 1
	}
	t := &c.TCP[i]
	return fmt.Sprintf("%s %s reads again: TCP window %d bytes, %d in flight (zero-window threshold %s)",
		a.ReceiverSocket, a.Receiver, t.Window, t.InFlight(), d.ZeroWindow)
}

// are says "1 sender is" or "3 senders are".
func are(n int, what string) string {
	if what == "more" {
		if n == 1 {
			return "1 more is"
		}
		return itoa(int64(n)) + " more are"
	}
	if n == 1 {
		return "1 " + what + " is"
	}
	return itoa(int64(n)) + " " + what + "s are"
}

// blocksAtHWM reports whether a sender of the named socket type blocks at
// its high-water mark (rather than dropping).
func blocksAtHWM(typ string) bool {
	switch typ {
	case "PUSH", "DEALER", "REQ", "PAIR", "CLIENT", "SCATTER", "CHANNEL", "PEER":
		return true
	}
	return false
}

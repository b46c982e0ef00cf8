package rules

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zspy/zspy/monitor"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// detector is a built-in condition. Each rule has its own instance, which may
// keep state between evaluations (previous counters); detect runs once per
// evaluation, in time order.
type detector interface {
	detect(ts time.Time, in *Input) []*finding
}

type paramSpec struct {
	name string
	def  any // time.Duration, float64, int or bool: the kind and the default
	doc  string
}

type detectorSpec struct {
	name     string
	doc      string
	severity Severity
	params   []paramSpec
	build    func(p params) detector
}

type params map[string]any

func (p params) dur(k string) time.Duration { return p[k].(time.Duration) }
func (p params) num(k string) float64       { return p[k].(float64) }
func (p params) int(k string) int           { return p[k].(int) }

func (s *detectorSpec) defaults() map[string]any {
	m := make(map[string]any, len(s.params))
	for _, p := range s.params {
		m[p.name] = p.def
	}
	return m
}

func (s *detectorSpec) param(name string) *paramSpec {
	for i := range s.params {
		if s.params[i].name == name {
			return &s.params[i]
		}
	}
	return nil
}

// hold is how long a finished connection's failure (a failed handshake, an
// abandoned request, an incompatible pair) keeps its alert firing after the
// connection closed; live, this lets a fault be seen and then resolve.
var holdParam = paramSpec{"hold", 5 * time.Minute, "how long after a connection closed its failure keeps the alert"}

// The built-in detectors. The defaults are tuned on the corpus in
// testdata/pcaps: every healthy capture stays silent; the reasons are given
// per parameter.
var detectors = map[string]*detectorSpec{
	"hwm_saturation": {
		name:     "hwm_saturation",
		doc:      "a receiver keeps its TCP window at zero (or the sender's in-flight bytes stay at the window) longer than a threshold: the consumer is stalled and the sender is at its high-water mark",
		severity: SevCritical,
		params: []paramSpec{
			// longframe's healthy PAIR closes its window for well under 1 ms
			// while it takes a 64 MB frame in; a consumer that stops reading keeps
			// it closed until it reads again.
			{"zero_window", 100 * time.Millisecond, "zero-window time (one episode, or accrued since the last evaluation) that counts as a stall"},
			{"in_flight_full", time.Second, "how long the sender's in-flight bytes may fill the window (seen at successive evaluations)"},
		},
		build: func(p params) detector {
			return &hwmDetector{zero: p.dur("zero_window"), full: p.dur("in_flight_full"), prev: map[uint64]*hwmPrev{}}
		},
	},
	"pipes_stats_depth": {
		name:     "pipes_stats_depth",
		doc:      "a socket monitor's PIPES_STATS shows a pipe's queue above a fraction of the high-water mark",
		severity: SevWarning,
		params: []paramSpec{
			{"hwm", 1000, "the high-water mark the sockets use (libzmq's default SNDHWM/RCVHWM is 1000)"},
			{"fraction", 0.8, "the fraction of hwm a queue may reach"},
		},
		build: func(p params) detector { return &pipesDetector{hwm: p.int("hwm"), frac: p.num("fraction")} },
	},
	"slow_subscriber": {
		name:     "slow_subscriber",
		doc:      "a SUB receives far less than the best subscriber of the same publisher with the same subscriptions",
		severity: SevWarning,
		params: []paramSpec{
			// pubsub's and zmq4_pubsub's subscribers differ by topic, hence the
			// grouping by subscription set; their rates (tens of messages a
			// second) are below min_best_rate as well.
			{"ratio", 0.2, "a subscriber below this fraction of the best one's delivered rate is slow"},
			{"min_best_rate", 100.0, "messages per second the best subscriber must get before others are compared with it"},
		},
		build: func(p params) detector {
			return &slowSubDetector{ratio: p.num("ratio"), minBest: p.num("min_best_rate"), prev: map[uint64]uint64{}}
		},
	},
	"stuck_request": {
		name:     "stuck_request",
		doc:      "a REQ (or a DEALER talking to REP/ROUTER) waits for a reply past a timeout, or gave up and closed with the request unanswered",
		severity: SevWarning,
		params: []paramSpec{
			{"timeout", time.Second, "how long an open connection's oldest request may wait"},
			holdParam,
		},
		build: func(p params) detector { return &stuckDetector{timeout: p.dur("timeout"), hold: p.dur("hold")} },
	},
	"rep_stopped_replying": {
		name:     "rep_stopped_replying",
		doc:      "a REP or ROUTER endpoint that used to reply has sent no reply for a while although requests wait on its open connections",
		severity: SevCritical,
		params: []paramSpec{
			{"silence", 5 * time.Second, "how long without any reply while requests wait"},
		},
		build: func(p params) detector { return &repStoppedDetector{silence: p.dur("silence")} },
	},
	"handshake_failure": {
		name:     "handshake_failure",
		doc:      "a ZMTP handshake failed: mechanism mismatch, an ERROR command (authentication failure), a close during the handshake, or a monitor's HANDSHAKE_FAILED_* event",
		severity: SevCritical,
		params:   []paramSpec{holdParam},
		build:    func(p params) detector { return &handshakeDetector{hold: p.dur("hold")} },
	},
	"incompatible_sockets": {
		name:     "incompatible_sockets",
		doc:      "the two sides' socket types cannot talk (e.g. PUB connected to PUSH): libzmq drops the connection",
		severity: SevCritical,
		params:   []paramSpec{holdParam},
		build:    func(p params) detector { return &incompatibleDetector{hold: p.dur("hold")} },
	},
	"reconnect_storm": {
		name:     "reconnect_storm",
		doc:      "connects to a server endpoint are refused (or a monitor reports CONNECT_RETRIED) repeatedly within a window: the server is not up",
		severity: SevWarning,
		params: []paramSpec{
			// late_bind's REQ is refused twice before its REP binds: a client
			// that keeps retrying shows the same sign from the second refusal.
			{"window", 10 * time.Second, "the window the attempts are counted in"},
			{"min_refused", 2, "refused connects (SYN answered by RST) in the window"},
			{"min_retries", 3, "monitor CONNECT_RETRIED events per socket and endpoint in the window"},
		},
		build: func(p params) detector {
			return &reconnectDetector{window: p.dur("window"), minRefused: p.int("min_refused"), minRetries: p.int("min_retries")}
		},
	},
	"pub_no_subscribers": {
		name:     "pub_no_subscribers",
		doc:      "a SUB connected to a publisher that is publishing has subscribed to nothing: it receives no message",
		severity: SevWarning,
		params: []paramSpec{
			{"grace", time.Second, "how long after connecting a SUB may go without a subscription"},
		},
		build: func(p params) detector {
			return &noSubDetector{grace: p.dur("grace"), prev: map[string]uint64{}}
		},
	},
	"heartbeat_timeout": {
		name:     "heartbeat_timeout",
		doc:      "PINGs go unanswered by PONGs past a timeout (ZMTP 3.1 heartbeats)",
		severity: SevCritical,
		params: []paramSpec{
			// heartbeat's peers answer every PING within a millisecond; at the
			// end of a capture one PING may still be in flight.
			{"timeout", time.Second, "how long PINGs may go unanswered"},
			{"min_unanswered", 2, "unanswered PINGs needed"},
			holdParam,
		},
		build: func(p params) detector {
			return &heartbeatDetector{timeout: p.dur("timeout"), min: p.int("min_unanswered"), hold: p.dur("hold")}
		},
	},
}

// builtinOrder is the order of the built-in rules.
var builtinOrder = []string{"hwm_saturation", "pipes_stats_depth", "slow_subscriber", "stuck_request",
	"rep_stopped_replying", "handshake_failure", "incompatible_sockets", "reconnect_storm",
	"pub_no_subscribers", "heartbeat_timeout"}

// DetectorNames returns the built-in detectors' names.
func DetectorNames() []string {
	names := make([]string, 0, len(detectors))
	for n := range detectors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DetectorDoc returns a detector's description and its parameters with
// defaults and meaning, for `zspy rules list`.
func DetectorDoc(name string) (doc string, params []string) {
	s := detectors[name]
	if s == nil {
		return "", nil
	}
	for _, p := range s.params {
		params = append(params, fmt.Sprintf("%s=%s: %s", p.name, formatParam(p.def), p.doc))
	}
	return s.doc, params
}

// Builtins returns fresh built-in rules (one per detector, with defaults),
// the rules zspy runs when no rule file says otherwise.
func Builtins() []*Rule {
	out := make([]*Rule, 0, len(builtinOrder))
	for _, n := range builtinOrder {
		s := detectors[n]
		r := &Rule{Name: n, Group: "builtin", Detector: n, Params: s.defaults(), Severity: s.severity, Builtin: true}
		if err := r.compile(); err != nil {
			panic(err)
		}
		out = append(out, r)
	}
	return out
}

// Endpoint and socket naming.

func sockName(s zmtp.SocketType) string {
	if n := s.String(); n != "" {
		return n
	}
	return "unknown"
}

// sideEP returns the endpoint of side i (0 the client, 1 the server).
func sideEP(c *tracker.Record, i int) string {
	if i == 0 {
		return c.Client.String()
	}
	return c.Server.String()
}

func connKey(c *tracker.Record) string {
	return c.Client.String() + "-" + c.Server.String() + "#" + strconv.FormatUint(c.ID, 10)
}

func connFinding(c *tracker.Record, suffix string) *finding {
	client, server := c.ClientSocket, c.ServerSocket
	return &finding{
		key: connKey(c) + suffix, client: c.Client.String(), server: c.Server.String(),
		labels: map[string]string{"client_type": sockName(client), "server_type": sockName(server)},
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.String()
}

func plural(n uint64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.FormatUint(n, 10) + " " + what + "s"
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// closedTooLong reports whether a closed connection's failure is older than hold.
func closedTooLong(c *tracker.Record, ts time.Time, hold time.Duration) bool {
	return c.Closed && ts.Sub(c.Last) >= hold
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

// hwm_saturation

type hwmDetector struct {
	zero, full time.Duration
	prev       map[uint64]*hwmPrev
}

type hwmPrev struct {
	zeroTime  [2]time.Duration
	fullSince [2]time.Time
}

func (d *hwmDetector) detect(ts time.Time, in *Input) []*finding {
	var out []*finding
	seen := make(map[uint64]bool, len(in.Records))
	for _, c := range in.Records {
		if c.Detection != zmtp.IsZMTP {
			continue
		}
		seen[c.ID] = true
		p := d.prev[c.ID]
		if p == nil {
			p = &hwmPrev{}
			d.prev[c.ID] = p
		}

		for i := range c.TCP {
			t := &c.TCP[i]
			var stalled time.Duration
			var since time.Time
			how := ""
			switch {
			case !t.ZeroSince.IsZero() && ts.Sub(t.ZeroSince) >= d.zero:
				stalled, since = ts.Sub(t.ZeroSince), t.ZeroSince
				how = "has kept its TCP window at zero for " + fmtDur(stalled)
			case t.ZeroWindowTime-p.zeroTime[i] >= d.zero:
				stalled = t.ZeroWindowTime - p.zeroTime[i]
				since = ts.Add(-stalled)
				how = "kept its TCP window at zero for " + fmtDur(stalled) + " (" + plural(t.ZeroWindows, "episode") + " so far)"
			}
			full := !c.Closed && t.Window > 0 && t.InFlight() >= t.Window
			if !full {
				p.fullSince[i] = time.Time{}
			} else if p.fullSince[i].IsZero() {
				p.fullSince[i] = ts
			}
			if how == "" && full && ts.Sub(p.fullSince[i]) >= d.full {
				stalled, since = ts.Sub(p.fullSince[i]), p.fullSince[i]
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
			out = append(out, f)
		}
		for i := range c.TCP {
			p.zeroTime[i] = c.TCP[i].ZeroWindowTime
		}
	}
	for id := range d.prev {
		if !seen[id] {
			delete(d.prev, id)
		}
	}
	return out
}

// pipes_stats_depth

type pipesDetector struct {
	hwm  int
	frac float64
}

func (d *pipesDetector) detect(ts time.Time, in *Input) []*finding {
	if in.Monitor == nil || d.hwm <= 0 {
		return nil
	}
	limit := d.frac * float64(d.hwm)
	var out []*finding
	for _, p := range in.Monitor.Pipes {
		depth, which := p.Outbound, "outbound (towards the peer)"
		if p.Inbound > depth {
			depth, which = p.Inbound, "inbound (received, not yet read)"
		}
		if float64(depth) < limit {
			continue
		}
		client, server := orderEndpoints(stripEndpoint(p.Endpoint), stripEndpoint(p.Remote))
		f := &finding{key: p.Source + "|" + p.Endpoint + "|" + p.Remote, client: client, server: server, since: p.Time, value: float64(depth),
			labels: map[string]string{"source": p.Source}}
		f.evidence = fmt.Sprintf("socket %s: pipe %s ↔ %s has %d messages queued %s, %.0f%% of the high-water mark %d (outbound %d, inbound %d)",
			orDash(p.Source), stripEndpoint(p.Endpoint), stripEndpoint(p.Remote), depth, which, 100*float64(depth)/float64(d.hwm), d.hwm, p.Outbound, p.Inbound)
		out = append(out, f)
	}
	return out
}

// peerName names a peer by socket type and endpoint, or by role when the
// socket type never crossed the wire.
func peerName(typ, role, ep string) string {
	if typ == "" || typ == "unknown" {
		return role + " " + ep
	}
	return typ + " " + ep
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// orderEndpoints guesses which of two endpoints connected (the client): the
// one with the higher port, ephemeral ports being high.
func orderEndpoints(a, b string) (client, server string) {
	pa, pb := portOf(a), portOf(b)
	if pa >= pb {
		return a, b
	}
	return b, a
}

func portOf(ep string) int {
	i := strings.LastIndexByte(ep, ':')
	if i < 0 {
		return 0
	}
	n, _ := strconv.Atoi(ep[i+1:])
	return n
}

// slow_subscriber

type slowSubDetector struct {
	ratio, minBest float64
	prev           map[uint64]uint64
	last           time.Time
}

// subSides returns which side subscribes and which publishes, or -1, -1.
func subSides(c *tracker.Record) (sub, pub int) {
	for i := range c.Sides {
		switch c.Sides[i].SocketType {
		case zmtp.SUB, zmtp.XSUB:
			return i, 1 - i
		}
	}
	return -1, -1
}

func (d *slowSubDetector) detect(ts time.Time, in *Input) []*finding {
	type member struct {
		c     *tracker.Record
		rate  float64
		n     uint64
		total uint64
	}
	groups := map[string][]member{}
	var order []string
	next := make(map[uint64]uint64, len(d.prev))
	for _, c := range in.Records {
		sub, pub := subSides(c)
		if c.Detection != zmtp.IsZMTP || sub < 0 {
			continue
		}
		n := c.Dirs[pub].Messages
		next[c.ID] = n
		start := d.last
		if c.Start.After(start) {
			start = c.Start
		}
		if c.Closed && !c.Last.After(d.last) {
			continue // it did not take part in this window
		}
		elapsed := ts.Sub(start)
		if elapsed <= 0 {
			continue
		}
		if len(c.Subscriptions) == 0 {
			continue // it asked for nothing (pub_no_subscribers tells)
		}
		subs := append([]string(nil), c.Subscriptions...)
		sort.Strings(subs)
		key := sideEP(c, pub) + "\x00" + strconv.Itoa(len(subs)) + "\x00" + strings.Join(subs, "\x00")
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], member{c, float64(n-d.prev[c.ID]) / elapsed.Seconds(), n - d.prev[c.ID], n})
	}
	d.prev, d.last = next, ts
	var out []*finding
	for _, key := range order {
		g := groups[key]
		best := -1
		for k, m := range g {
			if best < 0 || m.rate > g[best].rate {
				best = k
			}
		}
		if len(g) < 2 || g[best].rate < d.minBest {
			continue
		}
		for k, m := range g {
			// A subscriber that already has everything the best one got is
			// idle, not slow (the best may be a slow one catching up).
			if k == best || m.rate >= d.ratio*g[best].rate || m.total >= g[best].total {
				continue
			}
			sub, pub := subSides(m.c)
			f := connFinding(m.c, "")
			f.value = m.rate / g[best].rate
			f.labels["publisher"] = sideEP(m.c, pub)
			f.evidence = fmt.Sprintf("slow subscriber: %s %s got %.0f msg/s (%d messages), %.0f%% of the best subscriber %s (%.0f msg/s) of %s %s with the same subscriptions",
				sockName(m.c.Sides[sub].SocketType), sideEP(m.c, sub), m.rate, m.n, 100*f.value, sideEP(g[best].c, subSideOf(g[best].c)), g[best].rate,
				sockName(m.c.Sides[pub].SocketType), sideEP(m.c, pub))
			out = append(out, f)
		}
	}
	return out
}

func subSideOf(c *tracker.Record) int { s, _ := subSides(c); return s }

// stuck_request

type stuckDetector struct {
	timeout, hold time.Duration
}

// requester returns the side that sends requests answered in order, or -1.
func requester(c *tracker.Record) int {
	a, b := c.ClientSocket, c.ServerSocket
	types := [2]zmtp.SocketType{a, b}
	for i := range types {
		switch types[i] {
		case zmtp.REQ:
			return i
		case zmtp.DEALER:
			if o := types[1-i]; o == zmtp.REP || o == zmtp.ROUTER {
				return i
			}
		}
	}
	return -1
}

func (d *stuckDetector) detect(ts time.Time, in *Input) []*finding {
	var out []*finding
	for _, c := range in.Records {
		oldest, ok := c.OldestRequest, c.Outstanding > 0
		if !ok || closedTooLong(c, ts, d.hold) {
			continue
		}
		r := requester(c)
		if r < 0 {
			continue
		}
		types := [2]zmtp.SocketType{}
		types[0], types[1] = c.ClientSocket, c.ServerSocket
		var f *finding
		if !c.Closed {
			wait := ts.Sub(oldest)
			if wait < d.timeout {
				continue
			}
			f = connFinding(c, "")
			f.since, f.value = oldest.Add(d.timeout), ms(wait)
			f.evidence = fmt.Sprintf("stuck request: %s %s has waited %s for %s %s to answer (%d unanswered)",
				sockName(types[r]), sideEP(c, r), fmtDur(wait), sockName(types[1-r]), sideEP(c, 1-r), c.Outstanding)
		} else {
			wait := c.Last.Sub(oldest)
			f = connFinding(c, "")
			f.since, f.value = c.Last, ms(wait)
			f.evidence = fmt.Sprintf("abandoned request: %s %s gave up after %s without an answer from %s %s and the connection closed (%s) with %d request(s) unanswered",
				sockName(types[r]), sideEP(c, r), fmtDur(wait), sockName(types[1-r]), sideEP(c, 1-r), c.State, c.Outstanding)
		}
		if n := c.Latency.Count; n > 0 {
			f.evidence += fmt.Sprintf("; %d earlier request(s) were answered", n)
		} else {
			f.evidence += "; no request was ever answered on it"
		}
		out = append(out, f)
	}
	return out
}

// rep_stopped_replying

type repStoppedDetector struct {
	silence time.Duration
}

func (d *repStoppedDetector) detect(ts time.Time, in *Input) []*finding {
	type acc struct {
		typ         zmtp.SocketType
		replies     uint64
		lastReply   time.Time
		oldest      time.Time
		waiting     int
		waitingConn int
	}
	eps := map[string]*acc{}
	var order []string
	for _, c := range in.Records {
		r := requester(c)
		if r != 0 {
			continue // the server side must be the one replying
		}
		_, st := c.ClientSocket, c.ServerSocket
		ep := c.Server.String()
		a := eps[ep]
		if a == nil {
			a = &acc{typ: st}
			eps[ep] = a
			order = append(order, ep)
		}
		a.replies += c.Latency.Count
		if l := c.Dirs[1].LastMessage; l.After(a.lastReply) {
			a.lastReply = l
		}
		if c.Closed {
			continue
		}
		if t, ok := c.OldestRequest, c.Outstanding > 0; ok {
			if a.oldest.IsZero() || t.Before(a.oldest) {
				a.oldest = t
			}
			a.waiting += c.Outstanding
			a.waitingConn++
		}
	}
	var out []*finding
	for _, ep := range order {
		a := eps[ep]
		if a.replies == 0 || a.waiting == 0 || ts.Sub(a.lastReply) < d.silence || ts.Sub(a.oldest) < d.silence {
			continue
		}
		since := a.lastReply
		if a.oldest.After(since) {
			since = a.oldest
		}
		f := &finding{key: ep, server: ep, since: since.Add(d.silence), value: ms(ts.Sub(a.lastReply)),
			labels: map[string]string{"server_type": sockName(a.typ)}}
		f.evidence = fmt.Sprintf("%s %s stopped replying: no reply for %s after %d replies, while %d request(s) wait on %d open connection(s), the oldest for %s",
			sockName(a.typ), ep, fmtDur(ts.Sub(a.lastReply)), a.replies, a.waiting, a.waitingConn, fmtDur(ts.Sub(a.oldest)))
		out = append(out, f)
	}
	return out
}

// handshake_failure

type handshakeDetector struct {
	hold time.Duration
}

func (d *handshakeDetector) detect(ts time.Time, in *Input) []*finding {
	var out []*finding
	wire := map[string]bool{}
	for _, c := range in.Records {
		if c.Detection != zmtp.IsZMTP || closedTooLong(c, ts, d.hold) {
			continue
		}
		reason := c.HandshakeError
		if reason == "" && len(c.ErrorReasons) > 0 {
			reason = "ERROR " + c.ErrorReasons[0]
		}
		if reason == "" {
			continue
		}
		wire[c.Client.String()+" "+c.Server.String()] = true
		f := connFinding(c, "")
		f.since = c.Last
		f.labels["mechanism"] = c.Mechanism.String()
		ev := fmt.Sprintf("handshake failed between %s and %s (%s): %s",
			peerName(f.labels["client_type"], "client", c.Client.String()), peerName(f.labels["server_type"], "server", c.Server.String()), orDash(c.Mechanism.String()), reason)
		if code, err := strconv.ParseUint(strings.TrimPrefix(reason, "ERROR "), 10, 16); err == nil && strings.HasPrefix(reason, "ERROR ") {
			if t := monitor.ZAPStatusText(code); t != "" {
				ev += " (ZAP: " + t + ")"
			}
			f.value = float64(code)
		}
		if c.PlainUsername != "" {
			ev += fmt.Sprintf("; PLAIN user %q", c.PlainUsername)
		}
		f.evidence = ev
		out = append(out, f)
	}
	if in.Monitor != nil {
		for _, h := range in.Monitor.Failures {
			if ts.Sub(h.Time) >= d.hold {
				continue
			}
			client, server := orderEndpoints(stripEndpoint(h.Endpoint), stripEndpoint(h.Remote))
			if wire[client+" "+server] {
				continue // the wire already tells
			}
			f := &finding{key: "monitor|" + h.Source + "|" + h.Endpoint + "|" + h.Remote, client: client, server: server, since: h.Time,
				labels: map[string]string{"source": h.Source, "event": h.Event}}
			f.evidence = fmt.Sprintf("handshake failed (socket monitor of %s): %s %s", orDash(h.Source), h.Event, h.Detail)
			out = append(out, f)
		}
	}
	return out
}

// incompatible_sockets

type incompatibleDetector struct {
	hold time.Duration
}

func (d *incompatibleDetector) detect(ts time.Time, in *Input) []*finding {
	var out []*finding
	for _, c := range in.Records {
		if c.Detection != zmtp.IsZMTP || c.Compatible || closedTooLong(c, ts, d.hold) {
			continue
		}
		f := connFinding(c, "")
		f.since = c.Start
		f.evidence = fmt.Sprintf("incompatible socket types: %s %s connected to %s %s; libzmq drops the connection after the handshake and nothing is delivered",
			f.labels["client_type"], c.Client, f.labels["server_type"], c.Server)
		out = append(out, f)
	}
	return out
}

// reconnect_storm

type reconnectDetector struct {
	window                 time.Duration
	minRefused, minRetries int
}

func (d *reconnectDetector) detect(ts time.Time, in *Input) []*finding {
	type acc struct {
		n       int
		first   time.Time
		clients []string
	}
	servers := map[string]*acc{}
	var order []string
	for _, c := range in.Records {
		if c.State != zmtp.StateRefused || ts.Sub(c.Last) >= d.window {
			continue
		}
		ep := c.Server.String()
		a := servers[ep]
		if a == nil {
			a = &acc{}
			servers[ep] = a
			order = append(order, ep)
		}
		a.n++
		if a.first.IsZero() || c.Start.Before(a.first) {
			a.first = c.Start
		}
		if cl := c.Client.String(); !contains(a.clients, cl) {
			a.clients = append(a.clients, cl)
		}
	}
	var out []*finding
	for _, ep := range order {
		a := servers[ep]
		if a.n < d.minRefused || d.minRefused <= 0 {
			continue
		}
		f := &finding{key: "refused|" + ep, server: ep, since: a.first, value: float64(a.n), labels: map[string]string{}}
		if len(a.clients) == 1 {
			f.client = a.clients[0]
		}
		f.evidence = fmt.Sprintf("reconnect storm: %d connects to %s refused (SYN answered by RST) within %s, from %s: nothing listens there",
			a.n, ep, d.window, strings.Join(a.clients, ", "))
		out = append(out, f)
	}
	if in.Monitor != nil && d.minRetries > 0 {
		type racc struct {
			source, ep string
			n          int
			first      time.Time
		}
		retries := map[string]*racc{}
		var rorder []string
		for _, r := range in.Monitor.Retries {
			if ts.Sub(r.Time) >= d.window || r.Time.After(ts) {
				continue
			}
			k := r.Source + "|" + r.Endpoint
			a := retries[k]
			if a == nil {
				a = &racc{source: r.Source, ep: r.Endpoint, first: r.Time}
				retries[k] = a
				rorder = append(rorder, k)
			}
			a.n++
		}
		for _, k := range rorder {
			a := retries[k]
			if a.n < d.minRetries {
				continue
			}
			ep := stripEndpoint(a.ep)
			f := &finding{key: "retried|" + k, server: ep, since: a.first, value: float64(a.n), labels: map[string]string{"source": a.source}}
			f.evidence = fmt.Sprintf("reconnect storm: socket %s retried connecting to %s %d times within %s (CONNECT_RETRIED)", orDash(a.source), a.ep, a.n, d.window)
			out = append(out, f)
		}
	}
	return out
}

// pub_no_subscribers

type noSubDetector struct {
	grace time.Duration
	prev  map[string]uint64 // messages published per publisher endpoint
}

func (d *noSubDetector) detect(ts time.Time, in *Input) []*finding {
	published := map[string]uint64{}
	for _, c := range in.Records {
		if sub, pub := subSides(c); sub >= 0 && c.Detection == zmtp.IsZMTP {
			published[sideEP(c, pub)] += c.Dirs[pub].Messages
		}
	}
	var out []*finding
	for _, c := range in.Records {
		sub, pub := subSides(c)
		if sub < 0 || c.Closed || c.Detection != zmtp.IsZMTP || c.Handshake != zmtp.HandshakeComplete || len(c.Subscriptions) > 0 {
			continue
		}
		if ts.Sub(c.Start) < d.grace {
			continue
		}
		ep := sideEP(c, pub)
		if published[ep] == d.prev[ep] {
			continue // the publisher is quiet: nothing is missed
		}
		f := connFinding(c, "")
		f.since = c.Start.Add(d.grace)
		f.value = float64(published[ep] - d.prev[ep])
		f.labels["publisher"] = ep
		state := "never subscribed"
		if len(c.SubHistory) > 0 {
			state = "cancelled every subscription"
		}
		f.evidence = fmt.Sprintf("%s %s connected to %s %s has %s: the publisher sent %d messages to its other subscribers since the last check and none to it",
			sockName(c.Sides[sub].SocketType), sideEP(c, sub), sockName(c.Sides[pub].SocketType), ep, state, published[ep]-d.prev[ep])
		out = append(out, f)
	}
	d.prev = published
	return out
}

// heartbeat_timeout

type heartbeatDetector struct {
	timeout, hold time.Duration
	min           int
}

func (d *heartbeatDetector) detect(ts time.Time, in *Input) []*finding {
	var out []*finding
	for _, c := range in.Records {
		if c.Detection != zmtp.IsZMTP || closedTooLong(c, ts, d.hold) {
			continue
		}
		for i := range c.Dirs {
			pings, pongs := c.Dirs[i].Pings, c.Dirs[1-i].Pongs
			if pings <= pongs || pings-pongs < uint64(d.min) {
				continue
			}
			// The first unanswered PING came after the last PONG (or after
			// the connection started, when none came back).
			since := c.Dirs[1-i].LastPong
			if since.IsZero() {
				since = c.Start
			}
			end := ts
			if c.Closed {
				end = c.Last
			}
			if end.Sub(since) < d.timeout {
				continue
			}
			f := connFinding(c, "/"+strconv.Itoa(i))
			f.since, f.value = since.Add(d.timeout), float64(pings-pongs)
			types := [2]string{f.labels["client_type"], f.labels["server_type"]}
			what := "still open"
			if c.Closed {
				what = "then the connection closed (" + c.State.String() + ")"
			}
			f.evidence = fmt.Sprintf("heartbeat timeout: %d PINGs from %s %s unanswered by %s %s for %s; %s",
				pings-pongs, types[i], sideEP(c, i), types[1-i], sideEP(c, 1-i), fmtDur(end.Sub(since)), what)
			out = append(out, f)
		}
	}
	return out
}

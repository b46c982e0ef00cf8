package rules

import (
	"fmt"
	"time"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// RepStoppedParams are rep_stopped_replying's parameters.
type RepStoppedParams struct {
	Silence time.Duration
}

func (p *RepStoppedParams) params() []param {
	return []param{{"silence", "how long without any reply while requests wait", &p.Silence}}
}

func init() {
	register(detectorDef[RepStoppedParams]{
		Name:     "rep_stopped_replying",
		Doc:      "a REP or ROUTER endpoint that used to reply has sent no reply for a while although requests wait on its open connections",
		Severity: SevCritical,
		Order:    5,
		Defaults: RepStoppedParams{Silence: 5 * time.Second},
		New:      func(p RepStoppedParams) detector { return &repStoppedDetector{p} },
	})
}

type repStoppedDetector struct{ RepStoppedParams }

// settled: no request waits on the connection (closed, none outstanding, or
// no requester on the client side). Unlike other detectors' settled records,
// these still count (their replies) once a request waits on their endpoint:
// detect reads every record then.
func (d *repStoppedDetector) settled(c *tracker.Record, _, _ time.Time, _ bool) bool {
	return requester(c) != 0 || c.Closed || c.Outstanding == 0
}

func (d *repStoppedDetector) detect(ts time.Time, query QueryFunc, mon *monitorState) []*finding {
	type acc struct {
		typ         zmtp.SocketType
		replies     uint64
		lastReply   time.Time
		oldest      time.Time
		waiting     int
		waitingConn int
	}
	// Only an endpoint a request waits on can have stopped replying: the
	// records it has not settled are the open ones with requests
	// outstanding; when none is, nothing else need be read.
	var waitedOn map[string]bool
	for _, c := range query(ts, Query{Unsettled: true}).Records {
		if requester(c) == 0 && !c.Closed && c.Outstanding > 0 {
			if waitedOn == nil {
				waitedOn = map[string]bool{}
			}
			waitedOn[serverName(c)] = true
		}
	}
	if waitedOn == nil {
		return nil
	}
	eps := map[string]*acc{}
	var order []string
	for _, c := range query(ts, Query{}).Records {
		if requester(c) != 0 {
			continue // the server side must be the one replying
		}
		ep := serverName(c)
		a := eps[ep]
		if a == nil {
			a = &acc{typ: c.ServerSocket}
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
		if c.Outstanding > 0 {
			if t := c.OldestRequest; a.oldest.IsZero() || t.Before(a.oldest) {
				a.oldest = t
			}
			a.waiting += c.Outstanding
			a.waitingConn++
		}
	}
	var out []*finding
	for _, ep := range order {
		a := eps[ep]
		if a.replies == 0 || a.waiting == 0 || ts.Sub(a.lastReply) < d.Silence || ts.Sub(a.oldest) < d.Silence {
			continue
		}
		since := a.lastReply
		if a.oldest.After(since) {
			since = a.oldest
		}
		f := &finding{key: ep, server: ep, since: since.Add(d.Silence), value: ms(ts.Sub(a.lastReply)),
			receiver: ep, receiverSocket: sockName(a.typ),
			labels: map[string]string{"server_type": sockName(a.typ)}}
		f.evidence = fmt.Sprintf("%s %s stopped replying: no reply for %s after %d replies, while %d request(s) wait on %d open connection(s), the oldest for %s",
			sockName(a.typ), ep, fmtDur(ts.Sub(a.lastReply)), a.replies, a.waiting, a.waitingConn, fmtDur(ts.Sub(a.oldest)))
		out = append(out, f)
	}
	return out
}

// resolve says what the endpoint does now: it replied again, or no request
// waits on it.
func (d *repStoppedDetector) resolve(en *entry, ts time.Time, query QueryFunc) string {
	ep := en.alert.Server
	var last time.Time
	waiting, open := 0, 0
	for _, c := range query(ts, Query{}).Records {
		if requester(c) != 0 || serverName(c) != ep {
			continue
		}
		if l := c.Dirs[1].LastMessage; l.After(last) {
			last = l
		}
		if !c.Closed {
			open++
			waiting += c.Outstanding
		}
	}
	switch {
	case ts.Sub(last) < d.Silence:
		return fmt.Sprintf("%s replies again: its last reply %s before (%s waiting now)", ep, fmtDur(ts.Sub(last)), plural(uint64(waiting), "request"))
	case open == 0:
		return "no connection to " + ep + " is open any more"
	}
	return fmt.Sprintf("no request waits on %s now", ep)
}

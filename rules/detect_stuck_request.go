package rules

import (
	"fmt"
	"time"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// StuckParams are stuck_request's parameters.
type StuckParams struct {
	Timeout, Hold time.Duration
}

func (p *StuckParams) params() []param {
	return []param{
		{"timeout", "how long an open connection's oldest request may wait", &p.Timeout},
		{"hold", holdDoc, &p.Hold},
	}
}

func init() {
	register(detectorDef[StuckParams]{
		Name:     "stuck_request",
		Doc:      "a REQ (or a DEALER talking to REP/ROUTER) waits for a reply past a timeout, or gave up and closed with the request unanswered",
		Severity: SevWarning,
		Order:    4,
		Defaults: StuckParams{Timeout: time.Second, Hold: defaultHold},
		New:      func(p StuckParams) detector { return &stuckDetector{p} },
	})
}

type stuckDetector struct{ StuckParams }

// settled: no request outstanding, no requester, or closed past hold. An
// open connection's waiting request ages, a closed one's is held: both stay.
func (d *stuckDetector) settled(c *tracker.Record, ts, _ time.Time, _ bool) bool {
	return c.Outstanding == 0 || closedTooLong(c, ts, d.Hold) || requester(c) < 0
}

func (d *stuckDetector) detect(ts time.Time, query QueryFunc, mon *monitorState) []*finding {
	var out []*finding
	for _, c := range query(ts, Query{Unsettled: true}).Records {
		oldest, ok := c.OldestRequest, c.Outstanding > 0
		if !ok || closedTooLong(c, ts, d.Hold) {
			continue
		}
		r := requester(c)
		if r < 0 {
			continue
		}
		types := [2]zmtp.SocketType{c.ClientSocket, c.ServerSocket}
		var f *finding
		if !c.Closed {
			wait := ts.Sub(oldest)
			if wait < d.Timeout {
				continue
			}
			f = connFinding(c, "")
			f.since, f.value = oldest.Add(d.Timeout), ms(wait)
			f.evidence = fmt.Sprintf("stuck request: %s %s has waited %s for %s %s to answer (%d unanswered)",
				sockName(types[r]), sideEP(c, r), fmtDur(wait), sockName(types[1-r]), sideEP(c, 1-r), c.Outstanding)
		} else {
			wait := c.Last.Sub(oldest)
			f = connFinding(c, "")
			f.since, f.value = c.Last, ms(wait)
			f.evidence = fmt.Sprintf("abandoned request: %s %s gave up after %s without an answer from %s %s and the connection closed (%s) with %d request(s) unanswered",
				sockName(types[r]), sideEP(c, r), fmtDur(wait), sockName(types[1-r]), sideEP(c, 1-r), c.State, c.Outstanding)
		}
		f.flow(c, r)
		if n := c.Latency.Count; n > 0 {
			f.evidence += fmt.Sprintf("; %d earlier request(s) were answered", n)
		} else {
			f.evidence += "; no request was ever answered on it"
		}
		out = append(out, f)
	}
	return out
}

// resolve says where the connection's requests stand now.
func (d *stuckDetector) resolve(en *entry, ts time.Time, query QueryFunc) string {
	c := en.record(ts, query)
	if c == nil || c.Closed {
		return ""
	}
	if c.Outstanding == 0 {
		return fmt.Sprintf("answered: no request waits now (%s answered in all)", plural(c.Latency.Count, "request"))
	}
	return fmt.Sprintf("the oldest request now waits %s (timeout %s)", fmtDur(ts.Sub(c.OldestRequest)), d.Timeout)
}

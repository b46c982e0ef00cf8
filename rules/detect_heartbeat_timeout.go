package rules

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// HeartbeatParams are heartbeat_timeout's parameters. heartbeat's peers
// answer every PING within a millisecond; at the end of a capture one PING
// may still be in flight.
type HeartbeatParams struct {
	Timeout       time.Duration
	MinUnanswered int
	Hold          time.Duration
}

func (p *HeartbeatParams) params() []param {
	return []param{
		{"timeout", "how long PINGs may go unanswered", &p.Timeout},
		{"min_unanswered", "unanswered PINGs needed", &p.MinUnanswered},
		{"hold", holdDoc, &p.Hold},
	}
}

func init() {
	register(detectorDef[HeartbeatParams]{
		Name:     "heartbeat_timeout",
		Doc:      "PINGs go unanswered by PONGs past a timeout (ZMTP 3.1 heartbeats)",
		Severity: SevCritical,
		Order:    10,
		Defaults: HeartbeatParams{Timeout: time.Second, MinUnanswered: 2, Hold: defaultHold},
		New:      func(p HeartbeatParams) detector { return &heartbeatDetector{p} },
	})
}

type heartbeatDetector struct{ HeartbeatParams }

// settled: not ZMTP, closed past hold, or no direction with enough PINGs
// unanswered (only a new PING, a new record, changes that).
func (d *heartbeatDetector) settled(c *tracker.Record, ts, _ time.Time, _ bool) bool {
	if c.Detection != zmtp.IsZMTP || closedTooLong(c, ts, d.Hold) {
		return true
	}
	for i := range c.Dirs {
		if pings, pongs := c.Dirs[i].Pings, c.Dirs[1-i].Pongs; pings > pongs && pings-pongs >= uint64(d.MinUnanswered) {
			return false
		}
	}
	return true
}

func (d *heartbeatDetector) detect(ts time.Time, query QueryFunc, mon *monitorState) []*finding {
	var out []*finding
	for _, c := range query(ts, Query{Unsettled: true}).Records {
		if c.Detection != zmtp.IsZMTP || closedTooLong(c, ts, d.Hold) {
			continue
		}
		for i := range c.Dirs {
			pings, pongs := c.Dirs[i].Pings, c.Dirs[1-i].Pongs
			if pings <= pongs || pings-pongs < uint64(d.MinUnanswered) {
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
			if end.Sub(since) < d.Timeout {
				continue
			}
			f := connFinding(c, "/"+strconv.Itoa(i))
			f.since, f.value = since.Add(d.Timeout), float64(pings-pongs)
			types := [2]string{f.labels["client_type"], f.labels["server_type"]}
			what := "still open"
			if c.Closed {
				what = "then the " + closedHow(c)
			}
			f.evidence = fmt.Sprintf("heartbeat timeout: %d PINGs from %s %s unanswered by %s %s for %s; %s",
				pings-pongs, types[i], sideEP(c, i), types[1-i], sideEP(c, 1-i), fmtDur(end.Sub(since)), what)
			out = append(out, f)
		}
	}
	return out
}

// resolve says how the heartbeats stand now.
func (d *heartbeatDetector) resolve(en *entry, ts time.Time, query QueryFunc) string {
	c := en.record(ts, query)
	if c == nil || c.Closed {
		return ""
	}
	i := 0
	if strings.HasSuffix(en.key, "/1") {
		i = 1
	}
	return fmt.Sprintf("PONGs answer again: %d PING(s) unanswered now, the last PONG %s before", c.Dirs[i].Pings-min(c.Dirs[i].Pings, c.Dirs[1-i].Pongs), fmtDur(ts.Sub(c.Dirs[1-i].LastPong)))
}

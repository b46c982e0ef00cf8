package rules

import (
	"fmt"
	"time"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// IncompatibleParams are incompatible_sockets' parameters.
type IncompatibleParams struct {
	Hold time.Duration
}

func (p *IncompatibleParams) params() []param { return []param{{"hold", holdDoc, &p.Hold}} }

func init() {
	register(detectorDef[IncompatibleParams]{
		Name:     "incompatible_sockets",
		Doc:      "the two sides' socket types cannot talk (e.g. PUB connected to PUSH): libzmq drops the connection",
		Severity: SevCritical,
		Order:    7,
		Defaults: IncompatibleParams{Hold: defaultHold},
		New:      func(p IncompatibleParams) detector { return &incompatibleDetector{p} },
	})
}

type incompatibleDetector struct{ IncompatibleParams }

// settled: not ZMTP, compatible, or closed past hold.
func (d *incompatibleDetector) settled(c *tracker.Record, ts, _ time.Time, _ bool) bool {
	return c.Detection != zmtp.IsZMTP || c.Compatible || closedTooLong(c, ts, d.Hold)
}

func (d *incompatibleDetector) detect(ts time.Time, query QueryFunc, mon *monitorState) []*finding {
	var out []*finding
	for _, c := range query(ts, Query{Unsettled: true}).Records {
		if c.Detection != zmtp.IsZMTP || c.Compatible || closedTooLong(c, ts, d.Hold) {
			continue
		}
		f := connFinding(c, "")
		f.since = c.Start
		f.evidence = fmt.Sprintf("incompatible socket types: %s %s connected to %s %s; libzmq drops the connection after the handshake and nothing is delivered",
			f.labels["client_type"], clientName(c), f.labels["server_type"], serverName(c))
		out = append(out, f)
	}
	return out
}

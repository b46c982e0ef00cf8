package rules

import (
	"fmt"
	"time"
)

// PipesParams are pipes_stats_depth's parameters.
type PipesParams struct {
	HWM      int
	Fraction float64
}

func (p *PipesParams) params() []param {
	return []param{
		{"hwm", "the high-water mark the sockets use (libzmq's default SNDHWM/RCVHWM is 1000)", &p.HWM},
		{"fraction", "the fraction of hwm a queue may reach", &p.Fraction},
	}
}

func init() {
	register(detectorDef[PipesParams]{
		Name:     "pipes_stats_depth",
		Doc:      "a socket monitor's PIPES_STATS shows a pipe's queue above a fraction of the high-water mark",
		Severity: SevWarning,
		Order:    2,
		Defaults: PipesParams{HWM: 1000, Fraction: 0.8},
		New:      func(p PipesParams) detector { return &pipesDetector{p} },
	})
}

type pipesDetector struct{ PipesParams }

func (d *pipesDetector) detect(ts time.Time, query QueryFunc, mon *monitorState) []*finding {
	if d.HWM <= 0 {
		return nil
	}
	limit := d.Fraction * float64(d.HWM)
	var out []*finding
	for _, p := range mon.pipes {
		depth, which := p.outbound, "outbound (towards the peer)"
		if p.inbound > depth {
			depth, which = p.inbound, "inbound (received, not yet read)"
		}
		if float64(depth) < limit {
			continue
		}
		client, server := orderEndpoints(stripEndpoint(p.endpoint), stripEndpoint(p.remote))
		f := &finding{key: p.source + "|" + p.endpoint + "|" + p.remote, client: client, server: server, since: p.time, value: float64(depth),
			labels: map[string]string{"source": p.source}}
		f.evidence = fmt.Sprintf("socket %s: pipe %s ↔ %s has %d messages queued %s, %.0f%% of the high-water mark %d (outbound %d, inbound %d)",
			orDash(p.source), stripEndpoint(p.endpoint), stripEndpoint(p.remote), depth, which, 100*float64(depth)/float64(d.HWM), d.HWM, p.outbound, p.inbound)
		out = append(out, f)
	}
	return out
}

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

func (d *pipesDetector) detect(ts time.Time, in *Input) []*finding {
	if in.Monitor == nil || d.HWM <= 0 {
		return nil
	}
	limit := d.Fraction * float64(d.HWM)
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
			orDash(p.Source), stripEndpoint(p.Endpoint), stripEndpoint(p.Remote), depth, which, 100*float64(depth)/float64(d.HWM), d.HWM, p.Outbound, p.Inbound)
		out = append(out, f)
	}
	return out
}

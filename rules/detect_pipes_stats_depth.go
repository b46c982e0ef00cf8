package rules

import (
	"fmt"
	"strings"
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
		New:      func(p PipesParams) detector { return &pipesDetector{PipesParams: p, depth: map[string]uint64{}} },
	})
}

type pipesDetector struct {
	PipesParams
	// depth holds each pipe's deepest queue at the latest evaluation: the
	// resolution of an alert that resolves then.
	depth map[string]uint64
}

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
			d.depth[p.source+"|"+p.endpoint+"|"+p.remote] = depth
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

// resolve says how deep the pipe's queue is now.
func (d *pipesDetector) resolve(en *entry, ts time.Time, query QueryFunc) string {
	n, ok := d.depth[strings.TrimPrefix(en.key, en.rule.Name+"\x00")]
	if !ok {
		return ""
	}
	return fmt.Sprintf("queue now %d messages (threshold %.0f: %.0f%% of the high-water mark %d)", n, d.Fraction*float64(d.HWM), 100*d.Fraction, d.HWM)
}

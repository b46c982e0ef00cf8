package rules

import (
	"fmt"
	"strconv"
	"time"

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
		Doc:      "a receiver keeps its TCP window at zero (or the sender's in-flight bytes stay at the window) longer than a threshold: the consumer is stalled and the sender is at its high-water mark",
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

func (d *hwmDetector) detect(ts time.Time, query QueryFunc, mon *monitorState) []*finding {
	var out []*finding
	recs := query(ts, Query{}).Records
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
			out = append(out, f)
		}
		if fs != nil && fs[0].IsZero() && fs[1].IsZero() {
			delete(d.fullSince, c.ID)
		}
	}
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

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
			return &hwmDetector{HWMParams: p, prev: map[uint64]*hwmPrev{}}
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
	prev map[uint64]*hwmPrev
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
			case !t.ZeroSince.IsZero() && ts.Sub(t.ZeroSince) >= d.ZeroWindow:
				stalled, since = ts.Sub(t.ZeroSince), t.ZeroSince
				how = "has kept its TCP window at zero for " + fmtDur(stalled)
			case t.ZeroWindowTime-p.zeroTime[i] >= d.ZeroWindow:
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
			if how == "" && full && ts.Sub(p.fullSince[i]) >= d.InFlightFull {
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

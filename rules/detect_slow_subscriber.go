package rules

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// SlowSubParams are slow_subscriber's parameters. pubsub's and
// zmq4_pubsub's subscribers differ by topic, hence the grouping by
// subscription set; their rates (tens of messages a second) are below
// min_best_rate as well.
type SlowSubParams struct {
	Ratio, MinBestRate float64
}

func (p *SlowSubParams) params() []param {
	return []param{
		{"ratio", "a subscriber below this fraction of the best one's delivered rate is slow", &p.Ratio},
		{"min_best_rate", "messages per second the best subscriber must get before others are compared with it", &p.MinBestRate},
	}
}

func init() {
	register(detectorDef[SlowSubParams]{
		Name:     "slow_subscriber",
		Doc:      "a SUB receives far less than the best subscriber of the same publisher with the same subscriptions",
		Severity: SevWarning,
		Order:    3,
		Defaults: SlowSubParams{Ratio: 0.2, MinBestRate: 100},
		New:      func(p SlowSubParams) detector { return &slowSubDetector{p} },
	})
}

type slowSubDetector struct{ SlowSubParams }

// delivered returns the messages the publisher side of a subscriber's
// connection has sent, or 0 when the record does not show a ZMTP
// subscriber (yet).
func delivered(c *tracker.Record) uint64 {
	if c == nil || c.Detection != zmtp.IsZMTP || !c.PubSub {
		return 0
	}
	return c.Dirs[c.Subscriber.Other()].Messages
}

func (d *slowSubDetector) detect(ts time.Time, query QueryFunc, mon *monitorState) []*finding {
	type member struct {
		c     *tracker.Record
		rate  float64
		n     uint64
		total uint64
	}
	groups := map[string][]member{}
	var order []string
	// The rate is over the time since the last evaluation (or since the
	// connection started), from the connection's record then.
	before := query(ts, Query{Back: 1})
	last, prev := before.Time, byID{recs: before.Records}
	for _, c := range query(ts, Query{}).Records {
		sub, pub := subSides(c)
		if c.Detection != zmtp.IsZMTP || sub < 0 {
			continue
		}
		n, was := c.Dirs[pub].Messages, delivered(prev.find(c.ID))
		start := last
		if c.Start.After(start) {
			start = c.Start
		}
		if c.Closed && !c.Last.After(last) {
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
		groups[key] = append(groups[key], member{c, float64(n-was) / elapsed.Seconds(), n - was, n})
	}
	var out []*finding
	for _, key := range order {
		g := groups[key]
		best := -1
		for k, m := range g {
			if best < 0 || m.rate > g[best].rate {
				best = k
			}
		}
		if len(g) < 2 || g[best].rate < d.MinBestRate {
			continue
		}
		for k, m := range g {
			// A subscriber that already has everything the best one got is
			// idle, not slow (the best may be a slow one catching up).
			if k == best || m.rate >= d.Ratio*g[best].rate || m.total >= g[best].total {
				continue
			}
			sub, pub := subSides(m.c)
			bestSub, _ := subSides(g[best].c)
			f := connFinding(m.c, "")
			f.value = m.rate / g[best].rate
			f.labels["publisher"] = sideEP(m.c, pub)
			f.evidence = fmt.Sprintf("slow subscriber: %s %s got %.0f msg/s (%d messages), %.0f%% of the best subscriber %s (%.0f msg/s) of %s %s with the same subscriptions",
				sockName(m.c.Sides[sub].SocketType), sideEP(m.c, sub), m.rate, m.n, 100*f.value, sideEP(g[best].c, bestSub), g[best].rate,
				sockName(m.c.Sides[pub].SocketType), sideEP(m.c, pub))
			out = append(out, f)
		}
	}
	return out
}

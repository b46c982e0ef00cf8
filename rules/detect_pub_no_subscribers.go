package rules

import (
	"fmt"
	"time"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// NoSubParams are pub_no_subscribers' parameters.
type NoSubParams struct {
	Grace time.Duration
}

func (p *NoSubParams) params() []param {
	return []param{{"grace", "how long after connecting a SUB may go without a subscription", &p.Grace}}
}

func init() {
	register(detectorDef[NoSubParams]{
		Name:     "pub_no_subscribers",
		Doc:      "a SUB connected to a publisher has held no subscription for longer than grace: it can receive nothing (and its publisher sends it nothing, so the wire shows only silence), whether or not the publisher is busy with other subscribers",
		Severity: SevWarning,
		Order:    9,
		Defaults: NoSubParams{Grace: time.Second},
		New:      func(p NoSubParams) detector { return &noSubDetector{p} },
	})
}

type noSubDetector struct{ NoSubParams }

// published sums the messages each publisher endpoint sent to its ZMTP
// subscribers.
func published(recs []*tracker.Record) map[string]uint64 {
	m := map[string]uint64{}
	for _, c := range recs {
		if sub, pub := subSides(c); sub >= 0 && c.Detection == zmtp.IsZMTP {
			m[sideEP(c, pub)] += c.Dirs[pub].Messages
		}
	}
	return m
}

// settled: not a ZMTP subscriber's open connection without a subscription.
// (One within its grace is not settled: time decides it.)
func (d *noSubDetector) settled(c *tracker.Record, _, _ time.Time, _ bool) bool {
	sub, _ := subSides(c)
	return sub < 0 || c.Closed || c.Detection != zmtp.IsZMTP || !c.NoSubscription
}

func (d *noSubDetector) detect(ts time.Time, query QueryFunc, mon *monitorState) []*finding {
	recs := query(ts, Query{})
	var out []*finding
	live := query(ts, Query{Unsettled: true}).Records
	// What each publisher sent since the last evaluation, from the records
	// now and then; summed only when a subscriber lacks subscriptions.
	var now, before map[string]uint64
	for _, c := range live {
		sub, pub := subSides(c)
		if sub < 0 || c.Closed || c.Detection != zmtp.IsZMTP || !c.NoSubscription {
			continue
		}
		if ts.Sub(c.Start) < d.Grace {
			continue
		}
		if now == nil {
			now, before = published(recs.Records), published(query(ts, Query{Back: 1}).Records)
		}
		ep := sideEP(c, pub)
		f := connFinding(c, "")
		f.since = c.Start.Add(d.Grace)
		f.value = float64(now[ep] - before[ep])
		f.labels["publisher"] = ep
		f.flow(c, pub)
		state := "never subscribed"
		if !c.NeverSubscribed {
			state = "cancelled every subscription"
		}
		busy := fmt.Sprintf("the publisher sent %d messages to its other subscribers since the last check and none to it", now[ep]-before[ep])
		if now[ep] == before[ep] {
			// A lone SUB (or a quiet publisher): the wire shows silence,
			// which is what a SUB without a subscription always gets.
			busy = "it can receive nothing, and the publisher sends it nothing"
		}
		f.evidence = fmt.Sprintf("%s %s connected to %s %s has %s: %s",
			sockName(c.Sides[sub].SocketType), sideEP(c, sub), sockName(c.Sides[pub].SocketType), ep, state, busy)
		out = append(out, f)
	}
	return out
}

// resolve says what the SUB holds now.
func (d *noSubDetector) resolve(en *entry, ts time.Time, query QueryFunc) string {
	c := en.record(ts, query)
	if c == nil || c.Closed || c.NoSubscription {
		return ""
	}
	return fmt.Sprintf("the SUB subscribed: it holds %s now", plural(uint64(len(c.Subscriptions)), "subscription"))
}

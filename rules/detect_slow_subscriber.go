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
		New: func(p SlowSubParams) detector {
			return &slowSubDetector{SlowSubParams: p, lost: map[uint64]int64{}, now: map[uint64]standing{}}
		},
	})
}

type slowSubDetector struct {
	SlowSubParams
	// lost estimates, per subscriber connection (ID), the messages it lost
	// at the publisher's HWM: the sum over evaluations of what the group's
	// healthiest member (the most delivered so far) got minus what it got.
	lost map[uint64]int64
	// now says, per subscriber connection, where it stands at the latest
	// evaluation: the resolution of an alert that resolves then (formatted
	// only then).
	now map[uint64]standing
}

// standing is where a subscriber stood at an evaluation.
type standing struct {
	idle       string // the subscriber the publisher sent nothing to, if any
	rate, best float64
}

// delivered returns the messages the publisher side of a subscriber's
// connection has sent, or 0 when the record does not show a ZMTP
// subscriber (yet).
func delivered(c *tracker.Record) uint64 {
	if c == nil || c.Detection != zmtp.IsZMTP || !c.PubSub {
		return 0
	}
	return c.Dirs[c.Subscriber.Other()].Messages
}

// sentTo reports whether the publisher sent to a subscriber's connection
// in the interval: messages crossed the wire, or they waited for the
// subscriber's TCP window (zero window, bytes in flight).
func sentTo(c, prev *tracker.Record, pub int, n uint64) bool {
	t := &c.TCP[pub]
	if n > 0 || !t.ZeroSince.IsZero() || t.InFlight() > 0 {
		return true
	}
	return prev != nil && t.ZeroWindowTime > prev.TCP[pub].ZeroWindowTime
}

// settled: not a ZMTP subscriber, one without subscriptions, or one that
// closed before the evaluation before this one (it takes part in no later
// window).
func (d *slowSubDetector) settled(c *tracker.Record, _, prev time.Time, _ bool) bool {
	sub, _ := subSides(c)
	return c.Detection != zmtp.IsZMTP || sub < 0 || len(c.Subscriptions) == 0 || (c.Closed && !prev.IsZero() && !c.Last.After(prev))
}

func (d *slowSubDetector) detect(ts time.Time, query QueryFunc, mon *monitorState) []*finding {
	type member struct {
		c     *tracker.Record
		rate  float64
		n     uint64
		total uint64
		sent  bool
		// known: the connection's record at the last evaluation is known.
		// Two members' deltas are compared when both are or both are not
		// (new in this interval): one that joined late is not short of what
		// was published before it came.
		known bool
	}
	groups := map[string][]member{}
	var order []string
	// The rate is over the time since the last evaluation (or since the
	// connection started), from the connection's record then.
	before := query(ts, Query{Back: 1})
	last, prev := before.Time, byID{recs: before.Records}
	seen := map[uint64]bool{}
	for _, c := range query(ts, Query{Unsettled: true}).Records {
		sub, pub := subSides(c)
		if c.Detection != zmtp.IsZMTP || sub < 0 {
			continue
		}
		p := prev.find(c.ID)
		n, was := c.Dirs[pub].Messages, delivered(p)
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
		seen[c.ID] = true
		subs := append([]string(nil), c.Subscriptions...)
		sort.Strings(subs)
		key := sideEP(c, pub) + "\x00" + strconv.Itoa(len(subs)) + "\x00" + strings.Join(subs, "\x00")
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], member{c, float64(n-was) / elapsed.Seconds(), n - was, n, sentTo(c, p, pub, n-was), p != nil})
	}
	for id := range d.lost {
		if !seen[id] {
			delete(d.lost, id)
		}
	}
	clear(d.now)
	var out []*finding
	for _, key := range order {
		g := groups[key]
		if len(g) < 2 {
			continue
		}
		// The loss estimate: against the member that got the most so far.
		ref := 0
		for k, m := range g {
			if m.total > g[ref].total {
				ref = k
			}
		}
		for k, m := range g {
			if k != ref && m.known == g[ref].known {
				d.lost[m.c.ID] += int64(g[ref].n) - int64(m.n)
			}
		}
		// Subscribers are compared only over an interval in which the
		// publisher sent to all of them: once it stops, a slow one that
		// drains its backlog is not "best", nor is a caught-up one slow.
		idle := ""
		for _, m := range g {
			if !m.sent {
				sub, _ := subSides(m.c)
				idle = sideEP(m.c, sub)
				break
			}
		}
		best := -1
		for k, m := range g {
			if best < 0 || m.rate > g[best].rate {
				best = k
			}
		}
		for k, m := range g {
			sub, pub := subSides(m.c)
			switch {
			case idle != "":
				d.now[m.c.ID] = standing{idle: idle}
				continue
			}
			d.now[m.c.ID] = standing{rate: m.rate, best: g[best].rate}
			if g[best].rate < d.MinBestRate {
				continue
			}
			ratio := m.rate / g[best].rate
			// A subscriber that already has everything the best one got is
			// idle, not slow (the best may be a slow one catching up).
			if k == best || ratio >= d.Ratio || m.total >= g[best].total {
				continue
			}
			bestSub, _ := subSides(g[best].c)
			f := connFinding(m.c, "")
			f.flow(m.c, pub)
			f.value = ratio
			f.labels["publisher"] = sideEP(m.c, pub)
			f.evidence = fmt.Sprintf("slow subscriber: %s %s got %.0f msg/s (%d messages), %.0f%% of the best subscriber %s (%.0f msg/s) of %s %s with the same subscriptions",
				sockName(m.c.Sides[sub].SocketType), sideEP(m.c, sub), m.rate, m.n, 100*f.value, sideEP(g[best].c, bestSub), g[best].rate,
				sockName(m.c.Sides[pub].SocketType), sideEP(m.c, pub))
			if l := d.lost[m.c.ID]; l > 0 {
				// An estimate: what the member with the most messages got
				// beyond it, messages still queued for it included.
				refSub, _ := subSides(g[ref].c)
				f.labels["lost_estimate"] = strconv.FormatInt(l, 10)
				f.labels["lost_estimate_from"] = sideEP(g[ref].c, refSub)
				f.evidence += fmt.Sprintf("; an estimated %d lost at the PUB's HWM", l)
			}
			out = append(out, f)
		}
	}
	return out
}

// resolve says where a slow subscriber stands now.
func (d *slowSubDetector) resolve(en *entry, ts time.Time, query QueryFunc) string {
	if en.conn == 0 {
		return ""
	}
	st, ok := d.now[en.conn-1]
	var why string
	switch {
	case !ok:
		return ""
	case st.idle != "":
		why = fmt.Sprintf("not compared now: the publisher sent nothing to %s in the last interval (the others drain what they hold)", st.idle)
	case st.best < d.MinBestRate:
		why = fmt.Sprintf("now %.0f msg/s, the best subscriber %.0f msg/s: below min_best_rate %.0f, not compared", st.rate, st.best, d.MinBestRate)
	default:
		why = fmt.Sprintf("now %.0f%% of the best subscriber (threshold %.0f%%)", 100*st.rate/st.best, 100*d.Ratio)
	}
	if l := d.lost[en.conn-1]; l > 0 {
		why += fmt.Sprintf("; an estimated %d lost at the PUB's HWM in all", l)
	}
	return why
}

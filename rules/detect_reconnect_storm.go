package rules

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// ReconnectParams are reconnect_storm's parameters. A client started before
// its server is refused every reconnect interval (100 ms by default in
// libzmq) until the server binds: rules_late_bind's 3 s of refusals are
// ZeroMQ's normal start-up, not a storm; rules_reconnect_storm's 12 s are.
type ReconnectParams struct {
	Window                 time.Duration
	MinDuration            time.Duration
	MinRefused, MinRetries int
	// MaxRate is the attempts per second past which failing connects are
	// a storm sooner than MinDuration (after a second): a client that
	// ignores backoff. libzmq retries every 100 ms by default (10/s).
	MaxRate float64
}

func (p *ReconnectParams) params() []param {
	return []param{
		{"window", "attempts older than this end a run of failures (the client stopped trying)", &p.Window},
		{"min_duration", "how long connects must keep failing, without one getting through, to be a storm (a late bind is shorter)", &p.MinDuration},
		{"min_refused", "refused connects (SYN answered by RST) a storm needs at least", &p.MinRefused},
		{"min_retries", "monitor CONNECT_RETRIED events a storm the wire does not show needs at least", &p.MinRetries},
		{"max_rate", "failed connects per second that make a storm after 1s already: a client that ignores backoff (libzmq's default retries 10 times a second)", &p.MaxRate},
	}
}

func init() {
	register(detectorDef[ReconnectParams]{
		Name:     "reconnect_storm",
		Doc:      "connects to a server endpoint keep failing (refused on the wire, or CONNECT_RETRIED from a socket monitor) for longer than min_duration without one getting through (or faster than max_rate a second, ignoring backoff, for a second); resolves when a client gets through or stops trying. One alert per server endpoint, wire and monitor evidence merged",
		Severity: SevWarning,
		Order:    8,
		Defaults: ReconnectParams{Window: 10 * time.Second, MinDuration: 5 * time.Second, MinRefused: 2, MinRetries: 3, MaxRate: 30},
		New:      func(p ReconnectParams) detector { return &reconnectDetector{p} },
	})
}

type reconnectDetector struct{ ReconnectParams }

// storm is what the wire and the monitors show of the connects to one
// server endpoint.
type storm struct {
	ep string
	// refused are the refused attempts' times; retries the monitors'
	// CONNECT_RETRIED times, with the sockets that reported them.
	refused []time.Time
	retries []time.Time
	clients []string
	sources []string
	// through is the newest connection that got through (not refused), nil
	// when none did.
	through *tracker.Record
}

// settled: a connection that was not refused. Unlike other detectors'
// settled records, these still count (one got through) once connects to
// their server endpoint fail: detect reads every record then.
func (d *reconnectDetector) settled(c *tracker.Record, _, _ time.Time, _ bool) bool {
	return c.State != zmtp.StateRefused
}

func (d *reconnectDetector) detect(ts time.Time, query QueryFunc, mon *monitorState) []*finding {
	servers := map[string]*storm{}
	var order []string
	get := func(ep string) *storm {
		s := servers[ep]
		if s == nil {
			s = &storm{ep: ep}
			servers[ep] = s
			order = append(order, ep)
		}
		return s
	}
	for _, c := range query(ts, Query{Unsettled: true}).Records {
		if c.State == zmtp.StateRefused {
			s := get(serverName(c))
			s.refused = append(s.refused, c.Start)
			if cl := clientName(c); !contains(s.clients, cl) {
				s.clients = append(s.clients, cl)
			}
		}
	}
	for _, r := range mon.retries {
		if r.time.After(ts) {
			continue
		}
		s := get(stripEndpoint(r.endpoint))
		s.retries = append(s.retries, r.time)
		if !contains(s.sources, r.source) {
			s.sources = append(s.sources, r.source)
		}
	}
	if len(order) == 0 {
		return nil
	}
	// A connection to the endpoint that was not refused got through.
	for _, c := range query(ts, Query{}).Records {
		if c.State == zmtp.StateRefused {
			continue
		}
		if s := servers[serverName(c)]; s != nil && (s.through == nil || c.Start.After(s.through.Start)) {
			s.through = c
		}
	}
	var out []*finding
	for _, ep := range order {
		s := servers[ep]
		// The run of failures: the attempts since the last connection that
		// got through.
		var after time.Time
		if s.through != nil {
			after = s.through.Start
		}
		first, last, nRef, nRet := runOf(s.refused, after), lastOf(s.refused), 0, 0
		for _, t := range s.refused {
			if t.After(after) {
				nRef++
			}
		}
		rf, rl := runOf(s.retries, after), lastOf(s.retries)
		for _, t := range s.retries {
			if t.After(after) && ts.Sub(t) < d.Window {
				nRet++
			}
		}
		if !rf.IsZero() && (first.IsZero() || rf.Before(first)) {
			first = rf
		}
		if rl.After(last) {
			last = rl
		}
		key := "storm|" + ep
		f := &finding{key: key, server: ep, labels: map[string]string{}}
		if len(s.clients) == 1 {
			f.client = s.clients[0]
		}
		failing := !first.IsZero() && last.After(after) && ts.Sub(last) < d.Window
		span := last.Sub(first)
		enough := (d.MinRefused > 0 && nRef >= d.MinRefused) || (d.MinRetries > 0 && nRet >= d.MinRetries)
		// Wire and monitor see the same attempts: the larger count is theirs.
		rate := 0.0
		if span > 0 {
			rate = float64(max(nRef, nRet)) / span.Seconds()
		}
		hammering := d.MaxRate > 0 && span >= time.Second && rate >= d.MaxRate
		if !failing || (span < d.MinDuration && !hammering) || !enough {
			// Why there is no storm (now): the resolution of one that was.
			f.clear = true
			switch {
			case s.through != nil && !s.through.Start.Before(lastOf(append(s.refused, s.retries...))):
				f.evidence = fmt.Sprintf("client %s got through at %s after connects had failed for %s",
					clientName(s.through), s.through.Start.UTC().Format("15:04:05.000"), fmtDur(s.through.Start.Sub(firstOf(s.refused, s.retries))))
			case !first.IsZero() && ts.Sub(last) >= d.Window:
				f.evidence = "no connect attempt in the last " + d.Window.String()
			default:
				f.evidence = fmt.Sprintf("connects failing for %s, under min_duration %s", fmtDur(span), d.MinDuration)
			}
			out = append(out, f)
			continue
		}
		f.since, f.value = first.Add(min(d.MinDuration, span)), float64(max(nRef, nRet))
		var ev strings.Builder
		fmt.Fprintf(&ev, "reconnect storm: connects to %s have kept failing for %s", ep, fmtDur(span))
		if hammering {
			fmt.Fprintf(&ev, " at %.0f attempts a second (no backoff)", rate)
		}
		if nRef > 0 {
			fmt.Fprintf(&ev, ", %d refused (SYN answered by RST) from %s", nRef, strings.Join(s.clients, ", "))
		}
		if nRet > 0 {
			srcs := make([]string, len(s.sources))
			for i, x := range s.sources {
				srcs[i] = orDash(x)
			}
			sort.Strings(srcs)
			fmt.Fprintf(&ev, ", %d CONNECT_RETRIED in the last %s from socket %s", nRet, d.Window, strings.Join(srcs, ", "))
		}
		ev.WriteString(": nothing listens there")
		if s.through != nil {
			fmt.Fprintf(&ev, " any more (%s got through at %s)", clientName(s.through), s.through.Start.UTC().Format("15:04:05.000"))
		}
		f.evidence = ev.String()
		switch {
		case nRef > 0 && nRet > 0:
			f.labels["source"] = "wire+monitor"
		case nRet > 0:
			f.labels["source"] = "monitor"
		default:
			f.labels["source"] = "wire"
		}
		out = append(out, f)
	}
	return out
}

// runOf returns the earliest of times after t (zero when none is).
func runOf(times []time.Time, after time.Time) time.Time {
	var first time.Time
	for _, t := range times {
		if t.After(after) && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return first
}

// firstOf returns the earliest of two lists of times.
func firstOf(a, b []time.Time) time.Time {
	return runOf(append(append([]time.Time(nil), a...), b...), time.Time{})
}

func lastOf(times []time.Time) time.Time {
	var last time.Time
	for _, t := range times {
		if t.After(last) {
			last = t
		}
	}
	return last
}

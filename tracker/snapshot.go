package tracker

import (
	"maps"
	"slices"
	"time"
)

// Snapshot is an immutable copy of the model at one packet time, for sinks that
// run apart from the pipeline goroutine (store, rules, ui). Nothing in it
// aliases live state.
type Snapshot struct {
	Time  time.Time
	Conns []ConnView
	// NonZMTP and DroppedClosed are the tracker's counters at Time.
	NonZMTP, DroppedClosed uint64
}

// ConnView is a copy of one connection. Outstanding and OldestRequest carry the
// request state that Conn keeps unexported.
type ConnView struct {
	Conn
	OutstandingRequests int
	OldestRequest       time.Time
}

// Snapshot copies the model. It runs on the pipeline goroutine; its cost is
// proportional to the number of connections.
func (t *Tracker) Snapshot(ts time.Time) *Snapshot {
	s := &Snapshot{Time: ts, Conns: make([]ConnView, len(t.conns)), NonZMTP: t.NonZMTP, DroppedClosed: t.DroppedClosed}
	for i, c := range t.conns {
		v := &s.Conns[i]
		v.Conn = *c
		v.OutstandingRequests = len(c.pending)
		if len(c.pending) > 0 {
			v.OldestRequest = c.pending[0].ts
		}
		// Detach everything that aliases live state.
		v.dis, v.t, v.pending, v.msg = nil, nil, nil, [2]msgAcc{}
		for k := range v.Sides {
			v.Sides[k].Identity = slices.Clone(c.Sides[k].Identity)
			v.Sides[k].Metadata = slices.Clone(c.Sides[k].Metadata)
		}
		v.Subscriptions = slices.Clone(c.Subscriptions)
		v.SubHistory = slices.Clone(c.SubHistory)
		v.Errors = slices.Clone(c.Errors)
		v.MonitorNotes = slices.Clone(c.MonitorNotes)
		v.ErrorReasons = slices.Clone(c.ErrorReasons)
		v.TopicDelivered = maps.Clone(c.TopicDelivered)
		if b := c.IntervalLatency.buckets; b != nil {
			cp := *b
			v.IntervalLatency.buckets = &cp
		}
		if c.Latency.buckets != nil {
			b := *c.Latency.buckets
			v.Latency.buckets = &b
		}
	}
	return s
}

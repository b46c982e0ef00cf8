package tracker

import (
	"maps"
	"slices"
	"time"

	"github.com/zspy/zspy/zmtp"
)

// Snapshot is the model at one packet time: an immutable Record per
// connection, in the order the connections were first seen (ID order), and
// the tracker's counters. Records of connections that did not change between
// two snapshots are the same *Record in both. A Snapshot may be handed to any
// goroutine: nothing in it aliases the tracker's state.
type Snapshot struct {
	Time    time.Time
	Records []*Record
	// Gen numbers the tracker's snapshots (from 1). A Record made for this
	// snapshot has Record.Gen == Gen; one with Gen at or below an earlier
	// snapshot's did not change since that one, so that a consumer that
	// keeps its own results per connection (rules, series) need only look
	// again at the records whose Gen is above the last snapshot it saw.
	Gen uint64
	// NonZMTP and DroppedClosed are the tracker's counters at Time.
	NonZMTP, DroppedClosed uint64
	// Summarised adds up the closed connections dropped (KeepClosed).
	Summarised Summary
	// Refused lists the refusal episodes, oldest first: per client host and
	// server endpoint, the connects refused (SYN answered by RST) until one
	// got through (Connection, 0 while none has). An episode whose
	// connection got through is over; a new refusal starts a new episode.
	// RefusedTotal counts every refused attempt, RefusedDropped the episodes
	// dropped past MaxRefusedEpisodes.
	Refused                      []RefusedAttempts
	RefusedTotal, RefusedDropped uint64
	// Resumed and Unjoined count evicted connections whose traffic came
	// back continuing them, and not (Tracker.Resumed).
	Resumed, Unjoined uint64
}

// Snapshot returns the model at packet time ts. It runs on the goroutine that
// owns the tracker; it copies the connections that changed since the last
// snapshot, and shares the Records of the others (visiting only the
// changed ones: Tracker.changed).
func (t *Tracker) Snapshot(ts time.Time) *Snapshot {
	t.gen++
	for i, c := range t.changed {
		c.listed = false
		if c.idx >= 0 {
			t.records[c.idx] = c.record()
		}
		t.changed[i] = nil
	}
	t.changed = t.changed[:0]
	s := &Snapshot{Time: ts, Gen: t.gen, Records: append(make([]*Record, 0, len(t.records)), t.records...), NonZMTP: t.NonZMTP, DroppedClosed: t.DroppedClosed,
		Summarised: t.Summarised, RefusedTotal: t.RefusedTotal, RefusedDropped: t.RefusedDropped,
		Resumed: t.Resumed, Unjoined: t.Unjoined}
	if len(t.episodes) > 0 {
		s.Refused = make([]RefusedAttempts, len(t.episodes))
		for i, r := range t.episodes {
			s.Refused[i] = *r
		}
	}
	return s
}

// record returns the connection's Record as it stands, made anew only when
// the connection changed since the last one.
func (c *conn) record() *Record {
	if c.pub != nil {
		return c.pub
	}
	c.name()
	r := new(Record)
	*r = c.Record
	r.Gen = c.t.gen
	// Detach everything that aliases the engine's state.
	for k := range r.Sides {
		r.Sides[k].Identity = slices.Clone(c.Sides[k].Identity)
		r.Sides[k].Metadata = slices.Clone(c.Sides[k].Metadata)
	}
	r.Subscriptions = slices.Clone(c.Subscriptions)
	r.SubHistory = slices.Clone(c.SubHistory)
	r.Errors = slices.Clone(c.Errors)
	r.MonitorNotes = slices.Clone(c.MonitorNotes)
	r.ErrorReasons = slices.Clone(c.ErrorReasons)
	r.TopicDelivered = maps.Clone(c.TopicDelivered)
	r.Latency = c.Latency.clone()
	r.IntervalLatency = c.IntervalLatency.clone()
	// Derived facts.
	r.Handshake = c.handshakeState()
	r.ClientSocket, r.ServerSocket, r.RolesInferred = c.socketTypes()
	r.Compatible = c.compatible()
	for i := range c.Sides {
		switch c.Sides[i].SocketType {
		case zmtp.SUB, zmtp.XSUB:
			if !r.PubSub {
				r.PubSub, r.Subscriber = true, zmtp.Role(i)
			}
		}
		if !r.ReqRep && c.requester(i) {
			r.ReqRep, r.Requester = true, zmtp.Role(i)
		}
	}
	if r.PubSub && r.Handshake == zmtp.HandshakeComplete && len(r.Subscriptions) == 0 {
		r.NoSubscription, r.NeverSubscribed = true, len(r.SubHistory) == 0
	}
	r.Outstanding = len(c.pending)
	if len(c.pending) > 0 {
		r.OldestRequest = c.pending[0].ts
	}
	c.pub = r
	return r
}

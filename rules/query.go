package rules

import (
	"sort"
	"time"

	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
)

// Query is what a rule reads at an evaluation: the connections' records, or
// the points of one measurement of metrics.Schema, at the evaluation or one
// before it.
type Query struct {
	// Measurement names a measurement of metrics.Schema: the answer holds
	// its points of the interval that ended at the evaluation (for
	// zspy_monitor, the events that came in that interval). Empty: the
	// records.
	Measurement string
	// Back asks for the evaluation Back steps before the one at ts (0: that
	// one). A Window answers records one step back, points at ts only.
	Back int
	// Unsettled asks, of the records at the evaluation (Back 0), for
	// those the asking rule has not settled: an engine fed snapshots
	// (EvalSnapshot) leaves out the records whose contribution its
	// detector said cannot change while they do not (see settler). Any
	// other answer holds every record, which is never wrong.
	Unsettled bool
}

// Result answers a Query.
type Result struct {
	// Time is the time of the evaluation answered; zero when the query
	// function holds nothing that far back (the first evaluation has no
	// previous one).
	Time time.Time
	// Records are the connections' records at Time, in ID order. They are
	// immutable: a rule never changes one.
	Records []*tracker.Record
	// Points are the measurement's points, in the collector's order.
	Points []*store.Point
	// Snapshot is the tracker's snapshot the records come from, for what
	// it holds beside them (counters, episodes); set by a Window for the
	// records at the evaluation (Back 0), nil otherwise.
	Snapshot *tracker.Snapshot
}

// QueryFunc answers the queries of the rules evaluated at ts. It is the one
// way data reaches rules, as Prometheus's rules.QueryFunc is for its alerting
// rules (AlertingRule.Eval(ctx, ts, query, ...) is Engine.Eval's model): a rule
// says what it reads, the function says where from. A Window answers from the
// snapshots and metrics points of a run; a test may answer from records and
// points it made.
type QueryFunc func(ts time.Time, q Query) Result

// Window is a QueryFunc's memory, fed once per evaluation with the tracker's
// snapshot and the interval's metrics points (Add); Query answers from it.
// It keeps the latest snapshot with its points and the snapshot before it:
// records are immutable, so keeping the previous ones costs nothing, while
// the collector reuses its points' memory at the next interval, so only the
// latest points can be read.
type Window struct {
	cur, prev struct {
		time    time.Time
		records []*tracker.Record
	}
	snap    *tracker.Snapshot
	points  []store.Point
	indexed bool
	byMeas  map[string][]*store.Point
}

// Add makes snap and the points of the interval that ended at ts the latest
// evaluation's; the latest one before becomes the previous.
func (w *Window) Add(ts time.Time, snap *tracker.Snapshot, points []store.Point) {
	w.prev = w.cur
	w.cur.time, w.cur.records, w.snap = ts, nil, snap
	if snap != nil {
		w.cur.records = snap.Records
	}
	w.points, w.indexed = points, false
}

// Query answers q for the evaluation at ts, which must be the latest one
// added (otherwise the result is empty).
func (w *Window) Query(ts time.Time, q Query) Result {
	if !ts.Equal(w.cur.time) {
		return Result{}
	}
	switch {
	case q.Measurement == "" && q.Back == 0:
		return Result{Time: w.cur.time, Records: w.cur.records, Snapshot: w.snap}
	case q.Measurement == "" && q.Back == 1:
		return Result{Time: w.prev.time, Records: w.prev.records}
	case q.Back == 0:
		return Result{Time: w.cur.time, Points: w.measurement(q.Measurement)}
	}
	return Result{}
}

// measurement returns the latest points of one measurement; the first query
// after Add sorts all points by measurement, reusing the last index's memory.
func (w *Window) measurement(name string) []*store.Point {
	if !w.indexed {
		if w.byMeas == nil {
			w.byMeas = make(map[string][]*store.Point, len(metrics.Schema))
		}
		for k, v := range w.byMeas {
			clear(v)
			w.byMeas[k] = v[:0]
		}
		for i := range w.points {
			p := &w.points[i]
			w.byMeas[p.Measurement] = append(w.byMeas[p.Measurement], p)
		}
		w.indexed = true
	}
	return w.byMeas[name]
}

// byID finds records of an ID-ordered list by ID; asked in increasing ID
// order (as when walking another ID-ordered list), it goes on from the last
// one found, galloping then halving: k finds in a list of n cost
// O(k log(n/k)) record loads, not n.
type byID struct {
	recs []*tracker.Record
	i    int
}

func (b *byID) find(id uint64) *tracker.Record {
	if b.i > 0 && b.i <= len(b.recs) && b.recs[b.i-1].ID >= id {
		b.i = 0 // asked out of order: start again
	}
	// Every record before lo has a lower ID; the one at hi (if any) not.
	lo, hi, step := b.i, b.i, 1
	for hi < len(b.recs) && b.recs[hi].ID < id {
		lo, hi, step = hi+1, hi+1+step, step*2
	}
	hi = min(hi, len(b.recs))
	i := lo + sort.Search(hi-lo, func(k int) bool { return b.recs[lo+k].ID >= id })
	b.i = i
	if i < len(b.recs) && b.recs[i].ID == id {
		b.i++
		return b.recs[i]
	}
	return nil
}

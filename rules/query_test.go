package rules

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// TestWindow: a Window answers the latest evaluation's records and points by
// measurement, the previous evaluation's records one step back, and nothing
// for another time.
func TestWindow(t *testing.T) {
	a, b := conn(1, 40001, zmtp.PUSH, zmtp.PULL), conn(2, 40002, zmtp.PUSH, zmtp.PULL)
	var w Window
	t1, t2 := t0.Add(time.Second), t0.Add(2*time.Second)
	w.Add(t1, &tracker.Snapshot{Time: t1, Records: []*tracker.Record{a}}, []store.Point{latencyPoint(t1, "x:1", 1)})
	if r := w.Query(t1, Query{Back: 1}); !r.Time.IsZero() || len(r.Records) != 0 {
		t.Errorf("first evaluation has a previous one: %+v", r)
	}
	pts := []store.Point{latencyPoint(t2, "x:1", 1), {Measurement: metrics.MeasConnection, Time: t2}, latencyPoint(t2, "x:2", 2)}
	w.Add(t2, &tracker.Snapshot{Time: t2, Records: []*tracker.Record{a, b}}, pts)
	if r := w.Query(t2, Query{}); !r.Time.Equal(t2) || len(r.Records) != 2 {
		t.Errorf("records %+v", r)
	}
	if r := w.Query(t2, Query{Back: 1}); !r.Time.Equal(t1) || len(r.Records) != 1 || r.Records[0] != a {
		t.Errorf("previous records %+v", r)
	}
	if r := w.Query(t2, Query{Measurement: metrics.MeasLatency}); len(r.Points) != 2 || r.Points[0] != &pts[0] || r.Points[1] != &pts[2] {
		t.Errorf("latency points %+v", r.Points)
	}
	if r := w.Query(t2, Query{Measurement: metrics.MeasConnection}); len(r.Points) != 1 || r.Points[0] != &pts[1] {
		t.Errorf("connection points %+v", r.Points)
	}
	if r := w.Query(t1, Query{}); len(r.Records) != 0 || !r.Time.IsZero() {
		t.Errorf("answered for an earlier time: %+v", r)
	}
	// The next evaluation's points replace the index.
	t3 := t2.Add(time.Second)
	w.Add(t3, &tracker.Snapshot{Time: t3}, []store.Point{latencyPoint(t3, "x:3", 3)})
	if r := w.Query(t3, Query{Measurement: metrics.MeasLatency}); len(r.Points) != 1 || r.Points[0].Time != t3 {
		t.Errorf("latency points after Add %+v", r.Points)
	}
	if r := w.Query(t3, Query{Measurement: metrics.MeasConnection}); len(r.Points) != 0 {
		t.Errorf("stale connection points %+v", r.Points)
	}
}

func TestByID(t *testing.T) {
	var recs []*tracker.Record
	for _, id := range []uint64{2, 3, 5, 8} {
		recs = append(recs, &tracker.Record{ID: id})
	}
	b := byID{recs: recs}
	for _, c := range []struct {
		id    uint64
		found bool
	}{{1, false}, {2, true}, {4, false}, {5, true}, {8, true}, {3, true}, {9, false}, {2, true}} {
		r := b.find(c.id)
		if (r != nil) != c.found || r != nil && r.ID != c.id {
			t.Errorf("find(%d) = %v", c.id, r)
		}
	}
}

// TestEvalThroughQuery: an engine reads nothing but what its QueryFunc
// answers. A query function of the test's own (no Window) feeds the
// built-ins and an expression rule: they ask for the records at the
// evaluation and the one before, the zspy_monitor events and the
// expression's measurement, all at the evaluation's time, and raise alerts
// from the answers.
func TestEvalThroughQuery(t *testing.T) {
	f, err := Parse("t.yaml", []byte("groups:\n  - name: g\n    rules:\n      - alert: slow\n        expr: zspy_latency.p99_ms > 100\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := New(f.Rules())
	bad := conn(1, 40001, zmtp.PUB, zmtp.PUSH)
	asked := map[Query]int{}
	ts := t0.Add(time.Second)
	query := func(at time.Time, q Query) Result {
		if !at.Equal(ts) {
			t.Errorf("asked at %v, evaluating at %v", at, ts)
		}
		asked[q]++
		switch {
		case q.Measurement == "" && q.Back == 0:
			return Result{Time: at, Records: []*tracker.Record{bad}}
		case q.Measurement == metrics.MeasLatency:
			p := latencyPoint(at, "127.0.0.1:40002", 150)
			return Result{Time: at, Points: []*store.Point{&p}}
		}
		return Result{}
	}
	ch := e.Eval(ts, query)
	var got []string
	for _, a := range ch {
		got = append(got, a.Rule+" "+a.State.String()+" "+a.Client)
	}
	if want := "incompatible_sockets firing 127.0.0.1:40001, slow firing 127.0.0.1:40002"; strings.Join(got, ", ") != want {
		t.Errorf("changes %q, want %q", strings.Join(got, ", "), want)
	}
	for q := range asked {
		switch {
		case q.Measurement == "" && (q.Back == 0 || q.Back == 1):
		case q.Back == 0 && (q.Measurement == metrics.MeasMonitor || q.Measurement == metrics.MeasLatency ||
			q.Measurement == metrics.MeasSocketQueue):
		default:
			t.Errorf("unexpected query %+v", q)
		}
	}
	if asked[Query{Measurement: metrics.MeasMonitor}] != 1 || asked[Query{Measurement: metrics.MeasLatency}] != 1 || asked[Query{Back: 1}] == 0 {
		t.Errorf("queries %v", asked)
	}
}

// TestByIDGallop: finds in increasing order, with skips of every length,
// and out of order, in a long list with gaps, answer as a map does.
func TestByIDGallop(t *testing.T) {
	var recs []*tracker.Record
	byMap := map[uint64]*tracker.Record{}
	for id := uint64(0); id < 3000; id++ {
		if id%3 == 1 || id%7 == 0 {
			continue
		}
		r := &tracker.Record{ID: id}
		recs = append(recs, r)
		byMap[id] = r
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		b := byID{recs: recs}
		id := uint64(rng.IntN(10))
		for id < 3100 {
			if got := b.find(id); got != byMap[id] {
				t.Fatalf("round %d: find(%d) = %v, want %v", round, id, got, byMap[id])
			}
			// Mostly forward by up to a few hundred, sometimes back.
			if rng.IntN(20) == 0 && id > 50 {
				id -= uint64(rng.IntN(50))
			} else {
				id += uint64(1 + rng.IntN(1<<rng.IntN(9)))
			}
		}
	}
}

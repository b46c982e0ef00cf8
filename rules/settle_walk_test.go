package rules

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/zspy/zspy/tracker"
)

// fakeSettler settles the records whose ID is even, and records which
// records it was asked about.
type fakeSettler struct{ asked []*tracker.Record }

func (f *fakeSettler) detect(time.Time, QueryFunc, *monitorState) []*finding { return nil }

func (f *fakeSettler) settled(c *tracker.Record, _, _ time.Time, _ bool) bool {
	f.asked = append(f.asked, c)
	return c.ID%2 == 0
}

// TestSettlementWalk: over snapshots that drop, replace and add records
// the way the tracker does (ID order kept), the settlement asks a settler
// about exactly the records it has not settled before (new, changed, or
// not settled by it), and its list of unsettled records is those, in the
// snapshot's order.
func TestSettlementWalk(t *testing.T) {
	f := &fakeSettler{}
	rules := []*Rule{{Name: "fake", det: f}}
	var s settlement
	var cur []*tracker.Record
	nextID := uint64(0)
	rng := rand.New(rand.NewPCG(3, 4))
	settledBefore := map[*tracker.Record]bool{}
	for round := range 300 {
		var next []*tracker.Record
		for _, c := range cur {
			switch rng.IntN(10) {
			case 0: // dropped
			case 1, 2: // changed: a new record of the same connection
				next = append(next, &tracker.Record{ID: c.ID})
			default:
				next = append(next, c)
			}
		}
		for range rng.IntN(20) {
			next = append(next, &tracker.Record{ID: nextID})
			nextID += uint64(1 + rng.IntN(3))
		}
		cur = next
		f.asked = f.asked[:0]
		s.update(rules, &tracker.Snapshot{Records: cur}, time.Time{}, time.Time{})
		var want []*tracker.Record
		for _, c := range cur {
			if !settledBefore[c] {
				want = append(want, c)
			}
		}
		if !slices.Equal(f.asked, want) {
			t.Fatalf("round %d: asked about %d records, want %d", round, len(f.asked), len(want))
		}
		var live []*tracker.Record
		for _, c := range cur {
			if c.ID%2 != 0 {
				live = append(live, c)
			}
			settledBefore[c] = c.ID%2 == 0
		}
		if !slices.Equal(s.live[0], live) {
			t.Fatalf("round %d: %d unsettled records, want %d", round, len(s.live[0]), len(live))
		}
	}
	if len(cur) < 100 {
		t.Fatalf("only %d records at the end: the walk was not exercised", len(cur))
	}
}

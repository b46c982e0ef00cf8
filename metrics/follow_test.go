package metrics

import (
	"math/rand/v2"
	"testing"

	"github.com/zspy/zspy/tracker"
)

// TestFollow: over snapshots that drop, replace and add records the way the
// tracker does (ID order, new IDs above every earlier one), each followed
// connection holds its record of the latest snapshot (its last one once the
// tracker dropped it), and every new connection is followed.
func TestFollow(t *testing.T) {
	c := New("test", 0)
	var cur []*tracker.Record
	nextID := uint64(1) // the tracker numbers connections from 1
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 300 {
		var next []*tracker.Record
		for _, r := range cur {
			switch rng.IntN(10) {
			case 0: // dropped
			case 1, 2: // changed
				next = append(next, &tracker.Record{ID: r.ID})
			default:
				next = append(next, r)
			}
		}
		added := rng.IntN(20)
		for range added {
			next = append(next, &tracker.Record{ID: nextID})
			nextID += uint64(1 + rng.IntN(3))
		}
		byID := map[uint64]*tracker.Record{}
		for _, r := range next {
			byID[r.ID] = r
		}
		before := map[*series]*tracker.Record{}
		for _, sr := range c.live {
			before[sr] = sr.rec
		}
		n := len(c.live)
		c.follow(next)
		if len(c.live) != n+added {
			t.Fatalf("round %d: following %d, want %d + %d new", round, len(c.live), n, added)
		}
		for _, sr := range c.live {
			want := byID[sr.rec.ID]
			if want == nil {
				want = before[sr] // dropped: keeps its last record
			}
			if sr.rec != want {
				t.Fatalf("round %d: connection %d holds %p, want %p", round, sr.rec.ID, sr.rec, want)
			}
		}
		// Stop following a random part, as Sample does for connections
		// whose last interval it emitted.
		kept := c.live[:0]
		for _, sr := range c.live {
			if rng.IntN(4) != 0 {
				kept = append(kept, sr)
			}
		}
		c.live = kept
		cur = next
	}
	if len(cur) < 100 {
		t.Fatalf("only %d records at the end", len(cur))
	}
}

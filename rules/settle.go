package rules

import (
	"time"

	"github.com/zspy/zspy/tracker"
)

// settler is a detector whose findings over a connection's record can be
// known not to change while the record does not: the engine then stops
// handing it that record (Query.Unsettled) until the connection changes.
// Conditions that depend on time (a request's age, a hold after closing, a
// grace after connecting) keep a record unsettled until time has decided
// them for good.
type settler interface {
	// settled reports whether the detector need not see c among the
	// unsettled records at ts and at every later evaluation while the
	// connection keeps this record: for most, c contributes nothing to
	// their findings (a detector that means otherwise says so). prev is the time of the evaluation before ts (zero
	// at the first); same says that c is the very record of that one.
	settled(c *tracker.Record, ts, prev time.Time, same bool) bool
}

// maxSettlers is how many rules of an engine keep settled records (a bit
// each); further rules see every record.
const maxSettlers = 64

// settlement keeps, per record of the latest snapshot evaluated, the rules
// that settled it (a bit per rule that is a settler), and builds each
// rule's list of the records it has not settled. A record that changed is a
// new *tracker.Record and starts unsettled; one the tracker no longer keeps
// leaves the list. The walk reads the snapshot's pointers and its own
// arrays in step, and reads a record itself only when the pointer differs
// (a changed or new record, or one after a removed one): a record settled
// by every rule costs a compare of two pointers and one of two masks.
type settlement struct {
	bit []uint64 // per rule: its bit, 0 for one that is not a settler
	all uint64
	// recs is the last snapshot's own list (immutable: shared, not
	// copied), ids their IDs, so that the walk need not load a record, and
	// masks the rules that settled each.
	recs  []*tracker.Record
	ids   []uint64
	masks []uint64
	live  [][]*tracker.Record // per rule: the records it has not settled
	// base answers what the rules ask beyond their unsettled records;
	// queries holds each settling rule's QueryFunc, made once.
	base    QueryFunc
	queries []QueryFunc
	scratch struct {
		ids   []uint64
		masks []uint64
	}
}

// update settles the records of snap evaluated at ts (prev: the evaluation
// before) and fills live.
func (s *settlement) update(rules []*Rule, snap *tracker.Snapshot, ts, prev time.Time) {
	if s.bit == nil {
		s.bit = make([]uint64, len(rules))
		s.live = make([][]*tracker.Record, len(rules))
		n := 0
		for k, r := range rules {
			if _, ok := r.det.(settler); ok && n < maxSettlers {
				s.bit[k] = 1 << n
				s.all |= s.bit[k]
				n++
			}
		}
	}
	for k := range s.live {
		clear(s.live[k])
		s.live[k] = s.live[k][:0]
	}
	var recs []*tracker.Record
	if snap != nil {
		recs = snap.Records
	}
	ni, nm := s.scratch.ids[:0], s.scratch.masks[:0]
	old, oldIDs := s.recs, s.ids
	j := 0
	for _, c := range recs {
		var mask uint64
		same := j < len(old) && old[j] == c
		if !same {
			// Changed, new, or after records the tracker dropped: find
			// the connection's place among the records before by ID.
			id := c.ID
			for j < len(oldIDs) && oldIDs[j] < id {
				j++
			}
			same = j < len(old) && old[j] == c
		}
		if same {
			mask = s.masks[j]
			j++
		}
		if mask != s.all {
			for k, r := range rules {
				b := s.bit[k]
				if b == 0 || mask&b != 0 {
					continue
				}
				if r.det.(settler).settled(c, ts, prev, same) {
					mask |= b
				} else {
					s.live[k] = append(s.live[k], c)
				}
			}
		}
		var id uint64
		if same {
			id = oldIDs[j-1]
		} else {
			id = c.ID
		}
		ni, nm = append(ni, id), append(nm, mask)
	}
	s.scratch.ids, s.scratch.masks = s.ids[:0], s.masks[:0]
	s.recs, s.ids, s.masks = recs, ni, nm
}

// query answers rule k's queries: the records it has not settled for
// Query.Unsettled, everything else from query.
func (s *settlement) query(k int, query QueryFunc) QueryFunc {
	if s == nil || s.bit == nil || s.bit[k] == 0 {
		return query
	}
	s.base = query
	if s.queries == nil {
		s.queries = make([]QueryFunc, len(s.bit))
	}
	if s.queries[k] == nil {
		s.queries[k] = func(ts time.Time, q Query) Result {
			if !q.Unsettled || q.Measurement != "" || q.Back != 0 {
				return s.base(ts, q)
			}
			r := s.base(ts, Query{})
			r.Records = s.live[k]
			return r
		}
	}
	return s.queries[k]
}

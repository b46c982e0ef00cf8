package session

import (
	"time"

	"github.com/zspy/zspy/tracker"
)

// Rates are per second of packet time over a sliding window: what a
// connection carried in the last RateWindow of packet time, whatever the
// replay speed or how often the screen updates. The window slides in
// RateBucket steps: the counts at the start of each of the last buckets are
// kept, and the window's start is interpolated inside its bucket, so a
// steady stream reads steady and a quiet (or closed) connection falls to 0
// once RateWindow has passed since its last event.
const (
	// SeriesLen is how many points a connection's per-second message rate
	// series keeps (Detail.Rates).
	SeriesLen   = 120
	RateWindow  = time.Second
	RateBucket  = 100 * time.Millisecond
	rateBuckets = int64(RateWindow / RateBucket)
)

// counts are the cumulative counters rates derive from: messages (CURVE
// boxes under CURVE) client→server and server→client, then bytes.
type counts [4]uint64

func countsOf(r *tracker.Record) counts {
	var n counts
	for i := range 2 {
		d := &r.Dirs[i]
		n[i] = d.Messages
		if r.Curve {
			n[i] = d.Frames
		}
		n[2+i] = d.Bytes
	}
	return n
}

// eventCounts are the counters of an event's connection after the event.
func eventCounts(e *tracker.Event) counts {
	return counts{e.Msgs[0], e.Msgs[1], e.Bytes[0], e.Bytes[1]}
}

// connMeter is what the meter keeps of one connection: about 1.4 KB,
// whatever its traffic.
type connMeter struct {
	last counts // as of the connection's latest event
	k    int64  // RateBucket of the latest event
	// start[j%len] holds the counts at the start of bucket j, for j in
	// k-rateBuckets..k.
	start [rateBuckets + 1]counts
	// secs[s%SeriesLen] holds the messages of second s (packet time) per
	// direction, for s in sk-SeriesLen+1..sk-1; second sk is in progress
	// and began at secBase messages.
	secs    [SeriesLen][2]uint32
	sk      int64
	secBase [2]uint64
	born    int64  // second of the first event
	seen    uint64 // generation of the last Window that found it
}

// WindowRate is one connection's rates at a snapshot's time, per direction
// (0 client→server, 1 server→client), per second of packet time.
type WindowRate struct {
	Msgs, Bytes [2]float64
}

// RateMeter is a tracker.Listener that follows every connection's counters
// in packet time (see RateWindow). It belongs to the session's goroutine,
// which feeds it and asks it for the rates at each snapshot and the selected
// connection's series (Update.Rates, Detail.Rates). Memory is bounded per
// connection; connections the tracker no longer holds are forgotten at the
// next Window.
type RateMeter struct {
	conns map[uint64]*connMeter
	gen   uint64
	next  tracker.Listener
}

var _ tracker.Listener = (*RateMeter)(nil)

// NewRateMeter returns an empty meter that passes every event on to next
// (which may be nil).
func NewRateMeter(next tracker.Listener) *RateMeter {
	return &RateMeter{conns: make(map[uint64]*connMeter), next: next}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func bucketOf(t time.Time) int64 { return floorDiv(t.UnixNano(), int64(RateBucket)) }
func secondOf(t time.Time) int64 { return floorDiv(t.UnixNano(), int64(time.Second)) }

func ringIdx(j, n int64) int64 { return ((j % n) + n) % n }

// sub is a-b, or 0 when a counter went back (a CURVE PING taken back from
// the data when its PONG came).
func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// TrackerEvent records the counters of e's connection after e, at e's time.
func (m *RateMeter) TrackerEvent(e *tracker.Event) {
	if e.ConnID != 0 {
		m.record(e, e.TS)
	}
	if m.next != nil {
		m.next.TrackerEvent(e)
	}
}

func (m *RateMeter) record(e *tracker.Event, ts time.Time) {
	cm := m.conns[e.ConnID]
	k, s := bucketOf(ts), secondOf(ts)
	if cm == nil {
		// Counts before a connection's first event are zero.
		cm = &connMeter{k: k, sk: s, born: s, seen: m.gen}
		m.conns[e.ConnID] = cm
	}
	cm.advance(k, s)
	cm.last = eventCounts(e)
}

// advance moves the connection's buckets and seconds on to bucket k and
// second s (never back: a late event counts in the current ones).
func (cm *connMeter) advance(k, s int64) {
	if k > cm.k {
		n := rateBuckets + 1
		for j := max(cm.k+1, k-rateBuckets); j <= k; j++ {
			cm.start[ringIdx(j, n)] = cm.last
		}
		cm.k = k
	}
	if s > cm.sk {
		const n = int64(SeriesLen)
		for i := range 2 {
			cm.secs[ringIdx(cm.sk, n)][i] = uint32(min(sub(cm.last[i], cm.secBase[i]), 1<<32-1))
		}
		for j := max(cm.sk+1, s-n+1); j < s; j++ {
			cm.secs[ringIdx(j, n)] = [2]uint32{}
		}
		cm.secBase = [2]uint64{cm.last[0], cm.last[1]}
		cm.sk = s
	}
}

// startAt returns the counts at the start of bucket j (j >= k-rateBuckets).
func (cm *connMeter) startAt(j int64) counts {
	if j > cm.k {
		return cm.last
	}
	j = max(j, cm.k-rateBuckets)
	return cm.start[ringIdx(j, rateBuckets+1)]
}

// Window returns the rates of s's connections at s.Time (indexed like
// s.Records), and forgets connections s does not hold. It runs on the
// pipeline goroutine, with s just taken: the meter has seen every event up
// to s.Time.
func (m *RateMeter) Window(s *tracker.Snapshot) []WindowRate {
	m.gen++
	out := make([]WindowRate, len(s.Records))
	K := bucketOf(s.Time)
	frac := float64(s.Time.UnixNano()-K*int64(RateBucket)) / float64(RateBucket)
	for i, v := range s.Records {
		cm := m.conns[v.ID]
		if cm == nil {
			continue // no event yet: nothing carried
		}
		cm.seen = m.gen
		now := countsOf(v)
		// The window's start, T-RateWindow, lies frac into bucket K-rateBuckets.
		a, b := cm.startAt(K-rateBuckets), cm.startAt(K-rateBuckets+1)
		var r [4]float64
		for x := range r {
			base := float64(a[x]) + (float64(b[x])-float64(a[x]))*frac
			r[x] = max(float64(now[x])-base, 0) / RateWindow.Seconds()
		}
		out[i] = WindowRate{Msgs: [2]float64{r[0], r[1]}, Bytes: [2]float64{r[2], r[3]}}
	}
	for id, cm := range m.conns {
		if cm.seen != m.gen {
			delete(m.conns, id)
		}
	}
	return out
}

// Series returns connection id's messages per second of packet time in
// direction dir, one point per second up to the one at t (in progress,
// counted so far), at most SeriesLen points, oldest first.
func (m *RateMeter) Series(id uint64, dir int, t time.Time) []float32 {
	cm := m.conns[id]
	if cm == nil || dir < 0 || dir > 1 {
		return nil
	}
	const n = int64(SeriesLen)
	end := secondOf(t)
	first := max(cm.sk-n+1, cm.born) // the oldest second kept
	if end < first {
		return nil
	}
	// The meter may be ahead of t (the pipeline runs on): seconds up to t
	// it has closed are final; the one in progress counts what came so far.
	out := make([]float32, 0, min(end-first+1, n))
	for s := max(first, end-n+1); s <= end; s++ {
		var v uint64
		switch {
		case s < cm.sk:
			v = uint64(cm.secs[ringIdx(s, n)][dir])
		case s == cm.sk:
			v = sub(cm.last[dir], cm.secBase[dir])
		}
		out = append(out, float32(v))
	}
	return out
}

// Len returns how many connections the meter follows.
func (m *RateMeter) Len() int {
	return len(m.conns)
}

package rules

import (
	"testing"
	"time"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// BenchmarkEvalKeptClosed measures one interval's evaluation of the
// built-in rules over a snapshot that keeps 10,000 closed connections (REQ
// to REP, answered, closed long ago: --keep-closed's default) and 10 open
// ones that change at every interval, as the tracker hands them out: the
// closed records are the same *Record with the same Gen at every snapshot,
// the open ones new Records of the snapshot's Gen.
func BenchmarkEvalKeptClosed(b *testing.B) { benchEvalKept(b, time.Hour, time.Second) }

// BenchmarkEvalRecentlyClosed is BenchmarkEvalKeptClosed with connections
// that closed within the rules' hold (5 minutes) of every evaluation, as in
// a replay of many short connections: whether they alert still depends on
// time, but not for a connection whose handshake and traffic were sound.
func BenchmarkEvalRecentlyClosed(b *testing.B) { benchEvalKept(b, 0, time.Millisecond) }

// benchEvalKept evaluates the built-in rules at a step apart, from after
// the kept connections closed.
func benchEvalKept(b *testing.B, after, step time.Duration) {
	const closed, open = 10000, 10
	var kept []*tracker.Record
	for i := range closed {
		c := conn(uint64(i), uint16(10000+i%50000), zmtp.REQ, zmtp.REP)
		c.State, c.Closed = zmtp.StateClosed, true
		c.Dirs[0].Messages, c.Dirs[1].Messages = 3, 3
		c.Dirs[1].LastMessage = t0
		c.Latency.Count = 3
		c.Gen = 1
		c.ClientName, c.ServerName = c.Client.String(), c.Server.String()
		kept = append(kept, c)
	}
	snap := func(gen uint64, ts time.Time) *tracker.Snapshot {
		s := &tracker.Snapshot{Time: ts, Gen: gen, Records: make([]*tracker.Record, 0, closed+open)}
		s.Records = append(s.Records, kept...)
		for i := range open {
			c := conn(uint64(closed+i), uint16(60000+i), zmtp.REQ, zmtp.REP)
			c.Start, c.Last, c.Gen = t0, ts, gen
			c.ClientName, c.ServerName = c.Client.String(), c.Server.String()
			c.Dirs[0].Messages, c.Dirs[1].Messages = gen, gen
			c.Dirs[1].LastMessage = ts
			c.Latency.Count = gen
			s.Records = append(s.Records, c)
		}
		return s
	}
	e := New(Builtins())
	ts := t0.Add(after)
	e.EvalSnapshot(ts, snap(1, ts), nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		at := ts.Add(time.Duration(i+1) * step)
		s := snap(uint64(i+2), at)
		b.StartTimer()
		if ch := e.EvalSnapshot(at, s, nil); len(ch) != 0 {
			b.Fatalf("changes %v", ch)
		}
	}
	b.ReportMetric(closed+open, "conns/op")
}

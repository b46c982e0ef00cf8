package ui

import (
	"fmt"
	"testing"
	"time"

	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// bigSnapshot makes n connections: PUB/SUB, REQ/REP and PUSH/PULL peers of
// 100 servers, with latency samples and some backlog.
func bigSnapshot(n int, at time.Time, scale uint64) *tracker.Snapshot {
	types := [][2]zmtp.SocketType{{zmtp.SUB, zmtp.PUB}, {zmtp.REQ, zmtp.REP}, {zmtp.PULL, zmtp.PUSH}, {zmtp.DEALER, zmtp.ROUTER}}
	s := &tracker.Snapshot{Time: at, Records: make([]*tracker.Record, n)}
	for i := range n {
		t := types[i%len(types)]
		v := handConn(uint64(i+1), fmt.Sprintf("10.%d.%d.%d:%d", i>>16&255, i>>8&255, i&255, 30000+i%30000),
			fmt.Sprintf("10.255.0.%d:5555", i%100), t[0], t[1], uint64(i%97)*scale, uint64(i%89)*scale)
		if t[0] == zmtp.SUB {
			v.Subscriptions = []string{"weather", "news"}
		}
		if t[0] == zmtp.REQ {
			for k := range 10 {
				v.Latency.Add(time.Duration(k*i%1000) * time.Microsecond)
			}
		}
		if i%10 == 0 {
			v.TCP[1].HaveSeq, v.TCP[1].HaveAck, v.TCP[1].NextSeq, v.TCP[1].Acked = true, true, uint32(i), 0
		}
		s.Records[i] = v
	}
	return s
}

// meterFor returns a rate meter that has seen an event of every connection
// of s, a little before s.Time.
func meterFor(s *tracker.Snapshot) *session.RateMeter {
	m := session.NewRateMeter(nil)
	for i, r := range s.Records {
		m.TrackerEvent(eventOf(r, tracker.Event{Type: tracker.EvMessage, TS: s.Time.Add(-time.Duration(i) * time.Microsecond)}))
	}
	return m
}

// BenchmarkRender10k measures what one screen update costs with 10,000
// connections: the rate meter's rates at the snapshot (window, on the
// pipeline goroutine), the model deriving rows (Apply), the table taking the
// frame (filter and sort), and drawing a 200×50 screen.
func BenchmarkRender10k(b *testing.B) {
	const n = 10000
	snaps := []*tracker.Snapshot{bigSnapshot(n, t0.Add(time.Second), 1), bigSnapshot(n, t0.Add(2*time.Second), 2)}
	meter := meterFor(snaps[0])
	rates := [][]session.WindowRate{meter.Window(snaps[0]), meter.Window(snaps[1])}
	b.Run("window", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			meter.Window(snaps[i%2])
		}
	})
	b.Run("apply", func(b *testing.B) {
		m := NewModel(ModelOptions{})
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			m.Apply(&session.Update{Snapshot: snaps[i%2], Rates: rates[i%2]})
		}
	})
	b.Run("set+draw", func(b *testing.B) {
		m := NewModel(ModelOptions{})
		frames := []*Frame{m.Apply(&session.Update{Snapshot: snaps[0], Rates: rates[0]}), m.Apply(&session.Update{Snapshot: snaps[1], Rates: rates[1]})}
		d, s := newDash(b, 200, 50, DashboardOptions{History: m.History})
		d.SetSort("↓MSG/S", true)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			d.SetFrame(frames[i%2])
			d.App.ForceDraw()
		}
		if rows := tableRows(screenLines(s)); len(rows) != 46 {
			b.Fatalf("%d rows drawn", len(rows))
		}
	})
	b.Run("apply+set+draw", func(b *testing.B) {
		m := NewModel(ModelOptions{})
		d, _ := newDash(b, 200, 50, DashboardOptions{History: m.History})
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			d.SetFrame(m.Apply(&session.Update{Snapshot: snaps[i%2], Rates: rates[i%2]}))
			d.App.ForceDraw()
		}
	})
	b.Run("redraw", func(b *testing.B) {
		m := NewModel(ModelOptions{})
		d, _ := newDash(b, 200, 50, DashboardOptions{History: m.History})
		d.SetFrame(m.Apply(&session.Update{Snapshot: snaps[0]}))
		b.ReportAllocs()
		for b.Loop() {
			d.App.ForceDraw()
		}
	})
	b.Run("filter", func(b *testing.B) {
		m := NewModel(ModelOptions{})
		d, _ := newDash(b, 200, 50, DashboardOptions{History: m.History})
		d.SetFrame(m.Apply(&session.Update{Snapshot: snaps[0]}))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			d.SetFilter([]string{"weather", "!rep", "10\\.0\\.1\\."}[i%3])
			d.App.ForceDraw()
		}
	})
}

package pipeline

import (
	"encoding/json"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/pcaptest"
	"github.com/zspy/zspy/reassembly"
	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/tracker"
)

// Eviction loses nothing when the traffic comes back: real captures whose
// connections overlap, replayed with room for one connection at a time, so
// that every connection is evicted by the next one's packets and resumed by
// its own (joined: the sequence numbers continue), give the same
// connections with the same counts, socket types, subscriptions, roles and
// latencies as with room for all; only the evictions are counted.
func TestEvictionResumesRealConnections(t *testing.T) {
	for _, name := range []string{"pubsub", "pushpull", "dealer_router", "slow_subscriber", "late_bind"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(corpus, name, "capture.pcap")
			want := replayFile(t, path)
			src, err := capture.OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			p := New(Config{Reassembly: reassembly.Options{MaxConnections: 1}}) // the default summaries (at least 1,024)
			if err := p.Run(src, nil); err != nil {
				t.Fatal(err)
			}
			p.Finish()
			got := p.Report()
			st := p.Asm.Stats()
			if len(want.Connections) > 1 && st.Evicted == 0 {
				t.Fatalf("no eviction with room for one of %d connections", len(want.Connections))
			}
			if st.Unjoined != 0 || st.Resumed == 0 && st.Evicted > st.ForgotClosed+uint64(len(want.Connections)) {
				t.Errorf("stats %+v: traffic that came back was not joined", st)
			}
			evictions := 0
			for i := range got.Connections {
				evictions += got.Connections[i].Evictions
				got.Connections[i].Evictions = 0
			}
			if uint64(evictions) != st.Resumed {
				t.Errorf("records say %d evictions resumed, the assembler %d", evictions, st.Resumed)
			}
			if a, b := connsJSON(t, got.Connections), connsJSON(t, want.Connections); a != b {
				t.Errorf("connections differ with evictions:\n%s\nwant\n%s", a, b)
			}
			if got.Stats.Lifetime == nil || got.Stats.Lifetime.Evicted != st.Evicted || got.Stats.Lifetime.MaxConnections != 1 {
				t.Errorf("report lifetime %+v, assembler %+v", got.Stats.Lifetime, st)
			}
		})
	}
}

func connsJSON(t *testing.T, cs []report.Connection) string {
	b, err := json.MarshalIndent(cs, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// heapAfterGC returns the bytes of live heap objects.
func heapAfterGC() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// runConns feeds src through p, reading the live heap every `every`
// connections' worth of segments; it returns the largest reading.
func runConns(t testing.TB, p *Pipeline, src *pcaptest.Conns, every int) (peak uint64) {
	var seg capture.Segment
	for n := 0; ; n++ {
		if err := src.Next(&seg); err != nil {
			break
		}
		p.Packet(&seg)
		if every > 0 && n%(every*12) == 0 {
			peak = max(peak, heapAfterGC())
		}
	}
	p.Finish()
	return max(peak, heapAfterGC())
}

// TestPerConnectionMemory measures what one quiet established ZeroMQ
// connection costs the assembler and the tracker together, with the
// immutable record a snapshot holds of it (the session takes one every
// interval), and holds it to the figure README and --max-connections state.
func TestPerConnectionMemory(t *testing.T) {
	const n = 20_000
	base := heapAfterGC()
	p := New(Config{})
	src := &pcaptest.Conns{N: n, Hold: true, Start: time.Unix(1_800_000_000, 0), Every: time.Millisecond}
	var seg capture.Segment
	for src.Next(&seg) == nil {
		p.Packet(&seg)
	}
	snap := p.Tracker.Snapshot(seg.TS)
	per := float64(heapAfterGC()-base) / n
	runtime.KeepAlive(p)
	runtime.KeepAlive(snap)
	t.Logf("%.0f bytes per quiet connection", per)
	if per > perConnectionBudget {
		t.Errorf("%.0f bytes per quiet connection, budget %d", per, perConnectionBudget)
	}
}

// perConnectionBudget is the documented memory of a quiet tracked
// connection (README, "Connection lifetime").
const perConnectionBudget = 7 << 10

// Many connections: 150,000 established connections that stay open and
// quiet, with room for 100,000. Memory stays within the documented cost of
// the cap (the tracked connections, the closed ones kept, the evicted
// ones' summaries) however many come, the oldest idle are evicted first, and
// every eviction is counted, in the assembler and in the report.
func TestManyConnectionsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("150,000 connections")
	}
	const n, capN, keep = 150_000, 100_000, 10_000
	base := heapAfterGC()
	p := New(Config{Reassembly: reassembly.Options{MaxConnections: capN}, Tracker: tracker.Options{KeepClosed: keep}})
	src := &pcaptest.Conns{N: n, Hold: true, Start: time.Unix(1_800_000_000, 0), Every: time.Millisecond}
	peak := runConns(t, p, src, 25_000)
	budget := uint64(capN+2*keep)*perConnectionBudget + uint64(capN/4)*200
	t.Logf("peak live heap %d MiB for %d connections (cap %d), budget %d MiB", (peak-base)>>20, n, capN, budget>>20)
	if peak-base > budget {
		t.Errorf("peak live heap %d MiB, budget %d MiB", (peak-base)>>20, budget>>20)
	}
	st := p.Asm.Stats()
	if st.Evicted != n-capN || st.Open != 0 || st.ClosedEnd != capN {
		t.Errorf("stats %+v: want %d evicted, %d open at the end", st, n-capN, capN)
	}
	r := p.Report()
	if l := r.Stats.Lifetime; l == nil || l.Evicted != n-capN || l.MaxConnections != capN {
		t.Errorf("report lifetime %+v", l)
	}
	// The oldest went first: connections 0..49,999 were evicted, the rest
	// were open to the end.
	for _, c := range r.Connections {
		if c.Client == pcaptest.Client(0).String() || c.Client == pcaptest.Client(n-capN-1).String() {
			if c.State != "evicted" {
				t.Errorf("connection %s: %s, want evicted", c.Client, c.State)
			}
		}
		if c.Client == pcaptest.Client(n-capN).String() && c.State != "open" {
			t.Errorf("connection %s: %s, want open", c.Client, c.State)
		}
	}
	if total := r.Stats.ConnectionsTotal; total != n {
		t.Errorf("connections_total %d, want %d", total, n)
	}
}

package session

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/pcaptest"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
)

// BenchmarkReplayMillionConnections replays a million short DEALER/ROUTER
// connections (handshake, one request and reply, FINs; one a millisecond,
// so 1,000 one-second metrics intervals) as `zspy replay` runs them: with
// the metrics intervals, their snapshots and the built-in rules, keeping
// closed connections as --keep-closed says (keep=0 keeps all, as replay did
// before it had the flag). peak-MiB is the largest live heap read after a
// GC every 100 intervals; s/op the whole replay.
//
//	go test ./session -run '^$' -bench ReplayMillionConnections -benchtime 1x
func BenchmarkReplayMillionConnections(b *testing.B) {
	n := 1_000_000
	if s := testingConns(); s > 0 {
		n = s
	}
	for _, keep := range []int{10_000, 0} {
		b.Run("keep="+strconv.Itoa(keep), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				base := ms.HeapAlloc
				var peak uint64
				intervals := 0
				src := &pcaptest.Conns{N: n, Start: time.Unix(1_800_000_000, 0), Every: time.Millisecond}
				cfg := Config{
					Pipeline: pipeline.Config{Tracker: tracker.Options{KeepClosed: keep}},
					Files:    []capture.Source{src},
					Rules:    rules.New(rules.Builtins()),
					OnInterval: func(time.Time, *tracker.Snapshot, []store.Point) {
						if intervals++; intervals%100 == 0 {
							runtime.GC()
							runtime.ReadMemStats(&ms)
							peak = max(peak, ms.HeapAlloc-base)
						}
					},
				}
				s := New(cfg)
				if err := s.Run(context.Background()); err != nil {
					b.Fatal(err)
				}
				r := s.Report()
				runtime.GC()
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc-base)
				if r.Stats.ConnectionsTotal != uint64(n) {
					b.Fatalf("%d connections, want %d", r.Stats.ConnectionsTotal, n)
				}
				b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
				b.ReportMetric(float64(len(r.Connections)), "listed")
			}
		})
	}
}

// testingConns reads ZSPY_BENCH_CONNS, a smaller number of connections for
// a quick run of BenchmarkReplayMillionConnections.
func testingConns() int {
	n, _ := strconv.Atoi(os.Getenv("ZSPY_BENCH_CONNS"))
	return n
}

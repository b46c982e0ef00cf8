package tracing_test

import (
	"bytes"
	"context"
	"runtime"
	"testing"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/pcaptest"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/tracing"
)

// BenchmarkReplayTracing: replay speed with tracing off and on, over the
// corpus multiplied with new addresses (50 copies, the broker among the
// cases: 50 brokers to trace).
func BenchmarkReplayTracing(b *testing.B) {
	pcap, packets, _ := pcaptest.Big(b, "../testdata/pcaps", []string{"reqrep", "pubsub", "pushpull", "dealer_router",
		"pair", "xpub_xsub", "many_conns", "heartbeat", "broker"}, 50, func(string) int { return 0 })
	for _, mode := range []string{"off", "on"} {
		b.Run(mode, func(b *testing.B) {
			b.SetBytes(int64(len(pcap)))
			b.ReportAllocs()
			stages := 0
			for i := 0; i < b.N; i++ {
				src, err := capture.NewReader(bytes.NewReader(pcap), "bench.pcap")
				if err != nil {
					b.Fatal(err)
				}
				cfg := session.Config{Files: []capture.Source{src}}
				if mode == "on" {
					cfg.Trace = &tracing.Config{}
				}
				s := session.New(cfg)
				if err := s.Run(context.Background()); err != nil {
					b.Fatal(err)
				}
				if r := s.Report(); r.Tracing != nil {
					stages = len(r.Tracing.Stages)
				}
			}
			b.ReportMetric(float64(packets)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
			if mode == "on" && stages != 50 {
				b.Fatalf("traced %d stages, want the 50 brokers", stages)
			}
		})
	}
}

// BenchmarkStageMemory: the heap tracing adds per stage after the broker
// capture (20 copies: 20 brokers), the run with tracing minus the run
// without, and what the tracer counts for its histograms and waiting
// messages.
func BenchmarkStageMemory(b *testing.B) {
	pcap, _, _ := pcaptest.Big(b, "../testdata/pcaps", []string{"broker"}, 20, func(string) int { return 0 })
	run := func(trace bool) (uint64, *session.Session) {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		src, err := capture.NewReader(bytes.NewReader(pcap), "bench.pcap")
		if err != nil {
			b.Fatal(err)
		}
		cfg := session.Config{Files: []capture.Source{src}}
		if trace {
			cfg.Trace = &tracing.Config{}
		}
		s := session.New(cfg)
		if err := s.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		return m1.HeapAlloc - m0.HeapAlloc, s
	}
	var added, counted float64
	for i := 0; i < b.N; i++ {
		off, s0 := run(false)
		on, s1 := run(true)
		r := s1.Report()
		if r.Tracing == nil || len(r.Tracing.Stages) != 20 {
			b.Fatalf("tracing found %+v, want 20 brokers", r.Tracing)
		}
		added = (float64(on) - float64(off)) / 20
		counted = float64(r.Tracing.MemoryBytes) / 20
		runtime.KeepAlive(s0)
	}
	b.ReportMetric(added, "heap-bytes/stage")
	b.ReportMetric(counted, "counted-bytes/stage")
}

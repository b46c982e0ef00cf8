package tracing_test

import (
	"bytes"
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/pcaptest"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/tracing"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// BenchmarkReplayTracing: replay with tracing off and on, alternately in
// each iteration (the machine is shared: alternating keeps the load the
// same for both), over the corpus multiplied with new addresses (50
// copies, the broker among the cases: 50 brokers to trace). Reports each
// mode's packets per second of wall time and CPU time per run (this
// process's user+system, GC included).
func BenchmarkReplayTracing(b *testing.B) {
	pcap, packets, _ := pcaptest.Big(b, "../testdata/pcaps", []string{"reqrep", "pubsub", "pushpull", "dealer_router",
		"pair", "xpub_xsub", "many_conns", "heartbeat", "broker"}, 50, func(string) int { return 0 })
	var wall, cpu [2]time.Duration
	for i := 0; i < b.N; i++ {
		for mode := range 2 {
			t0, c0 := time.Now(), cpuTime()
			src, err := capture.NewReader(bytes.NewReader(pcap), "bench.pcap")
			if err != nil {
				b.Fatal(err)
			}
			cfg := session.Config{Files: []capture.Source{src}}
			if mode == 1 {
				cfg.Trace = &tracing.Config{}
			}
			s := session.New(cfg)
			if err := s.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
			wall[mode] += time.Since(t0)
			cpu[mode] += cpuTime() - c0
			if r := s.Report(); mode == 1 && (r.Tracing == nil || len(r.Tracing.Stages) != 50) {
				b.Fatalf("traced %+v, want the 50 brokers", r.Tracing)
			}
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(packets)*n/wall[0].Seconds(), "off-packets/s")
	b.ReportMetric(float64(packets)*n/wall[1].Seconds(), "on-packets/s")
	b.ReportMetric(float64(cpu[0].Milliseconds())/n, "off-cpu-ms/run")
	b.ReportMetric(float64(cpu[1].Milliseconds())/n, "on-cpu-ms/run")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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

// BenchmarkEqualBodies: a PUSH→PULL stream of equal bodies (the tcpreplay
// benchmark's and many a test load's), every message waiting at the PULL
// until it ages out; each message sent looks for a waiting one to have
// forwarded. The waiting messages of one connection are one group: before,
// every message walked all of them (up to MaxPending, 65,536), which made
// live capture cost ~15 µs a packet.
func BenchmarkEqualBodies(b *testing.B) {
	tr := tracing.New(tracing.Config{})
	ev := tracker.Event{ConnID: 1, Client: "127.0.0.1:40000", Server: "127.0.0.1:5555"}
	greet := func(d zmtp.Dir, st zmtp.SocketType) {
		e := ev
		e.Type, e.Dir, e.SocketType = tracker.EvGreeting, d, st
		tr.TrackerEvent(&e)
	}
	greet(zmtp.ClientToServer, zmtp.PUSH)
	greet(zmtp.ServerToClient, zmtp.PULL)
	msg := ev
	msg.Type, msg.Dir, msg.Frames, msg.Sizes, msg.MsgBytes = tracker.EvMessage, zmtp.ClientToServer, 1, []uint64{16}, 16
	msg.Preview, msg.Last, msg.LastSize = []byte("0123456789abcdef"), []byte("0123456789abcdef"), 16
	t0 := time.Unix(1700000000, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		msg.TS = t0.Add(time.Duration(i) * time.Microsecond)
		tr.TrackerEvent(&msg)
	}
	b.StopTimer()
	if r := tr.Result(); r.Messages != uint64(b.N) {
		b.Fatalf("traced %d messages of %d", r.Messages, b.N)
	}
}

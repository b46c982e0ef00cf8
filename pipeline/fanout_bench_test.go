package pipeline

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/pcaptest"
)

// BenchmarkReplayWorkers replays BenchmarkReplaySmallMessages' file with
// one reassembler (Run) and with 1, 2 and 4 workers (RunSpread): packets a
// second of wall time. On this 2-core machine the reader, the workers and
// the model share two cores: workers pay off where cores are to spare.
func BenchmarkReplayWorkers(b *testing.B) {
	cases := []string{"reqrep", "pubsub", "pushpull", "dealer_router", "pair", "xpub_xsub", "many_conns", "heartbeat"}
	pcap, packets, conns := pcaptest.Big(b, corpus, cases, 500, func(path string) int { return len(replayFileB(b, path)) })
	for _, workers := range []int{0, 1, 2, 4} {
		name := fmt.Sprintf("workers=%d", workers)
		if workers == 0 {
			name = "run"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(pcap)))
			var got int
			for range b.N {
				src, err := capture.NewReader(bytes.NewReader(pcap), "bench.pcap")
				if err != nil {
					b.Fatal(err)
				}
				p := New(Config{Workers: max(workers, 2)})
				if workers <= 1 {
					p = New(Config{})
				}
				if workers == 1 {
					// One worker: the spread, the batches and the merge, without
					// a second reassembler.
					p = New(Config{})
					p.fan = newFanout(p, 1, p.cfg.Reassembly)
					p.Asm = nil
				}
				if err := p.RunSpread(src, nil, nil); err != nil {
					b.Fatal(err)
				}
				p.Finish()
				got, _ = p.Tracker.Len()
			}
			if got < conns {
				b.Fatalf("tracked %d connections, want at least %d", got, conns)
			}
			b.ReportMetric(float64(packets)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
		})
	}
}

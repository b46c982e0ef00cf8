package pipeline

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/pcaptest"
)

func replayFileB(b *testing.B, path string) []int {
	src, err := capture.OpenFile(path)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	p := New(Config{})
	if err := p.Run(src, nil); err != nil {
		b.Fatal(err)
	}
	p.Finish()
	return make([]int, len(p.Report().Connections))
}

// bigPcap is pcaptest.Big made once per process for each file the
// benchmarks read: the testing package runs a benchmark function more
// than once (b.N 1, then the count asked), and building a file of hundreds
// of megabytes each time cost seconds and left its garbage to the timed
// runs' collector.
type bigPcap struct {
	pcap           []byte
	packets, conns int
}

var bigPcaps = map[string]bigPcap{}

func bigFile(b *testing.B, cases []string, copies int) (pcap []byte, packets, conns int) {
	key := fmt.Sprint(cases, copies)
	f, ok := bigPcaps[key]
	if !ok {
		f.pcap, f.packets, f.conns = pcaptest.Big(b, corpus, cases, copies, func(path string) int { return len(replayFileB(b, path)) })
		bigPcaps[key] = f
	}
	// Start the timed runs with no garbage of the set-up's or an earlier
	// benchmark's to collect.
	runtime.GC()
	return f.pcap, f.packets, f.conns
}

func benchReplay(b *testing.B, cases []string, copies int) {
	pcap, packets, conns := bigFile(b, cases, copies)
	b.SetBytes(int64(len(pcap)))
	b.ReportAllocs()
	b.ResetTimer()
	var got int
	for i := 0; i < b.N; i++ {
		src, err := capture.NewReader(bytes.NewReader(pcap), "bench.pcap")
		if err != nil {
			b.Fatal(err)
		}
		p := New(Config{})
		if err := p.Run(src, nil); err != nil {
			b.Fatal(err)
		}
		p.Finish()
		got, _ = p.Tracker.Len()
	}
	b.StopTimer()
	if got < conns {
		b.Fatalf("tracked %d connections, want at least %d", got, conns)
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(packets)*float64(b.N)/sec, "packets/s")
	b.ReportMetric(float64(packets), "packets/op")
	b.ReportMetric(float64(got), "conns/op")
	b.ReportMetric(float64(len(pcap))/1e6, "MB/op")
}

// benchRecords reads the file benchReplay decodes with a bare record loop
// (capture's ReadPacket: framing only, no decoding): the floor the replay's
// cost per packet is measured against.
func benchRecords(b *testing.B, cases []string, copies int) {
	pcap, packets, _ := bigFile(b, cases, copies)
	b.SetBytes(int64(len(pcap)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src, err := capture.NewReader(bytes.NewReader(pcap), "bench.pcap")
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, _, err := src.ReadPacket()
			if err != nil {
				break
			}
			n++
		}
		if n != packets {
			b.Fatalf("read %d records, want %d", n, packets)
		}
	}
	b.ReportMetric(float64(packets)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

// BenchmarkRecordsSmallMessages and BenchmarkRecordsBulk are the record
// loop over BenchmarkReplaySmallMessages' and BenchmarkReplayBulk's files.
func BenchmarkRecordsSmallMessages(b *testing.B) {
	benchRecords(b, []string{"reqrep", "pubsub", "pushpull", "dealer_router", "pair", "xpub_xsub", "many_conns", "heartbeat"}, 2000)
}

func BenchmarkRecordsBulk(b *testing.B) { benchRecords(b, []string{"longframe"}, 200) }

// BenchmarkReplaySmallMessages: real small-message traffic of every pattern,
// multiplied to tens of thousands of connections.
func BenchmarkReplaySmallMessages(b *testing.B) {
	benchReplay(b, []string{"reqrep", "pubsub", "pushpull", "dealer_router", "pair", "xpub_xsub", "many_conns", "heartbeat"}, 2000)
}

// BenchmarkReplayBulk: real large-frame traffic (300 B to 500 KB frames).
func BenchmarkReplayBulk(b *testing.B) {
	benchReplay(b, []string{"longframe"}, 200)
}

package capture

import (
	"io"
	"testing"
)

// BenchmarkMerge reads a real capture (slow_subscriber, 4.4 MB) alone, and
// merged with a copy of itself (every segment a duplicate): the cost of the
// heap, the payload copy and the duplicate detection per segment given.
func BenchmarkMerge(b *testing.B) {
	const p = "../testdata/pcaps/slow_subscriber/capture.pcap"
	run := func(b *testing.B, open func() Source) {
		var n int
		for i := 0; i < b.N; i++ {
			src := open()
			var seg Segment
			n = 0
			for {
				err := src.Next(&seg)
				if err == io.EOF {
					break
				}
				if err == nil {
					n++
				}
			}
			src.Close()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/segment")
	}
	openF := func() *FileSource {
		s, err := OpenFile(p)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	b.Run("file", func(b *testing.B) { run(b, func() Source { return openF() }) })
	b.Run("merge-one", func(b *testing.B) { run(b, func() Source { return NewMergeSource([]Source{openF()}, 0) }) })
	b.Run("merge-two-copies", func(b *testing.B) {
		run(b, func() Source { return NewMergeSource([]Source{openF(), openF()}, 0) })
	})
}

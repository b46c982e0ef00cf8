package dissect

import (
	"bytes"
	"testing"
	"time"
)

type nop struct{}

func (nop) Event(*Event) {}

// benchStream returns a connection past its handshake and a segment of frames
// to feed it repeatedly.
func benchStream(b *testing.B, seg []byte) *Conn {
	c := NewConn(nop{}, Options{}, true)
	ts := time.Unix(0, 0)
	c.Feed(c2s, greeting("NULL", 1), ts)
	c.Feed(s2c, greeting("NULL", 1), ts)
	c.Feed(c2s, cmd("READY", prop("Socket-Type", "PUSH")), ts)
	c.Feed(s2c, cmd("READY", prop("Socket-Type", "PULL")), ts)
	b.SetBytes(int64(len(seg)))
	b.ReportAllocs()
	b.ResetTimer()
	return c
}

// BenchmarkSmallFrames: segments of 20 two-frame messages of 10 + 40 bytes.
func BenchmarkSmallFrames(b *testing.B) {
	var seg []byte
	for i := 0; i < 20; i++ {
		seg = append(seg, frame(1, []byte("topic.abcd"))...)
		seg = append(seg, frame(0, bytes.Repeat([]byte{'x'}, 40))...)
	}
	c := benchStream(b, seg)
	ts := time.Unix(0, 0)
	for i := 0; i < b.N; i++ {
		c.Feed(c2s, seg, ts)
	}
	b.ReportMetric(float64(b.N)*40/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkBulkFrames: 1 MiB frames delivered in 64 KiB segments.
func BenchmarkBulkFrames(b *testing.B) {
	body := bytes.Repeat([]byte{'y'}, 1<<20)
	msg := frame(0, body)
	c := benchStream(b, msg)
	ts := time.Unix(0, 0)
	for i := 0; i < b.N; i++ {
		for off := 0; off < len(msg); off += 64 << 10 {
			c.Feed(c2s, msg[off:min(off+64<<10, len(msg))], ts)
		}
	}
}

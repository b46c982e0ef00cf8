//go:build linux

package capture

import (
	"errors"
	"net"
	"testing"
)

// BenchmarkLiveLoopback reads segments of a bulk TCP transfer on lo through a
// live source; the transfer runs in another goroutine.
func BenchmarkLiveLoopback(b *testing.B) {
	src, err := OpenLive("lo", LiveOptions{})
	if err != nil {
		b.Skip(err)
	}
	defer src.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 1<<16)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	go func() {
		buf := make([]byte, 1400)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	var seg Segment
	var bytes int64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := src.Next(&seg); err != nil && !errors.Is(err, ErrTimeout) {
			b.Fatal(err)
		}
		bytes += int64(len(seg.Payload))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "segments/s")
	st := src.Stats()
	b.ReportMetric(float64(st.KernelDrops), "kernel-drops")
}

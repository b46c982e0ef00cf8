package monitor

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
)

// BenchmarkSubscriberPull measures a bound PULL endpoint receiving v1 events
// with a source frame from one forwarder (a raw ZMTP NULL PUSH writing them
// back to back), from the socket to the handler.
func BenchmarkSubscriberPull(b *testing.B) {
	sub, err := NewSubscriber(Config{Endpoints: []string{"@pull+tcp://127.0.0.1:0"}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	listening := make(chan string, 1)
	var mu sync.Mutex
	got, want := 0, b.N
	done := make(chan struct{})
	go func() {
		_ = sub.Run(ctx, Handler{
			Event: func(Event) {
				mu.Lock()
				got++
				if got == want {
					close(done)
				}
				mu.Unlock()
			},
			Link: func(l LinkEvent) {
				if l.State == LinkListening {
					listening <- strings.TrimPrefix(l.Addr, "tcp://")
				}
			},
		})
	}()
	conn, err := net.Dial("tcp", <-listening)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if err := zmtpPeer(conn); err != nil {
		b.Fatal(err)
	}
	msg := zmtpMsg(withSource("bench/dealer", v1(le, 0x1, 7, "tcp://127.0.0.1:5555")))
	buf := make([]byte, 0, len(msg)*1024)
	for range 1024 {
		buf = append(buf, msg...)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for n := b.N; n > 0; n -= 1024 {
			if _, err := conn.Write(buf[:min(n, 1024)*len(msg)]); err != nil {
				return
			}
		}
	}()
	<-done
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

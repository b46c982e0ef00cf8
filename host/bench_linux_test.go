package host

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openConns opens n loopback TCP connections in this process (2n sockets
// on the host) for the benchmarks.
func openConns(b *testing.B, n int) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, n)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s := <-accepted
		b.Cleanup(func() { c.Close(); s.Close() })
	}
}

// One walk of /proc with 1,000 connections (2,000 sockets) open.
func BenchmarkWalk1000Conns(b *testing.B) {
	openConns(b, 1000)
	w := newWalker("/proc")
	b.ResetTimer()
	for b.Loop() {
		m, err := w.walk()
		if err != nil || len(m.byInode) < 2000 {
			b.Fatalf("walk: %v, %d inodes", err, len(m.byInode))
		}
	}
}

// One sample (the netlink dumps, attribution from a fresh map, the
// indexes) with 1,000 connections open and no walk.
func BenchmarkSample1000Conns(b *testing.B) {
	openConns(b, 1000)
	s, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	b.ResetTimer()
	for b.Loop() {
		smp, err := s.Sample(now)
		if err != nil || len(smp.TCP) < 2000 {
			b.Fatalf("sample: %v", err)
		}
	}
	if w := s.Stats().Walks; w != 1 {
		b.Fatalf("%d walks, want the first only", w)
	}
}

// A minute of a live session at 1,000 connections: one sample per 1 s
// metrics interval, with (churn) or without (steady) a new connection
// before each. Each op is one minute; walks/min is the figure to quote.
func BenchmarkMinute1000Conns(b *testing.B) {
	openConns(b, 1000)
	for _, c := range []struct {
		name  string
		churn bool
	}{{"steady", false}, {"churn", true}} {
		b.Run(c.name, func(b *testing.B) {
			s, err := New(Config{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			t0 := time.Now()
			start := s.Stats().Walks
			ops := 0
			for b.Loop() {
				for sec := 1; sec <= 60; sec++ {
					if c.churn {
						s.Invalidate()
					}
					if _, err := s.Sample(t0.Add(time.Duration(ops*60+sec) * time.Second)); err != nil {
						b.Fatal(err)
					}
				}
				ops++
			}
			b.ReportMetric(float64(s.Stats().Walks-start)/float64(ops), "walks/min")
		})
	}
}

// dialConns opens n loopback TCP connections in this process and returns
// their ends as a tracker would see them.
func dialConns(tb testing.TB, n int) []ConnAddrs {
	tb.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	out := make([]ConnAddrs, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			tb.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { c.Close(); s.Close() })
		out = append(out, ConnAddrs{Client: c.LocalAddr().(*net.TCPAddr).AddrPort(), Server: c.RemoteAddr().(*net.TCPAddr).AddrPort()})
	}
	return out
}

// One sample per 1 s interval at 1,000 loopback connections of which 10
// are tracked (the lookups, the Unix dump when due, attribution, the
// indexes, and the walks of /proc when due, amortised: walks/min says how
// many), against dumping every socket as zspy did before tracking, and
// against tracking all 1,000 (where the lookups cost most).
func BenchmarkSampleTracked10Of1000Conns(b *testing.B) {
	conns := dialConns(b, 1000)
	for _, c := range []struct {
		name  string
		track int // tracked connections; 0: dump every socket
	}{{"dump-all", 0}, {"tracked", 10}, {"tracked-all", 1000}} {
		b.Run(c.name, func(b *testing.B) {
			s, err := New(Config{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			want := 2000
			if c.track > 0 {
				s.Track(conns[:c.track])
				want = 2 * c.track
			}
			now := time.Now()
			if _, err := s.Sample(now); err != nil { // the first walk
				b.Fatal(err)
			}
			cpu0 := cpuTime(b)
			b.ResetTimer()
			for b.Loop() {
				now = now.Add(time.Second) // one sample per 1 s interval
				smp, err := s.Sample(now)
				if err != nil || len(smp.TCP) < want || (c.track > 0 && len(smp.TCP) != want) {
					b.Fatalf("sample: %v, %d tcp sockets, want %d", err, len(smp.TCP), want)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			st := s.Stats()
			b.ReportMetric(float64(st.Walks-1)*60/float64(st.Samples-1), "walks/min")
		})
	}
}

// cpuTime is the process's CPU time so far, user and system (the kernel's
// work for netlink and /proc is done on the caller's time).
func cpuTime(tb testing.TB) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

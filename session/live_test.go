package session

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
)

// The live runner, fed by a capture file, gives the same report as a
// replay: reading in bursts between looks at the other inputs neither loses
// nor reorders packets.
func TestRunLiveMatchesReplay(t *testing.T) {
	for _, name := range []string{"dealer_router", "slow_subscriber", "late_bind"} {
		path := filepath.Join(corpus, name, "capture.pcap")
		want := replayFile(t, path)
		src, err := capture.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p := New(Config{Live: src})
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := p.Report()
		if jsonOf(t, got) != jsonOf(t, want) {
			t.Errorf("%s: live report differs from replay", name)
		}
	}
}

// Count stops the run after that many segments.
func TestRunLiveCount(t *testing.T) {
	src, err := capture.OpenFile(filepath.Join(corpus, "reqrep", "capture.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	p := New(Config{Live: src, LiveOptions: LiveOptions{Count: 10}})
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := p.p.Packets(); n != 10 {
		t.Fatalf("pipeline saw %d segments, want 10", n)
	}
}

// A run on a real ring (lo, filtered to one connection) reads the packets
// on the session's goroutine and waits for more in between: a connection
// that sends in bursts, with pauses in which the ring runs dry, is read to
// the count, every segment of it.
func TestRunLiveRingWaits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	src, err := capture.OpenLive("lo", capture.LiveOptions{ReadTimeout: 20 * time.Millisecond,
		BlockTimeout: 5 * time.Millisecond, Filter: &capture.Filter{Ports: []uint16{port}}})
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			t.Skipf("live capture needs root or CAP_NET_RAW: %v", err)
		}
		t.Fatal(err)
	}
	const count = 200
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := New(Config{Live: src, LiveOptions: LiveOptions{Count: count}})
	res := make(chan error, 1)
	go func() { res <- p.Run(ctx) }()

	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(io.Discard, c)
		c.Close()
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetNoDelay(true)
	// Each write is one segment and its ACK another, until the run ends at
	// its count; a pause after every tenth write leaves the ring empty.
	var runErr error
writing:
	for i := 0; ; i++ {
		if _, err := c.Write([]byte("0123456789")); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			select {
			case runErr = <-res:
				break writing
			case <-time.After(30 * time.Millisecond):
			}
		}
	}
	if runErr != nil {
		t.Fatal(runErr)
	}
	if ctx.Err() != nil {
		t.Fatal("the run ended by its deadline, not its count")
	}
	st := p.Stats()
	if n := p.p.Packets(); n != count || st.TCP != count {
		t.Fatalf("pipeline saw %d segments, the source decoded %d, want %d", n, st.TCP, count)
	}
}

// TestRunLiveDrainWaitsForHeldBlock: packets the kernel still holds in a
// block it has not handed over when the run is stopped (a 1 s block
// timeout) are in the report, with one ring and with two rings read by two
// workers: the drain does not end at the first read timeout while the ring
// holds packets (it did, and lost them, when a wait begun before the stop
// timed out; e2e's attribution test failed so now and then under load).
func TestRunLiveDrainWaitsForHeldBlock(t *testing.T) {
	for _, rings := range []int{1, 2} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		port := uint16(ln.Addr().(*net.TCPAddr).Port)
		src, err := capture.OpenLive("lo", capture.LiveOptions{ReadTimeout: 20 * time.Millisecond, BlockTimeout: time.Second,
			BlockSize: 1 << 20, RingSize: 4 << 20, Fanout: rings, Filter: &capture.Filter{Ports: []uint16{port}}})
		if err != nil {
			if errors.Is(err, os.ErrPermission) {
				t.Skipf("live capture needs root or CAP_NET_RAW: %v", err)
			}
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cfg := Config{Live: src, LiveOptions: LiveOptions{DrainFor: 10 * time.Second}}
		cfg.Pipeline.Workers = rings
		p := New(cfg)
		res := make(chan error, 1)
		go func() { res <- p.Run(ctx) }()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		a, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("held"))
		c.Close()
		a.Close()
		cancel() // the block holding the connection is not handed over for up to 1 s
		if err := <-res; err != nil {
			t.Fatal(err)
		}
		if st := p.Stats(); st.TCP < 4 {
			t.Errorf("%d rings: the report holds %d TCP segments of the connection, want its handshake, data and FINs", rings, st.TCP)
		}
	}
}

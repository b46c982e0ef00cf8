//go:build linux

package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestLiveLoopback captures a real TCP exchange on lo with three sources (lo
// with full packets and with a 100-byte snap length, and the "any" device) and
// checks every payload byte is seen exactly once per direction (the kernel
// filter dropped loopback's second copies), with the cut bytes reported by
// PayloadLen.
func TestLiveLoopback(t *testing.T) {
	full, err := OpenLive("lo", LiveOptions{})
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			t.Skipf("no permission for a packet socket: %v", err)
		}
		t.Fatal(err)
	}
	defer full.Close()
	cut, err := OpenLive("lo", LiveOptions{SnapLen: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer cut.Close()
	anyDev, err := OpenLive("any", LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer anyDev.Close()
	// Four rings with small blocks, so that the exchange spans many blocks.
	fan, err := OpenLive("lo", LiveOptions{Fanout: 4, BlockSize: 1 << 17, RingSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer fan.Close()

	// UDP on lo: the kernel filter keeps it from the sources.
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		udp.WriteTo([]byte("not tcp"), udp.LocalAddr())
	}
	udp.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	request := bytes.Repeat([]byte("zspy live capture "), 20000) // 360 kB: many segments
	reply := []byte("thank you")
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		got, err := io.ReadAll(c)
		if err == nil && !bytes.Equal(got, request) {
			err = errors.New("server got a different request")
		}
		if err == nil {
			_, err = c.Write(reply)
		}
		served <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	clientPort := uint16(c.LocalAddr().(*net.TCPAddr).Port)
	serverPort := uint16(ln.Addr().(*net.TCPAddr).Port)
	if _, err := c.Write(request); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	c.Close()
	if err != nil || !bytes.Equal(got, reply) {
		t.Fatalf("client read %q, %v", got, err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		src  *LiveSource
		snap int
	}{{"full", full, 0}, {"snap100", cut, 100}, {"any", anyDev, 0}, {"fanout", fan, 0}} {
		// Per direction: payload bytes covered, by sequence offset from the
		// SYN. Loopback TCP retransmits now and then under load (every
		// source sees it): a segment seen again is counted, and only a
		// share of them that no retransmission explains fails the test.
		var isn [2]uint32
		covered := [2][]bool{make([]bool, len(request)), make([]bool, len(reply))}
		var segs, again int
		var fins [2]bool
		var captured, cutBytes int
		timeouts := 0
		for !(fins[0] && fins[1]) {
			var seg Segment
			err := tc.src.Next(&seg)
			if errors.Is(err, ErrTimeout) {
				if timeouts++; timeouts > 50 {
					t.Fatalf("%s: FINs not captured (seen %v)", tc.name, fins)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			var d int
			switch {
			case seg.SrcPort == clientPort && seg.DstPort == serverPort:
				d = 0
			case seg.SrcPort == serverPort && seg.DstPort == clientPort:
				d = 1
			default:
				continue
			}
			if !seg.Src.IsLoopback() || seg.TS.IsZero() {
				t.Fatalf("%s: segment %+v", tc.name, seg)
			}
			if d := time.Since(seg.TS); d < 0 || d > time.Minute {
				t.Fatalf("%s: packet time %v is not the kernel's receive time (now %v)", tc.name, seg.TS, time.Now())
			}
			if seg.Has(FlagSYN) {
				isn[d] = seg.Seq
			} else if isn[d] == 0 && isn[1-d] == 0 {
				t.Fatalf("%s: a segment of direction %d came before either SYN", tc.name, d)
			}
			if d == 1 && isn[0] == 0 {
				t.Fatalf("%s: the server's segment came before the client's SYN: the rings mixed the order", tc.name)
			}
			if seg.PayloadLen > 0 {
				off := int(seg.Seq - isn[d] - 1)
				if off < 0 || off+seg.PayloadLen > len(covered[d]) {
					t.Fatalf("%s: direction %d: %d bytes at offset %d, past the %d sent", tc.name, d, seg.PayloadLen, off, len(covered[d]))
				}
				segs++
				fresh := false
				for i := off; i < off+seg.PayloadLen; i++ {
					fresh = fresh || !covered[d][i]
					covered[d][i] = true
				}
				if !fresh {
					again++
				}
				captured += len(seg.Payload)
				cutBytes += seg.PayloadLen - len(seg.Payload)
				if tc.snap > 0 && len(seg.Payload) > tc.snap {
					t.Fatalf("%s: %d payload bytes with a snap length of %d", tc.name, len(seg.Payload), tc.snap)
				}
			}
			if seg.Has(FlagFIN) {
				fins[d] = true
			}
		}
		for d := range covered {
			n := 0
			for _, c := range covered[d] {
				if c {
					n++
				}
			}
			if n != len(covered[d]) {
				t.Errorf("%s: direction %d: %d of %d payload bytes seen", tc.name, d, n, len(covered[d]))
			}
		}
		if again*4 > segs {
			t.Errorf("%s: %d of %d segments seen twice (loopback duplicates?)", tc.name, again, segs)
		}
		st := tc.src.Stats()
		// The kernel filter drops loopback's sent copies: none reach zspy.
		if st.Duplicates != 0 || st.TCP == 0 || st.NonTCP != 0 {
			t.Errorf("%s: stats %+v", tc.name, st)
		}
		if tc.snap > 0 && (cutBytes == 0 || st.Truncated == 0) {
			t.Errorf("%s: nothing cut: %d bytes cut, stats %+v", tc.name, cutBytes, st)
		}
		if tc.snap == 0 && (cutBytes != 0 || captured < len(request)+len(reply)) {
			t.Errorf("%s: %d bytes cut, %d captured", tc.name, cutBytes, captured)
		}
	}
	full.Close()
	var seg Segment
	if err := full.Next(&seg); err != io.EOF {
		t.Errorf("Next after Close: %v", err)
	}
}

func TestOpenLiveUnknownInterface(t *testing.T) {
	_, err := OpenLive("no-such-if0", LiveOptions{})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("no-such-if0")) {
		t.Errorf("error %v does not name the interface", err)
	}
}

// TestLiveReadPacket reads raw packets from lo: IPv4 TCP, undecoded, from the
// IP header on.
func TestLiveReadPacket(t *testing.T) {
	src, err := OpenLive("lo", LiveOptions{ReadTimeout: 50 * time.Millisecond})
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			t.Skipf("no permission for a packet socket: %v", err)
		}
		t.Fatal(err)
	}
	defer src.Close()
	_, c := dialLo(t)
	c.Close()
	for timeouts := 0; ; {
		data, info, err := src.ReadPacket()
		if errors.Is(err, ErrTimeout) {
			if timeouts++; timeouts > 100 {
				t.Fatal("no packet")
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if info.Link != LinkIPv4 || len(data) < 40 || data[0]>>4 != 4 || data[9] != 6 || info.WireLen != len(data) || info.Num != 1 {
			t.Fatalf("packet %x, info %+v", data, info)
		}
		break
	}
}

// TestLiveCloseWhileReading closes a source, and reads its counters, while
// another goroutine waits in Next: Next returns io.EOF (run with -race). One
// ring waits in Go's network poller, several in poll(2).
func TestLiveCloseWhileReading(t *testing.T) {
	for _, fanout := range []int{1, 2} {
		src, err := OpenLive("lo", LiveOptions{ReadTimeout: 20 * time.Millisecond, Fanout: fanout})
		if err != nil {
			if errors.Is(err, os.ErrPermission) {
				t.Skipf("no permission for a packet socket: %v", err)
			}
			t.Fatal(err)
		}
		waiting, done := readUntilError(src)
		<-waiting
		for range 10 {
			_ = src.Stats()
		}
		src.Close()
		select {
		case err := <-done:
			if err != io.EOF {
				t.Errorf("fan-out %d: Next after Close: %v, want io.EOF", fanout, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("fan-out %d: Next still blocked 10 s after Close", fanout)
		}
		_ = src.Stats()
	}
}

// TestLiveInterfaceGone deletes the interface under a capture: the wait
// ends with the socket's error (network is down), not with read timeouts
// forever; with one ring (Go's network poller) and with two (poll(2)).
func TestLiveInterfaceGone(t *testing.T) {
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command (iproute2)")
	}
	for _, fanout := range []int{1, 2} {
		name := fmt.Sprintf("zspygone%d", fanout)
		if out, err := exec.Command("ip", "link", "add", name, "type", "veth", "peer", "name", name+"p").CombinedOutput(); err != nil {
			t.Skipf("cannot create a veth pair: %v\n%s", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("ip", "link", "del", name).Run() })
		if out, err := exec.Command("ip", "link", "set", name, "up").CombinedOutput(); err != nil {
			t.Fatalf("ip link set up: %v\n%s", err, out)
		}
		src, err := OpenLive(name, LiveOptions{ReadTimeout: 20 * time.Millisecond, Fanout: fanout})
		if err != nil {
			t.Fatal(err)
		}
		waiting, done := readUntilError(src)
		<-waiting
		if out, err := exec.Command("ip", "link", "del", name).CombinedOutput(); err != nil {
			t.Fatalf("ip link del: %v\n%s", err, out)
		}
		select {
		case err := <-done:
			if !errors.Is(err, unix.ENETDOWN) || !strings.Contains(err.Error(), name) {
				t.Errorf("fan-out %d: Next after the interface went: %v, want %s's network is down", fanout, err, name)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("fan-out %d: Next still waiting 10 s after the interface went", fanout)
		}
		src.Close()
	}
}

// TestLiveRings splits a capture of two rings on lo into a source per ring,
// read on goroutines of their own while real TCP connections exchange
// data: every connection's packets are all in one ring, the parts' counters
// add up to the whole's, and closing the whole ends both readers.
func TestLiveRings(t *testing.T) {
	src, err := OpenLive("lo", LiveOptions{ReadTimeout: 20 * time.Millisecond, Fanout: 2, BlockTimeout: 5 * time.Millisecond})
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			t.Skipf("no permission for a packet socket: %v", err)
		}
		t.Fatal(err)
	}
	rings := src.Rings()
	if len(rings) != 2 {
		t.Fatalf("%d rings", len(rings))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvPort := uint16(ln.Addr().(*net.TCPAddr).Port)
	const conns = 16
	go func() {
		for range conns {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	// Each ring's reader: which connections (by client port) it saw.
	type seen struct {
		ports map[uint16]int
		err   error
	}
	results := make(chan seen, 2)
	var fins atomic.Int64 // FIN segments of the test's connections read
	allFins := make(chan struct{})
	for _, r := range rings {
		go func() {
			s := seen{ports: map[uint16]int{}}
			var seg Segment
			for {
				err := r.Next(&seg)
				switch {
				case err == nil:
					if seg.DstPort == srvPort {
						s.ports[seg.SrcPort]++
					} else if seg.SrcPort == srvPort {
						s.ports[seg.DstPort]++
					} else {
						continue
					}
					if seg.Has(FlagFIN) && fins.Add(1) == 2*conns {
						close(allFins)
					}
				case errors.Is(err, ErrTimeout):
				default:
					s.err = err
					results <- s
					return
				}
			}
		}()
	}
	for range conns {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			c.Write([]byte("0123456789abcdef"))
		}
		c.Close()
	}
	// Every connection's packets read, to both its FINs, before the
	// close (the readers count FINs as they come).
	select {
	case <-allFins:
	case <-time.After(20 * time.Second):
		t.Errorf("read %d of the connections' %d FINs in 20 s", fins.Load(), 2*conns)
	}
	whole := src.Stats()
	src.Close()
	var parts [2]seen
	for i := range parts {
		select {
		case parts[i] = <-results:
		case <-time.After(10 * time.Second):
			t.Fatal("a ring's reader still reading 10 s after Close")
		}
		if parts[i].err != io.EOF {
			t.Errorf("ring reader ended with %v, want io.EOF", parts[i].err)
		}
	}
	for p := range parts[0].ports {
		if _, both := parts[1].ports[p]; both {
			t.Errorf("connection from port %d in both rings", p)
		}
	}
	if n := len(parts[0].ports) + len(parts[1].ports); n != conns {
		t.Errorf("%d connections seen, want %d", n, conns)
	}
	if len(parts[0].ports) == 0 || len(parts[1].ports) == 0 {
		t.Logf("all %d connections hashed to one ring (possible, unlikely)", conns)
	}
	var sum Stats
	for _, r := range rings {
		sum.Add(r.Stats())
	}
	if got := src.Stats(); got.TCP != sum.TCP || got.Packets != sum.Packets || got.TCP < whole.TCP {
		t.Errorf("the whole counts %+v, its rings %+v", got, sum)
	}
}

// TestLiveSettled: while the kernel holds packets in a block it has not
// handed over, Settled says a time no later than theirs; with none held,
// about now. (A block timeout of 1 s keeps the block open long enough.)
func TestLiveSettled(t *testing.T) {
	src, err := OpenLive("lo", LiveOptions{ReadTimeout: 20 * time.Millisecond, BlockSize: 1 << 20, RingSize: 2 << 20, BlockTimeout: time.Second})
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			t.Skipf("no permission for a packet socket: %v", err)
		}
		t.Fatal(err)
	}
	defer src.Close()
	var seg Segment
	// Nothing captured yet (lo may carry other traffic: read it away).
	for src.NextReady(&seg) == nil {
	}
	before := time.Now()
	idle, ok := src.Settled()
	if !ok || idle.After(before) || before.Sub(idle) > time.Second {
		t.Fatalf("settled %v (ok %v) with no packet held, at %v", idle, ok, before)
	}
	ln, c := dialLo(t)
	c.Write([]byte("settled"))
	c.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	// Let time pass beyond Settled's 5 ms margin (not to wait for anything:
	// so that "now less the margin" would be later than the packets, and
	// the test fails if Settled forgot the block the kernel holds).
	time.Sleep(30 * time.Millisecond)
	// The handshake's packets are in the kernel's open block, not handed
	// over: Settled must not promise past them.
	var held time.Time
	if err := src.NextReady(&seg); errors.Is(err, ErrNotReady) {
		held, _ = src.Settled()
	} else {
		t.Skipf("the block was handed over at once (%v): nothing held to test", err)
	}
	var first time.Time
	for first.IsZero() {
		err := src.Next(&seg)
		switch {
		case err == nil:
			if seg.DstPort == port || seg.SrcPort == port {
				first = seg.TS
			}
		case errors.Is(err, ErrTimeout):
		default:
			t.Fatal(err)
		}
	}
	if held.After(first) {
		t.Errorf("Settled said %v while a packet of %v was held", held, first)
	}
}

// dialLo makes a TCP connection on lo (the listener closes at the test's
// end; the connection is the caller's).
func dialLo(t *testing.T) (net.Listener, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return ln, c
}

// readUntilError reads src on a goroutine of its own until Next fails
// with something other than a read timeout: waiting is closed once the
// first Next returned, done gets the error that ended it.
func readUntilError(src *LiveSource) (waiting <-chan struct{}, done <-chan error) {
	w, d := make(chan struct{}), make(chan error, 1)
	go func() {
		var seg Segment
		for i := 0; ; i++ {
			err := src.Next(&seg)
			if i == 0 {
				close(w)
			}
			if err == nil || errors.Is(err, ErrTimeout) {
				continue
			}
			d <- err
			return
		}
	}()
	return w, d
}

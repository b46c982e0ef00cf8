//go:build linux

package session

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/clocktest"
	"github.com/zspy/zspy/pipeline"
)

// quietPubSub is a real libzmq PUB (bound) and SUB (subscribed to "quiet")
// in one process: it publishes "quiet", "round 1 message I" three times and
// prints "ready PORT" once the SUB got them; on a line on stdin it publishes
// round 2 the same way, closes both sockets and prints "done".
const quietPubSub = `
import sys, zmq
ctx = zmq.Context()
pub = ctx.socket(zmq.PUB)
port = pub.bind_to_random_port("tcp://127.0.0.1")
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.RCVTIMEO, 10000)
sub.setsockopt(zmq.SUBSCRIBE, b"quiet")
sub.connect("tcp://127.0.0.1:%d" % port)
# Until the subscription reached the PUB, what it publishes is dropped:
# probe ("quiet-probe" matches the subscription) until one arrives, then
# publish the rounds.
while True:
    pub.send_multipart([b"quiet-probe", b""])
    if sub.poll(100):
        sub.recv_multipart()
        break
while sub.poll(200):
    sub.recv_multipart()
def burst(r):
    for i in range(3):
        m = [b"quiet", b"round %d message %d" % (r, i)]
        pub.send_multipart(m)
        assert sub.recv_multipart() == m
burst(1)
print("ready", port, flush=True)
sys.stdin.readline()
burst(2)
sub.close(linger=1000)
pub.close(linger=1000)
ctx.term()
print("done", flush=True)
`

// clockedSource gives a live capture's packets the time of an injectable
// clock: the kernel's timestamp moved on by the time the fake clock was
// made to pass (clocktest.Fake.Total), so that minutes of silence pass
// without sleeping. It signals seen once a payload holding mark went by.
type clockedSource struct {
	capture.Source
	clock *clocktest.Fake
	port  uint16
	mark  []byte
	seen  chan struct{}
	once  sync.Once
}

func (s *clockedSource) Next(seg *capture.Segment) error {
	for {
		err := s.Source.Next(seg)
		if err != nil {
			return err
		}
		if seg.SrcPort != s.port && seg.DstPort != s.port {
			continue // only the test's connection
		}
		seg.TS = seg.TS.Add(s.clock.Total())
		if bytes.Contains(seg.Payload, s.mark) {
			s.once.Do(func() { close(s.seen) })
		}
		return nil
	}
}

// A live capture of a real PUB/SUB connection that stays quiet for three
// minutes of (injected) time — longer than the old two-minute idle timeout
// — between two bursts: it stays one connection, open through the silence,
// with its socket types, mechanism and subscription, and both bursts'
// messages counted on it; no eviction, no idle close.
func TestLiveQuietPubSubLastsAcrossIdleTimeout(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import zmq").Run(); err != nil {
		t.Fatalf("python3-zmq not installed (scripts/test.sh installs it): %v", err)
	}
	live, err := capture.OpenLive("lo", capture.LiveOptions{ReadTimeout: 50 * time.Millisecond})
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			t.Skipf("live capture needs root or CAP_NET_RAW: %v", err)
		}
		t.Fatal(err)
	}
	peer := exec.Command("/usr/bin/python3", "-c", quietPubSub)
	peer.Stderr = os.Stderr
	stdin, err := peer.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := peer.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := peer.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = peer.Process.Kill(); _ = peer.Wait() })
	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready ") {
		t.Fatalf("peer said %q (%v)", line, err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "ready ")))
	if err != nil {
		t.Fatal(err)
	}

	clock := clocktest.New(time.Now())
	src := &clockedSource{Source: live, clock: clock, port: uint16(port), mark: []byte("round 1 message 2"), seen: make(chan struct{})}
	s := New(Config{Live: src, Clock: clock, Pipeline: pipeline.Config{IdleTimeout: 2 * time.Minute}, UpdateInterval: 50 * time.Millisecond})
	updates := make(chan *Update, 1)
	s.Subscribe(listenerFunc(func(u *Update) {
		select {
		case updates <- u:
		default:
		}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	// Round 1 went by the capture: three minutes of silence pass.
	select {
	case <-src.seen:
	case <-ctx.Done():
		t.Fatal("round 1 never reached the capture")
	}
	<-clock.After(3 * time.Minute)
	if _, err := stdin.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := out.ReadString('\n'); err != nil || line != "done\n" {
		t.Fatalf("peer said %q (%v)", line, err)
	}
	// The peer closed both sockets: wait, on the session's updates, for the
	// connection's FINs, then stop.
	for closed := false; !closed; {
		select {
		case u := <-updates:
			for _, rec := range u.Snapshot.Records {
				closed = closed || rec.Server.Port() == uint16(port) && rec.Closed
			}
		case <-ctx.Done():
			t.Fatal("the connection did not close in the capture")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r := s.Report()
	if len(r.Connections) != 1 {
		t.Fatalf("%d connections, want 1 (the quiet connection was split): %+v", len(r.Connections), r.Connections)
	}
	c := r.Connections[0]
	if c.ClientSocket != "SUB" || c.ServerSocket != "PUB" || c.Mechanism != "NULL" || c.MidStream || len(c.Subscriptions) != 1 || c.Subscriptions[0] != "quiet" {
		t.Errorf("connection %+v", c)
	}
	if c.S2C.Messages == nil || *c.S2C.Messages < 6 {
		t.Errorf("%v messages to the SUB, want both rounds (6 and the probes)", c.S2C.Messages)
	}
	if end, start := c.End, c.Start; end.Sub(start) < 3*time.Minute {
		t.Errorf("the connection lasted %v of packet time, want the 3 minutes of silence in it", end.Sub(start))
	}
	if l := r.Stats.Lifetime; l != nil && (l.Evicted != 0 || l.IdleClosed != 0) {
		t.Errorf("lifetime %+v", l)
	}
}

type listenerFunc func(*Update)

func (f listenerFunc) SessionUpdate(u *Update) { f(u) }

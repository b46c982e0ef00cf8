package session

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/host"
	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
)

// hostPeer runs ../host/testdata/peer.py (a real libzmq peer) and returns
// its process and the rest of its "ready" line.
func hostPeer(t *testing.T, args ...string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import zmq").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import zmq (install Debian's python3-zmq; scripts/test.sh does): %v\n%s", py, err, out)
	}
	cmd := exec.Command(py, append([]string{"../host/testdata/peer.py"}, args...)...)
	cmd.Stderr = os.Stderr
	// Killed with this test binary too (a crash, a timeout): no peer
	// outlives the test to appear in another run's capture of lo.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if _, err := cmd.StdinPipe(); err != nil { // kept open: a SUB that stopped reading waits on it
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, bufio.NewReader(out)
}

func readLine(t *testing.T, r *bufio.Reader, prefix string) string {
	t.Helper()
	l, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(l, prefix) {
		t.Fatalf("peer said %q (%v), want %q", l, err, prefix)
	}
	return strings.TrimSpace(strings.TrimPrefix(l, prefix))
}

// A live capture on lo with the host view: a PUB (25 messages of 4 KiB a
// second: 20 KB per 200 ms interval, so that the SUB's untuned 128 KiB
// receive buffer takes several intervals to fill) and a SUB that stops
// reading, both real libzmq processes. The report names both ends by PID
// and command, the SUB's zspy_socket_queue series grows, and
// recv_queue_growth fires before hwm_saturation (the zero window) does.
func TestLiveHostView(t *testing.T) {
	src, err := capture.OpenLive("lo", capture.LiveOptions{ReadTimeout: 50 * time.Millisecond})
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			t.Skipf("live capture needs root or CAP_NET_RAW: %v", err)
		}
		t.Fatal(err)
	}
	hs, err := host.New(host.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()

	pub, pubOut := hostPeer(t, "pub", "tcp://127.0.0.1:*", "25", "4096")
	ep := readLine(t, pubOut, "ready ")
	server := strings.TrimPrefix(ep, "tcp://")

	eng := rules.New(rules.Builtins())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var queue []int64 // the SUB's recv_q_bytes, one per interval
	firstFiring := map[string]int{}
	intervals := 0
	var badPoint error
	cfg := Config{
		Pipeline: pipeline.Config{Interval: 200 * time.Millisecond, Host: "h"},
		Live:     src, Host: hs, Rules: eng,
		OnInterval: func(_ time.Time, _ *tracker.Snapshot, pts []store.Point) {
			intervals++
			for i := range pts {
				p := &pts[i]
				if p.Measurement != metrics.MeasSocketQueue {
					continue
				}
				if err := metrics.Schema.Check(p); err != nil && badPoint == nil {
					badPoint = err
				}
				if tag(p, "server") == server && tag(p, "side") == "client" && tag(p, "socket") == "SUB" {
					f, _ := p.Field("recv_q_bytes")
					queue = append(queue, f.IntValue())
				}
			}
			for _, a := range eng.Alerts() {
				if a.State == rules.StateFiring && a.Server == server {
					if _, ok := firstFiring[a.Rule]; !ok {
						firstFiring[a.Rule] = intervals
					}
				}
			}
			if _, ok := firstFiring["hwm_saturation"]; ok {
				cancel()
			}
		},
	}
	s := New(cfg)
	var ups hostUpdates
	s.Subscribe(&ups)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	sub, subOut := hostPeer(t, "sub", ep, "10")
	readLine(t, subOut, "ready")
	readLine(t, subOut, "stopped")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if badPoint != nil {
		t.Fatalf("a zspy_socket_queue point does not fit the schema: %v", badPoint)
	}
	t.Logf("SUB receive queue per interval: %v; first firing interval per rule: %v", queue, firstFiring)

	r := s.Report()
	var found bool
	for _, c := range r.Connections {
		if c.Server != server || c.ClientSocket != "SUB" {
			continue
		}
		found = true
		if c.ClientHost == nil || c.ClientHost.PID != sub.Process.Pid || c.ClientHost.Command != "python3" ||
			!strings.Contains(c.ClientHost.Cmdline, "peer.py sub") {
			t.Errorf("client (SUB) side: %+v, want pid %d python3 peer.py sub", c.ClientHost, sub.Process.Pid)
		}
		if c.ServerHost == nil || c.ServerHost.PID != pub.Process.Pid || c.ServerHost.Command != "python3" {
			t.Errorf("server (PUB) side: %+v, want pid %d python3", c.ServerHost, pub.Process.Pid)
		}
	}
	if !found {
		t.Fatalf("no SUB connection to %s in the report", server)
	}
	if r.Host == nil || r.Host.Walks == 0 || r.Host.Samples == 0 {
		t.Fatalf("report's host part: %+v", r.Host)
	}
	if ups.withHost == 0 || ups.last == nil || len(ups.last.Conns) == 0 {
		t.Fatalf("%d updates carried a host view; the last: %+v", ups.withHost, ups.last)
	}

	grew := 0
	for i := 1; i < len(queue); i++ {
		if queue[i] > queue[i-1] {
			grew++
		}
	}
	if grew < 2 || queue[len(queue)-1] < 64<<10 {
		t.Fatalf("the SUB's receive queue series did not grow: %v", queue)
	}
	rq, ok := firstFiring["recv_queue_growth"]
	if !ok {
		t.Fatalf("recv_queue_growth never fired (firing: %v)", firstFiring)
	}
	if hw, ok := firstFiring["hwm_saturation"]; ok && hw <= rq {
		t.Fatalf("hwm_saturation fired at interval %d, recv_queue_growth only at %d", hw, rq)
	}
}

func tag(p *store.Point, key string) string {
	for _, t := range p.Tags {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

// hostUpdates counts the updates that carried a host view (on the session's
// goroutine; read after Run returned).
type hostUpdates struct {
	withHost int
	last     *host.View
}

func (h *hostUpdates) SessionUpdate(u *Update) {
	if u.Host != nil {
		h.withHost++
		h.last = u.Host
	}
}

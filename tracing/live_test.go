package tracing_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/host"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/tracing"
	"github.com/zspy/zspy/tracker"
)

// Under live capture on lo (as zspy capture runs it), the seed's broker —
// a REQ client → ROUTER|DEALER via zmq.proxy → 2 REP workers, real libzmq
// in testdata/broker.py — is traced: every request's end-to-end time on the
// wire lies within the client's own send..reply, each worker's own
// recv..send within the wire's time in the worker (the capture's clock is
// the apps' clock), and the report's broker has all four hops for every
// request, none left inside, and with the host view its ends are named by
// the process.
func TestBrokerTracedLive(t *testing.T) {
	src, err := capture.OpenLive("lo", capture.LiveOptions{ReadTimeout: 50 * time.Millisecond})
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			t.Skipf("live capture needs root or CAP_NET_RAW: %v", err)
		}
		t.Fatal(err)
	}
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import zmq").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import zmq (install Debian's python3-zmq; scripts/test.sh does): %v\n%s", py, err, out)
	}
	const n = 20
	cmd := exec.Command(py, "testdata/broker.py", "20")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	out := bufio.NewReader(stdout)
	line := func() string {
		l, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("broker.py: %v (said %q)", err, l)
		}
		return strings.TrimSpace(l)
	}
	ready := strings.Fields(line())
	if len(ready) != 3 || ready[0] != "ready" {
		t.Fatalf("broker.py said %q", ready)
	}
	front, back := strings.TrimPrefix(ready[1], "tcp://"), strings.TrimPrefix(ready[2], "tcp://")

	// All 4n messages of the broker's connections (request in and out of
	// the broker, reply in and out) decoded: the session has read what the
	// apps sent. Other tests' traffic on lo is left out.
	seen := &messageCount{servers: map[string]bool{front: true, back: true}, ours: map[uint64]bool{}, want: 4 * n, done: make(chan struct{})}
	var e2e, work []tracing.Sample
	cfg := tracing.Config{OnSample: func(s tracing.Sample) {
		if !seen.ours[s.Conn] {
			return
		}
		switch s.Hop {
		case tracing.HopEndToEnd:
			e2e = append(e2e, s)
		case tracing.HopWorker:
			work = append(work, s)
		}
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hs, err := host.New(host.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()
	s := session.New(session.Config{Live: src, Trace: &cfg, Host: hs, Events: seen})
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	// The capture is on since OpenLive (its ring keeps the packets until
	// the session reads them): the apps may start.
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	var app struct {
		Client []struct {
			SendNs  int64 `json:"send_ns"`
			ReplyNs int64 `json:"reply_ns"`
		}
		Workers []struct {
			RecvNs int64 `json:"recv_ns"`
			SendNs int64 `json:"send_ns"`
		}
	}
	if err := json.Unmarshal([]byte(line()), &app); err != nil {
		t.Fatal(err)
	}
	if l := line(); l != "done" {
		t.Fatalf("broker.py said %q", l)
	}
	select {
	case <-seen.done:
	case <-ctx.Done():
		t.Fatalf("the session decoded %d messages of the %d on the wire", seen.n, seen.want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	tr := s.Report().Tracing
	if tr == nil {
		t.Fatal("no tracing in the report")
	}
	found := false
	for _, x := range tr.Stages {
		if len(x.Front) == 0 || x.Front[0].Addr != front || len(x.Back) == 0 || x.Back[0].Addr != back {
			continue
		}
		found = true
		if x.Kind != "broker" || len(x.Hops) != tracing.NHops || x.NeverLeft != 0 || x.Waiting != 0 {
			t.Fatalf("broker stage %+v", x)
		}
		// With the host view, its ends are named by the process.
		if want := fmt.Sprintf("python3[%d]", cmd.Process.Pid); x.Front[0].Process != want || x.Back[0].Process != want {
			t.Errorf("broker ends held by %q and %q, want %s", x.Front[0].Process, x.Back[0].Process, want)
		}
		for _, h := range x.Hops {
			if h.Count != n {
				t.Errorf("%s: %d samples, want %d", h.Name, h.Count, n)
			}
		}
	}
	if !found {
		t.Fatalf("no broker %s → %s among the traced stages %+v", front, back, tr.Stages)
	}
	if len(e2e) != n || len(app.Client) != n || len(work) != n || len(app.Workers) != n {
		t.Fatalf("%d end-to-end and %d worker samples on the wire, the apps %d and %d", len(e2e), len(work), len(app.Client), len(app.Workers))
	}
	// One client, one request at a time: the k-th on the wire is the k-th
	// the client sent, and the workers' in time order.
	slices.SortFunc(app.Workers, func(a, b struct {
		RecvNs int64 `json:"recv_ns"`
		SendNs int64 `json:"send_ns"`
	}) int {
		return int(a.RecvNs - b.RecvNs)
	})
	for k := range n {
		c, w := app.Client[k], e2e[k]
		if time.Unix(0, c.SendNs).After(w.Start) || w.End.After(time.Unix(0, c.ReplyNs)) {
			t.Errorf("request %d: wire %s..%s not within the client's %s..%s", k, w.Start.Format(time.StampNano), w.End.Format(time.StampNano),
				time.Unix(0, c.SendNs).Format(time.StampNano), time.Unix(0, c.ReplyNs).Format(time.StampNano))
		}
		a, ww := app.Workers[k], work[k]
		if ww.Start.After(time.Unix(0, a.RecvNs)) || time.Unix(0, a.SendNs).After(ww.End) {
			t.Errorf("request %d: the worker's %s..%s not within the wire's %s..%s", k, time.Unix(0, a.RecvNs).Format(time.StampNano),
				time.Unix(0, a.SendNs).Format(time.StampNano), ww.Start.Format(time.StampNano), ww.End.Format(time.StampNano))
		}
	}
}

// messageCount closes done when the session has decoded want messages on
// connections to servers (on the session's goroutine); ours are their IDs.
type messageCount struct {
	servers map[string]bool
	ours    map[uint64]bool
	n, want int
	done    chan struct{}
}

func (m *messageCount) TrackerEvent(e *tracker.Event) {
	if !m.servers[e.Server] {
		return
	}
	m.ours[e.ConnID] = true
	if e.Type != tracker.EvMessage {
		return
	}
	if m.n++; m.n == m.want {
		close(m.done)
	}
}

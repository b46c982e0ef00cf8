package patterns_test

import (
	"bufio"
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/host"
	"github.com/zspy/zspy/patterns"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/session"
)

type proc struct {
	cmd *exec.Cmd
	out *bufio.Reader
}

// start runs one role of testdata/stages.py (a real libzmq process).
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import zmq").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import zmq (install Debian's python3-zmq; scripts/test.sh does): %v\n%s", py, err, out)
	}
	cmd := exec.Command(py, append([]string{"testdata/stages.py"}, args...)...)
	cmd.Stderr = os.Stderr
	// The process exits when its stdin closes (this test binary's end, even
	// a crash), and is killed with the test's end otherwise: none outlives
	// the test to appear in another run's capture of lo.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if _, err := cmd.StdinPipe(); err != nil {
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
	return &proc{cmd: cmd, out: bufio.NewReader(out)}
}

// line reads the next line, which must start with word, and returns its
// other words.
func (p *proc) line(t *testing.T, word string) []string {
	t.Helper()
	l, err := p.out.ReadString('\n')
	f := strings.Fields(l)
	if err != nil || len(f) == 0 || f[0] != word {
		t.Fatalf("%v said %q (%v), want %q", p.cmd.Args, l, err, word)
	}
	return f[1:]
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stagesWatch is a session listener that hands on, once, the first update's
// stages for which ok holds. lo carries other runs' processes too: ok looks
// at the test's own.
type stagesWatch struct {
	ok   func([]patterns.Stage) bool
	hit  chan []patterns.Stage
	last atomic.Pointer[session.Update] // for the failure's message
}

func (w *stagesWatch) SessionUpdate(u *session.Update) {
	w.last.Store(u)
	if w.ok(u.Stages) {
		select {
		case w.hit <- u.Stages:
		default:
		}
	}
}

// wait returns the stages of the first update for which w.ok held, or fails
// the test when ctx ends first (the only timeout: generous, for a loaded
// machine).
func (w *stagesWatch) wait(ctx context.Context, t *testing.T, what string) []patterns.Stage {
	t.Helper()
	select {
	case st := <-w.hit:
		return st
	case <-ctx.Done():
		if u := w.last.Load(); u != nil {
			for _, r := range u.Snapshot.Records {
				c, hc := u.Host.Conn(r.ID)
				cl, sv := r.Names()
				t.Logf("conn %d %s→%s %v→%v %v handshake %v; host %v %+v", r.ID, cl, sv, r.ClientSocket, r.ServerSocket, r.State, r.Handshake, hc, c.Sides)
			}
			t.Logf("stats %+v; stages %+v", u.Stats, u.Stages)
		}
		t.Fatalf("no update in which %s", what)
		return nil
	}
}

// stageOf returns the stages of pid among stages.
func stageOf(stages []patterns.Stage, pid int) []patterns.Stage {
	var out []patterns.Stage
	for _, st := range stages {
		if st.Process.PID == pid {
			out = append(out, st)
		}
	}
	return out
}

// openLo opens a live capture on lo of the traffic to and from the bound
// endpoints only (the test's own: other runs use lo at the same time), and
// a host view.
func openLo(t *testing.T, endpoints ...string) (*capture.LiveSource, *host.Source) {
	t.Helper()
	f := &capture.Filter{}
	for _, ep := range endpoints {
		ap, err := netip.ParseAddrPort(strings.TrimPrefix(ep, "tcp://"))
		if err != nil {
			t.Fatalf("endpoint %q: %v", ep, err)
		}
		f.Ports = append(f.Ports, ap.Port())
	}
	src, err := capture.OpenLive("lo", capture.LiveOptions{ReadTimeout: 50 * time.Millisecond, Filter: f})
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			t.Skipf("live capture needs root or CAP_NET_RAW: %v", err)
		}
		t.Fatal(err)
	}
	hs, err := host.New(host.Config{})
	if err != nil {
		src.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { hs.Close() })
	return src, hs
}

// Under live capture with the host view: the seed's broker (REQ → ROUTER |
// DEALER via zmq.proxy → REP), an XSUB/XPUB proxy between a PUB and a SUB,
// and a ventilator → 3 workers → sink pipeline. Each broker, proxy and
// worker process is one stage, named by its PID, with its front and back
// ends and the processes at their other ends.
func TestStagesOfRealProcesses(t *testing.T) {
	// The binders first: the capture keeps the traffic of their ports.
	broker := start(t, "broker", "tcp://127.0.0.1:*", "tcp://127.0.0.1:*")
	bep := broker.line(t, "ready")
	proxy := start(t, "proxy", "tcp://127.0.0.1:*", "tcp://127.0.0.1:*")
	pep := proxy.line(t, "ready")
	vent := start(t, "vent", "tcp://127.0.0.1:*")
	vep := vent.line(t, "ready")
	sink := start(t, "sink", "tcp://127.0.0.1:*", "30")
	sep := sink.line(t, "ready")
	src, hs := openLo(t, bep[0], bep[1], pep[0], pep[1], vep[0], sep[0])

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := session.New(session.Config{Pipeline: pipeline.Config{Interval: 200 * time.Millisecond}, Live: src, Host: hs})
	// The session has seen what the test needs when every stage of the
	// test's processes is there, with messages in and out on both its ends
	// (how soon depends on the machine's load: the test waits for it).
	var stagePIDs atomic.Pointer[[]int] // set once the processes run
	watch := &stagesWatch{hit: make(chan []patterns.Stage, 1), ok: func(sts []patterns.Stage) bool {
		pids := stagePIDs.Load()
		if pids == nil {
			return false
		}
		for _, pid := range *pids {
			if got := stageOf(sts, pid); len(got) != 1 || got[0].In == 0 || got[0].Out == 0 {
				return false
			}
		}
		return true
	}}
	s.Subscribe(watch)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	rep := start(t, "rep", bep[1])
	rep.line(t, "ready")
	req := start(t, "req", bep[0], "20")
	sub := start(t, "sub", pep[1], "10")
	sub.line(t, "ready")
	pub := start(t, "pub", pep[0])
	var workers []*proc
	for range 3 {
		w := start(t, "worker", vep[0], sep[0])
		w.line(t, "ready")
		workers = append(workers, w)
	}

	req.line(t, "ready")
	pub.line(t, "ready")
	stagePIDs.Store(&[]int{broker.pid(), proxy.pid(), workers[0].pid(), workers[1].pid(), workers[2].pid()})
	watch.wait(ctx, t, "the broker, the proxy and the 3 workers are stages with messages in and out")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	r := s.Report()
	byPID := map[int][]report.Stage{}
	for _, st := range r.Stages {
		byPID[st.PID] = append(byPID[st.PID], st)
	}
	check := func(name string, p *proc, kind patterns.Kind, front, back string, frontPeers, backPeers []*proc) {
		t.Helper()
		sts := byPID[p.pid()]
		if len(sts) != 1 || sts[0].Kind != string(kind) || sts[0].Command != "python3" {
			t.Errorf("%s (pid %d): stages %+v, want one %s", name, p.pid(), sts, kind)
			return
		}
		st := sts[0]
		for _, side := range []struct {
			ends  []report.StageEnd
			sock  string
			peers []*proc
		}{{st.Front, front, frontPeers}, {st.Back, back, backPeers}} {
			got := map[int]bool{}
			for _, e := range side.ends {
				if e.Socket != side.sock {
					t.Errorf("%s: end %+v, want a %s", name, e, side.sock)
				}
				got[e.PeerPID] = true
			}
			for _, pp := range side.peers {
				if !got[pp.pid()] {
					t.Errorf("%s: no %s end to pid %d (%v); ends %+v", name, side.sock, pp.pid(), pp.cmd.Args[2], side.ends)
				}
			}
		}
		if st.In == 0 || st.Out == 0 {
			t.Errorf("%s: %d messages in, %d out", name, st.In, st.Out)
		}
	}
	check("broker", broker, patterns.Broker, "ROUTER", "DEALER", []*proc{req}, []*proc{rep})
	check("proxy", proxy, patterns.Forwarder, "XSUB", "XPUB", []*proc{pub}, []*proc{sub})
	for i, w := range workers {
		check("worker "+string(rune('1'+i)), w, patterns.Worker, "PULL", "PUSH", []*proc{vent}, []*proc{sink})
	}
	// Other runs' processes on lo may be stages too: the test counts its own.
	ours := map[int]bool{}
	for _, p := range append([]*proc{broker, rep, req, proxy, sub, pub, vent, sink}, workers...) {
		ours[p.pid()] = true
	}
	var mine []report.Stage
	for _, st := range r.Stages {
		if ours[st.PID] {
			mine = append(mine, st)
		}
	}
	if len(mine) != 5 {
		for _, c := range r.Connections {
			if c.State != "refused" {
				t.Logf("conn %d %s %s %s→%s %s %v host %+v %+v", c.ID, c.Client, c.Server, c.ClientSocket, c.ServerSocket, c.State, c.Handshake, c.ClientHost, c.ServerHost)
			}
		}
		t.Errorf("%d stages of the test's processes, want 5 (broker, proxy, 3 workers): %+v", len(mine), mine)
	}
	var b strings.Builder
	if err := report.WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "stage: broker python3[") {
		t.Errorf("text report without the broker's stage:\n%s", b.String())
	}
}

// A pipeline worker that stops (SIGSTOP) is marked stalled: its input
// queue grows in the kernel while its output idles; the running workers
// are not.
func TestStalledWorker(t *testing.T) {
	vent := start(t, "vent", "tcp://127.0.0.1:*")
	vep := vent.line(t, "ready")
	sink := start(t, "sink", "tcp://127.0.0.1:*", "1000000")
	sep := sink.line(t, "ready")
	src, hs := openLo(t, vep[0], sep[0])

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := session.New(session.Config{Pipeline: pipeline.Config{Interval: 200 * time.Millisecond}, Live: src, Host: hs})
	// The run starts before the workers: a capture ring not read for a few
	// seconds (the workers' start on a loaded machine) fills, and the
	// kernel drops their handshakes (Stats.KernelDrops).
	var pids atomic.Pointer[[3]int] // the workers', set once they run
	// "ready" comes before libzmq's handshake: the worker to stop must be a
	// stage that forwards (its handshakes seen) before it stops. Then the
	// test waits for an update that marks it stalled and the running workers
	// not (one of them descheduled for a sample's length on a loaded machine
	// would be marked too, rightly: it is waited out).
	forwarding := func(sts []patterns.Stage) bool {
		ws := pids.Load()
		if ws == nil {
			return false
		}
		for _, pid := range ws {
			if st := stageOf(sts, pid); len(st) != 1 || st[0].Out == 0 {
				return false
			}
		}
		return true
	}
	running := &stagesWatch{ok: forwarding, hit: make(chan []patterns.Stage, 1)}
	var stopped atomic.Bool
	stall := &stagesWatch{hit: make(chan []patterns.Stage, 1), ok: func(sts []patterns.Stage) bool {
		if !stopped.Load() || !forwarding(sts) {
			return false
		}
		for i, pid := range pids.Load() {
			if stageOf(sts, pid)[0].Stalled != (i == 1) {
				return false
			}
		}
		return true
	}}
	s.Subscribe(running)
	s.Subscribe(stall)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var workers []*proc
	for range 3 {
		w := start(t, "worker", vep[0], sep[0])
		w.line(t, "ready")
		workers = append(workers, w)
	}
	pids.Store(&[3]int{workers[0].pid(), workers[1].pid(), workers[2].pid()})

	running.wait(ctx, t, "the 3 workers are stages forwarding messages")
	if err := workers[1].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped.Store(true)
	stall.wait(ctx, t, "the stopped worker is marked stalled and the running ones are not")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

package patterns_test

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

// Under live capture with the host view: the seed's broker (REQ → ROUTER |
// DEALER via zmq.proxy → REP), an XSUB/XPUB proxy between a PUB and a SUB,
// and a ventilator → 3 workers → sink pipeline. Each broker, proxy and
// worker process is one stage, named by its PID, with its front and back
// ends and the processes at their other ends.
func TestStagesOfRealProcesses(t *testing.T) {
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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := session.New(session.Config{Pipeline: pipeline.Config{Interval: 200 * time.Millisecond}, Live: src, Host: hs})
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	broker := start(t, "broker", "tcp://127.0.0.1:*", "tcp://127.0.0.1:*")
	bep := broker.line(t, "ready")
	rep := start(t, "rep", bep[1])
	rep.line(t, "ready")
	req := start(t, "req", bep[0], "20")

	proxy := start(t, "proxy", "tcp://127.0.0.1:*", "tcp://127.0.0.1:*")
	pep := proxy.line(t, "ready")
	sub := start(t, "sub", pep[1], "10")
	sub.line(t, "ready")
	pub := start(t, "pub", pep[0])

	vent := start(t, "vent", "tcp://127.0.0.1:*")
	vep := vent.line(t, "ready")
	sink := start(t, "sink", "tcp://127.0.0.1:*", "30")
	sep := sink.line(t, "ready")
	var workers []*proc
	for range 3 {
		w := start(t, "worker", vep[0], sep[0])
		w.line(t, "ready")
		workers = append(workers, w)
	}

	req.line(t, "ready")
	req.line(t, "done")
	pub.line(t, "ready")
	sub.line(t, "done")
	sink.line(t, "done")
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
	if len(r.Stages) != 5 {
		for _, c := range r.Connections {
			if c.State != "refused" {
				t.Logf("conn %d %s %s %s→%s %s %v host %+v %+v", c.ID, c.Client, c.Server, c.ClientSocket, c.ServerSocket, c.State, c.Handshake, c.ClientHost, c.ServerHost)
			}
		}
		t.Errorf("%d stages, want 5 (broker, proxy, 3 workers): %+v", len(r.Stages), r.Stages)
	}
	var b strings.Builder
	if err := report.WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "stage: broker python3[") {
		t.Errorf("text report without the broker's stage:\n%s", b.String())
	}
}

// stallWatch is a session listener that reports, once, the first update
// in which a stage of pid is marked stalled, with the update's stages.
type stallWatch struct {
	pid int
	hit chan []patterns.Stage
}

func (w *stallWatch) SessionUpdate(u *session.Update) {
	for _, st := range u.Stages {
		if st.Process.PID == w.pid && st.Stalled {
			select {
			case w.hit <- u.Stages:
			default:
			}
			return
		}
	}
}

// A pipeline worker that stops (SIGSTOP) is marked stalled: its input
// queue grows in the kernel while its output idles; the running workers
// are not.
func TestStalledWorker(t *testing.T) {
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
	vent := start(t, "vent", "tcp://127.0.0.1:*")
	vep := vent.line(t, "ready")
	sink := start(t, "sink", "tcp://127.0.0.1:*", "1000000")
	sep := sink.line(t, "ready")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := session.New(session.Config{Pipeline: pipeline.Config{Interval: 200 * time.Millisecond}, Live: src, Host: hs})
	var workers []*proc
	for range 3 {
		w := start(t, "worker", vep[0], sep[0])
		w.line(t, "ready")
		workers = append(workers, w)
	}
	watch := &stallWatch{pid: workers[1].pid(), hit: make(chan []patterns.Stage, 1)}
	s.Subscribe(watch)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	if err := workers[1].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var stages []patterns.Stage
	select {
	case stages = <-watch.hit:
	case <-ctx.Done():
		t.Fatal("the stopped worker was never marked stalled")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, st := range stages {
		if st.Process.PID != workers[1].pid() && st.Stalled {
			t.Errorf("running worker %d marked stalled: %+v", st.Process.PID, st)
		}
	}
}

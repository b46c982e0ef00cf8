package host

import (
	"bufio"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// waitLimit bounds every wait for a condition: reaching it is a failure.
const waitLimit = 30 * time.Second

const python = "/usr/bin/python3"

// peer is a real libzmq process (testdata/peer.py under python3-zmq).
type peer struct {
	cmd   *exec.Cmd
	out   *bufio.Reader
	stdin io.WriteCloser
}

// send asks a push peer for one message.
func (p *peer) send(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, "send\n"); err != nil {
		t.Fatal(err)
	}
}

func startPeer(t *testing.T, args ...string) *peer {
	t.Helper()
	if out, err := exec.Command(python, "-c", "import zmq").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import zmq (install Debian's python3-zmq; scripts/test.sh does): %v\n%s", python, err, out)
	}
	cmd := exec.Command(python, append([]string{"testdata/peer.py"}, args...)...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &peer{cmd: cmd, out: bufio.NewReader(out), stdin: in}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return p
}

// line reads the peer's next line, which must start with want; it returns
// the rest.
func (p *peer) line(t *testing.T, want string) string {
	t.Helper()
	l, err := p.out.ReadString('\n')
	if err != nil {
		t.Fatalf("peer %v: no %q line: %v", p.cmd.Args, want, err)
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(l), want)
	if !ok {
		t.Fatalf("peer %v: got %q, want %q", p.cmd.Args, l, want)
	}
	return strings.TrimSpace(rest)
}

func newSource(t *testing.T) *Source {
	t.Helper()
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// sampleUntil takes fresh samples (each a new walk) until ok holds.
func sampleUntil(t *testing.T, s *Source, what string, ok func(*Sample) bool) *Sample {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for now := time.Now(); ; now = now.Add(time.Hour) {
		s.Invalidate()
		smp, err := s.Sample(now)
		if err != nil {
			t.Fatal(err)
		}
		if ok(smp) {
			return smp
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sample with %s within %v", what, waitLimit)
		}
	}
}

func checkOwner(t *testing.T, side string, o Owners, p *peer, role string) {
	t.Helper()
	got := o.First()
	if got == nil {
		t.Fatalf("%s: no process found, want pid %d", side, p.cmd.Process.Pid)
	}
	if got.PID != p.cmd.Process.Pid || got.Comm != "python3" || !strings.Contains(got.Cmdline, "peer.py "+role) {
		t.Fatalf("%s: process %d %q %q, want pid %d python3 running peer.py %s", side, got.PID, got.Comm, got.Cmdline,
			p.cmd.Process.Pid, role)
	}
	if got.UID != os.Getuid() || got.NetNS == 0 {
		t.Fatalf("%s: uid %d netns %d, want uid %d and a namespace", side, got.UID, got.NetNS, os.Getuid())
	}
}

// A SUB that stops reading: both ends are named by PID and command, and the
// SUB's kernel receive queue grows while the PUB's messages keep coming.
func TestSourceSubscriberThatStopsReading(t *testing.T) {
	s := newSource(t)
	pub := startPeer(t, "pub", "tcp://127.0.0.1:*", "50", "8192")
	ep := pub.line(t, "ready")
	server, err := netip.ParseAddrPort(strings.TrimPrefix(ep, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	sub := startPeer(t, "sub", ep, "20")
	sub.line(t, "ready")
	sub.line(t, "stopped")

	var client netip.AddrPort
	first := sampleUntil(t, s, "the SUB's connection", func(smp *Sample) bool {
		for _, c := range smp.TCP {
			if c.Remote == server && c.State == 1 {
				client = c.Local
				return true
			}
		}
		return false
	})
	subSock, pubSock := first.TCPConn(client, server), first.TCPConn(server, client)
	if subSock == nil || pubSock == nil {
		t.Fatalf("connection %v-%v: sub side %v, pub side %v", client, server, subSock, pubSock)
	}
	checkOwner(t, "SUB side", subSock.Owners, sub, "sub")
	checkOwner(t, "PUB side", pubSock.Owners, pub, "pub")
	if subSock.Inode == 0 || subSock.RTT <= 0 || subSock.Cwnd == 0 {
		t.Fatalf("SUB socket lacks inode or tcp_info: %+v", *subSock)
	}

	// Its receive queue grows past 64 KiB, by 8 KiB messages, and keeps
	// growing. (Its buffer, never tuned up by reads, holds some 128 KiB.)
	var q []uint32
	sampleUntil(t, s, "a receive queue past 64 KiB and growing", func(smp *Sample) bool {
		c := smp.TCPConn(client, server)
		if c == nil {
			t.Fatal("the SUB's socket went away")
		}
		if len(q) == 0 || c.RecvQ != q[len(q)-1] {
			q = append(q, c.RecvQ)
		}
		if len(q) > 50 {
			t.Fatalf("receive queue never grew steadily: %v", q)
		}
		return c.RecvQ > 64<<10 && len(q) >= 3 && q[len(q)-1] > q[len(q)-2] && q[len(q)-2] > q[len(q)-3]
	})
	t.Logf("SUB receive queue, bytes: %v", q)
}

// An ipc:// PUSH/PULL: the endpoint's path appears with its listener and
// the connection's two ends, each named by its process.
func TestSourceIPCEndpoint(t *testing.T) {
	s := newSource(t)
	path := filepath.Join(t.TempDir(), "pipe.sock")
	pull := startPeer(t, "pull", "ipc://"+path)
	pull.line(t, "ready")
	push := startPeer(t, "push", "ipc://"+path)
	push.line(t, "ready")
	// One message through proves the connection is up.
	push.send(t)
	pull.line(t, "got")

	smp := sampleUntil(t, s, "the ipc endpoint", func(smp *Sample) bool {
		eps := smp.UnixEndpoints(func(p string) bool { return p == path })
		return len(eps) == 1 && eps[0].Listener != nil && len(eps[0].Conns) == 1 && eps[0].Conns[0].Client != nil
	})
	e := smp.UnixEndpoints(func(p string) bool { return p == path })[0]
	checkOwner(t, "listener", e.Listener.Owners, pull, "pull")
	checkOwner(t, "accepted", e.Conns[0].Server.Owners, pull, "pull")
	checkOwner(t, "connecting", e.Conns[0].Client.Owners, push, "push")
	if e.Conns[0].Client.Peer != e.Conns[0].Server.Inode {
		t.Fatalf("client's peer %d, want the accepted socket %d", e.Conns[0].Client.Peer, e.Conns[0].Server.Inode)
	}
}

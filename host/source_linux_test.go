package host

import (
	"bufio"
	"io"
	"net"
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

	// From here the samples look up this connection's two sockets only,
	// as a live session's do: the same ends, processes and queues.
	s.Track([]ConnAddrs{{Client: client, Server: server}})

	// Its receive queue grows past 64 KiB, by 8 KiB messages, and keeps
	// growing. (Its buffer, never tuned up by reads, holds some 128 KiB.)
	var q []uint32
	sampleUntil(t, s, "a receive queue past 64 KiB and growing", func(smp *Sample) bool {
		if len(smp.TCP) != 2 {
			t.Fatalf("tracked sample has %d tcp sockets, want the connection's 2: %+v", len(smp.TCP), smp.TCP)
		}
		checkOwner(t, "tracked SUB side", smp.TCPConn(client, server).Owners, sub, "sub")
		checkOwner(t, "tracked PUB side", smp.TCPConn(server, client).Owners, pub, "pub")
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

// Tracking with no TCP connection: an ipc:// PUSH/PULL that starts after
// the first walk is found at the next Unix dump (every Refresh), whose new
// sockets make the sample walk /proc: the endpoint's two ends are named by
// their processes.
func TestSourceTrackedIPCEndpoint(t *testing.T) {
	s := newSource(t)
	s.Track(nil)
	now := time.Now()
	if _, err := s.Sample(now); err != nil {
		t.Fatal(err)
	}
	walks := s.Stats().Walks
	path := filepath.Join(t.TempDir(), "pipe.sock")
	pull := startPeer(t, "pull", "ipc://"+path)
	pull.line(t, "ready")
	push := startPeer(t, "push", "ipc://"+path)
	push.line(t, "ready")
	push.send(t)
	pull.line(t, "got")

	now = now.Add(DefaultRefresh)
	smp, err := s.Sample(now)
	if err != nil {
		t.Fatal(err)
	}
	eps := smp.UnixEndpoints(func(p string) bool { return p == path })
	if len(eps) != 1 || eps[0].Listener == nil || len(eps[0].Conns) != 1 || eps[0].Conns[0].Client == nil {
		t.Fatalf("endpoint %s: %+v, want its listener and one connection with both ends", path, eps)
	}
	checkOwner(t, "listener", eps[0].Listener.Owners, pull, "pull")
	checkOwner(t, "connecting", eps[0].Conns[0].Client.Owners, push, "push")
	if w := s.Stats().Walks; w != walks+1 {
		t.Fatalf("%d walks, want %d: one for the new sockets", w, walks+1)
	}
}

// Tracking: a sample holds the tracked connections' sockets only (not
// conns[1], untracked; IPv4 and IPv6, both ends; none of a connection this
// host does not hold), each named by its process; a new tracked connection makes the next sample walk
// /proc (its socket is not in the map), and a sample with nothing new walks
// none.
func TestSourceTracked(t *testing.T) {
	conns := dialConns(t, 2)
	ln6, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln6.Close() })
	c6, err := net.Dial("tcp6", ln6.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s6, err := ln6.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c6.Close(); s6.Close() })
	v6 := ConnAddrs{Client: c6.LocalAddr().(*net.TCPAddr).AddrPort(), Server: c6.RemoteAddr().(*net.TCPAddr).AddrPort()}
	elsewhere := ConnAddrs{Client: netip.MustParseAddrPort("192.0.2.1:40000"), Server: netip.MustParseAddrPort("192.0.2.2:5555")}

	s := newSource(t)
	s.Track([]ConnAddrs{conns[0], v6, elsewhere})
	now := time.Now()
	check := func(smp *Sample, want ...ConnAddrs) {
		t.Helper()
		if len(smp.TCP) != 2*len(want) {
			t.Fatalf("%d tcp sockets, want %d: %+v", len(smp.TCP), 2*len(want), smp.TCP)
		}
		for _, c := range want {
			for _, sock := range []*TCPSocket{smp.TCPConn(c.Client, c.Server), smp.TCPConn(c.Server, c.Client)} {
				if sock == nil {
					t.Fatalf("connection %v-%v: a side is missing", c.Client, c.Server)
				}
				if sock.State != 1 || sock.Inode == 0 || sock.Cwnd == 0 {
					t.Fatalf("socket %+v: want established, an inode and tcp_info", *sock)
				}
				if p := sock.First(); p == nil || p.PID != os.Getpid() {
					t.Fatalf("socket %v-%v: process %+v, want this test (pid %d)", sock.Local, sock.Remote, p, os.Getpid())
				}
			}
		}
	}
	smp, err := s.Sample(now)
	if err != nil {
		t.Fatal(err)
	}
	check(smp, conns[0], v6)
	walks := s.Stats().Walks

	now = now.Add(2 * time.Second)
	if smp, err = s.Sample(now); err != nil {
		t.Fatal(err)
	}
	check(smp, conns[0], v6)
	if w := s.Stats().Walks; w != walks {
		t.Fatalf("%d walks after a sample with nothing new, want %d", w, walks)
	}

	young := dialConns(t, 1)[0] // after the walk: its sockets are not in the map
	s.Track([]ConnAddrs{conns[0], v6, young})
	now = now.Add(2 * time.Second)
	if smp, err = s.Sample(now); err != nil {
		t.Fatal(err)
	}
	check(smp, conns[0], v6, young)
	if w := s.Stats().Walks; w != walks+1 {
		t.Fatalf("%d walks after a new tracked connection, want %d", w, walks+1)
	}
}

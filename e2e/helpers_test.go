// Package e2e holds zspy's end-to-end tests and benchmarks of live capture:
// the built zspy binary capturing real ZeroMQ traffic (libzmq through
// Debian's python3-zmq, and go-zeromq/zmq4) between network namespaces joined
// by a veth pair, and on their loopback devices. The peers record what they
// sent and received, and the tests compare zspy's report with that record.
//
// The tests need root (network namespaces, packet sockets) and skip with a
// loud reason without it. Helper programs live in testdata: peer.py (libzmq),
// zmq4peer (zmq4), loadgen.py (the benchmark's load generator).
package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// python is Debian's interpreter, whose pyzmq is the python3-zmq package.
const python = "/usr/bin/python3"

// waitLimit bounds every wait for a condition: reaching it is a failure,
// never a way to synchronise.
const waitLimit = 60 * time.Second

var (
	toolsDir  string
	buildOnce sync.Once
	buildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zspy-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	// Readable by all: the privilege tests run zspy as nobody.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	toolsDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// tools builds zspy and the zmq4 peer once per test binary and returns their
// paths.
func tools(tb testing.TB) (zspy, zmq4peer string) {
	tb.Helper()
	zspy = filepath.Join(toolsDir, "zspy")
	zmq4peer = filepath.Join(toolsDir, "zmq4peer")
	buildOnce.Do(func() {
		for _, b := range []struct{ out, pkg string }{
			{zspy, "github.com/zspy/zspy/cmd/zspy"},
			{zmq4peer, "./testdata/zmq4peer"},
		} {
			out, err := exec.Command("go", "build", "-o", b.out, b.pkg).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %w\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return zspy, zmq4peer
}

// requireRoot skips the test, loudly, when it cannot create network
// namespaces.
func requireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("SKIPPED, NOT TESTED: live capture end-to-end tests need root (network namespaces, packet sockets); CI runs them as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		tb.Skip("SKIPPED, NOT TESTED: no `ip` command (Debian package iproute2): cannot build the test network")
	}
}

// requirePyzmq fails the test when python3-zmq is missing (scripts/test.sh
// installs it).
func requirePyzmq(tb testing.TB) {
	tb.Helper()
	if out, err := exec.Command(python, "-c", "import zmq").CombinedOutput(); err != nil {
		tb.Fatalf("%s cannot import zmq (install Debian's python3-zmq; scripts/test.sh does): %v\n%s", python, err, out)
	}
}

// runName returns a short name unique to this run, usable in interface names
// (at most 15 characters with a 4-character prefix).
func runName() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

func ipCmd(tb testing.TB, args ...string) {
	tb.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		tb.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// topology is two network namespaces joined by a veth pair: A holds vethA at
// AddrA, B holds vethB at AddrB, in one /30. Both loopbacks are up. Nothing
// in either namespace can reach any other network.
type topology struct {
	NSA, NSB     string
	VethA, VethB string
	AddrA, AddrB string
}

// newTopology builds the test network, or skips the test loudly when the
// sandbox cannot create network namespaces. Everything goes in t.Cleanup.
func newTopology(tb testing.TB, withB bool) *topology {
	tb.Helper()
	requireRoot(tb)
	id := runName()
	tp := &topology{
		NSA: "zspy-e2e-" + id + "-a", NSB: "zspy-e2e-" + id + "-b",
		VethA: "zs" + id + "a", VethB: "zs" + id + "b",
		AddrA: "10.77.0.1", AddrB: "10.77.0.2",
	}
	if out, err := exec.Command("ip", "netns", "add", tp.NSA).CombinedOutput(); err != nil {
		tb.Skipf("SKIPPED, NOT TESTED: cannot create a network namespace here (ip netns add: %v: %s)", err, bytes.TrimSpace(out))
	}
	tb.Cleanup(func() { exec.Command("ip", "netns", "del", tp.NSA).Run() })
	ipCmd(tb, "-n", tp.NSA, "link", "set", "lo", "up")
	if !withB {
		return tp
	}
	ipCmd(tb, "netns", "add", tp.NSB)
	tb.Cleanup(func() { exec.Command("ip", "netns", "del", tp.NSB).Run() })
	ipCmd(tb, "-n", tp.NSB, "link", "set", "lo", "up")
	// Created directly inside the namespaces: the root namespace never sees
	// the pair. Deleting a namespace deletes its end, and with it the pair.
	ipCmd(tb, "link", "add", tp.VethA, "netns", tp.NSA, "type", "veth", "peer", "name", tp.VethB, "netns", tp.NSB)
	tb.Cleanup(func() { exec.Command("ip", "-n", tp.NSA, "link", "del", tp.VethA).Run() })
	ipCmd(tb, "-n", tp.NSA, "addr", "add", tp.AddrA+"/30", "dev", tp.VethA)
	ipCmd(tb, "-n", tp.NSB, "addr", "add", tp.AddrB+"/30", "dev", tp.VethB)
	ipCmd(tb, "-n", tp.NSA, "link", "set", tp.VethA, "up")
	ipCmd(tb, "-n", tp.NSB, "link", "set", tp.VethB, "up")
	return tp
}

// lines collects a stream's output and signals every new line.
type lines struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	notify chan struct{}
}

func newLines() *lines { return &lines{notify: make(chan struct{}, 1)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf.Write(p)
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
	return len(p), nil
}

// String returns everything written so far.
func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// find returns the first complete line that match accepts.
func (l *lines) find(match func(string) bool) (string, bool) {
	s := l.String()
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			return "", false
		}
		if match(s[:i]) {
			return s[:i], true
		}
		s = s[i+1:]
	}
}

// isEvent matches a peer's JSON line {"event": event, ...}.
func isEvent(event string) func(string) bool {
	return func(line string) bool {
		var v struct {
			Event string `json:"event"`
		}
		return json.Unmarshal([]byte(line), &v) == nil && v.Event == event
	}
}

// contains matches a line holding substr.
func contains(substr string) func(string) bool {
	return func(line string) bool { return strings.Contains(line, substr) }
}

// proc is a program the test started, with its output.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *lines
	stderr *lines
	done   chan struct{}
	err    error
}

// start runs argv in the network namespace ns ("" for the test's own), and
// kills it at the end of the test if it is still running.
func start(tb testing.TB, name, ns string, argv ...string) *proc {
	tb.Helper()
	if ns != "" {
		argv = append([]string{"ip", "netns", "exec", ns}, argv...)
	}
	p := &proc{name: name, stdout: newLines(), stderr: newLines(), done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitLine waits until the program writes a line that match accepts to
// stdout (or to stderr with fromStderr), and fails the test if it exits
// first. what names the line in failures.
func (p *proc) waitLine(tb testing.TB, what string, match func(string) bool, fromStderr bool) string {
	tb.Helper()
	l := p.stdout
	if fromStderr {
		l = p.stderr
	}
	limit := time.NewTimer(waitLimit)
	defer limit.Stop()
	exited := false
	for {
		if line, ok := l.find(match); ok {
			return line
		}
		if exited {
			tb.Fatalf("%s exited (%v) before writing %s\nstdout:\n%s\nstderr:\n%s", p.name, p.err, what, p.stdout, p.stderr)
		}
		select {
		case <-l.notify:
		case <-p.done:
			exited = true // look once more: the line may have come last
		case <-limit.C:
			tb.Fatalf("%s: no %s after %v\nstdout:\n%s\nstderr:\n%s", p.name, what, waitLimit, p.stdout, p.stderr)
		}
	}
}

// wait waits for the program to exit and fails the test unless it exited 0.
func (p *proc) wait(tb testing.TB) {
	tb.Helper()
	if code := p.exitCode(tb); code != 0 {
		tb.Fatalf("%s exited with %d\nstdout:\n%s\nstderr:\n%s", p.name, code, p.stdout, p.stderr)
	}
}

// exitCode waits for the program to exit and returns its exit code.
func (p *proc) exitCode(tb testing.TB) int {
	tb.Helper()
	select {
	case <-p.done:
	case <-time.After(waitLimit):
		tb.Fatalf("%s still running after %v\nstderr:\n%s", p.name, waitLimit, p.stderr)
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	tb.Fatalf("%s: %v", p.name, p.err)
	return -1
}

// exited reports whether the program has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// send writes a line to the program's stdin.
func (p *proc) send(tb testing.TB, line string) {
	tb.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		tb.Fatalf("%s: write stdin: %v", p.name, err)
	}
}

// interrupt sends SIGINT (ip netns exec runs the program in its own place,
// so the signal reaches it).
func (p *proc) interrupt(tb testing.TB) {
	tb.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		tb.Fatalf("%s: SIGINT: %v", p.name, err)
	}
}

// peerRecord is what a peer (peer.py or zmq4peer) says it did.
type peerRecord struct {
	Event         string   `json:"event"`
	ID            string   `json:"id"`
	Socket        string   `json:"socket"`
	Library       string   `json:"library"`
	Identity      string   `json:"identity"`
	Sent          dirCount `json:"sent"`
	Recv          dirCount `json:"recv"`
	Subscriptions []string `json:"subscriptions"`
	History       []string `json:"history"` // "subscribe:TOPIC", "cancel:TOPIC" in order
}

// dirCount is one direction's counts, as a peer saw them or as zspy reports
// them. Messages, Frames and Bytes are nil when a peer cannot say (a PUB
// with several subscribers: each subscriber says what it got).
type dirCount struct {
	Messages *int `json:"messages"`
	Frames   *int `json:"frames"`
	Bytes    *int `json:"bytes"`
	Commands *int `json:"commands"`
}

func (d dirCount) String() string {
	f := func(p *int) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("messages %s frames %s bytes %s commands %s", f(d.Messages), f(d.Frames), f(d.Bytes), f(d.Commands))
}

// record waits for the peer's "done" line and exit.
func (p *proc) record(tb testing.TB) peerRecord {
	tb.Helper()
	p.wait(tb)
	line := p.waitLine(tb, "done line", isEvent("done"), false)
	var r peerRecord
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		tb.Fatalf("%s: done line %q: %v", p.name, line, err)
	}
	return r
}

// report is the part of zspy's --json report the tests compare.
type report struct {
	Packets     int          `json:"packets"`
	Connections []reportConn `json:"connections"`
	Warnings    []string     `json:"warnings"`
	Stats       reportStats  `json:"stats"`
	// Store is present when a time-series sink ran.
	Store *struct {
		Sink    string `json:"sink"`
		Written uint64 `json:"written"`
	} `json:"store"`
}

type reportStats struct {
	Bytes            uint64 `json:"bytes"`
	TCPPackets       uint64 `json:"tcp_packets"`
	TruncatedPackets uint64 `json:"truncated_packets"`
	MalformedPackets uint64 `json:"malformed_packets"`
	KernelDrops      uint64 `json:"kernel_drops"`
	InternalDrops    uint64 `json:"internal_drops"`
	Duplicates       uint64 `json:"duplicates"`
}

type reportConn struct {
	Client         string   `json:"client"`
	Server         string   `json:"server"`
	ZMTP           string   `json:"zmtp"`
	Mechanism      string   `json:"mechanism"`
	ClientSocket   string   `json:"client_socket"`
	ServerSocket   string   `json:"server_socket"`
	ClientIdentity string   `json:"client_identity"`
	ServerIdentity string   `json:"server_identity"`
	State          string   `json:"state"`
	Handshake      string   `json:"handshake"`
	MidStream      bool     `json:"mid_stream"`
	SawSYN         bool     `json:"saw_syn"`
	C2S            repDir   `json:"c2s"`
	S2C            repDir   `json:"s2c"`
	Subscriptions  []string `json:"subscriptions"`
	History        []struct {
		Op    string `json:"op"`
		Topic string `json:"topic"`
	} `json:"subscription_history"`
	Errors     []string `json:"errors"`
	Compatible bool     `json:"compatible"`
}

type repDir struct {
	Messages  *int `json:"messages"`
	Frames    int  `json:"frames"`
	Bytes     int  `json:"bytes"`
	Commands  int  `json:"commands"`
	LostBytes int  `json:"lost_bytes"`
	LostSync  int  `json:"lost_sync"`
}

func parseReport(tb testing.TB, name string, out []byte) report {
	tb.Helper()
	var r report
	if err := json.Unmarshal(out, &r); err != nil {
		tb.Fatalf("%s: report is not JSON: %v\n%s", name, err, out)
	}
	return r
}

// stopCapture stops a running zspy capture with SIGINT and returns its
// report; zspy must exit 0.
func stopCapture(tb testing.TB, p *proc) report {
	tb.Helper()
	p.interrupt(tb)
	p.wait(tb)
	return parseReport(tb, p.name, []byte(p.stdout.String()))
}

// startCapture starts zspy capture with args in ns and waits until it says it
// is capturing.
func startCapture(tb testing.TB, name, ns string, args ...string) *proc {
	tb.Helper()
	zspy, _ := tools(tb)
	p := start(tb, name, ns, append([]string{zspy, "capture"}, args...)...)
	p.waitLine(tb, `"zspy: capturing on" line`, contains("zspy: capturing on"), true)
	return p
}

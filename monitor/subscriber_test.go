package monitor

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// deadline bounds how long a test waits for a condition before failing; it
// never paces the test.
const deadline = 60 * time.Second

// collector gathers what a running Subscriber delivers.
type collector struct {
	mu     sync.Mutex
	cond   *sync.Cond
	events []Event
	mal    []Malformed
	links  []LinkEvent
}

func newCollector() *collector {
	c := &collector{}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *collector) handler() Handler {
	return Handler{
		Event:     func(e Event) { c.mu.Lock(); c.events = append(c.events, e); c.cond.Broadcast(); c.mu.Unlock() },
		Malformed: func(m Malformed) { c.mu.Lock(); c.mal = append(c.mal, m); c.cond.Broadcast(); c.mu.Unlock() },
		Link:      func(l LinkEvent) { c.mu.Lock(); c.links = append(c.links, l); c.cond.Broadcast(); c.mu.Unlock() },
	}
}

// waitFor blocks until cond holds (checked under the lock on every delivery)
// or the deadline passes, which fails the test.
func (c *collector) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timer := time.AfterFunc(deadline, func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
	defer timer.Stop()
	start := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for !cond() {
		if time.Since(start) >= deadline {
			t.Fatalf("timed out waiting for %s: %d events, %d malformed, links %v", what, len(c.events), len(c.mal), c.links)
		}
		c.cond.Wait()
	}
}

// start runs a subscriber until the test ends.
func start(t *testing.T, cfg Config) (*Subscriber, *collector) {
	t.Helper()
	cfg.ReconnectMin = 20 * time.Millisecond
	sub, err := NewSubscriber(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := sub.Run(ctx, c.handler()); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return sub, c
}

// listening waits for the subscriber's listening link and returns its address.
func (c *collector) listening(t *testing.T) string {
	var addr string
	c.waitFor(t, "listening", func() bool {
		for _, l := range c.links {
			if l.State == LinkListening {
				addr = l.Addr
				return true
			}
		}
		return false
	})
	return addr
}

// libzmqApp runs testdata/libzmq_app.py with the real libzmq of python3-zmq.
type libzmqApp struct {
	cmd    *exec.Cmd
	stdout *bufio.Reader
	stderr strings.Builder
	record string
}

func python(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import zmq").Run(); err != nil {
		t.Skipf("real libzmq peers need %s with python3-zmq (scripts/test.sh installs it): %v", py, err)
	}
	return py
}

func startApp(t *testing.T, args ...string) *libzmqApp {
	t.Helper()
	py := python(t)
	a := &libzmqApp{record: filepath.Join(t.TempDir(), "record.json")}
	contrib, _ := filepath.Abs("../contrib/python")
	a.cmd = exec.Command(py, append([]string{"testdata/libzmq_app.py", "--record", a.record}, args...)...)
	a.cmd.Env = append(os.Environ(), "PYTHONPATH="+contrib)
	a.cmd.Stderr = &a.stderr
	out, err := a.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	a.stdout = bufio.NewReader(out)
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.cmd.Process.Kill() })
	return a
}

// ready reads the app's "ready <endpoint>" line.
func (a *libzmqApp) ready(t *testing.T) string {
	line, err := a.stdout.ReadString('\n')
	if err != nil {
		t.Fatalf("no ready line: %v; stderr: %s", err, a.stderr.String())
	}
	ep, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	if !ok {
		t.Fatalf("unexpected line %q", line)
	}
	return ep
}

// record is what the Python side relayed, with pyzmq's own reading of it.
type record struct {
	Source        *string  `json:"source"`
	FramesHex     []string `json:"frames_hex"`
	Code          uint64   `json:"code"`
	Name          string   `json:"name"`
	Value         uint64   `json:"value"`
	Endpoint      string   `json:"endpoint"`
	ErrnoName     *string  `json:"errno_name"`
	ProtocolError *string  `json:"protocol_error"`
}

// finish waits for the app to exit successfully and returns its record.
func (a *libzmqApp) finish(t *testing.T) []record {
	t.Helper()
	_, _ = io.Copy(io.Discard, a.stdout)
	if err := a.cmd.Wait(); err != nil {
		t.Fatalf("libzmq app: %v; stderr: %s", err, a.stderr.String())
	}
	b, err := os.ReadFile(a.record)
	if err != nil {
		t.Fatal(err)
	}
	var recs []record
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatal("the app relayed nothing")
	}
	return recs
}

// compare asserts that zspy decoded exactly the relayed events: the same
// number, in the same order per source, each equal field by field to
// pyzmq's reading, and each equal to decoding the recorded bytes.
func compare(t *testing.T, recs []record, got []Event) {
	t.Helper()
	if len(got) != len(recs) {
		t.Fatalf("zspy decoded %d events, the app relayed %d", len(got), len(recs))
	}
	bySource := map[string][]Event{}
	for _, e := range got {
		bySource[e.Source] = append(bySource[e.Source], e)
	}
	next := map[string]int{}
	for i, r := range recs {
		src := ""
		if r.Source != nil {
			src = *r.Source
		}
		evs := bySource[src]
		k := next[src]
		next[src]++
		if k >= len(evs) {
			t.Fatalf("record %d (%s %s): zspy has only %d events from that source", i, src, r.Name, len(evs))
		}
		e := evs[k]
		where := fmt.Sprintf("record %d (%s #%d)", i, src, k)
		if e.HasSource != (r.Source != nil) || e.Version != 1 || uint64(e.Code) != r.Code || e.Name != r.Name ||
			e.Value != r.Value || e.Endpoint != r.Endpoint {
			t.Errorf("%s: zspy %+v, pyzmq %+v", where, e, r)
		}
		if r.ErrnoName != nil && e.ErrnoName != *r.ErrnoName {
			t.Errorf("%s: errno %q, python says %q", where, e.ErrnoName, *r.ErrnoName)
		}
		if r.ProtocolError != nil && e.ProtocolError != *r.ProtocolError {
			t.Errorf("%s: protocol error %q, pyzmq says %q", where, e.ProtocolError, *r.ProtocolError)
		}
		frames := make([][]byte, len(r.FramesHex))
		for j, h := range r.FramesHex {
			frames[j], _ = hex.DecodeString(h)
		}
		re, err := Decode(frames, DecodeOptions{})
		if err != nil {
			t.Errorf("%s: recorded frames: %v", where, err)
		}
		re.Time, re.Via = e.Time, e.Via
		if re.String() != e.String() {
			t.Errorf("%s: recorded bytes decode to %q, zspy received %q", where, re.String(), e.String())
		}
	}
}

// find returns the events of source named name.
func find(evs []Event, source, name string) []Event {
	var out []Event
	for _, e := range evs {
		if e.Source == source && e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// TestLibzmqScenariosPull: libzmq applications bind, connect, fail handshakes
// (mechanism mismatch; bad PLAIN password rejected by ZAP), retry a missing
// peer and disconnect; six monitored sockets relay over PUSH to one zspy PULL
// that binds.
func TestLibzmqScenariosPull(t *testing.T) {
	python(t)
	sub, c := start(t, Config{Endpoints: []string{"@pull+tcp://127.0.0.1:0"}})
	addr := c.listening(t)
	app := startApp(t, "--forward", addr, "--mode", "connect", "--socket", "push",
		"bind_connect", "mechanism_mismatch", "bad_password", "retry")
	recs := app.finish(t)
	c.waitFor(t, "every relayed event", func() bool { return len(c.events) >= len(recs) })
	c.mu.Lock()
	got := append([]Event(nil), c.events...)
	mal := len(c.mal)
	c.mu.Unlock()
	compare(t, recs, got)
	if mal != 0 {
		t.Errorf("%d malformed", mal)
	}
	st := sub.Stats()
	if st.Events != uint64(len(recs)) || st.Received != st.Events || st.Malformed != 0 {
		t.Errorf("stats %+v, want %d events", st, len(recs))
	}

	// What each scenario is about is in the decoded events.
	for _, name := range []string{"LISTENING", "ACCEPTED", "HANDSHAKE_SUCCEEDED", "DISCONNECTED", "CLOSED", "MONITOR_STOPPED"} {
		if len(find(got, "bind_connect/router", name)) == 0 {
			t.Errorf("router: no %s", name)
		}
	}
	for _, name := range []string{"CONNECT_DELAYED", "CONNECTED", "HANDSHAKE_SUCCEEDED"} {
		if len(find(got, "bind_connect/dealer", name)) == 0 {
			t.Errorf("dealer: no %s", name)
		}
	}
	if d := find(got, "bind_connect/dealer", "CONNECT_DELAYED"); len(d) > 0 && d[0].ErrnoName != "EINPROGRESS" {
		t.Errorf("CONNECT_DELAYED errno %q", d[0].ErrnoName)
	}
	for _, src := range []string{"mechanism_mismatch/plain_server", "mechanism_mismatch/null_client"} {
		f := find(got, src, "HANDSHAKE_FAILED_PROTOCOL")
		if len(f) != 1 || f[0].ProtocolError != "ZMTP_MECHANISM_MISMATCH" {
			t.Errorf("%s: %v", src, f)
		}
	}
	for _, src := range []string{"bad_password/plain_server", "bad_password/plain_client"} {
		f := find(got, src, "HANDSHAKE_FAILED_AUTH")
		if len(f) != 1 || f[0].ZAPStatus != 400 || f[0].ZAPStatusText != "authentication failure" {
			t.Errorf("%s: %v", src, f)
		}
	}
	retried := find(got, "retry/dealer", "CONNECT_RETRIED")
	if len(retried) < 3 {
		t.Errorf("retries: %v", retried)
	}
	for _, e := range retried {
		// libzmq 4.3 waits reconnect_ivl plus a random part below it.
		if e.ReconnectInterval < 100*time.Millisecond || e.ReconnectInterval >= 200*time.Millisecond {
			t.Errorf("reconnect interval %v outside [100ms, 200ms)", e.ReconnectInterval)
		}
	}
}

// TestLibzmqSub: the default path, a zspy SUB connecting to the relay's PUB.
// The relay waits for zspy's subscription (XPUB) before the application runs,
// so no event is lost to the slow joiner.
func TestLibzmqSub(t *testing.T) {
	app := startApp(t, "--forward", "tcp://127.0.0.1:*", "--mode", "bind", "--socket", "pub", "retry")
	ep := app.ready(t)
	_, c := start(t, Config{Endpoints: []string{ep}})
	recs := app.finish(t)
	c.waitFor(t, "every relayed event", func() bool { return len(c.events) >= len(recs) })
	c.mu.Lock()
	defer c.mu.Unlock()
	compare(t, recs, c.events)
}

// TestLibzmqPair: a zspy PAIR connecting to the relay's PAIR.
func TestLibzmqPair(t *testing.T) {
	app := startApp(t, "--forward", "tcp://127.0.0.1:*", "--mode", "bind", "--socket", "pair", "retry")
	ep := app.ready(t)
	_, c := start(t, Config{Endpoints: []string{"pair+" + ep}})
	recs := app.finish(t)
	c.waitFor(t, "every relayed event", func() bool { return len(c.events) >= len(recs) })
	c.mu.Lock()
	defer c.mu.Unlock()
	compare(t, recs, c.events)
}

// pushTo connects a zmq4 PUSH to addr.
func pushTo(t *testing.T, addr string) zmq4.Socket {
	t.Helper()
	push := zmq4.NewPush(context.Background(), zmq4.WithTimeout(deadline))
	t.Cleanup(func() { push.Close() })
	if err := push.Dial(addr); err != nil {
		t.Fatal(err)
	}
	return push
}

// TestV2AndMalformedOverZMQ sends v2 messages built byte for byte (Debian's
// libzmq has no draft API, so no zmq_socket_monitor_versioned) through a real
// zmq4 PUSH socket, interleaved with malformed ones: the malformed are counted
// and reported, and decoding goes on.
func TestV2AndMalformedOverZMQ(t *testing.T) {
	sub, c := start(t, Config{Endpoints: []string{"@pull+tcp://127.0.0.1:0"}})
	push := pushTo(t, c.listening(t))
	msgs := [][][]byte{
		withSource("app/dealer", v2(le, 0x1, []uint64{17}, "tcp://127.0.0.1:40000", "tcp://127.0.0.1:5555")),
		{[]byte("garbage")},
		withSource("app/dealer", v2(le, 0x10000, []uint64{1000, 2}, "tcp://127.0.0.1:40000", "tcp://127.0.0.1:5555")),
		v2(le, 0x1, []uint64{1, 2}, "l", "r")[:5],
		v2(le, 0x80000, []uint64{5}, "l", "r"),
		withSource("app/dealer", v2(le, 0x200, []uint64{17}, "tcp://127.0.0.1:40000", "tcp://127.0.0.1:5555")),
	}
	for _, m := range msgs {
		if err := push.Send(zmq4.NewMsgFrom(m...)); err != nil {
			t.Fatal(err)
		}
	}
	c.waitFor(t, "4 events and 2 malformed", func() bool { return len(c.events) >= 4 && len(c.mal) >= 2 })
	c.mu.Lock()
	defer c.mu.Unlock()
	want := []string{
		"[app/dealer] v2 CONNECTED value=17 fd=17 endpoint=tcp://127.0.0.1:40000 remote_endpoint=tcp://127.0.0.1:5555",
		"[app/dealer] v2 PIPES_STATS outbound=1000 inbound=2 endpoint=tcp://127.0.0.1:40000 remote_endpoint=tcp://127.0.0.1:5555",
		"v2 0x80000 value=5 endpoint=l remote_endpoint=r",
		"[app/dealer] v2 DISCONNECTED value=17 fd=17 endpoint=tcp://127.0.0.1:40000 remote_endpoint=tcp://127.0.0.1:5555",
	}
	for i, w := range want {
		e := c.events[i]
		e.Time, e.Via = time.Time{}, ""
		if got := e.String(); got != w {
			t.Errorf("event %d:\n got %s\nwant %s", i, got, w)
		}
	}
	if !errors.Is(c.mal[0].Err, ErrShape) || c.mal[0].Frames != 1 || c.mal[0].Sizes[0] != 7 {
		t.Errorf("malformed 0: %v", c.mal[0])
	}
	if !errors.Is(c.mal[1].Err, ErrValueCount) || !strings.Contains(c.mal[1].String(), "count 2 needs 6 frames, got 5") {
		t.Errorf("malformed 1: %v", c.mal[1])
	}
	if st := sub.Stats(); st.Received != 6 || st.Events != 4 || st.Malformed != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestBigEndianSource decodes a big-endian process's events when told so.
func TestBigEndianSource(t *testing.T) {
	_, c := start(t, Config{Endpoints: []string{"@pull+tcp://127.0.0.1:0"},
		Decode: DecodeOptions{ByteOrder: binary.BigEndian}})
	push := pushTo(t, c.listening(t))
	be := binary.BigEndian
	for _, m := range [][][]byte{v1(be, 0x4000, 400, "tcp://h:1"), v2(be, 0x10000, []uint64{3, 4}, "l", "r")} {
		if err := push.Send(zmq4.NewMsgFrom(m...)); err != nil {
			t.Fatal(err)
		}
	}
	c.waitFor(t, "2 events", func() bool { return len(c.events) >= 2 })
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.events[0]; e.ZAPStatus != 400 || e.Name != "HANDSHAKE_FAILED_AUTH" {
		t.Errorf("v1: %v", e)
	}
	if e := c.events[1]; e.Outbound != 3 || e.Inbound != 4 {
		t.Errorf("v2: %v", e)
	}
}

// zmtpPeer is a hand-written ZMTP 3.0 NULL PUSH peer on a raw TCP socket.
func zmtpPeer(conn net.Conn) error {
	greeting := make([]byte, 64)
	greeting[0], greeting[9], greeting[10] = 0xFF, 0x7F, 3
	copy(greeting[12:], "NULL")
	if _, err := conn.Write(greeting); err != nil {
		return err
	}
	peer := make([]byte, 64)
	if _, err := io.ReadFull(conn, peer); err != nil {
		return err
	}
	body := []byte("\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH")
	if _, err := conn.Write(append([]byte{0x04, byte(len(body))}, body...)); err != nil {
		return err
	}
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(conn, hdr); err != nil { // zspy's READY
		return err
	}
	_, err := io.ReadFull(conn, make([]byte, hdr[1]))
	return err
}

// TestGuardHostilePeer: a peer declaring a 1 TiB frame is cut off before
// anything allocates by that size, and zspy redials; a message of more than
// MaxFrames frames is read through and skipped (counted as malformed), and
// the event after it on the same connection arrives: no event is lost to a
// bad message.
func TestGuardHostilePeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peerErr := make(chan error, 2)
	go func() {
		for i := 0; ; i++ {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				if err := zmtpPeer(conn); err != nil {
					peerErr <- err
					return
				}
				switch i {
				case 0: // a long frame of 2^40 bytes
					_, err = conn.Write([]byte{0x02, 0, 0, 1, 0, 0, 0, 0, 0})
				default: // a message of MaxFrames+1 frames, then a good one
					b := append(bytesRepeat([]byte{0x01, 0x00}, MaxFrames), 0x00, 0x00)
					_, err = conn.Write(append(b, zmtpMsg(withSource("ok", v1(le, 0x1, 5, "tcp://h:1")))...))
				}
				peerErr <- err
				_, _ = io.Copy(io.Discard, conn) // until zspy closes
			}()
		}
	}()
	sub, c := start(t, Config{Endpoints: []string{"pull+tcp://" + ln.Addr().String()}})
	c.waitFor(t, "the good event after the skipped message", func() bool { return len(c.events) >= 1 })
	for range 2 {
		if err := <-peerErr; err != nil {
			t.Fatalf("peer: %v", err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var lost []string
	for _, l := range c.links {
		if l.State == LinkLost {
			lost = append(lost, l.Err.Error())
		}
	}
	if len(lost) != 1 || !strings.Contains(lost[0], "1099511627776-byte frame") {
		t.Errorf("lost links: %q", lost)
	}
	if len(c.mal) != 1 || !errors.Is(c.mal[0].Err, ErrTooLarge) || c.mal[0].Frames != MaxFrames+1 || len(c.mal[0].Sizes) != 16 {
		t.Errorf("malformed: %v", c.mal)
	}
	if e := c.events[0]; e.Source != "ok" || e.Code != EventConnected || e.FD != 5 {
		t.Errorf("event %v", e)
	}
	if st := sub.Stats(); st.Connects != 2 || st.Reconnects != 1 || st.LinkErrors != 1 || st.Malformed != 1 || st.Events != 1 {
		t.Errorf("stats %+v", st)
	}
}

func bytesRepeat(b []byte, n int) []byte {
	var out []byte
	for range n {
		out = append(out, b...)
	}
	return out
}

// zmtpMsg frames a message as ZMTP 3.x short frames.
func zmtpMsg(frames [][]byte) []byte {
	var out []byte
	for i, f := range frames {
		flag := byte(0x00)
		if i < len(frames)-1 {
			flag = 0x01
		}
		out = append(append(out, flag, byte(len(f))), f...)
	}
	return out
}

// TestReconnectAfterPeerRestart: the forwarder goes away and comes back on
// the same port; the subscriber redials on its own and receives again.
//
// The first forwarder is a hand-written ZMTP peer that stops the way a
// process that exits does: its listener is gone when its connection closes.
// (A zmq4 socket closes its connections before its listener, so a subscriber
// redialling at once can be accepted and hand-shaken by the closed socket,
// and then waits forever on a connection nobody writes to.) The restarted
// forwarder is a real zmq4 PUSH.
func TestReconnectAfterPeerRestart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	peer := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		ln.Close()
		if err != nil {
			peer <- err
			return
		}
		defer conn.Close()
		if err := zmtpPeer(conn); err != nil {
			peer <- err
			return
		}
		_, err = conn.Write(zmtpMsg(v1(le, 0x8, 3, "tcp://first:1")))
		peer <- err
	}()
	sub, c := start(t, Config{Endpoints: []string{"pull+tcp://" + addr}})
	c.waitFor(t, "first event", func() bool { return len(c.events) >= 1 })
	if err := <-peer; err != nil {
		t.Fatalf("first forwarder: %v", err)
	}
	c.waitFor(t, "link lost", func() bool {
		for _, l := range c.links {
			if l.State == LinkLost {
				return true
			}
		}
		return false
	})
	p := zmq4.NewPush(context.Background(), zmq4.WithTimeout(deadline))
	defer p.Close()
	if err := p.Listen("tcp://" + addr); err != nil {
		t.Fatal(err)
	}
	// zmq4's PUSH Send waits (up to its timeout) for a first connection,
	// then writes to it: one send reaches the redialled subscriber.
	if err := p.Send(zmq4.NewMsgFrom(v1(le, 0x8, 4, "tcp://second:1")...)); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "the event after the restart", func() bool { return len(c.events) >= 2 })
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.events[0].Endpoint != "tcp://first:1" || c.events[1].Endpoint != "tcp://second:1" {
		t.Errorf("events %v", c.events)
	}
	if st := sub.Stats(); st.Connects < 2 || st.Reconnects < 1 || st.LinkErrors < 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		spec string
		want Endpoint
		err  string
	}{
		{"tcp://127.0.0.1:7777", Endpoint{Transport: "tcp", Address: "127.0.0.1:7777"}, ""},
		{">pair+tcp://h:1", Endpoint{Socket: SocketPair, Transport: "tcp", Address: "h:1"}, ""},
		{"@pull+tcp://*:7777", Endpoint{Bind: true, Socket: SocketPull, Transport: "tcp", Address: "*:7777"}, ""},
		{"ipc:///run/app.sock", Endpoint{Transport: "ipc", Address: "/run/app.sock"}, ""},
		{"tcp://*:7777", Endpoint{}, "connecting needs a host and a port"},
		{"udp://h:1", Endpoint{}, "unsupported transport"},
		{"push+tcp://h:1", Endpoint{}, "unknown socket type"},
		{"h:1", Endpoint{}, "want transport://address"},
		{"ipc://", Endpoint{}, "empty ipc path"},
	}
	for _, tc := range tests {
		got, err := ParseEndpoint(tc.spec, SocketSub)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		tc.want.Spec = tc.spec
		if err != nil || got != tc.want {
			t.Errorf("%s: got %+v %v, want %+v", tc.spec, got, err, tc.want)
		}
	}
	if _, err := NewSubscriber(Config{}); err == nil {
		t.Error("no endpoints accepted")
	}
}

// TestIPC receives over ipc:// with zspy binding.
func TestIPC(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mon.sock")
	_, c := start(t, Config{Endpoints: []string{"@pull+ipc://" + path}})
	push := pushTo(t, c.listening(t))
	if err := push.Send(zmq4.NewMsgFrom(withSource("ipc-app", v1(le, 0x1000, 0, "ipc:///x"))...)); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "an event", func() bool { return len(c.events) >= 1 })
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.events[0]; e.Source != "ipc-app" || e.Name != "HANDSHAKE_SUCCEEDED" || e.Via != "@pull+ipc://"+path {
		t.Errorf("event %v", e)
	}
}

// TestEventsChannel: the channel form delivers decoded events in order and
// closes when the context ends.
func TestEventsChannel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	push := zmq4.NewPush(context.Background(), zmq4.WithTimeout(deadline))
	defer push.Close()
	if err := push.Listen("tcp://" + addr); err != nil {
		t.Fatal(err)
	}
	sub, err := NewSubscriber(Config{Endpoints: []string{"pull+tcp://" + addr}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := sub.Events(ctx, 1)
	for i := range 3 {
		if err := push.Send(zmq4.NewMsgFrom(v1(le, 0x20, uint32(i), "tcp://h:1")...)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		var e Event
		select {
		case e = <-ch:
		case <-time.After(deadline):
			t.Fatalf("event %d: none within %v", i, deadline)
		}
		if e.Code != EventAccepted || e.FD != int64(i) {
			t.Fatalf("event %d: %v", i, e)
		}
	}
	cancel()
	for range ch {
	}
	if st := sub.Stats(); st.Events != 3 {
		t.Errorf("stats %+v", st)
	}
}

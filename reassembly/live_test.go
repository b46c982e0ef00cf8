//go:build linux

package reassembly

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/zmtp"
)

// zmqExchange is a REQ/REP exchange between two libzmq sockets (pyzmq) over
// loopback; it prints the REP's port when both sockets are closed.
const zmqExchange = `
import zmq
ctx = zmq.Context()
rep = ctx.socket(zmq.REP)
port = rep.bind_to_random_port("tcp://127.0.0.1")
req = ctx.socket(zmq.REQ)
req.connect("tcp://127.0.0.1:%d" % port)
for i in range(5):
    body = (b"request-%d-" % i) * (1 + 4000 * (i == 3))
    req.send(body)
    assert rep.recv() == body
    rep.send(b"reply-%d" % i)
    assert req.recv() == b"reply-%d" % i
req.close()
rep.close()
ctx.term()
print(port)
`

// bufStream keeps the bytes of a connection per direction.
type bufStream struct {
	info   ConnInfo
	buf    [2]bytes.Buffer
	skips  int
	closed CloseReason
}

func (s *bufStream) Segment(zmtp.Dir, *capture.Segment)     {}
func (s *bufStream) Data(d zmtp.Dir, b []byte, _ time.Time) { s.buf[d].Write(b) }
func (s *bufStream) Skip(d zmtp.Dir, n int, _ time.Time)    { s.skips += n }
func (s *bufStream) Close(r CloseReason, _ time.Time)       { s.closed = r }

// TestLiveZeroMQ captures a real libzmq REQ/REP exchange on lo with
// capture.OpenLive and reassembles it: both directions must hold every
// message body in order, with no byte skipped, and close with FINs.
func TestLiveZeroMQ(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import zmq").Run(); err != nil {
		t.Skipf("python3-zmq not installed (scripts/test.sh installs it): %v", err)
	}
	src, err := capture.OpenLive("lo", capture.LiveOptions{ReadTimeout: 100 * time.Millisecond})
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			t.Skipf("no permission for a packet socket: %v", err)
		}
		t.Fatal(err)
	}
	defer src.Close()
	out, err := exec.Command("/usr/bin/python3", "-c", zmqExchange).Output()
	if err != nil {
		t.Fatalf("zmq exchange: %v", err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("zmq exchange printed %q", out)
	}
	var stream *bufStream
	a := New(factoryFunc(func(info ConnInfo) Stream {
		s := &bufStream{info: info}
		if info.Server.Port() == uint16(port) {
			stream = s
		}
		return s
	}), Options{})
	// The exchange is over: its packets wait in the socket. Read until the
	// connection closed (both FINs), or give up after 50 empty reads.
	var seg capture.Segment
	for empty := 0; stream == nil || stream.closed == 0; {
		err := src.Next(&seg)
		if errors.Is(err, capture.ErrTimeout) {
			if empty++; empty > 50 {
				t.Fatalf("connection to port %d not closed in the capture (stream %v)", port, stream != nil)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if seg.SrcPort == uint16(port) || seg.DstPort == uint16(port) {
			a.Assemble(&seg)
		}
	}
	if stream.closed != CloseFIN || !stream.info.SawSYN || stream.skips != 0 {
		t.Errorf("closed %v, SawSYN %v, %d bytes skipped", stream.closed, stream.info.SawSYN, stream.skips)
	}
	c2s, s2c := stream.buf[zmtp.ClientToServer].Bytes(), stream.buf[zmtp.ServerToClient].Bytes()
	for _, b := range [][]byte{c2s, s2c} {
		// ZMTP greeting: signature 0xFF ... 0x7F, then version 3.
		if len(b) < 64 || b[0] != 0xff || b[9] != 0x7f || b[10] != 3 {
			t.Fatalf("stream does not open with a ZMTP 3 greeting: % x", b[:min(len(b), 16)])
		}
	}
	pos := [2]int{}
	for i := 0; i < 5; i++ {
		body := bytes.Repeat([]byte(fmt.Sprintf("request-%d-", i)), 1+4000*btoi(i == 3))
		reply := []byte(fmt.Sprintf("reply-%d", i))
		if j := bytes.Index(c2s[pos[0]:], body); j < 0 {
			t.Fatalf("request %d (%d bytes) not in the client's stream", i, len(body))
		} else {
			pos[0] += j + len(body)
		}
		if j := bytes.Index(s2c[pos[1]:], reply); j < 0 {
			t.Fatalf("reply %d not in the server's stream", i)
		} else {
			pos[1] += j + len(reply)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

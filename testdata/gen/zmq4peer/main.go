// Command zmq4peer runs go-zeromq/zmq4 peers for the capture scenarios in
// testdata/gen/scenarios (zmq4_reqrep, zmq4_pubsub, zmq4_libzmq_interop,
// and x_zmq4 through mode "matrix", in matrix.go).
//
// It talks to the Python scenario through lines on stdin/stdout: it prints
// JSON objects ({"event": ...}) and, where the scenario must wait for
// something in the capture, reads a line "go" before carrying on. The last
// line is {"event":"done","conns":{...}} with what each peer sent and
// received, by connection id, which the scenario writes into truth.json.
//
// Connecting zmq4 sockets use the "tcpsrc" transport registered here, which
// dials from a fixed source port with libzmq's syntax
// tcpsrc://SRCHOST:SRCPORT;HOST:PORT, so every connection is identifiable.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/transport"
)

type dirStats struct {
	Messages int `json:"messages"`
	Frames   int `json:"frames"`
	Bytes    int `json:"bytes"`
}

func (d *dirStats) add(frames [][]byte, envelope int) {
	d.Messages++
	d.Frames += len(frames) + envelope
	for _, f := range frames {
		d.Bytes += len(f)
	}
}

type connStats struct {
	C2S dirStats `json:"c2s"`
	S2C dirStats `json:"s2c"`
}

var (
	// extraDelimiters counts replies that reached the zmq4 REQ application
	// with an empty frame in front.
	extraDelimiters int

	stdin = bufio.NewScanner(os.Stdin)
	conns = map[string]*connStats{}
)

func emit(v map[string]any) {
	b, err := json.Marshal(v)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(b))
}

func waitGo() {
	if !stdin.Scan() || strings.TrimSpace(stdin.Text()) != "go" {
		log.Fatalf("zmq4peer: expected \"go\" on stdin")
	}
}

func conn(id string) *connStats {
	c := conns[id]
	if c == nil {
		c = &connStats{}
		conns[id] = c
	}
	return c
}

// srcTransport dials TCP from a fixed local address given before a ';'.
type srcTransport struct{}

func (srcTransport) Dial(ctx context.Context, _ transport.Dialer, addr string) (net.Conn, error) {
	local, remote, ok := strings.Cut(addr, ";")
	if !ok {
		return nil, fmt.Errorf("tcpsrc: want SRC;DST, got %q", addr)
	}
	la, err := net.ResolveTCPAddr("tcp", local)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{LocalAddr: la, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	return d.DialContext(ctx, "tcp", remote)
}

func (srcTransport) Listen(ctx context.Context, addr string) (net.Listener, error) {
	return net.Listen("tcp", addr)
}

func (srcTransport) Addr(ep string) (string, error) { return ep, nil }

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func blob(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed + i*7)
	}
	return b
}

func equal(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if string(a[i]) != string(b[i]) {
			return false
		}
	}
	return true
}

func recvExpect(s zmq4.Socket, want [][]byte) {
	m, err := s.Recv()
	must(err)
	if !equal(m.Frames, want) {
		log.Fatalf("zmq4peer: got %q, want %q", m.Frames, want)
	}
}

func ep(srcPort, dstPort int) string {
	return fmt.Sprintf("tcpsrc://127.0.0.1:%d;127.0.0.1:%d", srcPort, dstPort)
}

func main() {
	mode := flag.String("mode", "", "reqrep, pubsub, interop or matrix")
	spec := flag.String("spec", "", "matrix: the jobs file")
	sp := flag.Int("sp", 0, "first server port")
	cp := flag.Int("cp", 0, "first client port")
	flag.Parse()
	log.SetFlags(0)
	must(zmq4.RegisterTransport("tcpsrc", srcTransport{}))
	limit := 60 * time.Second
	if *mode == "matrix" {
		limit = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	switch *mode {
	case "matrix":
		matrix(ctx, *spec)
		return
	case "reqrep":
		reqrep(ctx, *sp, *cp)
	case "pubsub":
		pubsub(ctx, *sp, *cp)
	case "interop":
		interop(ctx, *sp, *cp)
	default:
		log.Fatalf("zmq4peer: unknown mode %q", *mode)
	}
	emit(map[string]any{"event": "done", "conns": conns, "extra_delimiters": extraDelimiters})
}

func reqrep(ctx context.Context, sp, cp int) {
	rep := zmq4.NewRep(ctx)
	must(rep.Listen(fmt.Sprintf("tcp://127.0.0.1:%d", sp)))
	req := zmq4.NewReq(ctx, zmq4.WithDialerMaxRetries(-1))
	must(req.Dial(ep(cp, sp)))
	c := conn("req-rep")
	for i, n := range []int{0, 1, 10, 100, 255, 256, 300, 1000, 3, 70} {
		m := [][]byte{blob(n, i)}
		if i%4 == 3 {
			m = [][]byte{[]byte(fmt.Sprintf("head-%d", i)), blob(n, i)}
		}
		must(req.Send(zmq4.NewMsgFrom(m...)))
		recvExpect(rep, m)
		c.C2S.add(m, 1)
		r := [][]byte{[]byte(fmt.Sprintf("reply-%d", i))}
		must(rep.Send(zmq4.NewMsgFrom(r...)))
		// zmq4 v0.17.0's REP puts a second empty delimiter in front of its
		// first reply, which its REQ then hands up: count what the REQ got
		// (plus the one delimiter it strips) as what crossed the wire.
		got, err := req.Recv()
		must(err)
		if !equal(got.Frames, r) && !equal(got.Frames, append([][]byte{{}}, r...)) {
			log.Fatalf("zmq4peer: REQ got %q, want %q", got.Frames, r)
		}
		if len(got.Frames) != len(r) {
			extraDelimiters++
		}
		c.S2C.add(got.Frames, 1)
	}
	must(req.Close())
	must(rep.Close())
}

func pubsub(ctx context.Context, sp, cp int) {
	pub := zmq4.NewPub(ctx)
	must(pub.Listen(fmt.Sprintf("tcp://127.0.0.1:%d", sp)))
	subs := []struct {
		id     string
		topics []string
		s      zmq4.Socket
	}{{id: "sub-alpha", topics: []string{"alpha"}}, {id: "sub-all", topics: []string{""}}}
	for i := range subs {
		subs[i].s = zmq4.NewSub(ctx)
		must(subs[i].s.Dial(ep(cp+i, sp)))
		for _, tp := range subs[i].topics {
			must(subs[i].s.SetOption(zmq4.OptionSubscribe, tp))
			conn(subs[i].id).C2S.add([][]byte{append([]byte{1}, tp...)}, 0)
		}
	}
	emit(map[string]any{"event": "subscribed"})
	waitGo()
	topics := []string{"alpha", "beta", "alphabet", "gamma"}
	for i := 0; i < 20; i++ {
		tp := topics[i%len(topics)]
		m := [][]byte{[]byte(tp), []byte(fmt.Sprintf("%s body %d", tp, i)), blob(i*13, i)}
		must(pub.Send(zmq4.NewMsgFrom(m...)))
		for _, s := range subs {
			for _, want := range s.topics {
				if strings.HasPrefix(tp, want) {
					recvExpect(s.s, m)
					conn(s.id).S2C.add(m, 0)
					break
				}
			}
		}
	}
	for _, s := range subs {
		must(s.s.Close())
	}
	must(pub.Close())
}

func interop(ctx context.Context, sp, cp int) {
	// 1: zmq4 DEALER -> libzmq ROUTER at sp (the scenario serves it).
	d := zmq4.NewDealer(ctx, zmq4.WithID(zmq4.SocketIdentity("go-dealer")))
	must(d.Dial(ep(cp, sp)))
	c := conn("zmq4-dealer-libzmq-router")
	for i := 0; i < 5; i++ {
		m := [][]byte{[]byte(fmt.Sprintf("go req %d", i)), blob(i*50, i)}
		if i == 2 {
			m = append(m, []byte{}, []byte("tail"))
		}
		must(d.Send(zmq4.NewMsgFrom(m...)))
		c.C2S.add(m, 0)
		r := [][]byte{[]byte(fmt.Sprintf("libzmq rep %d", i))}
		recvExpect(d, r)
		c.S2C.add(r, 0)
	}
	must(d.Close())
	// 2: libzmq REQ -> zmq4 REP at sp+1.
	rep := zmq4.NewRep(ctx)
	must(rep.Listen(fmt.Sprintf("tcp://127.0.0.1:%d", sp+1)))
	emit(map[string]any{"event": "listening"})
	c = conn("libzmq-req-zmq4-rep")
	for i := 0; i < 5; i++ {
		m := [][]byte{[]byte(fmt.Sprintf("libzmq req %d", i))}
		recvExpect(rep, m)
		c.C2S.add(m, 1)
		r := [][]byte{[]byte(fmt.Sprintf("go rep %d", i)), blob(i*20, i)}
		must(rep.Send(zmq4.NewMsgFrom(r...)))
		c.S2C.add(r, 1)
	}
	waitGo() // the libzmq REQ has its last reply and has closed
	must(rep.Close())
}

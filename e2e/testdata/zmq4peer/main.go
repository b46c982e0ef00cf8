// Command zmq4peer is a go-zeromq/zmq4 peer for zspy's end-to-end tests
// (e2e/netns_test.go). It reads the same JSON spec as e2e/testdata/peer.py
// (its first argument) and speaks the same lines on stdout: {"event":"ready"}
// once bound or connected (and subscribed), then {"event":"done", ...} with
// what it sent and received as it crossed the wire. With "hold" it keeps the
// socket open until "close" comes on stdin.
//
// zmq4 v0.17.0 greets with ZMTP 3.0 and puts an Identity property in READY
// for every socket type, so this peer always sets one (the spec's identity,
// else its id). Its SUB subscribes with 3.0-style data messages (0x01 +
// topic), counted as sent messages. Its REQ adds the empty delimiter frame on
// the wire and strips the one of each reply; both are counted. A connect
// endpoint "tcp://SRC:PORT;DST:PORT" dials from the fixed source address, so
// every connection is known by its ports.
//
// `zmq4peer load` is the zmq4 load generator of the live-capture benchmark:
// a PUSH that sends small messages at a rate (see load's flags) after "go" on
// stdin. zmq4 writes each frame's header and body with two write calls, so
// its traffic has about one TCP segment per message part, unlike libzmq's
// batched writes.
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
	"strconv"
	"strings"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/transport"
)

type spec struct {
	ID       string     `json:"id"`
	Socket   string     `json:"socket"`
	Bind     string     `json:"bind"`
	Connect  string     `json:"connect"`
	Identity string     `json:"identity"`
	Messages [][]string `json:"messages"`
	Count    int        `json:"count"`
	Topics   []string   `json:"topics"`
	Hold     bool       `json:"hold"`
}

type dir struct {
	Messages int `json:"messages"`
	Frames   int `json:"frames"`
	Bytes    int `json:"bytes"`
	Commands int `json:"commands"`
}

func (d *dir) add(frames [][]byte, envelope int) {
	d.Messages++
	d.Frames += len(frames) + envelope
	for _, f := range frames {
		d.Bytes += len(f)
	}
}

func framesOf(m []string) [][]byte {
	var out [][]byte
	for _, f := range m {
		if n, err := strconv.Atoi(strings.TrimPrefix(f, "*")); err == nil && strings.HasPrefix(f, "*") {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(i*7 + n)
			}
			out = append(out, b)
			continue
		}
		out = append(out, []byte(f))
	}
	return out
}

func emit(v map[string]any) {
	b, err := json.Marshal(v)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(b))
}

// srcTransport dials TCP from the fixed local address before the ';'.
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
	d := net.Dialer{LocalAddr: la}
	return d.DialContext(ctx, "tcp", remote)
}

func (srcTransport) Listen(ctx context.Context, addr string) (net.Listener, error) {
	return net.Listen("tcp", addr)
}

func (srcTransport) Addr(ep string) (string, error) { return ep, nil }

func main() {
	log.SetFlags(0)
	if len(os.Args) > 1 && os.Args[1] == "load" {
		load(os.Args[2:])
		return
	}
	if len(os.Args) != 2 {
		log.Fatal("usage: zmq4peer SPEC-JSON | zmq4peer load [flags]")
	}
	var sp spec
	if err := json.Unmarshal([]byte(os.Args[1]), &sp); err != nil {
		log.Fatalf("zmq4peer: spec: %v", err)
	}
	log.SetPrefix("zmq4peer " + sp.ID + ": ")
	// A peer that waits for ever would hang the test: give up loudly.
	time.AfterFunc(60*time.Second, func() { log.Fatal("still running after 60 s") })
	if err := zmq4.RegisterTransport("tcpsrc", srcTransport{}); err != nil {
		log.Fatal(err)
	}
	id := sp.Identity
	if id == "" {
		id = sp.ID
	}
	ctx := context.Background()
	opts := []zmq4.Option{zmq4.WithID(zmq4.SocketIdentity(id)), zmq4.WithDialerMaxRetries(-1)}
	var s zmq4.Socket
	switch sp.Socket {
	case "REQ":
		s = zmq4.NewReq(ctx, opts...)
	case "DEALER":
		s = zmq4.NewDealer(ctx, opts...)
	case "PUSH":
		s = zmq4.NewPush(ctx, opts...)
	case "PULL":
		s = zmq4.NewPull(ctx, opts...)
	case "SUB":
		s = zmq4.NewSub(ctx, opts...)
	default:
		log.Fatalf("unsupported socket %q", sp.Socket)
	}
	sent, recv := dir{Commands: 1}, dir{Commands: 1}
	var err error
	if sp.Bind != "" {
		err = s.Listen(sp.Bind)
	} else {
		err = s.Dial(strings.Replace(sp.Connect, "tcp://", "tcpsrc://", 1))
	}
	if err != nil {
		log.Fatal(err)
	}
	subs, history := []string{}, []string{}
	for _, tp := range sp.Topics {
		if err := s.SetOption(zmq4.OptionSubscribe, tp); err != nil {
			log.Fatal(err)
		}
		sent.add([][]byte{append([]byte{1}, tp...)}, 0)
		subs = append(subs, tp)
		history = append(history, "subscribe:"+tp)
	}
	emit(map[string]any{"event": "ready", "id": sp.ID})

	must := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}
	switch sp.Socket {
	case "REQ", "DEALER":
		env := 0
		if sp.Socket == "REQ" {
			env = 1
		}
		for _, m := range sp.Messages {
			fr := framesOf(m)
			must(s.Send(zmq4.NewMsgFrom(fr...)))
			sent.add(fr, env)
			r, err := s.Recv()
			must(err)
			recv.add(r.Frames, env)
		}
	case "PUSH":
		for _, m := range sp.Messages {
			fr := framesOf(m)
			must(s.Send(zmq4.NewMsgFrom(fr...)))
			sent.add(fr, 0)
		}
	case "PULL":
		for i := 0; i < sp.Count; i++ {
			r, err := s.Recv()
			must(err)
			recv.add(r.Frames, 0)
		}
	case "SUB":
		synced := false
		for {
			r, err := s.Recv()
			must(err)
			recv.add(r.Frames, 0)
			if !synced {
				emit(map[string]any{"event": "synced", "id": sp.ID})
				synced = true
			}
			if len(r.Frames) > 0 && string(r.Frames[0]) == "ctl-end" {
				break
			}
		}
	}
	if sp.Hold {
		emit(map[string]any{"event": "finished", "id": sp.ID})
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "close" {
			log.Fatalf("expected close on stdin, got %q (%v)", line, err)
		}
	}
	must(s.Close())
	emit(map[string]any{"event": "done", "id": sp.ID, "socket": sp.Socket, "library": "go-zeromq/zmq4",
		"identity": id, "sent": sent, "recv": recv, "subscriptions": subs, "history": history})
}

// load sends messages at a rate, bounded in count and time, then "END", on
// one or more connections (one PUSH socket and goroutine each, source ports
// from -src-port up, the rate and count shared out).
func load(args []string) {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	port := fs.Int("port", 0, "the PULL's port on 127.0.0.1")
	srcPort := fs.Int("src-port", 0, "first source port")
	conns := fs.Int("conns", 1, "connections, each its own PUSH socket")
	rate := fs.Float64("rate", 0, "messages per second in all (0: as fast as possible)")
	count := fs.Int("count", 100000, "messages to send in all")
	size := fs.Int("size", 16, "message size in bytes")
	maxTime := fs.Duration("max", 30*time.Second, "stop sending after this long")
	fs.Parse(args)
	log.SetPrefix("zmq4peer load: ")
	time.AfterFunc(*maxTime+60*time.Second, func() { log.Fatal("still running") })
	if err := zmq4.RegisterTransport("tcpsrc", srcTransport{}); err != nil {
		log.Fatal(err)
	}
	socks := make([]zmq4.Socket, *conns)
	for i := range socks {
		socks[i] = zmq4.NewPush(context.Background(), zmq4.WithID(zmq4.SocketIdentity(fmt.Sprintf("load-go-%d", i))))
		if err := socks[i].Dial(fmt.Sprintf("tcpsrc://127.0.0.1:%d;127.0.0.1:%d", *srcPort+i, *port)); err != nil {
			log.Fatal(err)
		}
	}
	emit(map[string]any{"event": "ready"})
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "go" {
		log.Fatalf("expected go on stdin, got %q (%v)", line, err)
	}
	t0 := time.Now()
	sentc := make(chan int, len(socks))
	for _, s := range socks {
		go func() { sentc <- pace(s, *rate/float64(len(socks)), *count/len(socks), *size, t0, *maxTime) }()
	}
	sent := 0
	for range socks {
		sent += <-sentc
	}
	emit(map[string]any{"event": "done", "sent": sent, "seconds": time.Since(t0).Seconds()})
}

// pace sends count messages of size bytes at rate (0: at once) from t0 for
// at most maxTime, then "END", closes s, and returns the messages sent with
// END.
func pace(s zmq4.Socket, rate float64, count, size int, t0 time.Time, maxTime time.Duration) int {
	msg := zmq4.NewMsg(make([]byte, size))
	burst := max(1, int(rate/1000))
	sent := 0
	for sent < count {
		el := time.Since(t0)
		if el > maxTime {
			break
		}
		allowed := count
		if rate > 0 {
			allowed = min(count, int(el.Seconds()*rate)+burst)
		}
		if allowed <= sent {
			time.Sleep(200 * time.Microsecond)
			continue
		}
		for n := min(allowed, sent+10000); sent < n; sent++ {
			if err := s.Send(msg); err != nil {
				log.Fatal(err)
			}
		}
	}
	if err := s.Send(zmq4.NewMsgString("END")); err != nil {
		log.Fatal(err)
	}
	if err := s.Close(); err != nil {
		log.Fatal(err)
	}
	return sent + 1
}

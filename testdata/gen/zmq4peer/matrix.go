package main

// Mode "matrix" (scenarios/x_zmq4.py): every zmq4 socket type against zmq4
// and against libzmq, bound and connecting. The scenario writes a spec file
// of jobs; each job is one connection between a connecting side "a" and a
// bound side "b", each running a list of steps (send, recv, subscribe,
// wait). The scenario runs the libzmq sides itself and tells this program,
// by lines on stdin, which zmq4 sides to start ("start JOB SIDE") and which
// barriers to lift ("release JOB SIDE NAME"). Each zmq4 side reports what
// its application really sent and received ({"event":"finished",...}).

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/plain"
)

type mStep struct {
	Op     string   `json:"op"` // send, sendmulti, recv, sub, unsub, wait
	Frames []string `json:"frames,omitempty"`
	Routed bool     `json:"routed,omitempty"` // ROUTER: prefix/strip the peer's routing id
	Topic  string   `json:"topic,omitempty"`
	Name   string   `json:"name,omitempty"` // barrier
}

type mSide struct {
	Type  string  `json:"type"`
	Lib   string  `json:"lib"`
	ID    string  `json:"id"`
	Steps []mStep `json:"steps"`
}

type mJob struct {
	ID   string           `json:"id"`
	CP   int              `json:"cp"`
	SP   int              `json:"sp"`
	Mech string           `json:"mech"`
	User string           `json:"user"`
	Pass string           `json:"pass"`
	Side map[string]mSide `json:"sides"` // "a" connects, "b" binds
}

// frame decodes a frame spec: "t:text", "h:hex", "b:SIZE:SEED".
func frame(spec string) []byte {
	kind, rest, _ := strings.Cut(spec, ":")
	switch kind {
	case "t":
		return []byte(rest)
	case "h":
		b, err := hex.DecodeString(rest)
		must(err)
		return b
	case "b":
		n, s, _ := strings.Cut(rest, ":")
		size, err := strconv.Atoi(n)
		must(err)
		seed, err := strconv.Atoi(s)
		must(err)
		return blob(size, seed)
	}
	log.Fatalf("zmq4peer: bad frame spec %q", spec)
	return nil
}

func frames(specs []string) [][]byte {
	out := make([][]byte, len(specs))
	for i, s := range specs {
		out[i] = frame(s)
	}
	return out
}

func sizes(fs [][]byte) []int {
	out := make([]int, len(fs))
	for i, f := range fs {
		out[i] = len(f)
	}
	return out
}

type barriers struct {
	mu sync.Mutex
	ch map[string]chan struct{}
}

func (b *barriers) get(key string) chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.ch[key]
	if c == nil {
		c = make(chan struct{})
		b.ch[key] = c
	}
	return c
}

var (
	outMu sync.Mutex
	bars  = &barriers{ch: map[string]chan struct{}{}}
)

func emitSync(v map[string]any) {
	outMu.Lock()
	defer outMu.Unlock()
	emit(v)
}

func newSocket(ctx context.Context, typ string, opts ...zmq4.Option) zmq4.Socket {
	switch typ {
	case "REQ":
		return zmq4.NewReq(ctx, opts...)
	case "REP":
		return zmq4.NewRep(ctx, opts...)
	case "DEALER":
		return zmq4.NewDealer(ctx, opts...)
	case "ROUTER":
		return zmq4.NewRouter(ctx, opts...)
	case "PUB":
		return zmq4.NewPub(ctx, opts...)
	case "SUB":
		return zmq4.NewSub(ctx, opts...)
	case "XPUB":
		return zmq4.NewXPub(ctx, opts...)
	case "XSUB":
		return zmq4.NewXSub(ctx, opts...)
	case "PUSH":
		return zmq4.NewPush(ctx, opts...)
	case "PULL":
		return zmq4.NewPull(ctx, opts...)
	case "PAIR":
		return zmq4.NewPair(ctx, opts...)
	}
	log.Fatalf("zmq4peer: unknown socket type %q", typ)
	return nil
}

func runSide(ctx context.Context, j mJob, name string) {
	sd := j.Side[name]
	wait := func(b string) {
		select {
		case <-bars.get(j.ID + "/" + name + "/" + b):
		case <-ctx.Done():
			log.Fatalf("zmq4peer: %s/%s: timed out at barrier %s", j.ID, name, b)
		}
	}
	var opts []zmq4.Option
	if sd.ID != "" {
		opts = append(opts, zmq4.WithID(zmq4.SocketIdentity(sd.ID)))
	}
	if j.Mech == "PLAIN" {
		opts = append(opts, zmq4.WithSecurity(plain.Security(j.User, j.Pass)))
	}
	s := newSocket(ctx, sd.Type, opts...)
	if name == "b" {
		must(s.Listen(fmt.Sprintf("tcp://127.0.0.1:%d", j.SP)))
		emitSync(map[string]any{"event": "listening", "job": j.ID, "side": name})
	} else {
		wait("listening")
		must(s.Dial(ep(j.CP, j.SP)))
	}
	var sent, recv [][]int
	var peerIDs []string
	var peer []byte
	for _, st := range sd.Steps {
		switch st.Op {
		case "wait":
			wait(st.Name)
		case "send", "sendmulti":
			fs := frames(st.Frames)
			sent = append(sent, sizes(fs))
			if st.Routed {
				fs = append([][]byte{peer}, fs...)
			}
			if st.Op == "sendmulti" {
				must(s.SendMulti(zmq4.NewMsgFrom(fs...)))
			} else {
				must(s.Send(zmq4.NewMsgFrom(fs...)))
			}
		case "sub", "unsub":
			opt := zmq4.OptionSubscribe
			if st.Op == "unsub" {
				opt = zmq4.OptionUnsubscribe
			}
			must(s.SetOption(opt, st.Topic))
			sent = append(sent, []int{1 + len(st.Topic)})
		case "recv":
			m, err := s.Recv()
			must(err)
			got := m.Frames
			if st.Routed {
				if len(got) == 0 {
					log.Fatalf("zmq4peer: %s/%s: routed message without an id", j.ID, name)
				}
				peer = got[0]
				peerIDs = append(peerIDs, string(peer))
				got = got[1:]
			}
			want := frames(st.Frames)
			// zmq4's REP may put an extra empty frame in front of a reply
			// (see mode reqrep); what the REQ got is what crossed the wire.
			if !equal(got, want) && !(sd.Type == "REQ" && equal(got, append([][]byte{{}}, want...))) {
				log.Fatalf("zmq4peer: %s/%s: got %d frames %v, want %v", j.ID, name, len(got), sizes(got), sizes(want))
			}
			recv = append(recv, sizes(got))
		default:
			log.Fatalf("zmq4peer: unknown op %q", st.Op)
		}
	}
	emitSync(map[string]any{"event": "finished", "job": j.ID, "side": name,
		"sent": sent, "recv": recv, "peer_ids": peerIDs})
	wait("end")
	// zmq4's PUB/XPUB Close closes each connection twice (writer and
	// reader) and reports the second one; the connection is closed anyway.
	_ = s.Close()
	emitSync(map[string]any{"event": "closed", "job": j.ID, "side": name})
}

func matrix(ctx context.Context, specPath string) {
	raw, err := os.ReadFile(specPath)
	must(err)
	var jobs []mJob
	must(json.Unmarshal(raw, &jobs))
	byID := map[string]mJob{}
	for _, j := range jobs {
		byID[j.ID] = j
	}
	var wg sync.WaitGroup
	for stdin.Scan() {
		f := strings.Fields(stdin.Text())
		switch {
		case len(f) == 3 && f[0] == "start":
			j, ok := byID[f[1]]
			if !ok {
				log.Fatalf("zmq4peer: no job %q", f[1])
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				runSide(ctx, j, f[2])
			}()
		case len(f) == 4 && f[0] == "release":
			close(bars.get(f[1] + "/" + f[2] + "/" + f[3]))
		case len(f) == 1 && f[0] == "quit":
			wg.Wait()
			return
		default:
			log.Fatalf("zmq4peer: bad command %q", stdin.Text())
		}
	}
	log.Fatal("zmq4peer: stdin closed before quit")
}

package patterns

import (
	"cmp"
	"slices"

	"github.com/zspy/zspy/host"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// Kind is a stage's pattern.
type Kind string

// The stages recognised.
const (
	Broker    Kind = "broker"          // ROUTER front, DEALER back (zmq_proxy between REQ and REP)
	Forwarder Kind = "forwarder"       // XSUB front, XPUB back (zmq_proxy between PUB and SUB)
	Worker    Kind = "pipeline worker" // PULL in, PUSH out
)

// shapes says, per kind, the front and back socket types.
var shapes = []struct {
	kind        Kind
	front, back zmtp.SocketType
}{
	{Broker, zmtp.ROUTER, zmtp.DEALER},
	{Forwarder, zmtp.XSUB, zmtp.XPUB},
	{Worker, zmtp.PULL, zmtp.PUSH},
}

// Stage is one process acting as a broker, forwarder or pipeline worker.
type Stage struct {
	Kind    Kind
	Process *host.Process
	// Front are its input ends (ROUTER, XSUB, PULL), Back its output ends
	// (DEALER, XPUB, PUSH), in connection order.
	Front, Back []End
	// In counts the messages its front ends received, Out those its back
	// ends sent (so far).
	In, Out uint64
	// FrontRecvQ is the bytes waiting in its front ends' kernel receive
	// queues at the host view's latest sample: input it has not read.
	FrontRecvQ uint64
	// Stalled is set by MarkStalls: since the previous sample its input
	// queue grew while its output stayed idle.
	Stalled bool
}

// MarkStalls marks the stages of cur that stall: the same process and kind
// in prev (the previous sample's stages) had a smaller input queue and the
// same output count. A stage new in cur is not marked.
func MarkStalls(cur, prev []Stage) {
	type key struct {
		pid  int
		kind Kind
	}
	before := make(map[key]*Stage, len(prev))
	for i := range prev {
		before[key{prev[i].Process.PID, prev[i].Kind}] = &prev[i]
	}
	for i := range cur {
		p := before[key{cur[i].Process.PID, cur[i].Kind}]
		cur[i].Stalled = p != nil && cur[i].FrontRecvQ > p.FrontRecvQ && cur[i].Out == p.Out
	}
}

// End is one connection end of a stage's process.
type End struct {
	ConnID uint64
	Socket zmtp.SocketType
	// Local is the stage's endpoint, Peer the other end ("ip:port").
	Local, Peer string
	// PeerProcess holds the peer's socket when it is on this host (nil: not
	// on this host, or not known).
	PeerProcess *host.Process
	// Received and Sent are the messages this end received and sent.
	Received, Sent uint64
	// RecvQ is the end's kernel receive queue at the latest sample (0 when
	// the sample did not find it).
	RecvQ uint32
}

// Find returns the stages among the records' connection ends on this host,
// by process, in PID order. Ends whose process is unknown belong to none.
func Find(recs []*tracker.Record, v *host.View) []Stage {
	if v == nil {
		return nil
	}
	type proc struct {
		p    *host.Process
		ends []End
	}
	byPID := map[int]*proc{}
	for _, r := range recs {
		if r.Detection != zmtp.IsZMTP {
			continue
		}
		hc, ok := v.Conn(r.ID)
		if !ok {
			continue
		}
		client, server := r.Names()
		for i, t := range hc.Sides {
			if t == nil || t.First() == nil {
				continue
			}
			p := t.First()
			e := End{ConnID: r.ID, Socket: r.Sides[i].SocketType, Local: client, Peer: server,
				Received: r.Dirs[1-i].Messages, Sent: r.Dirs[i].Messages}
			if i == 1 {
				e.Local, e.Peer = server, client
			}
			if v.Fresh(hc) {
				e.RecvQ = t.RecvQ
			}
			if o := hc.Sides[1-i]; o != nil {
				e.PeerProcess = o.First() // nil when unknown
			}
			pr := byPID[p.PID]
			if pr == nil {
				pr = &proc{p: p}
				byPID[p.PID] = pr
			}
			pr.ends = append(pr.ends, e)
		}
	}
	var out []Stage
	for _, pr := range byPID {
		for _, sh := range shapes {
			st := Stage{Kind: sh.kind, Process: pr.p}
			for _, e := range pr.ends {
				switch e.Socket {
				case sh.front:
					st.Front = append(st.Front, e)
					st.In += e.Received
					st.FrontRecvQ += uint64(e.RecvQ)
				case sh.back:
					st.Back = append(st.Back, e)
					st.Out += e.Sent
				}
			}
			if len(st.Front) > 0 && len(st.Back) > 0 {
				out = append(out, st)
			}
		}
	}
	slices.SortFunc(out, func(a, b Stage) int {
		return cmp.Or(cmp.Compare(a.Process.PID, b.Process.PID), cmp.Compare(a.Kind, b.Kind))
	})
	return out
}

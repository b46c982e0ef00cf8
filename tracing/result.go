package tracing

import (
	"cmp"
	"slices"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/zspy/zspy/patterns"
	"github.com/zspy/zspy/zmtp"
)

// The hops a stage times.
const (
	HopQueuedFront = iota // queued in the stage: entered at its front, left at its back
	HopQueuedBack         // queued in the stage: entered at its back (a reply), left at its front
	HopWorker             // forwarded out to a worker until its reply came back
	HopEndToEnd           // entered from a client until the stage sent the reply back
	NHops
)

// HopNames name the hops in the report, in the order of Stage.Hops.
var HopNames = [NHops]string{"queued front→back", "queued back→front", "in the worker", "end to end"}

// The histograms' range and precision: 1 µs to 1 hour, 2 significant
// digits (values within 1%), about 25 KB each, made on a hop's first
// sample.
const (
	histMin    = int64(time.Microsecond)
	histMax    = int64(time.Hour)
	histDigits = 2
)

type stage struct {
	hist   [NHops]*hdrhistogram.Histogram
	over   [NHops]uint64 // samples outside the histogram's range
	merged bool
	// neverLeft waited MaxAge at the stage's ends; evicted left early
	// (MaxPending); notKept were not kept (MaxPerStage).
	neverLeft, evicted, notKept uint64
}

func (s *stage) record(hop int, d int64) {
	h := s.hist[hop]
	if h == nil {
		h = hdrhistogram.New(histMin, histMax, histDigits)
		s.hist[hop] = h
	}
	if d < 0 {
		d = 0 // capture timestamps out of order across merged files
	}
	if h.RecordValue(max(d, histMin)) != nil {
		s.over[hop]++
	}
}

func (s *stage) merge(o *stage) {
	for i := range s.hist {
		switch {
		case o.hist[i] == nil:
		case s.hist[i] == nil:
			s.hist[i] = o.hist[i]
		default:
			s.hist[i].Merge(o.hist[i])
		}
		s.over[i] += o.over[i]
	}
	s.neverLeft += o.neverLeft
	s.evicted += o.evicted
	s.notKept += o.notKept
}

func (s *stage) bytes() int {
	n := 0
	for _, h := range s.hist {
		if h != nil {
			n += h.ByteSize()
		}
	}
	return n
}

// Result is what a tracer found: the stages and their hop times.
type Result struct {
	Stages []Stage
	Counters
	// Waiting messages at the end (at ends that are no stage too), and
	// the bytes the tracer holds (waiting messages, histograms).
	Waiting     int
	MemoryBytes int
}

// Stage is a group of ends (on one host) that forward each other's
// messages: a broker, forwarder or streamer recognised by forwarding.
type Stage struct {
	Kind patterns.Kind
	Host string
	// Front and Back are its ends by socket type (ROUTER, XSUB, PULL in
	// front; DEALER, XPUB, PUSH behind), listening ends first.
	Front, Back []End
	// Hops are the times of HopNames, in that order (Count 0: none seen).
	Hops [NHops]Hop
	// NeverLeft messages entered and waited past MaxAge; Waiting entered
	// and had not left when the capture ended; Evicted and NotKept were
	// lost to the caps (MaxPending, MaxPerStage).
	NeverLeft, Evicted, NotKept uint64
	Waiting                     int
	// MemoryBytes is what its histograms and waiting messages hold.
	MemoryBytes int
}

// End is one end of a stage.
type End struct {
	Addr   string // "ip:port"
	Socket zmtp.SocketType
	Listen bool // the listening (accepting) end of its connections
}

// Hop is one hop's times.
type Hop struct {
	Count         uint64
	P50, P99, Max time.Duration
	// OutOfRange samples (over an hour) are counted, not in the quantiles.
	OutOfRange uint64
}

// entrySize is what one waiting message holds: its ring slot and its
// fingerprint list's seq.
const entrySize = 56 + 8

// Result summarises what the tracer saw so far.
func (t *Tracer) Result() *Result {
	res := &Result{Counters: t.c}
	res.MemoryBytes = len(t.ring)*entrySize + len(t.ends)*64 + len(t.conns)*96
	waiting := map[*stage]int{}
	for seq := t.head; seq < t.tail; seq++ {
		if en := t.at(seq); en != nil && en.state == live {
			res.Waiting++
			if st := t.ends[t.root(en.end)].st; st != nil {
				waiting[st]++
			}
		}
	}
	byStage := map[*stage]*Stage{}
	for i := range t.ends {
		r := t.root(int32(i))
		st := t.ends[r].st
		if st == nil {
			continue
		}
		out := byStage[st]
		if out == nil {
			out = &Stage{Host: t.ends[r].host, NeverLeft: st.neverLeft, Evicted: st.evicted, NotKept: st.notKept,
				Waiting: waiting[st], MemoryBytes: st.bytes() + waiting[st]*entrySize}
			for h, hg := range st.hist {
				if hg != nil {
					out.Hops[h] = Hop{Count: uint64(hg.TotalCount()), P50: time.Duration(hg.ValueAtQuantile(50)),
						P99: time.Duration(hg.ValueAtQuantile(99)), Max: time.Duration(hg.Max()), OutOfRange: st.over[h]}
				}
			}
			res.MemoryBytes += st.bytes()
			byStage[st] = out
		}
		e := &t.ends[i]
		x := End{Addr: e.name, Socket: e.sock, Listen: e.server}
		if front(e.sock) {
			out.Front = append(out.Front, x)
		} else {
			out.Back = append(out.Back, x)
		}
	}
	for _, out := range byStage {
		out.Kind = kindOf(out)
		for _, es := range [][]End{out.Front, out.Back} {
			slices.SortFunc(es, func(a, b End) int {
				if a.Listen != b.Listen {
					if a.Listen {
						return -1
					}
					return 1
				}
				return cmp.Compare(a.Addr, b.Addr)
			})
		}
		res.Stages = append(res.Stages, *out)
	}
	slices.SortFunc(res.Stages, func(a, b Stage) int {
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(firstAddr(a), firstAddr(b)))
	})
	return res
}

func firstAddr(s Stage) string {
	if len(s.Front) > 0 {
		return s.Front[0].Addr
	}
	if len(s.Back) > 0 {
		return s.Back[0].Addr
	}
	return ""
}

func kindOf(s *Stage) patterns.Kind {
	for _, e := range append(s.Front, s.Back...) {
		switch e.Socket {
		case zmtp.ROUTER, zmtp.DEALER:
			return patterns.Broker
		case zmtp.XSUB, zmtp.XPUB:
			return patterns.Forwarder
		case zmtp.PULL, zmtp.PUSH:
			return patterns.Worker
		}
	}
	return ""
}

package tracing

import (
	"net"
	"strings"
	"time"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// Config bounds a Tracer's memory; zero fields take the defaults.
type Config struct {
	// MaxPending is how many received messages wait, in all, to be matched
	// with one an end sends (default 65536, about 3.5 MB).
	MaxPending int
	// MaxPerStage is how many of them may wait at one stage's ends (or at
	// ends that are joined by forwarding); more are not traced (default
	// 8192).
	MaxPerStage int
	// MaxAge is how long a message may wait (capture time): past it, one
	// at a stage's end entered but never left (default 10 s).
	MaxAge time.Duration
	// MaxEnds, MaxStages and MaxConns bound the ends ("ip:port"), stages
	// and connections kept (defaults 16384, 64, 65536); MaxOutstanding
	// the requests a connection waits the replies of (default 256).
	MaxEnds, MaxStages, MaxConns, MaxOutstanding int
	// OnSample, when set, sees every hop timed (tests compare them with
	// the apps' own times).
	OnSample func(Sample)
}

// Sample is one timed hop: HopNames[Hop], from Start to End (capture
// time), ending on connection Conn (for the queued hops, the one the
// message left on; for the worker and end to end, the one the request and
// reply travelled).
type Sample struct {
	Hop        int
	Conn       uint64
	Start, End time.Time
}

// The defaults of Config.
const (
	DefaultMaxPending     = 65536
	DefaultMaxPerStage    = 8192
	DefaultMaxAge         = 10 * time.Second
	DefaultMaxEnds        = 16384
	DefaultMaxStages      = 64
	DefaultMaxConns       = 65536
	DefaultMaxOutstanding = 256
)

func (c *Config) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxPending, DefaultMaxPending)
	def(&c.MaxPerStage, DefaultMaxPerStage)
	def(&c.MaxEnds, DefaultMaxEnds)
	def(&c.MaxStages, DefaultMaxStages)
	def(&c.MaxConns, DefaultMaxConns)
	def(&c.MaxOutstanding, DefaultMaxOutstanding)
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
}

// Tracer matches messages entering and leaving stages. Feed it every
// tracker event (it is a tracker.Listener) on the tracker's goroutine;
// Result summarises what it saw.
type Tracer struct {
	cfg   Config
	ends  []end
	byEnd map[string]int32
	hosts map[string]uint64
	conns map[uint64]*conn

	// The waiting messages: a ring of entries in arrival order (seq), and
	// per fingerprint the seqs of those not yet popped, oldest first.
	ring       []entry
	head, tail uint64 // seqs: [head, tail) are in the ring
	byFP       map[uint64][]waitGroup

	stages []*stage
	c      Counters
}

// Counters count what the tracer saw and what it could not keep.
type Counters struct {
	// Messages were fingerprinted; Untraced were not (CURVE boxes, whose
	// bodies are encrypted; connections past MaxConns; ends past MaxEnds).
	Messages, Untraced uint64
	// Forwarded messages were matched with the one a stage sent on.
	Forwarded uint64
	// Delivered waited MaxAge at an end that is no stage (a consumer).
	Delivered uint64
	// Evicted left the waiting messages early, MaxPending being reached;
	// NotKept were not kept, MaxPerStage being reached at their end's
	// stage or group of ends.
	Evicted, NotKept uint64
	// EndsOverflow and ConnsOverflow count ends and connections past their
	// caps (their messages untraced); StagesOverflow counts forwards not
	// timed because MaxStages stages exist already; OutstandingLost counts
	// requests dropped from a full outstanding list (their reply untimed).
	EndsOverflow, ConnsOverflow, StagesOverflow, OutstandingLost uint64
}

type end struct {
	name, host string
	hostID     uint64 // host's number, mixed into the waiting messages' keys
	server     bool
	sock       zmtp.SocketType
	parent     int32
	live       int    // at a root: the group's waiting messages
	st         *stage // at a root, once the group forwarded a message
}

type conn struct {
	end  [2]int32 // per side; -1: not kept
	sock [2]zmtp.SocketType
	// svc: requests a stage's end (side) forwarded out, awaiting the
	// peer's reply; e2e: requests that entered a stage's end (side) from a
	// client, awaiting the reply the stage sends back.
	svc, e2e []waiting
}

type waiting struct {
	env  uint64
	ts   int64
	side int8
}

const (
	live uint8 = iota + 1
	done
)

type entry struct {
	seq   uint64
	fp    uint64
	env   uint64
	ts    int64
	conn  uint64
	end   int32 // the receiving end
	from  int32 // the sending end
	side  int8  // the receiving end's side of conn
	state uint8
}

// New returns a tracer.
func New(cfg Config) *Tracer {
	cfg.defaults()
	return &Tracer{cfg: cfg, byEnd: map[string]int32{}, hosts: map[string]uint64{}, conns: map[uint64]*conn{}, byFP: map[uint64][]waitGroup{},
		ring: make([]entry, 256)}
}

// TrackerEvent takes one decoded event: greetings name the ends' socket
// types, messages are traced.
func (t *Tracer) TrackerEvent(e *tracker.Event) {
	switch e.Type {
	case tracker.EvGreeting:
		// ZMTP 2.0 names the socket type in its greeting.
		if e.SocketType != zmtp.SocketUnknown {
			t.socketType(e, e.SocketType)
		}
	case tracker.EvCommand:
		// ZMTP 3.x names it in READY (or INITIATE under CURVE).
		for _, p := range e.Props {
			if strings.EqualFold(string(p.Name), "Socket-Type") {
				if st := zmtp.ParseSocketType(p.Value); st != zmtp.SocketUnknown {
					t.socketType(e, st)
				}
			}
		}
	case tracker.EvMessage:
		if e.Curve || e.Frames == 0 {
			t.c.Untraced++
			return
		}
		c := t.conn(e)
		if c == nil {
			t.c.Untraced++
			return
		}
		s := int(e.Dir) & 1
		if c.end[0] < 0 || c.end[1] < 0 {
			t.c.Untraced++
			return
		}
		t.c.Messages++
		t.message(e, c, s)
	}
}

// socketType records the socket type of the sender of e.
func (t *Tracer) socketType(e *tracker.Event, st zmtp.SocketType) {
	if c := t.conn(e); c != nil {
		s := int(e.Dir) & 1
		c.sock[s] = st
		if i := c.end[s]; i >= 0 && t.ends[i].sock == zmtp.SocketUnknown {
			t.ends[i].sock = st
		}
	}
}

// conn returns the connection of e, made with its two ends on first sight
// (nil past MaxConns).
func (t *Tracer) conn(e *tracker.Event) *conn {
	if c := t.conns[e.ConnID]; c != nil {
		return c
	}
	if len(t.conns) >= t.cfg.MaxConns {
		t.c.ConnsOverflow++
		return nil
	}
	c := &conn{end: [2]int32{t.endOf(e.Client, false), t.endOf(e.Server, true)},
		sock: [2]zmtp.SocketType{zmtp.SocketUnknown, zmtp.SocketUnknown}}
	t.conns[e.ConnID] = c
	return c
}

// endOf returns the end named name ("ip:port"), made on first sight (-1
// past MaxEnds).
func (t *Tracer) endOf(name string, server bool) int32 {
	if i, ok := t.byEnd[name]; ok {
		return i
	}
	if len(t.ends) >= t.cfg.MaxEnds {
		t.c.EndsOverflow++
		return -1
	}
	h, _, err := net.SplitHostPort(name)
	if err != nil {
		h = name
	}
	i := int32(len(t.ends))
	hid, ok := t.hosts[h]
	if !ok {
		hid = uint64(len(t.hosts)) + 1
		t.hosts[h] = hid
	}
	t.ends = append(t.ends, end{name: name, host: h, hostID: hid, server: server, parent: i, sock: zmtp.SocketUnknown})
	t.byEnd[name] = i
	return i
}

func (t *Tracer) root(i int32) int32 {
	for t.ends[i].parent != i {
		p := t.ends[i].parent
		t.ends[i].parent = t.ends[p].parent
		i = p
	}
	return i
}

// join puts ends a and b in one group and returns its root, whose stage
// the two groups' stages merge into.
func (t *Tracer) join(a, b int32) int32 {
	ra, rb := t.root(a), t.root(b)
	if ra == rb {
		return ra
	}
	if rb < ra {
		ra, rb = rb, ra
	}
	ea, eb := &t.ends[ra], &t.ends[rb]
	eb.parent = ra
	ea.live += eb.live
	eb.live = 0
	switch {
	case ea.st == nil:
		ea.st, eb.st = eb.st, nil
	case eb.st != nil:
		ea.st.merge(eb.st)
		eb.st.merged = true
		eb.st = nil
	}
	return ra
}

// stageOf returns the stage of root r, made on its first forward (nil past
// MaxStages).
func (t *Tracer) stageOf(r int32) *stage {
	e := &t.ends[r]
	if e.st == nil {
		if t.liveStages() >= t.cfg.MaxStages {
			t.c.StagesOverflow++
			return nil
		}
		e.st = &stage{}
		t.stages = append(t.stages, e.st)
	}
	return e.st
}

func (t *Tracer) liveStages() int {
	n := 0
	for _, s := range t.stages {
		if !s.merged {
			n++
		}
	}
	return n
}

// fingerprint is what a proxy forwards unchanged: the last frame's size
// and first bytes.
func fingerprint(e *tracker.Event) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < 8; i++ {
		h = (h ^ (e.LastSize >> (8 * i) & 0xff)) * 1099511628211
	}
	for _, b := range e.Last {
		h = (h ^ uint64(b)) * 1099511628211
	}
	return h
}

func (t *Tracer) message(e *tracker.Event, c *conn, s int) {
	now := e.TS.UnixNano()
	t.expire(now)
	from, to := c.end[s], c.end[1-s]

	// A reply the peer sends to a stage's end (time in the worker), or a
	// stage's end sends back to its client (end to end).
	if w, ok := take(&c.svc, int8(1-s), e.Envelope); ok {
		if st := t.ends[t.root(to)].st; st != nil {
			st.record(HopWorker, now-w.ts)
			t.sample(HopWorker, e.ConnID, w.ts, now)
		}
	}
	if w, ok := take(&c.e2e, int8(s), e.Envelope); ok {
		if st := t.ends[t.root(from)].st; st != nil {
			st.record(HopEndToEnd, now-w.ts)
			t.sample(HopEndToEnd, e.ConnID, w.ts, now)
		}
	}

	fp := fingerprint(e)
	if en := t.forwarded(fp, e.ConnID, from); en != nil {
		t.c.Forwarded++
		en.state = done
		r := t.root(en.end)
		t.ends[r].live--
		in := t.ends[en.end].sock
		r = t.join(en.end, from)
		if st := t.stageOf(r); st != nil {
			hop := HopQueuedBack
			if front(in) {
				hop = HopQueuedFront
			}
			st.record(hop, now-en.ts)
			t.sample(hop, e.ConnID, en.ts, now)
		}
		out := t.ends[from].sock
		if peer := c.sock[1-s]; (out == zmtp.DEALER || out == zmtp.ROUTER) &&
			(peer == zmtp.REP || peer == zmtp.ROUTER || peer == zmtp.DEALER) {
			t.await(&c.svc, waiting{env: e.Envelope, ts: now, side: int8(s)})
		}
		if ec := t.conns[en.conn]; ec != nil && in == zmtp.ROUTER {
			if cl := ec.sock[1-en.side]; cl == zmtp.REQ || cl == zmtp.DEALER {
				t.await(&ec.e2e, waiting{env: en.env, ts: en.ts, side: en.side})
			}
		}
	}

	// The message now waits at its receiving end, if that end's socket can
	// forward it (a stage's input: not SUB, REQ, REP...).
	if !stageIn(t.ends[to].sock) {
		return
	}
	key := waitKey(fp, t.ends[to].hostID)
	r := t.root(to)
	if t.ends[r].live >= t.cfg.MaxPerStage {
		t.c.NotKept++
		if st := t.ends[r].st; st != nil {
			st.notKept++
		}
		return
	}
	if t.tail-t.head == uint64(len(t.ring)) {
		if len(t.ring) < t.cfg.MaxPending {
			t.grow()
		} else {
			t.pop(false)
		}
	}
	seq := t.tail
	t.tail++
	t.ring[seq%uint64(len(t.ring))] = entry{seq: seq, fp: key, env: e.Envelope, ts: now, conn: e.ConnID,
		end: to, from: from, side: int8(1 - s), state: live}
	t.addWaiting(key, e.ConnID, to, from, seq)
	t.ends[r].live++
}

// waitGroup is the waiting messages of one fingerprint that came over one
// connection in one direction, oldest first: everything forwarded asks of a
// waiting message but its age is the same for all of them, so a message
// sent looks at one per group rather than at every one (a stream of equal
// bodies on one connection, all waiting, made that a walk of up to
// MaxPending entries per message).
type waitGroup struct {
	conn      uint64
	end, from int32
	seqs      []uint64
}

func (t *Tracer) addWaiting(key, conn uint64, end, from int32, seq uint64) {
	gs := t.byFP[key]
	for i := range gs {
		if g := &gs[i]; g.conn == conn && g.end == end {
			g.seqs = append(g.seqs, seq)
			return
		}
	}
	t.byFP[key] = append(gs, waitGroup{conn: conn, end: end, from: from, seqs: []uint64{seq}})
}

// forwarded returns the oldest waiting message of fingerprint fp that the
// end from, sending on connection id, forwards (nil: none), and takes it
// out of its fingerprint's list.
func (t *Tracer) forwarded(fp, id uint64, from int32) *entry {
	fe := &t.ends[from]
	if !stageOut(fe.sock) {
		return nil
	}
	key := waitKey(fp, fe.hostID)
	gs := t.byFP[key]
	best := -1
	var bestSeq uint64
	for i := range gs {
		g := &gs[i]
		if g.conn == id || g.from == from {
			continue
		}
		in := &t.ends[g.end]
		if in.host != fe.host || !stagePair(in.sock, fe.sock) {
			continue
		}
		if src := &t.ends[g.from]; !src.server && !fe.server && src.sock == fe.sock && src.host == fe.host {
			// One connecting socket that sent the same body to two peers.
			continue
		}
		// The group's oldest message still waiting.
		for len(g.seqs) > 0 {
			if en := t.at(g.seqs[0]); en != nil && en.state == live {
				break
			}
			g.seqs = g.seqs[1:]
		}
		if len(g.seqs) > 0 && (best < 0 || g.seqs[0] < bestSeq) {
			best, bestSeq = i, g.seqs[0]
		}
	}
	if best < 0 {
		t.dropEmpty(key, gs)
		return nil
	}
	gs[best].seqs = gs[best].seqs[1:]
	t.dropEmpty(key, gs)
	return t.at(bestSeq)
}

// dropEmpty forgets the groups of key left without messages.
func (t *Tracer) dropEmpty(key uint64, gs []waitGroup) {
	kept := gs[:0]
	for _, g := range gs {
		if len(g.seqs) > 0 {
			kept = append(kept, g)
		}
	}
	clear(gs[len(kept):])
	if len(kept) == 0 {
		delete(t.byFP, key)
	} else {
		t.byFP[key] = kept
	}
}

// waitKey is a waiting message's key: its fingerprint on its host.
func waitKey(fp, hostID uint64) uint64 { return fp ^ hostID*0x9E3779B97F4A7C15 }

// stageIn reports whether a socket of type s can be a stage's input (what
// it receives may be forwarded); stageOut, its output.
func stageIn(s zmtp.SocketType) bool {
	return s == zmtp.ROUTER || s == zmtp.DEALER || s == zmtp.XSUB || s == zmtp.PULL
}

func stageOut(s zmtp.SocketType) bool {
	return s == zmtp.ROUTER || s == zmtp.DEALER || s == zmtp.XPUB || s == zmtp.PUSH
}

// stagePair reports whether a process may forward what its socket of type
// in received out of its socket of type out, as zmq_proxy does.
func stagePair(in, out zmtp.SocketType) bool {
	switch in {
	case zmtp.ROUTER:
		return out == zmtp.DEALER
	case zmtp.DEALER:
		return out == zmtp.ROUTER
	case zmtp.XSUB:
		return out == zmtp.XPUB
	case zmtp.PULL:
		return out == zmtp.PUSH
	}
	return false
}

// front reports whether a stage's socket of type s is its input (front).
func front(s zmtp.SocketType) bool {
	return s == zmtp.ROUTER || s == zmtp.XSUB || s == zmtp.PULL
}

func (t *Tracer) at(seq uint64) *entry {
	if seq < t.head || seq >= t.tail {
		return nil
	}
	en := &t.ring[seq%uint64(len(t.ring))]
	if en.seq != seq {
		return nil
	}
	return en
}

// grow doubles the ring, keeping every entry at its seq's new place.
func (t *Tracer) grow() {
	n := min(2*len(t.ring), t.cfg.MaxPending)
	ring := make([]entry, n)
	for seq := t.head; seq < t.tail; seq++ {
		ring[seq%uint64(n)] = t.ring[seq%uint64(len(t.ring))]
	}
	t.ring = ring
}

// expire pops the messages that waited longer than MaxAge by now.
func (t *Tracer) expire(now int64) {
	limit := now - int64(t.cfg.MaxAge)
	for t.head < t.tail && t.ring[t.head%uint64(len(t.ring))].ts < limit {
		t.pop(true)
	}
}

// pop removes the oldest waiting message: aged out (old) or evicted.
func (t *Tracer) pop(old bool) {
	en := &t.ring[t.head%uint64(len(t.ring))]
	t.head++
	if gs := t.byFP[en.fp]; gs != nil {
		for i := range gs {
			if g := &gs[i]; g.conn == en.conn && g.end == en.end {
				for len(g.seqs) > 0 && g.seqs[0] < t.head {
					g.seqs = g.seqs[1:]
				}
			}
		}
		t.dropEmpty(en.fp, gs)
	}
	if en.state != live {
		return
	}
	en.state = done
	r := t.root(en.end)
	t.ends[r].live--
	st := t.ends[r].st
	switch {
	case !old:
		t.c.Evicted++
		if st != nil {
			st.evicted++
		}
	case st != nil:
		st.neverLeft++
	default:
		t.c.Delivered++
	}
}

// take removes and returns the oldest waiting request of side and
// envelope env.
func take(ws *[]waiting, side int8, env uint64) (waiting, bool) {
	for i, w := range *ws {
		if w.side == side && w.env == env {
			*ws = append((*ws)[:i], (*ws)[i+1:]...)
			return w, true
		}
	}
	return waiting{}, false
}

func (t *Tracer) await(ws *[]waiting, w waiting) {
	if len(*ws) >= t.cfg.MaxOutstanding {
		t.c.OutstandingLost++
		*ws = append((*ws)[:0], (*ws)[1:]...)
	}
	*ws = append(*ws, w)
}

func (t *Tracer) sample(hop int, id uint64, start, end int64) {
	if t.cfg.OnSample != nil {
		t.cfg.OnSample(Sample{Hop: hop, Conn: id, Start: time.Unix(0, start), End: time.Unix(0, end)})
	}
}

package reassembly

import (
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/zmtp"
)

// Options configures an Assembler. The zero value selects the defaults.
type Options struct {
	// IdleTimeout closes (CloseIdle) the connections that are not established
	// and saw no packet for this long, measured in packet time: attempts
	// whose SYN was never answered, connections half closed by a FIN, flows
	// that never carried a byte; and forgets closed connections' tombstones.
	// An established connection is never closed for being quiet (as
	// conntrack keeps it until FIN or RST: ZeroMQ connections are often
	// silent for minutes, libzmq sends no heartbeats by default); only
	// MaxConnections bounds them. Default 2 minutes; negative disables.
	IdleTimeout time.Duration
	// MaxBufferPerDir caps the out-of-order bytes buffered for one direction
	// (default 256 KiB). Past it the assembler gives up on the oldest hole.
	MaxBufferPerDir int
	// MaxBufferTotal caps the out-of-order bytes buffered across all
	// connections (default 64 MiB). A direction that buffers while the total is
	// over the cap gives up on its holes.
	MaxBufferTotal int
	// MaxConnections caps the connections tracked at once, closed ones'
	// tombstones included (default DefaultMaxConnections). A new connection
	// past the cap evicts the oldest (by last packet) not established, else
	// the oldest established: a tombstone
	// is forgotten (Stats.ForgotClosed), a live connection is closed with
	// CloseEvicted (Stats.Evicted) and a summary of it kept (MaxEvicted), so
	// that its traffic, if it comes back, continues it.
	MaxConnections int
	// MaxEvicted caps the summaries of evicted connections kept (4-tuple,
	// orientation, next sequence numbers: 72 bytes and a map entry, about 200 bytes each); the oldest
	// go first (Stats.EvictedForgotten). Default MaxConnections/4, at least minEvicted; negative
	// keeps none.
	MaxEvicted int
	// AckGrace is how long, in packet time, a hole that the peer has
	// acknowledged is still waited for before it is given up (default 200 ms;
	// negative: at once). On a SPAN port or TAP the two directions reach the
	// capture by different paths: the ACK for bytes is often captured before
	// the bytes themselves, which then come, late and reordered.
	AckGrace time.Duration
}

// DefaultIdleTimeout is Options.IdleTimeout's default.
const DefaultIdleTimeout = 2 * time.Minute

func (o Options) withDefaults() Options {
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxBufferPerDir <= 0 {
		o.MaxBufferPerDir = 256 << 10
	}
	if o.MaxBufferTotal <= 0 {
		o.MaxBufferTotal = 64 << 20
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	if o.MaxEvicted == 0 {
		o.MaxEvicted = max(minEvicted, o.MaxConnections/4)
	}
	if o.AckGrace == 0 {
		o.AckGrace = DefaultAckGrace
	}
	return o
}

// Stats counts what the assembler saw and what it had to give up. All
// counters are cumulative but Open and Buffered.
type Stats struct {
	Segments    uint64 // segments assembled
	Connections uint64 // streams created
	Open        int    // connections open now
	ClosedFIN   uint64 // closed by FINs (or a FIN and the end of the capture)
	ClosedRST   uint64 // reset after the handshake or data
	Refused     uint64 // SYN answered by RST
	ClosedIdle  uint64 // not established, closed after the idle timeout
	ClosedEnd   uint64 // still open at FlushAll
	Reused      uint64 // closed because a new SYN reused the 4-tuple
	// Evicted counts live connections closed to make room (MaxConnections),
	// the oldest idle first; ForgotClosed the tombstones of closed ones
	// forgotten early for the same reason.
	Evicted      uint64
	ForgotClosed uint64
	// Resumed counts evicted connections whose traffic came back and
	// continued their sequence numbers (the same Stream goes on:
	// ConnInfo.Joined); Unjoined those whose traffic came back but did not
	// (a new Stream, ConnInfo.Resumes set and Joined false).
	Resumed, Unjoined uint64
	// EvictedForgotten counts evicted connections' summaries dropped
	// (MaxEvicted): their traffic, if it comes back, is a new connection.
	EvictedForgotten uint64
	AfterClose       uint64 // segments of connections already closed
	AfterFIN         uint64 // segments with bytes past their direction's FIN, dropped
	Stray            uint64 // RSTs for connections never seen, ignored

	DataBytes    uint64 // bytes delivered through Data
	Gaps         uint64 // holes skipped (capture loss)
	GapBytes     uint64 // bytes skipped in holes
	SnapCutBytes uint64 // bytes skipped because the snap length cut segments
	AckFlushes   uint64 // holes given up because the peer acknowledged past them (after AckGrace)
	AckWaits     uint64 // holes the peer acknowledged that were still waited for (AckGrace)
	LateFills    uint64 // of those, holes that filled while waited for: late copies, not loss
	CapFlushes   uint64 // holes given up because a buffer cap or the window was exceeded
	Retransmits  uint64 // segments carrying only bytes already delivered
	Overlaps     uint64 // segments partly overlapping delivered or buffered bytes
	OverlapDiffs uint64 // overlaps whose bytes differ from the buffered copy
	OutOfOrder   uint64 // segments buffered out of order
	OutOfWindow  uint64 // segments more than 1 GiB ahead of the stream, dropped
	Buffered     int    // out-of-order bytes buffered now
	PeakBuffered int    // most out-of-order bytes buffered at once
}

// DefaultMaxConnections is Options.MaxConnections' default: with what the
// tracker and a snapshot keep per connection, about 5.6 KiB for a quiet one
// (README, "Connection lifetime"; pipeline's TestPerConnectionMemory), some
// 560 MiB at the cap.
const DefaultMaxConnections = 100_000

// DefaultAckGrace is Options.AckGrace's default: well above the few
// milliseconds by which a mirror's two directions drift apart, well below
// TCP's shortest retransmission timeout (200 ms on Linux), after which a
// retransmission, not the late copy, would fill the hole.
const DefaultAckGrace = 200 * time.Millisecond

// lateSYNSpan is how far below the sequence number the peer first
// acknowledged a late SYN's ISN may be and still be the connection's own.
const lateSYNSpan = 1 << 16

// maxAhead is how far ahead of the expected sequence number a segment may
// start and still be buffered; further is garbage or another connection.
const maxAhead = 1 << 30

// maxPayload bounds the payload length believed from a segment.
const maxPayload = 1 << 30

// Assembler puts the TCP segments of many connections back into byte order
// and feeds one Stream per connection. It is not safe for concurrent use:
// one pipeline goroutine calls it, in packet order.
//
// Memory: each tracked connection costs one conn record (384 bytes, see
// TestConnSize) and a map entry (about 80 bytes), plus what its Stream keeps;
// at most MaxConnections are tracked, and MaxEvicted summaries of evicted
// ones kept.
// Out-of-order bytes are copied into pooled buffers, at most MaxBufferPerDir
// per direction and MaxBufferTotal in all (each may be exceeded by one segment,
// at most capture.MaxRecordLen bytes, before the hole is given up); freed
// buffers are pooled for reuse, about 1 MiB per size class at most. Closed
// connections stay as small tombstones until their idle timeout, so that late
// packets are not taken for new connections. A hole waiting AckGrace costs a
// 24-byte entry in a list while it waits (at most one per direction).
type Assembler struct {
	factory   Factory
	opts      Options
	conns     map[connKey]*conn
	stats     Stats
	lastCheck time.Time // packet time of the last idle check
	nextCheck time.Time // lastCheck + IdleTimeout/8
	flushList []*conn
	// last is the connection of the last segment (nil once forgotten).
	last *conn
	// spare holds forgotten connection records for reuse (newConn).
	spare []*conn
	pool  bufPool
	// waiting lists the acknowledged holes in their AckGrace; the first
	// deadline is waitDue (Unix nanoseconds of packet time).
	waiting []ackWait
	waitDue int64
	// lists holds the tracked connections by their last packet, newest
	// first (conn.newer, conn.older), in two lists as conntrack's
	// early drop has them: lists[0] what is not established (expirable:
	// tombstones, unanswered SYNs, half-closed flows), lists[1] the
	// established connections. Eviction takes the oldest of the first,
	// then the oldest of the second.
	lists [2]connList
	// newest is the latest last-packet time (Unix seconds) a connection
	// took to the front of a list (touch), and skew the most seconds any
	// connection's was below newest when it did: 0 while packet times never
	// went back. A connection further back in a list has a last packet no
	// later than skew seconds after any in front of it (in whole seconds),
	// so that FlushOlderThan stops walking there instead of visiting every
	// connection.
	newest, skew int64
	serial       uint64
	// evicted summarises evicted connections by 4-tuple; evictOrder lists
	// them oldest first (a ring from evictHead) to bound them.
	evicted    map[connKey]evictedConn
	evictOrder []evictRef
	evictHead  int
}

// evictedConn is what is kept of an evicted connection to join its traffic
// if it comes back.
type evictedConn struct {
	client  netip.AddrPort
	serial  uint64
	next    [2]uint32
	started [2]bool
	synSeen [2]bool
	done    [2]bool // FIN reached
	wscale  [2]int8
	win     [2]uint32
	sawSYN  bool
}

type evictRef struct {
	key    connKey
	serial uint64
}

// connKey is a connection's 4-tuple, ordered so that both directions map to
// the same key.
type connKey struct {
	lo, hi netip.AddrPort
}

func makeKey(a, b netip.AddrPort) connKey {
	// Any fixed order will do: by port (one comparison for nearly every
	// packet), by address when the ports are equal.
	if pa, pb := a.Port(), b.Port(); pa > pb || pa == pb && a.Addr().Compare(b.Addr()) > 0 {
		a, b = b, a
	}
	return connKey{a, b}
}

// connList is a list of connections, newest first.
type connList struct{ newest, oldest *conn }

type conn struct {
	key          connKey
	stream       Stream
	info         ConnInfo
	lastSeen     time.Time
	newer, older *conn // the list by last packet (Assembler.lists)
	list         int8  // which of Assembler.lists holds it, -1 none
	dirs         [2]half
	closed       bool // a tombstone: the stream was closed
	synOnly      bool // only the client's SYN seen so far: a RST now means refused
}

// expirable reports whether the idle timeout may close c: not established
// (its SYN unanswered, or a flow that never carried a byte), half closed by
// a FIN, or a tombstone. An established connection lives until FIN or RST.
func (c *conn) expirable() bool {
	return c.closed || c.synOnly || c.dirs[0].finSeen || c.dirs[1].finSeen ||
		(!c.dirs[0].started && !c.dirs[1].started)
}

// half is the state of one direction.
type half struct {
	started  bool   // next is known
	next     uint32 // next expected sequence number
	isn      uint32
	synSeen  bool
	wscale   int8
	finSeen  bool
	finSeq   uint32 // sequence number of the FIN
	done     bool   // FIN reached in order
	isnSet   bool   // isn is implied by the peer's first acknowledgement, the SYN not seen
	ackWait  bool   // the peer acknowledged past a hole: in Assembler.waiting
	win      uint32 // largest window advertised by this direction's sender (scaled)
	ooo      []chunk
	buffered int
}

// chunk is an out-of-order segment kept until the hole before it fills.
type chunk struct {
	seq     uint32
	data    []byte // pooled copy of the captured payload
	missing int    // payload bytes after data that the snap length cut
	fin     bool
	ts      time.Time
}

func (c *chunk) end() uint32 { return c.seq + uint32(len(c.data)+c.missing) }

// New returns an Assembler that asks factory for a Stream per connection.
func New(factory Factory, opts Options) *Assembler {
	return &Assembler{
		factory: factory,
		opts:    opts.withDefaults(),
		conns:   make(map[connKey]*conn),
		evicted: make(map[connKey]evictedConn),
		newest:  math.MinInt64,
	}
}

// Stats returns the counters.
func (a *Assembler) Stats() Stats { return a.stats }

// MaxConnections returns the cap on tracked connections in force.
func (a *Assembler) MaxConnections() int { return a.opts.MaxConnections }

// seqLT reports whether sequence number x comes before y (mod 2^32).
func seqLT(x, y uint32) bool { return int32(x-y) < 0 }

// Assemble processes one segment. seg.Payload is used only during the call.
// Segments must come in capture order; packet time drives the idle timeout.
func (a *Assembler) Assemble(seg *capture.Segment) {
	a.stats.Segments++
	if a.opts.IdleTimeout > 0 {
		// (The comparison with nextCheck spares most packets the dearer
		// Sub, which decides.)
		if a.lastCheck.IsZero() {
			a.lastCheck, a.nextCheck = seg.TS, seg.TS.Add(a.opts.IdleTimeout/8)
		} else if !seg.TS.Before(a.nextCheck) && seg.TS.Sub(a.lastCheck) >= a.opts.IdleTimeout/8 {
			a.lastCheck, a.nextCheck = seg.TS, seg.TS.Add(a.opts.IdleTimeout/8)
			a.FlushOlderThan(seg.TS.Add(-a.opts.IdleTimeout))
		}
	}
	if len(a.waiting) > 0 && seg.TS.UnixNano() >= a.waitDue {
		a.checkWaits(seg.TS)
	}
	src := netip.AddrPortFrom(seg.Src, seg.SrcPort)
	dst := netip.AddrPortFrom(seg.Dst, seg.DstPort)
	key := makeKey(src, dst)
	// Consecutive segments often belong to one connection (a request, its
	// acknowledgement, the reply): comparing with the last one's key is
	// cheaper than hashing for the map.
	c := a.last
	if c == nil || c.key != key {
		c = a.conns[key]
	}
	syn := seg.Flags&capture.FlagSYN != 0
	if c != nil {
		if c.closed {
			if !syn {
				a.stats.AfterClose++
				if seg.TS.After(c.lastSeen) {
					c.lastSeen = seg.TS
				}
				a.touch(c)
				return
			}
			a.forget(c)
			c = nil
		} else if syn && !c.sameHandshake(src, seg) {
			a.finish(c, CloseReused, seg.TS)
			a.forget(c)
			c = nil
		}
	}
	if c == nil {
		e, wasEvicted := a.evicted[key]
		if wasEvicted {
			delete(a.evicted, key)
		}
		if seg.Flags&capture.FlagRST != 0 && !wasEvicted {
			a.stats.Stray++
			return
		}
		for len(a.conns) >= a.opts.MaxConnections {
			if !a.evictOldest() {
				break
			}
		}
		if wasEvicted && !(syn && seg.Flags&capture.FlagACK == 0) {
			c = a.resume(key, src, dst, seg, &e)
		} else {
			c = a.open(key, src, dst, seg)
		}
	}
	dir := zmtp.ClientToServer
	if src != c.info.Client {
		dir = zmtp.ServerToClient
	}
	if seg.TS.After(c.lastSeen) {
		c.lastSeen = seg.TS
	}
	c.stream.Segment(dir, seg)
	a.handle(c, dir, seg)
	a.touch(c)
	a.last = c
}

// sameHandshake reports whether a SYN belongs to the connection's own
// handshake (a retransmitted SYN or SYN+ACK) rather than a new connection.
func (c *conn) sameHandshake(src netip.AddrPort, seg *capture.Segment) bool {
	dir := zmtp.ClientToServer
	if src != c.info.Client {
		dir = zmtp.ServerToClient
	}
	h := &c.dirs[dir]
	if seg.Flags&capture.FlagACK == 0 {
		if h.synSeen {
			return dir == zmtp.ClientToServer && h.isn == seg.Seq // the client's SYN, again
		}
		// A SYN captured after segments that answered it, as a mirror whose
		// client-side copies lag delivers it: the peer's first captured
		// segment acknowledged this ISN (the SYN+ACK) or a few bytes after it
		// (data, when the capture began in between); handle keeps it in isn.
		// A new connection's ISN falls so close by chance once in 65,536.
		return h.isnSet && h.isn-seg.Seq < lateSYNSpan && (dir == zmtp.ClientToServer || !c.info.SawSYN)
	}
	// A SYN+ACK: the server's answer, first or again.
	return dir == zmtp.ServerToClient && (!h.synSeen || h.isn == seg.Seq)
}

func (a *Assembler) open(key connKey, src, dst netip.AddrPort, seg *capture.Segment) *conn {
	a.serial++
	info := ConnInfo{Client: src, Server: dst, FirstPacket: seg.Num, Start: seg.TS, Serial: a.serial}
	c := a.newConn()
	c.key, c.lastSeen, c.list = key, seg.TS, -1
	switch {
	case seg.Flags&(capture.FlagSYN|capture.FlagACK) == capture.FlagSYN:
		info.SawSYN = true
		c.synOnly = true
	case seg.Flags&(capture.FlagSYN|capture.FlagACK) == capture.FlagSYN|capture.FlagACK:
		info.Client, info.Server = dst, src
		info.SawSYN = true
	}
	c.info = info
	c.stream = a.factory.New(info)
	a.conns[key] = c
	a.stats.Connections++
	a.stats.Open++
	return c
}

// touch makes c the connection with the newest packet of its list (by
// whether it is established now).
func (a *Assembler) touch(c *conn) {
	if sec := c.lastSeen.Unix(); sec > a.newest {
		a.newest = sec
	} else {
		a.skew = max(a.skew, a.newest-sec)
	}
	want := int8(1)
	if c.expirable() {
		want = 0
	}
	if c.list == want && a.lists[want].newest == c {
		return
	}
	a.unlink(c)
	l := &a.lists[want]
	c.list, c.older = want, l.newest
	if l.newest != nil {
		l.newest.newer = c
	}
	l.newest = c
	if l.oldest == nil {
		l.oldest = c
	}
}

func (a *Assembler) unlink(c *conn) {
	if c.list < 0 {
		return
	}
	l := &a.lists[c.list]
	if c.newer != nil {
		c.newer.older = c.older
	} else if l.newest == c {
		l.newest = c.older
	}
	if c.older != nil {
		c.older.newer = c.newer
	} else if l.oldest == c {
		l.oldest = c.newer
	}
	c.newer, c.older, c.list = nil, nil, -1
}

// forget stops tracking c (closed before). c goes to the spares, and the
// next open or resume may reuse it: a caller reads it only until then.
func (a *Assembler) forget(c *conn) {
	a.unlink(c)
	delete(a.conns, c.key)
	if a.last == c {
		a.last = nil
	}
	if c.dirs[0].ackWait || c.dirs[1].ackWait {
		// (A closed connection's waits may still be listed.)
		kept := a.waiting[:0]
		for _, w := range a.waiting {
			if w.c != c {
				kept = append(kept, w)
			}
		}
		clear(a.waiting[len(kept):])
		a.waiting = kept
	}
	if len(a.spare) < maxSpareConns {
		a.spare = append(a.spare, c)
	}
}

// maxSpareConns bounds the forgotten connection records kept for reuse
// (384 bytes each).
const maxSpareConns = 1024

// newConn returns a zero conn, a spare one when there is one: tombstones
// forgotten after the idle timeout make room for new connections in
// memory already touched.
func (a *Assembler) newConn() *conn {
	n := len(a.spare)
	if n == 0 {
		return new(conn)
	}
	c := a.spare[n-1]
	a.spare[n-1] = nil
	a.spare = a.spare[:n-1]
	*c = conn{}
	return c
}

// evictOldest makes room for a connection, as conntrack's early drop
// does: the one whose last packet is oldest among those not established
// (tombstones, unanswered SYNs, half-closed flows), else among the
// established ones, is forgotten (a tombstone) or closed with
// CloseEvicted and summarised, so that its traffic, if it comes back,
// continues it. It reports false when nothing is tracked.
func (a *Assembler) evictOldest() bool {
	c := a.lists[0].oldest
	if c == nil {
		c = a.lists[1].oldest
	}
	if c == nil {
		return false
	}
	if c.closed {
		a.stats.ForgotClosed++
		a.forget(c)
		return true
	}
	a.finish(c, CloseEvicted, c.lastSeen)
	a.forget(c)
	if a.opts.MaxEvicted < 0 {
		return true
	}
	e := evictedConn{client: c.info.Client, serial: c.info.Serial, sawSYN: c.info.SawSYN}
	for d := range c.dirs {
		h := &c.dirs[d]
		e.next[d], e.started[d], e.synSeen[d], e.wscale[d], e.win[d], e.done[d] = h.next, h.started, h.synSeen, h.wscale, h.win, h.done
	}
	a.evicted[c.key] = e
	ref := evictRef{c.key, c.info.Serial}
	if len(a.evictOrder) < a.opts.MaxEvicted {
		a.evictOrder = append(a.evictOrder, ref)
		return true
	}
	// The ring is full: the oldest summary goes, unless its connection came
	// back (or was evicted again) since.
	old := a.evictOrder[a.evictHead]
	if e, ok := a.evicted[old.key]; ok && e.serial == old.serial {
		delete(a.evicted, old.key)
		a.stats.EvictedForgotten++
	}
	a.evictOrder[a.evictHead] = ref
	a.evictHead = (a.evictHead + 1) % len(a.evictOrder)
	return true
}

// resume opens the connection whose traffic came back after it was evicted
// (e): the same client and server. When the segment continues the
// sequence numbers where the evicted connection stopped (and acknowledges
// no more than the peer had sent), the connection goes on where it was
// (ConnInfo.Joined); otherwise it starts as a capture that joined
// mid-stream.
func (a *Assembler) resume(key connKey, src, dst netip.AddrPort, seg *capture.Segment, e *evictedConn) *conn {
	a.serial++
	info := ConnInfo{Client: e.client, Server: dst, SawSYN: e.sawSYN, FirstPacket: seg.Num, Start: seg.TS,
		Serial: a.serial, Resumes: e.serial}
	d := zmtp.ClientToServer
	if src != e.client {
		info.Server, d = src, zmtp.ServerToClient
	}
	behind := func(x, next uint32) bool { diff := int32(x - next); return diff <= 0 && diff > -maxAhead }
	joined := true
	if e.started[d] && !behind(seg.Seq, e.next[d]) {
		joined = false
	}
	if seg.Flags&capture.FlagACK != 0 && e.started[d^1] && !behind(seg.Ack, e.next[d^1]) {
		joined = false
	}
	info.Joined = joined
	c := a.newConn()
	c.key, c.lastSeen, c.info, c.list = key, seg.TS, info, -1
	if joined {
		a.stats.Resumed++
		for i := range c.dirs {
			h := &c.dirs[i]
			h.next, h.started, h.synSeen, h.wscale, h.win = e.next[i], e.started[i], e.synSeen[i], e.wscale[i], e.win[i]
			if e.done[i] {
				h.done, h.finSeen, h.finSeq = true, true, h.next-1
			}
		}
	} else {
		a.stats.Unjoined++
	}
	c.stream = a.factory.New(info)
	a.conns[key] = c
	a.stats.Connections++
	a.stats.Open++
	return c
}

func (a *Assembler) handle(c *conn, dir zmtp.Dir, seg *capture.Segment) {
	h, r := &c.dirs[dir], &c.dirs[dir^1]
	flags := seg.Flags
	if flags&capture.FlagSYN != 0 {
		if !h.synSeen {
			h.synSeen, h.isn, h.wscale = true, seg.Seq, seg.WScale
		}
		if !h.started {
			h.started, h.next = true, seg.Seq+1
		}
		if flags&capture.FlagACK != 0 {
			c.synOnly = false
			if !r.started {
				// The SYN+ACK acknowledges the client's ISN+1: its next byte.
				r.started, r.next = true, seg.Ack
			}
		}
	}
	if flags&capture.FlagACK != 0 && !r.synSeen && !r.isnSet {
		// The peer's SYN is not seen (yet): remember the ISN this first
		// acknowledgement implies, so that the SYN, if it comes late, is
		// known as this connection's (sameHandshake).
		r.isn, r.isnSet = seg.Ack-1, true
		if c.info.SawSYN && dir == zmtp.ClientToServer && !r.started && flags&capture.FlagSYN == 0 {
			// The client's handshake ACK, its SYN+ACK not captured: the
			// server's stream starts at what it acknowledges, so that bytes
			// the capture missed are a hole, not the stream's start.
			r.started, r.next = true, seg.Ack
		}
	}
	a.trackWindow(c, h, r, seg)
	if flags&capture.FlagACK != 0 && len(r.ooo) > 0 && !r.done && seqLT(r.next, seg.Ack) {
		a.acked(c, dir^1, seg.Ack, seg.TS)
	}
	if flags&capture.FlagRST != 0 {
		reason := CloseRST
		if c.synOnly && dir == zmtp.ServerToClient {
			reason = CloseRefused
		}
		a.finish(c, reason, seg.TS)
		return
	}
	if seg.PayloadLen > 0 || len(seg.Payload) > 0 || flags&capture.FlagFIN != 0 {
		c.synOnly = false
		a.data(c, dir, seg)
	}
	if c.dirs[0].done && c.dirs[1].done {
		a.finish(c, CloseFIN, seg.TS)
	}
}

// trackWindow keeps the largest window each side advertised, scaled when the
// handshake negotiated scaling; it bounds how far a hole may be outrun.
func (a *Assembler) trackWindow(c *conn, h, r *half, seg *capture.Segment) {
	if !h.synSeen || !r.synSeen || seg.Flags&capture.FlagSYN != 0 {
		return // window scale unknown, or a SYN's window (never scaled)
	}
	w := uint32(seg.Window)
	if h.wscale >= 0 && r.wscale >= 0 {
		w <<= uint(h.wscale)
	}
	h.win = max(h.win, w)
}

// data handles the payload and FIN of a segment in direction dir.
func (a *Assembler) data(c *conn, dir zmtp.Dir, seg *capture.Segment) {
	h := &c.dirs[dir]
	payload := seg.Payload
	plen := max(seg.PayloadLen, len(payload))
	if plen > maxPayload {
		plen = maxPayload
		if len(payload) > plen {
			payload = payload[:plen]
		}
	}
	missing := plen - len(payload)
	seq := seg.Seq
	if seg.Flags&capture.FlagSYN != 0 {
		seq++ // data on a SYN follows the SYN's own sequence number
	}
	fin := seg.Flags&capture.FlagFIN != 0
	if h.done {
		if plen > 0 {
			if seqLT(seq, h.finSeq) {
				a.stats.Retransmits++
			} else {
				a.stats.AfterFIN++
			}
		}
		return
	}
	if !h.started {
		h.started, h.next = true, seq
	}
	if fin && !h.finSeen && !seqLT(seq+uint32(plen), h.next) {
		// (A FIN before bytes already delivered is stale or bogus: ignored.)
		h.finSeen, h.finSeq = true, seq+uint32(plen)
	}
	ahead := int64(int32(seq - h.next))
	if ahead > 0 {
		if ahead > maxAhead {
			a.stats.OutOfWindow++
			return
		}
		a.buffer(c, dir, seq, payload, missing, fin, seg.TS)
		a.checkCaps(c, dir, seg.TS)
		return
	}
	end := seq + uint32(plen)
	if !seqLT(h.next, end) {
		if plen > 0 {
			a.stats.Retransmits++
		}
	} else {
		trim := int(h.next - seq)
		if trim > 0 {
			a.stats.Overlaps++
			payload, missing = trimHead(payload, missing, trim)
		}
		a.deliver(c, dir, payload, missing, seg.TS)
	}
	a.drain(c, dir)
	a.checkFIN(h)
}

// trimHead drops n bytes from the front of a segment's captured-then-missing bytes.
func trimHead(data []byte, missing, n int) ([]byte, int) {
	if n <= len(data) {
		return data[n:], missing
	}
	return data[:0], missing - (n - len(data))
}

func (a *Assembler) deliver(c *conn, dir zmtp.Dir, data []byte, missing int, ts time.Time) {
	h := &c.dirs[dir]
	if len(data) > 0 {
		c.stream.Data(dir, data, ts)
		a.stats.DataBytes += uint64(len(data))
	}
	if missing > 0 {
		c.stream.Skip(dir, missing, ts)
		a.stats.SnapCutBytes += uint64(missing)
	}
	h.next += uint32(len(data) + missing)
}

// checkFIN marks the direction done once the stream reached its FIN; bytes
// buffered past the FIN cannot belong to the stream and are dropped.
func (a *Assembler) checkFIN(h *half) {
	if h.finSeen && !h.done && !seqLT(h.next, h.finSeq) {
		h.done = true
		if h.next == h.finSeq {
			h.next++
		}
		for i := range h.ooo {
			if h.ooo[i].end() != h.ooo[i].seq {
				a.stats.AfterFIN++
			}
			a.release(h, &h.ooo[i])
		}
		h.ooo = h.ooo[:0]
	}
}

// buffer keeps a copy of an out-of-order segment, sorted by sequence number
// (after equal ones: the first copy received wins).
func (a *Assembler) buffer(c *conn, dir zmtp.Dir, seq uint32, payload []byte, missing int, fin bool, ts time.Time) {
	h := &c.dirs[dir]
	a.stats.OutOfOrder++
	ch := chunk{seq: seq, missing: missing, fin: fin, ts: ts}
	if len(payload) > 0 {
		ch.data = a.pool.get(len(payload))
		copy(ch.data, payload)
	}
	base := h.next
	pos := len(h.ooo)
	overlapped, differs := false, false
	for i := range h.ooo {
		o := &h.ooo[i]
		if pos == len(h.ooo) && int32(o.seq-base) > int32(seq-base) {
			pos = i
		}
		// Compare the captured bytes both copies hold.
		lo, hi := maxSeq(o.seq-base, seq-base), minSeq(o.end()-base, ch.end()-base)
		if lo < hi {
			overlapped = true
			clo, chi := maxSeq(o.seq-base, seq-base), minSeq(o.seq-base+uint32(len(o.data)), seq-base+uint32(len(ch.data)))
			if clo < chi {
				a1 := o.data[clo-(o.seq-base) : chi-(o.seq-base)]
				a2 := ch.data[clo-(seq-base) : chi-(seq-base)]
				if string(a1) != string(a2) {
					differs = true
				}
			}
		}
	}
	if overlapped {
		a.stats.Overlaps++
	}
	if differs {
		a.stats.OverlapDiffs++
	}
	h.ooo = slices.Insert(h.ooo, pos, ch)
	h.buffered += len(ch.data)
	a.stats.Buffered += len(ch.data)
	a.stats.PeakBuffered = max(a.stats.PeakBuffered, a.stats.Buffered)
}

// maxSeq and minSeq compare offsets from the same base.
func maxSeq(x, y uint32) uint32 { return max(x, y) }
func minSeq(x, y uint32) uint32 { return min(x, y) }

// checkCaps gives up holes while the direction buffers too much: more than its
// cap or more than the global cap. More than the receiver's window beyond the
// hole means the receiver acknowledged bytes the capture has not shown (yet):
// that is handled as an ACK past the hole (acked).
func (a *Assembler) checkCaps(c *conn, dir zmtp.Dir, ts time.Time) {
	h := &c.dirs[dir]
	win := c.dirs[dir^1].win
	for len(h.ooo) > 0 {
		over := h.buffered > a.opts.MaxBufferPerDir || a.stats.Buffered > a.opts.MaxBufferTotal
		if !over && win > 0 {
			last := h.ooo[len(h.ooo)-1].end()
			if int64(int32(last-h.next)) > int64(win) {
				// The receiver must have acknowledged up to last-win: as for
				// an ACK, the hole may yet be filled by a late copy.
				if a.opts.AckGrace >= 0 {
					a.acked(c, dir, last-win, ts)
					return
				}
				over = true
			}
		}
		if !over {
			return
		}
		a.stats.CapFlushes++
		a.skipTo(c, dir, h.ooo[0].seq, ts)
		a.drain(c, dir)
		a.checkFIN(h)
	}
}

// ackWait is a hole of direction d of c that the peer acknowledged at
// packet time at (Unix nanoseconds), up to to: it waits AckGrace for a late
// copy.
type ackWait struct {
	c  *conn
	d  zmtp.Dir
	to uint32
	at int64
}

// acked notes that the peer acknowledged bytes of direction dir past its
// next hole. The receiver has them; but the capture may still show them late
// (a mirror's lagging direction), so the hole is given up only when
// AckGrace has passed without it filling (checkWaits).
func (a *Assembler) acked(c *conn, dir zmtp.Dir, ack uint32, ts time.Time) {
	h := &c.dirs[dir]
	if a.opts.AckGrace < 0 {
		a.ackFlush(c, dir, ack, ts)
		return
	}
	now := ts.UnixNano()
	if h.ackWait {
		// The first acknowledgement past a hole sets its deadline; one past a
		// later hole, after the first filled, starts a new grace.
		for i := range a.waiting {
			if w := &a.waiting[i]; w.c == c && w.d == dir && !seqLT(h.next, w.to) {
				a.stats.LateFills++
				a.stats.AckWaits++
				w.to, w.at = ack, now
				a.waitDue = min(a.waitDue, now+int64(a.opts.AckGrace))
			}
		}
		return
	}
	h.ackWait = true
	a.stats.AckWaits++
	a.waiting = append(a.waiting, ackWait{c: c, d: dir, to: ack, at: now})
	if len(a.waiting) == 1 || now+int64(a.opts.AckGrace) < a.waitDue {
		a.waitDue = now + int64(a.opts.AckGrace)
	}
}

// checkWaits, at packet time ts, gives up the acknowledged holes whose grace
// has passed, and forgets those that filled (late copies) or whose
// connection closed.
func (a *Assembler) checkWaits(ts time.Time) {
	now, grace := ts.UnixNano(), int64(a.opts.AckGrace)
	kept := a.waiting[:0]
	due := int64(0)
	for _, w := range a.waiting {
		h := &w.c.dirs[w.d]
		switch {
		case w.c.closed || !h.ackWait:
		case len(h.ooo) == 0 || !seqLT(h.next, w.to) || h.done:
			h.ackWait = false
			a.stats.LateFills++
		case now-w.at < grace:
			if len(kept) == 0 || w.at+grace < due {
				due = w.at + grace
			}
			kept = append(kept, w)
		default:
			h.ackWait = false
			a.ackFlush(w.c, w.d, w.to, ts)
		}
	}
	clear(a.waiting[len(kept):])
	a.waiting = kept
	a.waitDue = due
}

// ackFlush gives up the holes of direction dir that the peer acknowledged: the
// receiver has those bytes, so the capture lost them and they will not come.
func (a *Assembler) ackFlush(c *conn, dir zmtp.Dir, ack uint32, ts time.Time) {
	h := &c.dirs[dir]
	target := ack
	if h.finSeen && !seqLT(ack, h.finSeq+1) {
		target = h.finSeq
	}
	for len(h.ooo) > 0 && seqLT(h.next, target) {
		gapEnd := target
		if first := h.ooo[0].seq; seqLT(first, target) {
			gapEnd = first
		}
		if seqLT(h.next, gapEnd) {
			a.stats.AckFlushes++
			a.skipTo(c, dir, gapEnd, ts)
		}
		a.drain(c, dir)
	}
	a.checkFIN(h)
}

// skipTo reports the hole up to seq as missing bytes.
func (a *Assembler) skipTo(c *conn, dir zmtp.Dir, seq uint32, ts time.Time) {
	h := &c.dirs[dir]
	if !seqLT(h.next, seq) {
		return
	}
	n := seq - h.next
	c.stream.Skip(dir, int(n), ts)
	a.stats.Gaps++
	a.stats.GapBytes += uint64(n)
	h.next = seq
}

// drain delivers the buffered segments that the stream has reached.
func (a *Assembler) drain(c *conn, dir zmtp.Dir) {
	h := &c.dirs[dir]
	n := 0
	for n < len(h.ooo) {
		ch := &h.ooo[n]
		if seqLT(h.next, ch.seq) {
			break
		}
		n++
		if seqLT(h.next, ch.end()) {
			data, missing := ch.data, ch.missing
			if trim := int(h.next - ch.seq); trim > 0 {
				data, missing = trimHead(data, missing, trim)
			}
			a.deliver(c, dir, data, missing, ch.ts)
		}
	}
	if n == 0 {
		return
	}
	for i := range h.ooo[:n] {
		a.release(h, &h.ooo[i])
	}
	h.ooo = slices.Delete(h.ooo, 0, n)
}

func (a *Assembler) release(h *half, ch *chunk) {
	h.buffered -= len(ch.data)
	a.stats.Buffered -= len(ch.data)
	a.pool.put(ch.data)
	*ch = chunk{}
}

// finish flushes what is buffered (skipping the holes), closes the stream and
// leaves a tombstone.
func (a *Assembler) finish(c *conn, reason CloseReason, ts time.Time) {
	if c.closed {
		return
	}
	for d := range c.dirs {
		h := &c.dirs[d]
		for len(h.ooo) > 0 {
			a.skipTo(c, zmtp.Dir(d), h.ooo[0].seq, ts)
			a.drain(c, zmtp.Dir(d))
		}
		a.checkFIN(h)
		h.ooo = nil
	}
	c.stream.Close(reason, ts)
	c.stream = nil
	c.closed = true
	a.stats.Open--
	switch reason {
	case CloseFIN:
		a.stats.ClosedFIN++
	case CloseRST:
		a.stats.ClosedRST++
	case CloseRefused:
		a.stats.Refused++
	case CloseIdle:
		a.stats.ClosedIdle++
	case CloseEnd:
		a.stats.ClosedEnd++
	case CloseReused:
		a.stats.Reused++
	case CloseEvicted:
		a.stats.Evicted++
	}
}

// FlushOlderThan closes the connections not established (see
// Options.IdleTimeout) whose last packet came before t (CloseIdle) and
// forgets closed ones. Assemble calls it as packet time advances; a live
// capture may also call it on its clock when packets stop. Connections
// close in the order they opened, so replays are repeatable. The Close call
// carries the time of the connection's last packet.
//
// It visits only the expirable list (lists[0], which holds exactly the
// connections expirable() reports: touch files each connection by it after
// every change of state) from its oldest, and stops at the first connection
// whose last packet is more than skew seconds past t's second: every
// connection in front of it has its last packet after t (see
// Assembler.skew). A replay of many short connections, whose tombstones
// wait IdleTimeout, no longer walks them all every IdleTimeout/8 of packet
// time.
func (a *Assembler) FlushOlderThan(t time.Time) {
	pick := func(c *conn) (bool, CloseReason) { return c.lastSeen.Before(t) && c.expirable(), CloseIdle }
	list := a.flushList[:0]
	// Past a connection whose last packet is in a second more than skew
	// after t's, every connection in front has its last packet in a second
	// after t's.
	for c, tsec := a.lists[0].oldest, t.Unix(); c != nil && c.lastSeen.Unix()-tsec <= a.skew; {
		next := c.newer
		if ok, _ := pick(c); ok {
			list = a.take(list, c)
		}
		c = next
	}
	a.closeListed(list, pick, time.Time{})
}

// FlushAll closes every connection at the end of a capture: CloseFIN when a
// FIN was seen, CloseEnd otherwise; ts is the time of the last packet.
func (a *Assembler) FlushAll(ts time.Time) {
	a.flush(func(c *conn) (bool, CloseReason) {
		if c.dirs[0].finSeen || c.dirs[1].finSeen {
			return true, CloseFIN
		}
		return true, CloseEnd
	}, ts)
}

// flush closes the connections pick selects, at time ts (or, when ts is zero,
// at each one's last packet), in the order they opened.
func (a *Assembler) flush(pick func(*conn) (bool, CloseReason), ts time.Time) {
	list := a.flushList[:0]
	for _, c := range a.conns {
		if ok, _ := pick(c); ok {
			list = a.take(list, c)
		}
	}
	a.closeListed(list, pick, ts)
}

// take forgets c if it is closed (a tombstone), else appends it to list,
// the connections to close.
func (a *Assembler) take(list []*conn, c *conn) []*conn {
	if c.closed {
		a.forget(c)
		return list
	}
	return append(list, c)
}

// closeListed closes the connections of list, in the order they opened, for
// pick's reason at time ts (or, when ts is zero, at each one's last packet).
func (a *Assembler) closeListed(list []*conn, pick func(*conn) (bool, CloseReason), ts time.Time) {
	slices.SortFunc(list, func(x, y *conn) int {
		if x.info.FirstPacket != y.info.FirstPacket {
			if x.info.FirstPacket < y.info.FirstPacket {
				return -1
			}
			return 1
		}
		return x.info.Start.Compare(y.info.Start)
	})
	for i, c := range list {
		_, reason := pick(c)
		at := ts
		if at.IsZero() || at.Before(c.lastSeen) {
			at = c.lastSeen
		}
		a.finish(c, reason, at)
		a.forget(c)
		list[i] = nil
	}
	a.flushList = list[:0]
}

// bufPool recycles out-of-order buffers in power-of-two size classes.
type bufPool struct {
	free [19][][]byte // classes 2^0 .. 2^18 bytes
}

// pooledLimit is how many free buffers of a class are kept: up to 64, and at
// most about 1 MiB per class, so an idle pool holds a few MiB at most.
func pooledLimit(class int) int { return min(64, max(2, (1<<20)>>class)) }

func (p *bufPool) get(n int) []byte {
	class := bits.Len(uint(n - 1))
	if class >= len(p.free) {
		return make([]byte, n)
	}
	if l := len(p.free[class]); l > 0 {
		b := p.free[class][l-1]
		p.free[class] = p.free[class][:l-1]
		return b[:n]
	}
	return make([]byte, n, 1<<class)
}

func (p *bufPool) put(b []byte) {
	if cap(b) == 0 {
		return
	}
	class := bits.Len(uint(cap(b) - 1))
	if class >= len(p.free) || cap(b) != 1<<class || len(p.free[class]) >= pooledLimit(class) {
		return
	}
	p.free[class] = append(p.free[class], b[:0])
}

// minEvicted is the fewest summaries of evicted connections kept, whatever
// the cap: a tiny --max-connections (a test, a constrained probe) would
// otherwise keep one summary and rejoin almost nothing. 1,024 summaries
// are some 200 KB.
const minEvicted = 1024

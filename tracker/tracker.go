package tracker

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/dissect"
	"github.com/zspy/zspy/reassembly"
	"github.com/zspy/zspy/zmtp"
)

// Options configure a Tracker.
type Options struct {
	Dissect dissect.Options
	// KeepClosed is how many closed connections are kept for the report and the
	// dashboard (0: all). Older ones are dropped first, counted, and their
	// counts added to Tracker.Summarised so that totals stay exact.
	KeepClosed int
	// Intervals keeps per-interval statistics (message size extremes,
	// latency histograms) for the metrics collector, which resets them.
	Intervals bool
	// Ephemeral is the port range connecting sockets take their ports from,
	// evidence of which end connected when the SYN was not captured
	// (default DefaultEphemeral, Linux's).
	Ephemeral PortRange
}

// Listener receives the tracker's decoded events (for --events and the
// dashboard's message log). It runs on the pipeline goroutine and must not keep
// e or its slices after returning.
type Listener interface {
	TrackerEvent(e *Event)
}

// Tracker folds dissector events into connections. It implements
// reassembly.Factory; all its methods run on the pipeline goroutine.
type Tracker struct {
	opt   Options
	conns []*conn
	// records holds each connection's last Record, by its index in conns,
	// as of the last snapshot; changed lists the connections touched since
	// (conn.touch), whose Records the next snapshot makes. A snapshot so
	// visits the connections that changed, not every one kept.
	records []*Record
	changed []*conn
	nextID  uint64
	gen     uint64 // Snapshot.Gen of the last snapshot
	// Packet is the number of the packet being processed (set by the pipeline)
	// so that events can name it.
	Packet uint64

	listener Listener
	ev       Event
	// disShared is what the connections' dissectors share (options, the
	// event scratch), made with the first connection.
	disShared *dissect.Shared
	// spare holds the engines of closed connections for new ones, at most
	// maxSpare (see engine).
	spare []*engine

	// refused holds the refused attempts per (client host, server
	// endpoint) not yet followed by a connection that got through; episodes
	// lists every refusal episode, oldest first (at most MaxRefusedEpisodes).
	refused  map[refusedKey]*RefusedAttempts
	episodes []*RefusedAttempts
	// RefusedDropped counts refusal episodes dropped past MaxRefusedEpisodes
	// (their attempts stay in RefusedTotal).
	RefusedDropped uint64
	RefusedTotal   uint64

	// closed counts the closed connections in conns; evicted holds the
	// engines of connections evicted by the reassembler (CloseEvicted) by
	// their reassembly serial, while they are kept, so that their traffic
	// can resume them.
	closed  int
	evicted map[uint64]*conn
	// dirty lists the connections with per-interval statistics to reset at
	// EndInterval.
	dirty []*conn

	monitor *monitorState

	endpoints endpoints // connections per endpoint, for mid-stream orientation (roles.go)

	NonZMTP       uint64 // connections that carried data but no ZMTP
	DroppedClosed uint64 // closed connections evicted by KeepClosed
	// Summarised adds up the connections dropped by KeepClosed.
	Summarised Summary
	// Resumed counts evicted connections whose traffic came back and
	// continued them; Unjoined those whose traffic came back but could not
	// continue them (a new record, Record.Unjoined).
	Resumed, Unjoined uint64
}

// Summary adds up connections no longer listed (Options.KeepClosed): how
// many, how many carried ZMTP, how many were refused, and what they carried
// per direction (index 0 client to server).
type Summary struct {
	Connections, ZMTP, Refused uint64
	Messages, Bytes            [2]uint64
}

func (s *Summary) add(c *conn) {
	s.Connections++
	switch {
	case c.Detection == zmtp.IsZMTP:
		s.ZMTP++
	case c.State == zmtp.StateRefused:
		s.Refused++
	}
	for i := range s.Messages {
		s.Messages[i] += c.Dirs[i].Messages
		s.Bytes[i] += c.Dirs[i].Bytes
	}
}

// MaxRefusedEpisodes bounds the refusal episodes kept (Snapshot.Refused).
const MaxRefusedEpisodes = 1024

// RefusedAttempts is one episode of refused connects (SYN answered by RST)
// from one client host to one server endpoint: the start-up story of a
// client started before its server. It ends when a connection from the
// host to the endpoint gets through (Connection).
type RefusedAttempts struct {
	ClientHost  netip.Addr
	Server      netip.AddrPort
	Count       int
	First, Last time.Time // the first and last refused SYN
	// Connection is the ID of the connection that got through after the
	// refusals (0 while none has), Established its first packet's time:
	// Established - First is how long the server was not listening. That
	// connection delivered what the client queued meanwhile (its record's
	// client-to-server messages, and RefusedBefore).
	Connection  uint64
	Established time.Time
}

// NotListening returns how long the server was seen not listening: from the
// first refused attempt to the connection that got through, or to the last
// refused attempt while none has.
func (r *RefusedAttempts) NotListening() time.Duration {
	if r.Connection != 0 {
		return r.Established.Sub(r.First)
	}
	return r.Last.Sub(r.First)
}

type refusedKey struct {
	client netip.Addr
	server netip.AddrPort
}

var _ reassembly.Factory = (*Tracker)(nil)

// New returns an empty tracker.
func New(opt Options) *Tracker {
	return &Tracker{opt: opt, refused: make(map[refusedKey]*RefusedAttempts), evicted: make(map[uint64]*conn)}
}

// SetListener registers l to receive decoded events; nil removes it.
func (t *Tracker) SetListener(l Listener) { t.listener = l }

// Len returns how many connections the tracker holds, and how many of them
// are open.
func (t *Tracker) Len() (total, open int) {
	for _, c := range t.conns {
		if !c.Closed {
			open++
		}
	}
	return len(t.conns), open
}

// EndInterval starts a new metrics interval: the per-interval statistics of
// every connection (message size extremes, the interval's latency
// histogram) begin again. The session calls it once the interval's snapshot
// has been taken.
func (t *Tracker) EndInterval() {
	for i, c := range t.dirty {
		c.inDirty = false
		c.resetInterval()
		t.dirty[i] = nil
	}
	t.dirty = t.dirty[:0]
}

// markDirty lists c for EndInterval, once per interval.
func (c *conn) markDirty() {
	if !c.inDirty {
		c.inDirty = true
		c.t.dirty = append(c.t.dirty, c)
	}
}

// New creates the connection record and dissector for a new TCP connection.
// A connection the reassembler evicted whose traffic came back continuing
// it (info.Joined) is the same connection again, its record and dissector
// where they were.
func (t *Tracker) New(info reassembly.ConnInfo) reassembly.Stream {
	var prev *conn
	if info.Resumes != 0 {
		prev = t.evicted[info.Resumes]
		delete(t.evicted, info.Resumes)
		if prev != nil && info.Joined {
			t.Resumed++
			prev.touch()
			prev.Closed, prev.State = false, zmtp.StateOpen
			prev.Evictions++
			prev.serial = info.Serial
			t.closed--
			if prev.nonZMTPCounted {
				prev.nonZMTPCounted = false
				t.NonZMTP--
			}
			return (*connStream)(prev)
		}
		t.Unjoined++
		if prev != nil {
			prev.release() // its traffic continues as another connection
		}
	}
	t.nextID++
	// Set field by field on the new object, which is large (its Record and
	// the dissector held inline).
	c := new(conn)
	c.ID = t.nextID
	c.Client, c.Server = info.Client, info.Server
	c.SawSYN = info.SawSYN
	c.FirstPacket = info.FirstPacket
	c.Start, c.Last = info.Start, info.Start
	c.State = zmtp.StateOpen
	c.t = t
	c.serial = info.Serial
	sawSYN := info.SawSYN
	if info.Resumes != 0 {
		// Traffic of an evicted connection that does not continue it: the
		// reassembler kept which end connected; the bytes start mid-stream.
		c.Unjoined, c.SawSYN, sawSYN = true, false, false
		if prev != nil {
			c.Continues = prev.ID
		}
	}
	if info.SawSYN {
		t.endpoints.add(info.Server) // a known server endpoint
	} else {
		t.endpoints.add(info.Client)
		t.endpoints.add(info.Server)
	}
	if !c.Unjoined {
		c.orient() // without the SYN: by the evidence so far, again at the close
	} else {
		c.OrientedBy = ByEviction
	}
	for i := range c.Sides {
		c.Sides[i].SocketType = zmtp.SocketUnknown
		c.TCP[i].WScale = -1
	}
	c.eng = t.newEngine()
	c.eng.dis.Init((*connHandler)(c), t.disShared, sawSYN)
	c.idx = len(t.conns)
	t.conns = append(t.conns, c)
	t.records = append(t.records, nil)
	c.listed = true
	t.changed = append(t.changed, c)
	t.matchPending(c)
	t.evict()
	return (*connStream)(c)
}

// maxSpare bounds the engines kept for reuse (about 1.3 KB each).
const maxSpare = 1024

// newEngine returns a zero engine, a spare one when there is one.
func (t *Tracker) newEngine() *engine {
	if t.disShared == nil {
		t.disShared = dissect.NewShared(t.opt.Dissect)
	}
	n := len(t.spare)
	if n == 0 {
		return new(engine)
	}
	e := t.spare[n-1]
	t.spare[n-1] = nil
	t.spare = t.spare[:n-1]
	// Zero it, keeping the listener's per-message buffers.
	s0, p0, s1, p1 := e.msg[0].sizes[:0], e.msg[0].preview[:0], e.msg[1].sizes[:0], e.msg[1].preview[:0]
	*e = engine{}
	e.msg[0].sizes, e.msg[0].preview, e.msg[1].sizes, e.msg[1].preview = s0, p0, s1, p1
	return e
}

// release takes back the engine of a connection that is closed for good
// (not evicted: an evicted connection's traffic may resume it).
func (c *conn) release() {
	e := c.eng
	if e == nil {
		return
	}
	c.eng = nil
	if t := c.t; len(t.spare) < maxSpare {
		t.spare = append(t.spare, e)
	}
}

// ByEviction is Record.OrientedBy for a connection whose traffic came back
// after an eviction without continuing it: the evicted connection's
// orientation is kept.
const ByEviction = "eviction"

// evict drops the oldest closed connections once more than twice
// KeepClosed are kept (so that the walk is paid once per KeepClosed
// closes), adding them up in Summarised.
func (t *Tracker) evict() {
	if t.opt.KeepClosed <= 0 || t.closed <= t.opt.KeepClosed*2 {
		return
	}
	drop := t.closed - t.opt.KeepClosed
	kept := t.conns[:0]
	for i, c := range t.conns {
		if c.Closed && drop > 0 {
			drop--
			t.closed--
			t.DroppedClosed++
			t.Summarised.add(c)
			if c.State == zmtp.StateEvicted {
				delete(t.evicted, c.serial)
			}
			c.idx = -1
			continue
		}
		c.idx = len(kept)
		t.records[c.idx] = t.records[i]
		kept = append(kept, c)
	}
	for i := len(kept); i < len(t.conns); i++ {
		t.conns[i] = nil
		t.records[i] = nil
	}
	t.conns = kept
	t.records = t.records[:len(kept)]
}

// connStream is the reassembly.Stream face of a Conn.
type connStream conn

func (s *connStream) Segment(d zmtp.Dir, seg *capture.Segment) {
	c := (*conn)(s)
	c.touch()
	c.Last = seg.TS
	if c.endAt.IsZero() && (seg.Has(capture.FlagFIN) || seg.Has(capture.FlagRST)) {
		c.endAt = seg.TS
		if c.hsEnd.IsZero() && !c.MidStream {
			c.hsEnd, c.hsFailed = seg.TS, true // closed during the handshake
		}
	}
	c.tcpSegment(d, seg)
}

func (s *connStream) Data(d zmtp.Dir, b []byte, ts time.Time) {
	c := (*conn)(s)
	c.touch()
	if c.Detection == zmtp.NotZMTP {
		return
	}
	c.eng.dis.Feed(d, b, ts)
	c.afterDissect()
}

func (s *connStream) Skip(d zmtp.Dir, n int, ts time.Time) {
	c := (*conn)(s)
	c.touch()
	if c.Detection == zmtp.NotZMTP {
		return
	}
	c.eng.dis.Skip(d, n, ts)
	c.afterDissect()
}

func (s *connStream) Close(r reassembly.CloseReason, ts time.Time) {
	c := (*conn)(s)
	c.touch()
	c.Closed = true
	if ts.After(c.Last) {
		c.Last = ts
	}
	if r == reassembly.CloseEvicted {
		// Made room for others: kept as it is, dissector and all, so that
		// its traffic, if it comes back continuing it, resumes it.
		c.State = zmtp.StateEvicted
		c.t.closed++
		c.t.evicted[c.serial] = c
		if c.Detection != zmtp.IsZMTP && (c.Dirs[0].Lost+c.Dirs[1].Lost > 0 || c.TCP[0].HaveSeq) {
			c.nonZMTPCounted = true
			c.t.NonZMTP++
		}
		c.t.evict()
		return
	}
	switch r {
	case reassembly.CloseFIN, reassembly.CloseReused:
		// Reused: a new SYN on the same ports; the close itself was not seen.
		c.State = zmtp.StateClosed
	case reassembly.CloseRST:
		c.State = zmtp.StateReset
	case reassembly.CloseRefused:
		c.State = zmtp.StateRefused
		c.t.refusedAttempt(c, ts)
	case reassembly.CloseIdle:
		c.State = zmtp.StateIdle
	default:
		c.Closed = false
		c.State = zmtp.StateOpen
	}
	if c.Closed {
		c.t.closed++
	}
	for i := range c.TCP {
		if !c.TCP[i].ZeroSince.IsZero() {
			c.TCP[i].ZeroWindowTime += c.Last.Sub(c.TCP[i].ZeroSince)
			c.TCP[i].ZeroSince = time.Time{}
		}
	}
	c.eng.dis.Finish(ts)
	c.afterDissect()
	c.orient()
	c.finish()
	if c.Closed {
		c.release()
	}
	if c.Detection == zmtp.IsZMTP && c.HandshakeError == "" && c.Closed && c.handshakeState() == zmtp.HandshakePending {
		c.HandshakeError = "closed during the handshake"
		c.wireHandshakeEnd(true)
	}
	if c.Detection != zmtp.IsZMTP && c.State != zmtp.StateRefused {
		if c.Dirs[0].Lost+c.Dirs[1].Lost > 0 || c.TCP[0].HaveSeq {
			c.t.NonZMTP++
		}
	}
	c.t.evict()
}

// refusedAttempt adds a refused connect to its episode.
func (t *Tracker) refusedAttempt(c *conn, ts time.Time) {
	t.RefusedTotal++
	k := refusedKey{c.Client.Addr(), c.Server}
	r := t.refused[k]
	if r == nil {
		r = &RefusedAttempts{ClientHost: k.client, Server: k.server, First: c.Start}
		t.refused[k] = r
		if len(t.episodes) >= MaxRefusedEpisodes {
			t.RefusedDropped++
			old := t.episodes[0]
			if ok := t.refused[refusedKey{old.ClientHost, old.Server}]; ok == old {
				delete(t.refused, refusedKey{old.ClientHost, old.Server})
			}
			t.episodes = append(t.episodes[:0], t.episodes[1:]...)
		}
		t.episodes = append(t.episodes, r)
	}
	r.Count++
	r.Last = c.Start
}

// gotThrough ends the refusal episode of c's client host and server, if
// any: c is the connection that got through.
func (t *Tracker) gotThrough(c *conn) {
	k := refusedKey{c.Client.Addr(), c.Server}
	r := t.refused[k]
	if r == nil {
		return
	}
	delete(t.refused, k)
	r.Connection, r.Established = c.ID, c.Start
	c.RefusedBefore = r.Count
	c.RefusedFirst = r.First
}

func (c *conn) afterDissect() {
	dis := &c.eng.dis
	c.Version = dis.Version()
	if c.Detection == zmtp.IsZMTP && !c.MidStream {
		// One direction's start can prove missing after the other's greeting
		// was whole.
		c.MidStream = dis.MidStream()
	}
	if c.Detection == zmtp.Undecided {
		c.Detection = dis.Detected()
		if c.Detection == zmtp.IsZMTP {
			c.MidStream = dis.MidStream()
			c.t.gotThrough(c)
		}
	}
}

// finish settles what can only be known at the end: orientation without a
// SYN, the version spoken and socket types revealed by traffic.
func (c *conn) finish() {
	c.Version = c.eng.dis.Version()
	c.Mechanism = c.eng.dis.Mechanism()
	if c.Version == zmtp.VersionUnknown && c.Detection == zmtp.IsZMTP {
		c.Version = c.inferredVersion()
	}
}

func (c *conn) inferredVersion() zmtp.Version {
	if c.Dirs[0].Commands+c.Dirs[1].Commands > 0 {
		return zmtp.V31
	}
	return zmtp.VersionUnknown
}

// tcpSegment follows seq/ack/window for backlog estimates.
func (c *conn) tcpSegment(d zmtp.Dir, seg *capture.Segment) {
	i := c.dir(d)
	snd := &c.TCP[i]   // what this segment's sender sends
	rcv := &c.TCP[1-i] // the reverse direction, whose receiver is this sender
	if seg.Has(capture.FlagSYN) && seg.WScale >= 0 {
		// The SYN sender's scale applies to windows it advertises.
		rcv.WScale = seg.WScale
	}
	end := seg.Seq + uint32(seg.PayloadLen)
	if seg.Has(capture.FlagSYN) || seg.Has(capture.FlagFIN) {
		end++
	}
	if !snd.HaveSeq {
		snd.NextSeq, snd.HaveSeq = end, true
	} else if d := int32(end - snd.NextSeq); d > 0 {
		snd.NextSeq = end
	} else if seg.PayloadLen > 0 && !seg.Has(capture.FlagSYN) {
		snd.Retransmits++
	}
	if snd.Window > 0 && snd.InFlight() >= snd.Window && seg.PayloadLen > 0 {
		snd.WindowFull++
	}
	if seg.Has(capture.FlagACK) && !seg.Has(capture.FlagRST) {
		if !rcv.HaveAck || int32(seg.Ack-rcv.Acked) > 0 {
			rcv.Acked, rcv.HaveAck = seg.Ack, true
		}
		w := uint32(seg.Window)
		if rcv.WScale > 0 && !seg.Has(capture.FlagSYN) {
			w <<= uint(rcv.WScale)
		}
		rcv.Window = w
		if w == 0 {
			if rcv.ZeroSince.IsZero() {
				rcv.ZeroSince = seg.TS
				rcv.ZeroWindows++
			}
		} else if !rcv.ZeroSince.IsZero() {
			rcv.ZeroWindowTime += seg.TS.Sub(rcv.ZeroSince)
			rcv.ZeroSince = time.Time{}
		}
	}
}

// connHandler is the dissect.Handler face of a Conn.
type connHandler conn

func (h *connHandler) Event(e *dissect.Event) {
	c := (*conn)(h)
	i := c.dir(e.Dir)
	st := &c.Dirs[i]
	side := &c.Sides[i]
	switch e.Kind {
	case dissect.KindGreeting:
		side.Version = e.Version
		side.AsServer = e.AsServer
		if e.SocketType != zmtp.SocketUnknown {
			side.SocketType = e.SocketType
		}
		if c.Mechanism == zmtp.MechUnknown {
			c.Mechanism = e.Mechanism
		}
		c.Curve = c.Mechanism == zmtp.MechCURVE
	case dissect.KindIdentity:
		side.Identity = capBytes(side.Identity, e.Body)
		side.HasIdent = true
		c.HandshakeDone[i] = true // 1.0 and 2.0 have no handshake beyond it
	case dissect.KindCommand:
		st.Commands++
		c.command(i, e)
	case dissect.KindFrame:
		c.frame(i, e)
	case dissect.KindGap:
		st.Lost += e.Lost
		st.Gaps++
		if e.Err != nil {
			st.LostSync++
			m := &c.eng.msg[i]
			*m = msgAcc{sizes: m.sizes[:0], preview: m.preview[:0]}
			st.Partial = 0
		}
	case dissect.KindResync:
		st.Resyncs++
	case dissect.KindMalformed:
		if errors.Is(e.Err, dissect.ErrMechMismatch) {
			c.wireHandshakeError("mechanism mismatch")
		}
		c.addError(fmt.Sprintf("%s: packet %d: %v", zmtp.Dir(i).String(), c.t.Packet, e.Err))
	}
	c.t.emit(c, i, e)
}

func capBytes(dst, src []byte) []byte {
	if len(src) > MaxValueLen {
		src = src[:MaxValueLen]
	}
	return append(dst[:0], src...)
}

func (c *conn) command(i int, e *dissect.Event) {
	side := &c.Sides[i]
	if e.Err != nil {
		c.addError(fmt.Sprintf("%s: packet %d: %s: %v", zmtp.Dir(i).String(), c.t.Packet, e.Cmd, e.Err))
	}
	switch e.Cmd {
	case zmtp.CmdREADY, zmtp.CmdINITIATE:
		// The properties kept (the first up to MaxMetadata in all) take one
		// slice of Properties and one buffer for their capped values, not
		// an allocation per value and per growth. Values are never changed
		// once kept, so that they may share the buffer.
		keep := max(0, min(len(e.Props), MaxMetadata-len(side.Metadata)))
		var vals []byte
		if keep > 0 {
			n := 0
			for _, p := range e.Props[:keep] {
				n += min(len(p.Value), MaxValueLen)
			}
			if n > 0 {
				vals = make([]byte, 0, n)
			}
			side.Metadata = slices.Grow(side.Metadata, keep)
		}
		for k, p := range e.Props {
			switch string(p.Name) {
			case "Socket-Type":
				side.SocketType = zmtp.ParseSocketType(p.Value)
			case "Identity":
				side.Identity = capBytes(side.Identity, p.Value)
				side.HasIdent = true
			}
			if k < keep {
				var v []byte // nil when empty, as capBytes makes it
				if p := p.Value[:min(len(p.Value), MaxValueLen)]; len(p) > 0 {
					at := len(vals)
					vals = append(vals, p...)
					v = vals[at:len(vals):len(vals)]
				}
				side.Metadata = append(side.Metadata, Property{Name: propName(p.Name), Value: v})
			}
		}
		// READY ends a side's handshake; under PLAIN and CURVE the client's
		// last word is INITIATE.
		c.HandshakeDone[i] = true
		if c.HandshakeDone[1-i] {
			c.wireHandshakeEnd(false)
		}
	case zmtp.CmdHELLO:
		if c.Mechanism == zmtp.MechPLAIN {
			c.PlainUsername = string(capBytes(nil, e.Username))
			c.PlainPassword = string(capBytes(nil, e.Password))
		}
	case zmtp.CmdPING:
		c.Dirs[i].ping(e.TS)
	case zmtp.CmdPONG:
		c.Dirs[i].pong(e.TS)
	case zmtp.CmdERROR:
		reason := printable(e.Reason)
		c.wireHandshakeError("ERROR " + reason)
		if len(c.ErrorReasons) < MaxErrors {
			c.ErrorReasons = append(c.ErrorReasons, reason)
		}
		c.addError(fmt.Sprintf("%s: ERROR %q", zmtp.Dir(i).String(), reason))
	case zmtp.CmdSUBSCRIBE, zmtp.CmdCANCEL:
		c.subscription(i, e)
	}
}

// subscription applies a SUBSCRIBE or CANCEL (or a 3.0-style subscription
// message). A topic longer than the dissector's command cap is kept as its
// prefix, and the connection's errors say so.
func (c *conn) subscription(i int, e *dissect.Event) {
	cancel, topic, ts := e.Cmd == zmtp.CmdCANCEL, e.Topic, e.TS
	if !e.Complete {
		// The dissector kept the first cap bytes of the frame, so the topic's
		// prefix is shorter by the frame's overhead ("\x09SUBSCRIBE",
		// "\x06CANCEL", or the 0x01/0x00 byte). Keep cap-10 bytes whatever
		// the form, so that a CANCEL finds the SUBSCRIBE it cancels.
		overhead := 1
		if !e.Legacy {
			overhead = 1 + len("SUBSCRIBE")
			if cancel {
				overhead = 1 + len("CANCEL")
			}
		}
		if keep := len(topic) + overhead - (1 + len("SUBSCRIBE")); keep >= 0 && keep < len(topic) {
			topic = topic[:keep]
		}
		verb := "subscription"
		if cancel {
			verb = "unsubscription"
		}
		c.addError(fmt.Sprintf("%s: %s of a %d-byte frame: only the topic's first %d bytes kept",
			zmtp.Dir(i).String(), verb, e.Size, len(topic)))
	}
	side := &c.Sides[i]
	if side.SocketType == zmtp.SocketUnknown {
		side.SocketType = zmtp.SUB
		if c.Sides[1-i].SocketType == zmtp.SocketUnknown {
			c.Sides[1-i].SocketType = zmtp.PUB
		}
	}
	if len(c.SubHistory) < MaxSubHistory {
		c.SubHistory = append(c.SubHistory, SubChange{TS: ts, Packet: c.t.Packet, Cancel: cancel, Topic: capBytes(nil, topic)})
	} else {
		c.SubDropped++
	}
	s := string(topic)
	for k, have := range c.Subscriptions {
		if have == s {
			if cancel {
				c.Subscriptions = append(c.Subscriptions[:k], c.Subscriptions[k+1:]...)
			}
			return
		}
	}
	if cancel {
		return
	}
	if len(c.Subscriptions) >= MaxSubscriptions {
		c.SubDropped++
		return
	}
	c.Subscriptions = append(c.Subscriptions, s)
}

// frame counts a data frame and completes messages.
func (c *conn) frame(i int, e *dissect.Event) {
	st := &c.Dirs[i]
	if e.Curve {
		c.Curve = true // also when a mid-stream capture showed no greeting
		if c.curveHeartbeat(i, e) {
			return
		}
		if c.shape == nil {
			c.shape = newShape() // box shapes tell CURVE socket types
		}
		c.shape.frame(i, e, false, false)
		st.Frames++
		if e.Plain > 0 {
			st.Bytes += uint64(e.Plain)
		}
		return
	}
	if e.Legacy {
		// A 3.0-style subscription travels as a data message: it counts as one
		// and changes the subscriptions.
		c.subscription(i, e)
	}
	m := &c.eng.msg[i]
	c.shape.frame(i, e, m.frames == 0, !e.More)
	st.Frames++
	st.Bytes += e.Size
	if e.Derived {
		st.Derived++
	}
	if m.frames == 0 {
		m.start = e.TS
		m.packet = c.t.Packet
		m.firstN = -1
		if e.Size <= uint64(len(m.first)) && e.Complete {
			m.firstN = int8(copy(m.first[:], e.Body))
		}
		if e.Size == 0 && e.More {
			// A REQ-style empty delimiter: key on the frame after it.
			m.firstN = -2
			m.delim = true
		}
	} else if m.frames == 1 && m.firstN == -2 {
		m.firstN = -1
		if e.Size <= uint64(len(m.first)) && e.Complete {
			m.firstN = int8(copy(m.first[:], e.Body))
		}
	}
	if m.frames == 0 {
		m.topicN = copy(m.topic[:], e.Body)
	}
	m.frames++
	m.bytes += e.Size
	if c.t.listener != nil {
		if len(m.sizes) < 32 {
			m.sizes = append(m.sizes, e.Size)
		}
		if len(m.preview) < 64 {
			if len(m.preview) > 0 {
				m.preview = append(m.preview, '|')
			}
			p := e.Body
			if len(p) > 24 {
				p = p[:24]
			}
			m.preview = append(m.preview, p...)
		}
		if m.frames == 1 {
			m.env = fnvOffset
		}
		if e.More {
			m.env = fnvAdd(m.env, e.Size, e.Body)
		} else {
			m.lastN = uint8(copy(m.last[:], e.Body))
			m.lastSize = e.Size
		}
	}
	if e.More {
		st.Partial = uint64(m.frames)
		return
	}
	st.Partial = 0
	if m.delim && m.frames >= 2 {
		st.Delimited++
	}
	if (i == 0 && st.Messages > c.Dirs[1].Messages) || (i == 1 && st.Messages >= c.Dirs[0].Messages) {
		c.notLockstep = true
	}
	st.Messages++
	st.LastMessage = e.TS
	iv := &st.Interval
	c.markDirty()
	if iv.Messages == 0 || m.bytes < iv.MinSize {
		iv.MinSize = m.bytes
	}
	if m.bytes > iv.MaxSize {
		iv.MaxSize = m.bytes
	}
	iv.Messages++
	if len(c.Subscriptions) > 0 {
		c.deliver(m.topic[:m.topicN])
	}
	c.requestReply(i, m, e.TS)
	c.t.emitMessage(c, i, m, e)
	*m = msgAcc{sizes: m.sizes[:0], preview: m.preview[:0]}
}

// requester reports whether side i issues requests that side 1-i answers in
// order (REQ, or DEALER talking to REP or ROUTER).
func (c *conn) requester(i int) bool {
	a, b := c.Sides[i].SocketType, c.Sides[1-i].SocketType
	switch a {
	case zmtp.REQ:
		return true
	case zmtp.DEALER:
		return b == zmtp.REP || b == zmtp.ROUTER
	}
	return false
}

func (c *conn) requestReply(i int, m *msgAcc, ts time.Time) {
	switch {
	case c.requester(i):
		if c.EarlyReplies > c.earlyUsed {
			// Its reply was captured first (a mirror whose requester side
			// lags): answered, its latency unknown.
			c.earlyUsed++
			return
		}
		if len(c.pending) >= MaxPendingRequests {
			c.PendingLost++
			c.pending = c.pending[1:]
		}
		p := pendingReq{ts: ts, n: m.firstN}
		if m.firstN > 0 {
			copy(p.key[:], m.first[:m.firstN])
		}
		c.pending = append(c.pending, p)
	case c.requester(1-i) || c.Sides[i].SocketType == zmtp.REP:
		// (A REP sends only replies, even before the requester's READY,
		// which a lagging mirror can deliver later.)
		if len(c.pending) == 0 {
			if c.requestLate(1 - i) {
				c.EarlyReplies++
			}
			return
		}
		k := 0
		if m.firstN > 0 {
			// Where the envelope carries a request id, pair by it.
			for j, p := range c.pending {
				if p.n == m.firstN && p.key == m.first {
					k = j
					break
				}
			}
		}
		c.Latency.Add(ts.Sub(c.pending[k].ts))
		if c.t.opt.Intervals {
			c.IntervalLatency.Add(ts.Sub(c.pending[k].ts))
		}
		c.pending = append(c.pending[:k], c.pending[k+1:]...)
	}
}

// printable returns b as text when it is printable ASCII, else as hex.
func printable(b []byte) string {
	for _, ch := range b {
		if ch < 0x20 || ch > 0x7E {
			return "0x" + hex.EncodeToString(b)
		}
	}
	return string(b)
}

// Printable renders an identity, topic or value for people: the text when it is
// printable ASCII, else "0x" and hex.
func Printable(b []byte) string { return printable(b) }

// deliver counts a published message against the longest subscription its
// first frame starts with.
func (c *conn) deliver(first []byte) {
	best := -1
	for k, sub := range c.Subscriptions {
		if len(sub) <= len(first) && string(first[:len(sub)]) == sub && (best < 0 || len(sub) > len(c.Subscriptions[best])) {
			best = k
		}
	}
	if best < 0 {
		return
	}
	if c.TopicDelivered == nil {
		c.TopicDelivered = make(map[string]uint64)
	}
	c.TopicDelivered[c.Subscriptions[best]]++
}

// propName returns a metadata property name as a string, without allocating
// for the names libzmq sends.
func propName(b []byte) string {
	switch string(b) {
	case "Socket-Type":
		return "Socket-Type"
	case "Identity":
		return "Identity"
	case "Resource":
		return "Resource"
	case "User-Id":
		return "User-Id"
	}
	return string(b)
}

// wireHandshakeError records why the handshake failed as the wire shows it:
// it takes precedence over what a socket monitor said (which can arrive first).
func (c *conn) wireHandshakeError(reason string) {
	if c.HandshakeError == "" || strings.HasPrefix(c.HandshakeError, monitorPrefix) {
		c.HandshakeError = reason
	}
	c.wireHandshakeEnd(true)
}

// Plaintext sizes of libzmq's heartbeat commands inside CURVE MESSAGE boxes:
// PING is "\x04PING" and a 2-byte TTL (libzmq sends no context), PONG is
// "\x04PONG" (echoing that empty context).
const (
	curvePingPlain = 7
	curvePongPlain = 5
	// curvePongWithin is how long after a PING box its PONG may come.
	curvePongWithin = time.Second
)

// curveHeartbeat recognises PING/PONG inside CURVE boxes, which libzmq
// encrypts like data (the box's frame is an ordinary data frame). A box of
// PONG's size that answers a box of PING's size from the other side within
// curvePongWithin makes both commands: the PONG is not counted as data, and
// the PING, counted as a data frame when it came, is moved to the commands.
// It reports whether e was taken as a PONG.
func (c *conn) curveHeartbeat(i int, e *dissect.Event) bool {
	if c.curvePings == nil {
		c.curvePings = &[2]pingQueue{{last: -1}, {last: -1}}
	}
	prev := c.curvePings[i].last
	c.curvePings[i].last = e.Plain
	switch e.Plain {
	case curvePingPlain:
		q := &c.curvePings[i]
		if q.n == len(q.ts) {
			copy(q.ts[:], q.ts[1:])
			q.n--
		}
		q.ts[q.n] = e.TS
		q.n++
	case curvePongPlain:
		if prev == 0 {
			// After an empty frame (most likely an envelope delimiter with
			// MORE): the body of a message, not a PONG.
			return false
		}
		q := &c.curvePings[1-i]
		for q.n > 0 {
			at := q.ts[0]
			copy(q.ts[:], q.ts[1:q.n])
			q.n--
			if e.TS.Sub(at) > curvePongWithin {
				continue
			}
			ping := &c.Dirs[1-i]
			if ping.Frames > 0 && ping.Bytes >= curvePingPlain {
				ping.Frames--
				ping.Bytes -= curvePingPlain
			}
			ping.Commands++
			ping.ping(at)
			pong := &c.Dirs[i]
			pong.Commands++
			pong.pong(e.TS)
			return true
		}
	}
	return false
}

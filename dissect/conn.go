package dissect

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/zspy/zspy/zmtp"
)

// Options bound what the dissector keeps of each frame. The zero value means the
// defaults.
type Options struct {
	// PreviewCap is how many bytes of each data frame body are kept for the
	// handler (default 64).
	PreviewCap int
	// CommandCap is how many bytes of a command body (or a subscription message)
	// are kept for decoding (default 4096). Larger commands are decoded from their
	// prefix and reported with Complete=false.
	CommandCap int
	// MaxScan is how many bytes of a stream that has not shown a ZMTP greeting are
	// scanned for frame boundaries before it is declared not ZMTP (default 64 KiB).
	MaxScan int
	// ResyncMaxFrame bounds the frame sizes believed while resynchronising
	// (default 1 GiB). A frame declaring more, in step, is followed but
	// reported as KindMalformed with ErrHugeFrame.
	ResyncMaxFrame uint64
}

func (o Options) withDefaults() Options {
	if o.PreviewCap <= 0 {
		o.PreviewCap = 64
	}
	if o.CommandCap <= 0 {
		o.CommandCap = 4096
	}
	if o.CommandCap < o.PreviewCap {
		o.CommandCap = o.PreviewCap
	}
	if o.MaxScan <= 0 {
		o.MaxScan = 64 << 10
	}
	if o.ResyncMaxFrame == 0 {
		o.ResyncMaxFrame = 1 << 30
	}
	return o
}

type phase uint8

const (
	phStart    phase = iota // nothing seen yet in this direction
	phGreeting              // collecting greeting bytes
	phFrames                // decoding frames
	phResync                // looking for frame boundaries
	phHold                  // waiting for the other direction to tell whether this is ZMTP
	phDead                  // not ZMTP: ignore
)

type framing uint8

const (
	fV3 framing = iota // ZMTP 3.x: flags, size (1 or 8 bytes), body
	fV2                // ZMTP 2.0: as 3.x without the COMMAND flag
	fV1                // ZMTP 1.0: length (1 or 1+8 bytes, including flags), flags, body
)

type fstate uint8

const (
	fsHeader fstate = iota
	fsBody
)

// side is one direction's decoder state.
type side struct {
	phase   phase
	framing framing
	off     uint64 // stream offset of the next byte

	greet    [64]byte
	glen     int
	mechCut  bool // bytes of the greeting's mechanism name were not captured
	rev      int  // byte 10 of this side's greeting, -1 until seen
	version  zmtp.Version
	sock     zmtp.SocketType
	identity bool // the next frame is the identity frame of a 1.0/2.0 stream

	fs      fstate
	hdr     [10]byte
	hlen    int
	start   uint64 // offset of the current frame
	flags   byte
	size    uint64
	remain  uint64
	long    bool
	command bool
	capWant int
	buf     []byte // captured body prefix; aliases inl or big
	inl     [64]byte
	big     []byte
	lost    uint64
	inMsg   bool // the previous frame had MORE set

	framed   bool // framing was found by resynchronisation
	tail     int  // greeting position of the next byte while a greeting's rest is read (greetingTail)
	tailFrom int  // greeting position where the captured rest began

	skipped uint64 // bytes skipped since sync was lost
	scanned uint64 // bytes scanned before the stream was known to be ZMTP

	// x holds what only a direction with gaps or a mid-stream start needs,
	// made on first use (extra).
	x *sideExtra
}

// sideExtra is a direction's state for resynchronising by predicted headers
// (resync.go) and for following a steady stream across gaps (derive.go).
type sideExtra struct {
	pred  [4]prediction // long headers found while resynchronising
	npred uint8
	dv    derivation
}

// extra returns the direction's sideExtra, made on first use.
func (s *side) extra() *sideExtra {
	if s.x == nil {
		s.x = new(sideExtra)
	}
	return s.x
}

// Conn dissects one TCP connection. It is not safe for concurrent use: the
// reassembler calls it from the pipeline goroutine.
type Conn struct {
	h         Handler
	sh        *Shared
	s         [2]side
	det       zmtp.Detection
	fromStart bool
	midStream bool
	mech      zmtp.Mechanism
}

// NewConn returns a dissector for one connection. fromStart says the capture
// holds the connection from its SYN, so each direction's first byte is the first
// byte the peer sent.
func NewConn(h Handler, opt Options, fromStart bool) *Conn {
	c := new(Conn)
	c.Init(h, NewShared(opt), fromStart)
	return c
}

// Shared is what the dissectors of many connections can share: the options
// (defaults applied once) and the Event handed to their Handlers, which
// holds it only during the call. Conns that share one must be fed from one
// goroutine (as a Tracker feeds its connections).
type Shared struct {
	opt Options
	ev  Event
}

// NewShared returns a Shared for dissectors made with opt.
func NewShared(opt Options) *Shared { return &Shared{opt: opt.withDefaults()} }

// Init makes a zero Conn a dissector for one connection, as NewConn does,
// with sh shared by other connections' dissectors: it lets a caller hold the
// Conn inside its own per-connection state, one allocation, without a copy
// of the options and an Event per connection. c must be the zero Conn.
func (c *Conn) Init(h Handler, sh *Shared, fromStart bool) {
	c.h, c.sh, c.fromStart = h, sh, fromStart
	for i := range c.s {
		c.s[i].rev = -1
		c.s[i].sock = zmtp.SocketUnknown
		c.s[i].buf = c.s[i].inl[:0]
	}
}

// Detected says whether the connection has been recognised as ZMTP.
func (c *Conn) Detected() zmtp.Detection { return c.det }

// MidStream reports whether the capture joined the connection after its
// handshake (the dissector found frame boundaries heuristically).
func (c *Conn) MidStream() bool { return c.midStream }

// Version returns the ZMTP version the connection speaks: the lower of the two
// sides' greetings, or zmtp.VersionUnknown.
func (c *Conn) Version() zmtp.Version {
	a, b := c.s[0].version, c.s[1].version
	switch {
	case a == zmtp.VersionUnknown:
		return b
	case b == zmtp.VersionUnknown:
		return a
	case a < b:
		return a
	}
	return b
}

// Mechanism returns the security mechanism named in the greetings.
func (c *Conn) Mechanism() zmtp.Mechanism { return c.mech }

// SocketType returns the socket type of the side that sends in direction d, as
// far as the dissector knows it (greeting or READY).
func (c *Conn) SocketType(d zmtp.Dir) zmtp.SocketType { return c.s[d].sock }

// reset returns the shared Event made ready for an event of kind k: the
// zero Event but for k, d, ts, off, SocketType unknown and Props' buffer.
// A frame after a frame, most events by far, clears only the fields a
// frame sets (endFrame, curveMessage, derivedFrames) rather than all of
// the Event's 300-odd bytes.
func (c *Conn) reset(d zmtp.Dir, k Kind, ts time.Time, off uint64) *Event {
	e := &c.sh.ev
	if k == KindFrame && e.Kind == KindFrame {
		e.Dir, e.TS, e.Offset = d, ts, off
		e.Size, e.More, e.Long, e.Body, e.Complete, e.Lost, e.Derived = 0, false, false, nil, false, 0, false
		e.Curve, e.Plain, e.Nonce, e.Cmd, e.Legacy, e.Topic, e.Err = false, 0, 0, zmtp.CmdNone, false, nil, nil
		if checkFrameReset != nil {
			checkFrameReset(e)
		}
		return e
	}
	*e = Event{Kind: k, Dir: d, TS: ts, Offset: off, SocketType: zmtp.SocketUnknown, Props: e.Props[:0]}
	return e
}

// checkFrameReset, set by the package's tests, checks each frame's partial
// clearing against the full one.
var checkFrameReset func(*Event)

func (c *Conn) malformed(d zmtp.Dir, ts time.Time, off uint64, err error) {
	e := c.reset(d, KindMalformed, ts, off)
	e.Err = err
	c.h.Event(e)
}

// Feed hands the dissector the next in-order bytes of direction d.
func (c *Conn) Feed(d zmtp.Dir, b []byte, ts time.Time) {
	s := &c.s[d]
	for len(b) > 0 {
		var n int
		switch s.phase {
		case phDead:
			s.off += uint64(len(b))
			return
		case phStart, phGreeting, phHold:
			n = c.greeting(d, b, ts)
		case phFrames:
			n = c.frames(d, b, ts)
		case phResync:
			n = c.resync(d, b, ts)
		}
		s.off += uint64(n)
		b = b[n:]
	}
}

// Skip tells the dissector that n bytes of direction d were not captured.
func (c *Conn) Skip(d zmtp.Dir, n int, ts time.Time) {
	if n <= 0 {
		return
	}
	s := &c.s[d]
	un := uint64(n)
	if s.off == 0 && c.det != zmtp.NotZMTP {
		// The direction's first bytes were not captured (its SYN was, but
		// they reached the capture before it, as on a skewed mirror, or
		// the capture lost them): its handshake is not known.
		c.midStream = true
	}
	if s.phase == phGreeting && s.glen >= 13 && opensMechanism(s.greet[12]) {
		// The bytes fall inside a 3.x greeting, whose length (64) is known:
		// follow them, as a frame body's are followed, instead of losing the
		// frame boundaries. A mechanism name cut by the gap is not guessed.
		k := min(un, uint64(len(s.greet)-s.glen))
		if s.glen < 32 && bytes.IndexByte(s.greet[12:s.glen], 0) < 0 {
			s.mechCut = true // the name had not ended
		}
		clear(s.greet[s.glen : s.glen+int(k)])
		s.glen += int(k)
		e := c.reset(d, KindGap, ts, s.off)
		e.Lost = k
		s.off += k
		c.h.Event(e)
		if s.glen == len(s.greet) {
			c.greeting64(d, ts)
		}
		if un -= k; un == 0 {
			return
		}
	}
	lostSync := false
	switch s.phase {
	case phDead:
	case phResync:
		s.skipped += un
	case phFrames:
		if !(s.fs == fsBody && un <= s.remain) && c.deriveGap(d, un, ts) {
			break
		}
		if s.fs == fsBody && un <= s.remain {
			s.remain -= un
			s.lost += un
			if s.remain == 0 {
				c.endFrame(d, ts)
			}
		} else {
			if s.fs == fsBody {
				s.lost += s.remain
				un2 := un - s.remain
				s.remain = 0
				c.endFrame(d, ts)
				s.skipped = un2
			} else {
				s.skipped = un
			}
			lostSync = true
		}
	default: // greeting not complete
		if c.det == zmtp.Undecided && s.phase == phStart {
			// Nothing of this direction seen yet: treat what follows as mid-stream.
			s.phase = phResync
			s.skipped = un
			lostSync = true
			break
		}
		lostSync = true
		s.skipped = un
	}
	e := c.reset(d, KindGap, ts, s.off)
	e.Lost = un
	if lostSync {
		if s.x != nil {
			s.x.dv = derivation{} // frames pending under a steady hypothesis are lost with it
		}
		e.Err = ErrLostSync
		s.phase = phResync
		s.fs = fsHeader
		s.hlen = 0
		s.inMsg = false
		if s.version == zmtp.VersionUnknown && c.det != zmtp.NotZMTP {
			// A greeting was cut: assume 3.x framing, as most peers speak it.
			s.framing = fV3
		}
	}
	s.off += un
	if c.det != zmtp.NotZMTP {
		c.h.Event(e)
	}
}

// greeting collects and decodes a greeting; it returns the bytes consumed.
func (c *Conn) greeting(d zmtp.Dir, b []byte, ts time.Time) int {
	s := &c.s[d]
	peer := &c.s[d^1]
	if s.phase == phStart {
		s.phase = phGreeting
		if b[0] != 0xFF && !c.fromStart && (c.det != zmtp.IsZMTP || c.midStream || !v1IdentityStart(b)) {
			// The capture joined the stream mid-way: look for frames in this very
			// segment rather than collecting a greeting across segments. When the
			// peer's greeting was whole, only a 1.0 identity frame (length, flags
			// 0) can open this side; anything else is the rest of a greeting or
			// later traffic whose start was not captured.
			s.phase = phResync
			if c.det == zmtp.IsZMTP {
				c.midStream = true
			}
			return 0
		}
	}
	if s.phase == phHold {
		// Keep up to 64 bytes until the peer's first bytes say whether this is a
		// ZMTP 1.0 peer talking to a versioned one.
		n := copy(s.greet[s.glen:], b)
		s.glen += n
		switch {
		case c.det == zmtp.IsZMTP:
			c.replayV1(d, ts)
		case c.det == zmtp.NotZMTP || s.glen == len(s.greet) || peer.phase == phHold:
			c.dead()
		}
		return n
	}
	// Collect bytes up to the next decision point.
	want := 10
	switch {
	case s.glen >= 13:
		want = 64
	case s.glen >= 11:
		want = 13
		if s.rev == 0 || s.rev == 1 || peer.rev == 0 || peer.rev == 1 {
			want = 12
		}
	case s.glen >= 10:
		want = 11
	}
	if s.glen == 10 && peer.version == zmtp.V10 && peer.rev < 0 {
		// As above, when the peer's first bytes came after these ten.
		c.replayV1(d, ts)
		return 0
	}
	if s.glen > 0 && s.greet[0] != 0xFF && c.det == zmtp.IsZMTP {
		// An unversioned ZMTP 1.0 peer: its first byte is the identity length.
		c.replayV1(d, ts)
		return 0
	}
	n := copy(s.greet[s.glen:want], b)
	s.glen += n
	if s.glen < want {
		return n
	}
	switch want {
	case 10:
		if s.greet[0] == 0xFF && s.greet[9]&1 == 1 && (c.fromStart || signature(s.greet[:10])) {
			c.markZMTP(ts)
			if peer.version == zmtp.V10 && peer.rev < 0 {
				// The peer speaks unversioned 1.0: libzmq stops after these 10
				// bytes, which double as a 1.0 identity frame header.
				c.replayV1(d, ts)
			}
			return n
		}
		// Not a versioned signature: a ZMTP 1.0 peer (identity frame first),
		// the middle of a ZMTP stream, or not ZMTP at all.
		switch {
		case c.det == zmtp.IsZMTP:
			c.replayV1(d, ts)
		case !c.fromStart:
			c.replayResync(d, ts)
		case peer.phase == phHold:
			c.dead()
		default:
			s.phase = phHold
		}
		return n
	case 11:
		s.rev = int(s.greet[10])
		return n
	case 12:
		c.greeting12(d, ts)
		return n
	case 13:
		// A 3.x-capable side sends 64 bytes to a 3.x peer and 12 to an older one.
		// Without the peer's revision, byte 12 tells: the start of a mechanism
		// name, or the flags of a 2.0 identity frame.
		if opensMechanism(s.greet[12]) {
			return n
		}
		s.glen = 12
		c.greeting12(d, ts)
		return n - 1 // byte 12 belongs to the identity frame
	}
	c.greeting64(d, ts)
	return n
}

// opensMechanism says whether byte 12 of a versioned greeting starts a 3.x
// mechanism name rather than being the flags of a 2.0 identity frame, which
// can only be 0-3 (MORE, LONG). Any other byte is a name, known or not: a name
// zspy does not know ("x-custom", "plain") is still a 3.x greeting, and taking
// it for 2.0 would read the minor version as a socket type and the rest of the
// greeting as frames.
func opensMechanism(b byte) bool { return b > 3 }

// markZMTP records that the connection speaks ZMTP, and decodes the bytes a
// ZMTP 1.0 peer sent while that was undecided.
func (c *Conn) markZMTP(ts time.Time) {
	if c.det != zmtp.Undecided {
		return
	}
	c.det = zmtp.IsZMTP
	for i := range c.s {
		s := &c.s[i]
		if s.phase == phHold || (s.phase == phGreeting && s.glen > 0 && s.greet[0] != 0xFF) {
			c.replayV1(zmtp.Dir(i), ts)
		}
	}
}

func (c *Conn) dead() {
	c.det = zmtp.NotZMTP
	for i := range c.s {
		c.s[i].phase = phDead
	}
}

// replayV1 switches direction d to unversioned ZMTP 1.0 framing and decodes the
// bytes kept in its greeting buffer as frames.
func (c *Conn) replayV1(d zmtp.Dir, ts time.Time) {
	s := &c.s[d]
	s.version = zmtp.V10
	s.framing = fV1
	s.identity = true
	s.phase = phFrames
	s.fs = fsHeader
	if c.mech == zmtp.MechUnknown {
		c.mech = zmtp.MechNULL
	}
	e := c.reset(d, KindGreeting, ts, 0)
	e.Version = zmtp.V10
	e.Mechanism = zmtp.MechNULL
	c.h.Event(e)
	c.replayGreet(d, ts)
}

// replayResync hands the bytes kept in the greeting buffer to the
// resynchronising decoder: the capture joined the stream mid-way.
func (c *Conn) replayResync(d zmtp.Dir, ts time.Time) {
	c.s[d].phase = phResync
	c.replayGreet(d, ts)
}

// replayGreet feeds the bytes kept in the greeting buffer, which started at
// stream offset 0, through the decoder again.
func (c *Conn) replayGreet(d zmtp.Dir, ts time.Time) {
	s := &c.s[d]
	var tmp [64]byte
	n := copy(tmp[:], s.greet[:s.glen])
	s.glen = 0
	saved := s.off
	s.off = 0
	c.Feed(d, tmp[:n], ts)
	s.off = saved
}

// greeting12 completes a 12-byte greeting (ZMTP 2.0, or libzmq's versioned 1.0).
func (c *Conn) greeting12(d zmtp.Dir, ts time.Time) {
	s := &c.s[d]
	peer := &c.s[d^1]
	s.sock = zmtp.SocketType(s.greet[11])
	if s.greet[11] > 20 {
		s.sock = zmtp.SocketUnknown
	}
	rev := s.rev
	if rev >= 2 && (peer.rev == 0 || peer.rev == 1) {
		rev = peer.rev
	}
	if rev == 0 {
		s.version, s.framing = zmtp.V10, fV1
	} else {
		s.version, s.framing = zmtp.V20, fV2
	}
	s.identity = true
	s.phase = phFrames
	s.fs = fsHeader
	if c.mech == zmtp.MechUnknown {
		c.mech = zmtp.MechNULL
	}
	e := c.reset(d, KindGreeting, ts, 0)
	e.Version = s.version
	e.Mechanism = zmtp.MechNULL
	e.SocketType = s.sock
	c.h.Event(e)
}

func (c *Conn) greeting64(d zmtp.Dir, ts time.Time) {
	s := &c.s[d]
	g := s.greet[:]
	s.version = zmtp.V31
	if g[10] == 3 && g[11] == 0 {
		s.version = zmtp.V30
	}
	mech := g[12:32]
	end := 0
	for end < len(mech) && mech[end] != 0 {
		end++
	}
	name := mech[:end]
	m := zmtp.MechOther
	if s.mechCut {
		name, m = nil, zmtp.MechUnknown
	}
	switch string(name) {
	case "NULL":
		m = zmtp.MechNULL
	case "PLAIN":
		m = zmtp.MechPLAIN
	case "CURVE":
		m = zmtp.MechCURVE
	case "GSSAPI":
		m = zmtp.MechGSSAPI
	}
	s.framing = fV3
	s.phase = phFrames
	s.fs = fsHeader
	e := c.reset(d, KindGreeting, ts, 0)
	e.Version = s.version
	e.Mechanism = m
	e.MechName = name
	e.AsServer = g[32] == 1
	c.h.Event(e)
	if c.mech == zmtp.MechUnknown {
		c.mech = m
	} else if c.mech != m && m != zmtp.MechUnknown {
		c.malformed(d, ts, 12, ErrMechMismatch)
	}
}

// frames decodes frames from b and returns the bytes consumed.
func (c *Conn) frames(d zmtp.Dir, b []byte, ts time.Time) int {
	s := &c.s[d]
	total := 0
	for len(b) > 0 && s.phase == phFrames {
		if s.fs == fsBody {
			n := s.remain
			if uint64(len(b)) < n {
				n = uint64(len(b))
			}
			if room := s.capWant - len(s.buf); room > 0 && s.lost == 0 {
				k := room
				if uint64(k) > n {
					k = int(n)
				}
				s.buf = append(s.buf, b[:k]...)
			}
			s.remain -= n
			b = b[n:]
			total += int(n)
			if s.remain == 0 {
				c.endFrame(d, ts)
			}
			continue
		}
		pos := s.off + uint64(total)
		var n int
		if s.hlen == 0 {
			n = c.header(d, b, pos, ts)
		} else {
			n = c.headerSlow(d, b, pos, ts)
		}
		if n < 0 { // all of b went into s.hdr
			return total + len(b)
		}
		b = b[n:]
		total += n
	}
	return total
}

// headerLen returns the header length implied by its first byte, or 0 when
// there is none yet.
func (s *side) headerLen(h []byte) int {
	if len(h) == 0 {
		return 0
	}
	if s.framing == fV1 {
		if h[0] == 0xFF {
			return 10
		}
		return 2
	}
	if h[0]&2 != 0 {
		return 9
	}
	return 2
}

// headerSlow completes a header split across Feed calls.
func (c *Conn) headerSlow(d zmtp.Dir, b []byte, pos uint64, ts time.Time) int {
	s := &c.s[d]
	need := s.headerLen(s.hdr[:s.hlen])
	k := copy(s.hdr[s.hlen:need], b)
	s.hlen += k
	if s.hlen < need {
		return -1
	}
	var tmp [10]byte
	h := tmp[:copy(tmp[:], s.hdr[:s.hlen])]
	start := pos - uint64(s.hlen-k)
	s.hlen = 0
	c.header(d, h, start, ts)
	return k
}

// header decodes a frame header at the start of b, which begins at stream
// offset pos. It returns the header length, or -1 after keeping all of b in
// s.hdr when b holds only part of the header.
func (c *Conn) header(d zmtp.Dir, b []byte, pos uint64, ts time.Time) int {
	s := &c.s[d]
	need := s.headerLen(b)
	if len(b) < need {
		s.hlen = copy(s.hdr[:], b)
		return -1
	}
	s.start = pos
	var size uint64
	var flags byte
	long := false
	switch s.framing {
	case fV1:
		var l uint64
		if b[0] == 0xFF {
			l = binary.BigEndian.Uint64(b[1:9])
			flags = b[9]
			long = true
		} else {
			l = uint64(b[0])
			flags = b[1]
		}
		if l == 0 || l>>63 != 0 {
			c.loseSync(d, ts, pos, ErrBadSize)
			return need
		}
		size = l - 1
	default:
		flags = b[0]
		if flags&2 != 0 {
			size = binary.BigEndian.Uint64(b[1:9])
			long = true
			if size>>63 != 0 {
				c.loseSync(d, ts, pos, ErrBadSize)
				return need
			}
		} else {
			size = uint64(b[1])
		}
	}
	if size > c.sh.opt.ResyncMaxFrame {
		// Legal (up to 2^63-1), but larger than any message zspy believes
		// when it resynchronises: most likely a stream out of step or a
		// hostile peer. Say so, and follow the frame as declared.
		c.malformed(d, ts, pos, fmt.Errorf("%w: %d bytes declared (more than %d)", ErrHugeFrame, size, c.sh.opt.ResyncMaxFrame))
	}
	var valid bool
	switch s.framing {
	case fV3:
		valid = flags <= 4 || flags == 6
	case fV2:
		valid = flags&^3 == 0
	default:
		// 1.0 reserves all but MORE; libzmq ignores them (and writes 0x7F in
		// the signature that doubles as an identity frame header).
		flags &= 1
		valid = true
	}
	if !valid {
		c.malformed(d, ts, pos, ErrBadFlags)
	}
	if s.x != nil && s.x.dv.expect && !c.deriveHeader(d, flags, size, pos, ts) {
		return need
	}
	s.flags = flags
	s.long = long
	s.size = size
	s.remain = size
	s.lost = 0
	s.command = s.framing == fV3 && flags&4 != 0
	s.buf = s.inl[:0]
	s.capWant = c.sh.opt.PreviewCap
	switch {
	case s.command, s.identity:
		s.capWant = c.sh.opt.CommandCap
	case s.sock == zmtp.SUB || s.sock == zmtp.XSUB || s.sock == zmtp.SocketUnknown:
		// Possibly a 3.0-style subscription (any frame of a message): keep the topic.
		s.capWant = c.sh.opt.CommandCap
	}
	if uint64(s.capWant) > size {
		s.capWant = int(size)
	}
	if s.capWant > len(s.inl) {
		if cap(s.big) < s.capWant {
			// Grow in powers of two up to the cap: most commands are small.
			n := 256
			for n < s.capWant {
				n *= 2
			}
			s.big = make([]byte, 0, min(n, c.sh.opt.CommandCap))
		}
		s.buf = s.big[:0]
	}
	s.fs = fsBody
	if size == 0 {
		c.endFrame(d, ts)
	}
	return need
}

// loseSync abandons frame decoding in direction d and starts resynchronising.
func (c *Conn) loseSync(d zmtp.Dir, ts time.Time, pos uint64, err error) {
	s := &c.s[d]
	c.malformed(d, ts, pos, err)
	s.phase = phResync
	s.fs = fsHeader
	s.hlen = 0
	s.inMsg = false
	s.skipped = 0
}

// endFrame reports the frame that just completed.
func (c *Conn) endFrame(d zmtp.Dir, ts time.Time) {
	s := &c.s[d]
	if x := s.x; x != nil {
		if x.dv.synth {
			c.derivedEnd(d)
			return
		}
		if v := &x.dv; v.on && !v.expect && (s.size != v.size || s.flags != v.flags) {
			v.on, v.confirmed = false, 0 // the stream changed: a new hypothesis at the next gap
		}
	}
	s.fs = fsHeader
	more := s.flags&1 != 0
	if s.identity {
		s.identity = false
		e := c.reset(d, KindIdentity, ts, s.start)
		e.Size = s.size
		e.Body = s.buf
		e.Complete = uint64(len(s.buf)) == s.size
		e.Lost = s.lost
		c.h.Event(e)
		return
	}
	if s.command {
		c.command(d, ts)
		return
	}
	e := c.reset(d, KindFrame, ts, s.start)
	e.Size = s.size
	e.More = more
	e.Long = s.long
	e.Body = s.buf
	e.Complete = uint64(len(s.buf)) == s.size
	e.Lost = s.lost
	s.inMsg = more
	box := s.framing == fV3 && len(s.buf) >= 8 && string(s.buf[:8]) == "\x07MESSAGE"
	if box && c.mech == zmtp.MechUnknown && c.midStream && s.size >= 33 {
		// Joined mid-stream: a CURVE MESSAGE box names the mechanism.
		c.mech = zmtp.MechCURVE
	}
	if box && c.mech == zmtp.MechCURVE {
		c.curveMessage(e)
		c.h.Event(e)
		return
	}
	// libzmq's XPUB (4.3.x, without ZMQ_ONLY_FIRST_SUBSCRIBE) takes every
	// frame that starts with 0x00 or 0x01 as an unsubscription or
	// subscription, whatever its place in a multipart message.
	if s.size >= 1 && len(s.buf) >= 1 && (s.buf[0] == 0 || s.buf[0] == 1) &&
		(s.sock == zmtp.SUB || s.sock == zmtp.XSUB || (s.sock == zmtp.SocketUnknown && s.version != zmtp.V31 && c.peerIsPub(d))) {
		e.Legacy = true
		e.Cmd = zmtp.CmdCANCEL
		if s.buf[0] == 1 {
			e.Cmd = zmtp.CmdSUBSCRIBE
		}
		e.Topic = s.buf[1:]
	}
	c.h.Event(e)
}

func (c *Conn) peerIsPub(d zmtp.Dir) bool {
	p := c.s[d^1].sock
	return p == zmtp.PUB || p == zmtp.XPUB
}

func (c *Conn) curveMessage(e *Event) {
	e.Curve = true
	e.Cmd = zmtp.CmdMESSAGE
	if len(e.Body) >= 16 {
		e.Nonce = binary.BigEndian.Uint64(e.Body[8:16])
	}
	if e.Size >= 33 {
		e.Plain = int64(e.Size) - 33
	} else {
		e.Plain = -1
		e.Err = ErrBadCommand
	}
}

// signature says whether b, the first ten bytes a direction's capture
// holds when its start may be missing, are a versioned greeting's signature
// as peers write it (FF, zero padding but the last byte, 7F), rather than
// bytes of a frame body that happen to start with FF.
func signature(b []byte) bool {
	for _, x := range b[1:8] {
		if x != 0 {
			return false
		}
	}
	return b[0] == 0xFF && b[9] == 0x7F
}

// v1IdentityStart says whether b can open a ZMTP 1.0 stream: a short identity
// frame (length byte counting the flags, then flags 0).
func v1IdentityStart(b []byte) bool {
	return len(b) >= 2 && b[0] != 0 && b[0] != 0xFF && b[1] == 0
}

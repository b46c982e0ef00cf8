package dissect

import (
	"encoding/binary"
	"time"

	"github.com/zspy/zspy/zmtp"
)

// A steady stream (a publisher of fixed-size records) captured with a short
// snap length loses most frame headers: each segment keeps only its first
// bytes. When a gap would hide a header, the frames are followed across it
// under a hypothesis: every frame has the size and flags of the frame the gap
// began in (a single-frame message). The frames passed in gaps wait, pending,
// until captured headers land where the hypothesis puts them with that size
// and flags; after minConfirmations such headers they are reported, marked
// Derived. A captured header that contradicts the hypothesis drops the
// pending frames and loses sync, as the gap would have without it.

// minConfirmations is how many captured headers must land where the
// hypothesis predicts before frames passed in gaps are reported.
const minConfirmations = 3

// derivation is one direction's steady-stream hypothesis.
type derivation struct {
	on        bool   // a hypothesis is held
	expect    bool   // the next header decoded was predicted across a gap
	synth     bool   // the current frame's header lay in a gap
	flags     byte   // the hypothesis: each frame's flags
	hl        int    // header length
	size      uint64 // and body size
	pending   uint64 // frames passed in gaps, not yet reported
	confirmed int    // captured headers that landed where predicted
}

// header returns the hypothesis's frame header.
func (v *derivation) header() (h [9]byte) {
	h[0] = v.flags
	if v.hl == 9 {
		binary.BigEndian.PutUint64(h[1:], v.size)
	} else {
		h[1] = byte(v.size)
	}
	return h
}

// deriveGap follows n lost bytes of direction d (which would hide a frame
// header) under the steady hypothesis, taking the current frame as its model
// if none is held. It reports false when the hypothesis cannot apply: the
// gap then loses sync.
func (c *Conn) deriveGap(d zmtp.Dir, n uint64, ts time.Time) bool {
	s := &c.s[d]
	if s.framing == fV1 || s.identity || (s.fs == fsBody && s.command) {
		return false
	}
	if c.mech == zmtp.MechCURVE || s.sock == zmtp.SUB || s.sock == zmtp.XSUB ||
		(s.fs == fsBody && len(s.buf) >= 8 && string(s.buf[:8]) == "\x07MESSAGE") {
		// CURVE boxes count plaintext sizes, and a SUB's messages may be
		// subscriptions: a frame passed over can be neither.
		return false
	}
	if s.x == nil && s.fs != fsBody {
		return false // no hypothesis held, and no frame to take as one
	}
	v := &s.extra().dv
	var base uint64 // offset of the header of the frame the gap begins in
	if s.fs == fsBody {
		if s.flags&1 != 0 || s.flags&4 != 0 {
			return false // a command, or a frame of a multipart message
		}
		if !v.on || v.size != s.size || v.flags != s.flags {
			hl := 2
			if s.long {
				hl = 9
			}
			*v = derivation{on: true, flags: s.flags, hl: hl, size: s.size}
		}
		base = s.start
	} else {
		if !v.on {
			return false
		}
		h := v.header()
		if string(s.hdr[:s.hlen]) != string(h[:s.hlen]) {
			return false // the captured part of the header says otherwise
		}
		base = s.off - uint64(s.hlen)
	}
	p := uint64(v.hl) + v.size
	end := s.off + n
	k := (end - base) / p // frames from base that end within the gap
	within := (end - base) % p
	if s.fs == fsBody {
		s.lost += s.remain
		s.remain = 0
		c.endFrame(d, ts) // the frame the gap began in
		k--
	}
	v.pending += k
	start := end - within
	s.hlen = 0
	s.fs = fsHeader
	switch {
	case within == 0:
	case within < uint64(v.hl):
		// The gap ends inside a header: its first bytes are the hypothesis's.
		h := v.header()
		s.hlen = copy(s.hdr[:], h[:within])
	default:
		// The gap ends inside a frame whose header it hid.
		s.start = start
		s.flags = v.flags
		s.long = v.hl == 9
		s.size = v.size
		s.remain = p - within
		s.lost = within - uint64(v.hl)
		s.command = false
		s.buf = s.inl[:0]
		s.capWant = 0
		s.fs = fsBody
		v.synth = true
	}
	v.expect = true
	return true
}

// deriveHeader checks a decoded header of direction d against the hypothesis
// when the gap before it predicted it. It reports false after losing sync
// (the header contradicted the hypothesis).
func (c *Conn) deriveHeader(d zmtp.Dir, flags byte, size uint64, pos uint64, ts time.Time) bool {
	s := &c.s[d]
	v := &s.x.dv
	if !v.expect {
		return true
	}
	v.expect = false
	if flags != v.flags || size != v.size {
		v.pending = 0
		*v = derivation{}
		e := c.reset(d, KindGap, ts, pos)
		e.Err = ErrLostSync
		c.h.Event(e)
		s.phase = phResync
		s.fs = fsHeader
		s.hlen = 0
		s.inMsg = false
		s.skipped = 0
		return false
	}
	v.confirmed++
	if v.confirmed >= minConfirmations {
		c.derivedFrames(d, ts, pos)
	}
	return true
}

// derivedEnd ends a frame whose header lay in a gap: it is pending.
func (c *Conn) derivedEnd(d zmtp.Dir) {
	s := &c.s[d]
	s.x.dv.synth = false
	s.x.dv.pending++
	s.fs = fsHeader
	s.inMsg = false
}

// derivedFrames reports the pending frames of direction d.
func (c *Conn) derivedFrames(d zmtp.Dir, ts time.Time, pos uint64) {
	s := &c.s[d]
	v := &s.x.dv
	for ; v.pending > 0; v.pending-- {
		e := c.reset(d, KindFrame, ts, pos)
		e.Size = v.size
		e.Long = v.hl == 9
		e.Lost = v.size
		e.Derived = true
		c.h.Event(e)
	}
}

// Finish ends the connection's decoding at the end of its capture. Frames
// still pending under a steady hypothesis are reported when the stream ended
// where the hypothesis puts a frame boundary (having held at least
// minConfirmations-1 times); otherwise that direction lost sync.
//
// A connection captured without its SYN one of whose directions showed no
// byte at all is mid-stream: a ZMTP peer greets at once, so that direction's
// handshake went by before the capture began.
func (c *Conn) Finish(ts time.Time) {
	if !c.fromStart && c.det == zmtp.IsZMTP && (c.s[0].off == 0) != (c.s[1].off == 0) {
		c.midStream = true
	}
	for i := range c.s {
		s := &c.s[i]
		if s.x == nil {
			continue
		}
		v := &s.x.dv
		if v.pending == 0 && !v.synth {
			continue
		}
		d := zmtp.Dir(i)
		if s.phase == phFrames && s.fs == fsHeader && s.hlen == 0 && v.confirmed+1 >= minConfirmations {
			c.derivedFrames(d, ts, s.off)
		} else {
			e := c.reset(d, KindGap, ts, s.off)
			e.Err = ErrLostSync
			c.h.Event(e)
		}
		*v = derivation{}
	}
}

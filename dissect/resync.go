package dissect

import (
	"encoding/binary"
	"time"

	"github.com/zspy/zspy/zmtp"
)

// resync looks for frame boundaries in b, a chunk of direction d that follows
// lost bytes (or opens a capture that joined the connection mid-way). Each Feed
// call is normally one TCP segment, and libzmq writes whole batches of frames, so
// a chunk's first byte is tried first; other offsets need a stronger chain.
func (c *Conn) resync(d zmtp.Dir, b []byte, ts time.Time) int {
	s := &c.s[d]
	if n, ok := c.greetingTail(d, b, ts); ok {
		return n
	}
	f := c.resyncFraming(d)
	if s.x != nil && s.x.npred > 0 {
		if n, ok := c.predicted(d, f, b, ts); ok {
			return n
		}
	}
	// Without a greeting on either side the framing is unknown too: ZMTP 1.0
	// (length first) is tried after 3.x at each offset.
	guess := s.version == zmtp.VersionUnknown && !c.s[d^1].framed && c.s[d^1].version == zmtp.VersionUnknown
	found := -1
	for i := 0; i < len(b) && found < 0; i++ {
		for _, g := range [2]framing{f, fV1} {
			if g == fV1 && (!guess || f == fV1) {
				break
			}
			frames, empty, ok, exact, anchor, emptyPair := c.chain(g, b[i:])
			if !ok {
				continue
			}
			if !anchor && emptyPair {
				// Two empty messages back to back: what zero padding inside a
				// body (a frame header's last zero, then zeros) looks like,
				// seldom what applications send.
				continue
			}
			if i > 0 && !anchor && len(b)-i >= 2 && b[i] == 0 && b[i+1] == 0 && g != fV1 {
				// An empty last frame first, then more: how the 4-byte
				// big-endian lengths of READY properties and application
				// integers look, not a likely start.
				continue
			}
			if !anchor && frames >= 2 && empty == frames {
				continue // runs of empty frames (zero padding, or 01 00 pairs)
			}
			if g == fV1 && !(exact && frames >= 1) {
				continue // a guessed framing needs whole frames
			}
			if anchor || (exact && frames >= 2) || (i == 0 && (frames >= 1 || !exact)) {
				found = i
				f = g
				break
			}
			if frames == 0 && !exact && g != fV1 {
				c.predict(d, g, b[i:], s.off+uint64(i))
			}
		}
	}
	if found < 0 {
		s.skipped += uint64(len(b))
		if c.det == zmtp.Undecided {
			s.scanned += uint64(len(b))
			if s.scanned > uint64(c.sh.opt.MaxScan) && !c.awaiting(d) {
				c.dead()
			}
		}
		return len(b)
	}
	if s.x != nil {
		s.x.npred = 0
	}
	if c.det == zmtp.Undecided {
		c.det = zmtp.IsZMTP
		c.midStream = true
	}
	s.framing = f
	s.framed = true
	e := c.reset(d, KindResync, ts, s.off+uint64(found))
	e.Skipped = s.skipped + uint64(found)
	s.skipped = 0
	s.phase = phFrames
	s.fs = fsHeader
	s.hlen = 0
	s.inMsg = false
	s.identity = false
	c.h.Event(e)
	return found
}

// maxPredictAhead bounds how far past the scan limit (MaxScan) a predicted
// header may lie and still keep an undecided stream alive.
const maxPredictAhead = 4 << 20

// prediction is a long frame header found while resynchronising whose body
// runs past the chunk it was found in: if it is a header, the next one is at
// next. Frames of many KB (larger than a segment) give no other evidence
// when their headers lie in the middle of segments, as they do in a stream
// that TCP cut into segments regardless of writes.
type prediction struct {
	at, next uint64 // stream offsets of the header and of the one after it
	size     uint64
	flags    byte
}

// predict notes the long frame header at the start of b (stream offset at)
// as a prediction of the next header, when it is one (a long size, ≥ 256) and
// there is room.
func (c *Conn) predict(d zmtp.Dir, f framing, b []byte, at uint64) {
	s := &c.s[d]
	if len(b) < 9 || b[0]&2 == 0 || b[0]&4 != 0 || s.x != nil && int(s.x.npred) == len(s.x.pred) {
		return
	}
	size := binary.BigEndian.Uint64(b[1:9])
	if size < 256 || size > c.sh.opt.ResyncMaxFrame {
		return
	}
	x := s.extra()
	x.pred[x.npred] = prediction{at: at, next: at + 9 + size, size: size, flags: b[0]}
	x.npred++
}

// awaiting reports whether a prediction of direction d still lies ahead,
// within reach of the scan limit.
func (c *Conn) awaiting(d zmtp.Dir) bool {
	s := &c.s[d]
	if s.x == nil {
		return false
	}
	for _, p := range s.x.pred[:s.x.npred] {
		if p.next >= s.off && p.next-s.off <= maxPredictAhead {
			return true
		}
	}
	return false
}

// predicted checks the predictions of direction d against b, the chunk at
// stream offset s.off. A prediction whose next header lies in b and holds
// plausible frames there confirms both headers: the predicted frame is
// reported (its body was passed over, so it is counted, not previewed) and
// decoding goes on from the next header. Predictions passed are dropped.
func (c *Conn) predicted(d zmtp.Dir, f framing, b []byte, ts time.Time) (int, bool) {
	s := &c.s[d]
	x := s.x
	end := s.off + uint64(len(b))
	kept := x.pred[:0]
	var hit *prediction
	var at int
	for _, p := range x.pred[:x.npred] {
		if p.next < s.off {
			continue
		}
		if p.next >= end {
			kept = append(kept, p)
			continue
		}
		j := int(p.next - s.off)
		frames, empty, ok, _, anchor, emptyPair := c.chain(f, b[j:])
		if !ok || (!anchor && (emptyPair || frames >= 2 && empty == frames)) {
			continue
		}
		if hit == nil || p.at < hit.at {
			q := p
			hit, at = &q, j
		}
	}
	x.npred = uint8(len(kept))
	if hit == nil {
		return 0, false
	}
	x.npred = 0
	if c.det == zmtp.Undecided {
		c.det = zmtp.IsZMTP
		c.midStream = true
	}
	s.framing = f
	s.framed = true
	e := c.reset(d, KindResync, ts, hit.at)
	e.Skipped = s.skipped + uint64(at) - (hit.next - hit.at)
	s.skipped = 0
	s.phase = phFrames
	s.hlen = 0
	s.inMsg = false
	s.identity = false
	c.h.Event(e)
	// The predicted frame, its body passed over.
	s.start = hit.at
	s.flags = hit.flags
	s.long = true
	s.size = hit.size
	s.remain = 0
	s.lost = 0
	s.command = false
	s.buf = s.inl[:0]
	c.endFrame(d, ts)
	s.fs = fsHeader
	return at, true
}

// chain walks frames from the start of b. It reports how many whole frames it
// found and how many of them were empty, whether every header on the way was plausible (ok; a header cut by the
// end of b cannot be judged, so it is not ok before a whole frame), whether the last
// frame ended exactly at the end of b, whether it met a frame that only ZMTP
// writes (a known command, a CURVE MESSAGE), and whether two empty last
// frames (two empty messages) came back to back.
func (c *Conn) chain(f framing, b []byte) (frames, empty int, ok, exact, anchor, emptyPair bool) {
	i := 0
	lastEmpty := false // the previous frame was an empty last frame (flags 0, size 0)
	for frames < 256 {
		if i == len(b) {
			return frames, empty, frames > 0, true, anchor, emptyPair
		}
		rest := b[i:]
		var flags byte
		var size uint64
		var hl int
		if f == fV1 {
			if rest[0] == 0xFF {
				if len(rest) < 10 {
					return frames, empty, frames > 0, false, anchor, emptyPair
				}
				l := binary.BigEndian.Uint64(rest[1:9])
				if l < 256 || l > c.sh.opt.ResyncMaxFrame {
					return frames, empty, false, false, anchor, emptyPair
				}
				size, flags, hl = l-1, rest[9], 10
			} else {
				if len(rest) < 2 {
					return frames, empty, frames > 0, false, anchor, emptyPair
				}
				if rest[0] == 0 {
					return frames, empty, false, false, anchor, emptyPair
				}
				size, flags, hl = uint64(rest[0])-1, rest[1], 2
			}
			if flags&^1 != 0 {
				return frames, empty, false, false, anchor, emptyPair
			}
		} else {
			flags = rest[0]
			if f == fV3 && !(flags <= 4 || flags == 6) || f == fV2 && flags&^3 != 0 {
				return frames, empty, false, false, anchor, emptyPair
			}
			if flags&2 != 0 {
				if len(rest) < 9 {
					return frames, empty, frames > 0, false, anchor, emptyPair
				}
				size = binary.BigEndian.Uint64(rest[1:9])
				if size < 256 || size > c.sh.opt.ResyncMaxFrame {
					return frames, empty, false, false, anchor, emptyPair
				}
				hl = 9
			} else {
				if len(rest) < 2 {
					return frames, empty, frames > 0, false, anchor, emptyPair
				}
				size, hl = uint64(rest[1]), 2
			}
		}
		body := rest[hl:]
		if f == fV3 && flags&4 != 0 {
			if size < 2 || len(body) < 1 {
				if size < 2 {
					return frames, empty, false, false, anchor, emptyPair
				}
				return frames, empty, true, false, anchor, emptyPair
			}
			n := int(body[0])
			if n == 0 || uint64(n)+1 > size {
				if !(body[0] == 0x5E && size >= 5) {
					return frames, empty, false, false, anchor, emptyPair
				}
				n = 4
			}
			if len(body) >= 1+n {
				if body[0] != 0x5E && zmtp.LookupCommand(body[1:1+n]) == zmtp.CmdOther {
					return frames, empty, false, false, anchor, emptyPair
				}
				anchor = true
			}
		} else if (c.mech == zmtp.MechCURVE || c.mech == zmtp.MechUnknown) && len(body) >= 8 && string(body[:8]) == "\x07MESSAGE" {
			anchor = true
		}
		if uint64(len(body)) < size {
			return frames, empty, true, false, anchor, emptyPair
		}
		i += hl + int(size)
		frames++
		if size == 0 {
			empty++
		}
		isEmptyLast := size == 0 && flags&1 == 0 && flags&4 == 0
		if isEmptyLast && lastEmpty {
			emptyPair = true
		}
		lastEmpty = isEmptyLast
	}
	return frames, empty, true, false, anchor, emptyPair
}

// greetingTail recognises the rest of a ZMTP 3.x greeting at the start of a
// direction whose first bytes the capture missed (it joined during the
// greeting, as libzmq sends it in pieces of 10, 1 and 53 bytes). The tail must
// reach the version bytes or the mechanism's first letter, so that it is not
// taken for traffic. It consumes the greeting's bytes and decodes the frames
// that follow from a known boundary; ok is false when b is not such a tail.
func (c *Conn) greetingTail(d zmtp.Dir, b []byte, ts time.Time) (n int, ok bool) {
	s := &c.s[d]
	if c.fromStart || s.version != zmtp.VersionUnknown {
		return 0, false
	}
	pos := s.tail
	if pos == 0 {
		if s.off != 0 {
			return 0, false
		}
		if pv := c.s[d^1].version; pv != zmtp.V30 && pv != zmtp.V31 && greeting2Tail(b) {
			// A 3.x peer talking to a 2.0 one: after the signature it sends
			// its major version and then, having read the peer's revision,
			// its socket type. What follows is its identity frame.
			s.greet = [64]byte{0: 0xFF, 9: 0x7F, 10: b[0], 11: b[1]}
			s.rev = int(b[0])
			s.glen = 12
			if c.det == zmtp.Undecided {
				c.det = zmtp.IsZMTP
			}
			c.midStream = true
			s.skipped = 0
			c.greeting12(d, ts)
			return 2, true
		}
		for o := 10; o <= 12; o++ {
			if greetingTailAt(b, o) {
				pos = o
				break
			}
		}
		if pos == 0 {
			return 0, false
		}
		s.tailFrom = pos
		s.greet = [64]byte{0: 0xFF, 9: 0x7F, 10: 3}
	} else if !greetingTailAt(b, pos) {
		s.tail = 0
		return 0, false
	}
	n = copy(s.greet[pos:], b)
	pos += n
	if pos < len(s.greet) {
		s.tail = pos
		return n, true
	}
	s.tail = 0
	if c.det == zmtp.Undecided {
		c.det = zmtp.IsZMTP
	}
	c.midStream = true
	if s.tailFrom <= 11 {
		c.greeting64(d, ts) // version and mechanism were captured
	} else {
		s.framing = fV3
		s.phase = phFrames
		s.fs = fsHeader
	}
	s.skipped = 0
	return n, true
}

// greeting2Tail says whether b, the first captured bytes of a direction,
// are the last two bytes of the 12-byte greeting a 3.x peer sends to a 2.0
// one: major version 3, then a socket type (0-10). A 3.x frame cannot start
// so (flags 3 are MORE and LONG, and a long size whose first byte is 1-10
// exceeds any frame), nor can a 1.0 one (flags above 1). With type 0 (PAIR)
// the bytes could start a long 3.x frame, so the two must be the whole
// chunk, as libzmq writes them; otherwise a 2.0 identity frame (flags 0, a
// size that fits) must follow, or the chunk must end there.
func greeting2Tail(b []byte) bool {
	if len(b) < 2 || b[0] != 3 || b[1] > 10 {
		return false
	}
	if len(b) == 2 {
		return true
	}
	return b[1] != 0 && len(b) >= 4 && b[2] == 0 && 4+int(b[3]) <= len(b)
}

// mechanisms are the security mechanism names a greeting tail may carry.
var mechanisms = [...]string{"NULL", "PLAIN", "CURVE", "GSSAPI"}

// greetingTailAt says whether b can be the bytes of a 3.x greeting from its
// position o on (major version 3, minor, a known mechanism name padded with
// zeros, as-server, zero filler).
func greetingTailAt(b []byte, o int) bool {
	if o <= 12 {
		// The mechanism's name starts in b: it must begin a known name and,
		// when the name's end is in b too, be that whole name (one letter
		// and zeros is what a frame header and zero padding look like).
		name := b[min(len(b), 12-o):min(len(b), 32-o)]
		end := len(name)
		for i, x := range name {
			if x == 0 {
				end = i
				break
			}
		}
		whole := end < len(name) || len(name) == 20
		ok := false
		for _, m := range mechanisms {
			if whole && string(name[:end]) == m || !whole && len(name) <= len(m) && m[:len(name)] == string(name) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	ended := false
	for i := 0; i < len(b) && o+i < 64; i++ {
		p, x := o+i, b[i]
		switch {
		case p < 10:
			return false
		case p == 10:
			if x != 3 {
				return false
			}
		case p == 11:
			if x > 1 {
				return false
			}
		case p == 12:
			if x < 'A' || x > 'Z' {
				return false
			}
		case p < 32:
			if x == 0 {
				ended = true
			} else if ended || !(x >= 'A' && x <= 'Z' || x >= '0' && x <= '9' || x == '-' || x == '_' || x == '.' || x == '+' || x == ':') {
				return false
			}
		case p == 32:
			if x > 1 {
				return false
			}
		default:
			if x != 0 {
				return false
			}
		}
	}
	return len(b) > 0
}

// resyncFraming is the framing to look for in direction d: the one its
// greeting named, else the one the peer speaks (both sides of a connection
// use the same), else 3.x, which most peers speak.
func (c *Conn) resyncFraming(d zmtp.Dir) framing {
	s, p := &c.s[d], &c.s[d^1]
	switch {
	case s.version != zmtp.VersionUnknown || s.framed:
		return s.framing
	case p.version != zmtp.VersionUnknown || p.framed:
		return p.framing
	}
	return fV3
}

package dissect

import (
	"encoding/binary"
	"time"

	"github.com/zspy/zspy/reassembly"
)

// resync looks for frame boundaries in b, a chunk of direction d that follows
// lost bytes (or opens a capture that joined the connection mid-way). Each Feed
// call is normally one TCP segment, and libzmq writes whole batches of frames, so
// a chunk's first byte is tried first; other offsets need a stronger chain.
func (c *Conn) resync(d reassembly.Dir, b []byte, ts time.Time) int {
	s := &c.s[d]
	f := s.framing
	found := -1
	for i := 0; i < len(b); i++ {
		frames, ok, exact, anchor := c.chain(f, b[i:])
		if !ok {
			continue
		}
		if anchor || (exact && frames >= 2) || (i == 0 && (frames >= 1 || !exact)) {
			found = i
			break
		}
	}
	if found < 0 {
		s.skipped += uint64(len(b))
		if c.det == Undecided {
			s.scanned += uint64(len(b))
			if s.scanned > uint64(c.opt.MaxScan) {
				c.dead()
			}
		}
		return len(b)
	}
	if c.det == Undecided {
		c.det = IsZMTP
		c.midStream = true
	}
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

// chain walks frames from the start of b. It reports how many whole frames it
// found, whether every header on the way was plausible (ok), whether the last
// frame ended exactly at the end of b, and whether it met a frame that only ZMTP
// writes (a known command, a CURVE MESSAGE).
func (c *Conn) chain(f framing, b []byte) (frames int, ok, exact, anchor bool) {
	i := 0
	for frames < 256 {
		if i == len(b) {
			return frames, frames > 0, true, anchor
		}
		rest := b[i:]
		var flags byte
		var size uint64
		var hl int
		if f == fV1 {
			if rest[0] == 0xFF {
				if len(rest) < 10 {
					return frames, true, false, anchor
				}
				l := binary.BigEndian.Uint64(rest[1:9])
				if l < 256 || l > c.opt.ResyncMaxFrame {
					return frames, false, false, anchor
				}
				size, flags, hl = l-1, rest[9], 10
			} else {
				if len(rest) < 2 {
					return frames, true, false, anchor
				}
				if rest[0] == 0 {
					return frames, false, false, anchor
				}
				size, flags, hl = uint64(rest[0])-1, rest[1], 2
			}
			if flags&^1 != 0 {
				return frames, false, false, anchor
			}
		} else {
			flags = rest[0]
			if f == fV3 && !(flags <= 4 || flags == 6) || f == fV2 && flags&^3 != 0 {
				return frames, false, false, anchor
			}
			if flags&2 != 0 {
				if len(rest) < 9 {
					return frames, true, false, anchor
				}
				size = binary.BigEndian.Uint64(rest[1:9])
				if size < 256 || size > c.opt.ResyncMaxFrame {
					return frames, false, false, anchor
				}
				hl = 9
			} else {
				if len(rest) < 2 {
					return frames, true, false, anchor
				}
				size, hl = uint64(rest[1]), 2
			}
		}
		body := rest[hl:]
		if f == fV3 && flags&4 != 0 {
			if size < 2 || len(body) < 1 {
				if size < 2 {
					return frames, false, false, anchor
				}
				return frames, true, false, anchor
			}
			n := int(body[0])
			if n == 0 || uint64(n)+1 > size {
				if !(body[0] == 0x5E && size >= 5) {
					return frames, false, false, anchor
				}
				n = 4
			}
			if len(body) >= 1+n {
				if body[0] != 0x5E && lookupCommand(body[1:1+n]) == CmdOther {
					return frames, false, false, anchor
				}
				anchor = true
			}
		} else if c.mech == MechCURVE && len(body) >= 8 && string(body[:8]) == "\x07MESSAGE" {
			anchor = true
		}
		if uint64(len(body)) < size {
			return frames, true, false, anchor
		}
		i += hl + int(size)
		frames++
	}
	return frames, true, false, anchor
}

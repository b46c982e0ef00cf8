package monitor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Limits on what a monitor message may hold. Frames beyond them make the
// message malformed; nothing is ever allocated by a count read off the wire.
const (
	// MaxValues caps a v2 message's value count (libzmq sends 1 or 2).
	MaxValues = 64
	// MaxSourceLen caps the source frame, in bytes.
	MaxSourceLen = 256
	// MaxEndpointLen caps an endpoint frame, in bytes.
	MaxEndpointLen = 4096
)

// Errors a malformed message is reported with; test them with errors.Is.
var (
	ErrNoFrames      = errors.New("message has no frames")
	ErrShape         = errors.New("frames match no monitor event format")
	ErrValueCount    = errors.New("v2 value count does not match the frames")
	ErrTooManyValues = errors.New("v2 value count exceeds the limit")
	ErrValueSize     = errors.New("v2 value frame is not 8 bytes")
	ErrSourceTooLong = errors.New("source frame too long")
	ErrEndpointLong  = errors.New("endpoint frame too long")
)

// SourceMode says how Decode treats a leading source frame.
type SourceMode uint8

// The source-frame rules. Auto detects the source frame by frame shapes:
// a v1 message is exactly 2 frames with a 6-byte first frame; a v2 message
// has 8-byte first and second frames, the second a count N, and N+4 frames in
// all; a message that has one of these shapes after its first frame carries
// that first frame as its source. Only an 8-byte source frame before a v2
// message can fit both readings; then the reading with a known event code wins,
// and with no source on a tie.
const (
	SourceAuto   SourceMode = iota // detect the source frame by shape
	SourceAlways                   // the first frame is always the source
	SourceNever                    // there is never a source frame
)

// ParseSourceMode parses "auto", "always" or "never".
func ParseSourceMode(s string) (SourceMode, error) {
	switch s {
	case "auto", "":
		return SourceAuto, nil
	case "always":
		return SourceAlways, nil
	case "never":
		return SourceNever, nil
	}
	return 0, fmt.Errorf("unknown source-frame mode %q (want auto, always or never)", s)
}

// ParseByteOrder parses "little" or "big".
func ParseByteOrder(s string) (binary.ByteOrder, error) {
	switch s {
	case "little", "":
		return binary.LittleEndian, nil
	case "big":
		return binary.BigEndian, nil
	}
	return nil, fmt.Errorf("unknown byte order %q (want little or big)", s)
}

// DecodeOptions configure Decode.
type DecodeOptions struct {
	// ByteOrder is the monitored process's host byte order, in which libzmq
	// writes the integers; nil means little-endian (x86-64, ARM64).
	ByteOrder binary.ByteOrder
	// Source is the source-frame rule; the zero value is SourceAuto.
	Source SourceMode
}

// Decode decodes one monitor message, given as its frames (v1 or v2, with or
// without a leading source frame), into an Event. It does not keep frames.
// Time and Via are left zero for the caller. A malformed message gives an
// error wrapping one of the Err* values and saying what was wrong.
func Decode(frames [][]byte, opts DecodeOptions) (Event, error) {
	var ev Event
	if err := decode(&ev, frames, opts, nil); err != nil {
		return Event{}, err
	}
	return ev, nil
}

// Decoder decodes a stream of monitor messages, reusing the strings of
// repeated endpoints and sources and carving value slices from shared blocks,
// so that the steady state allocates almost nothing. The zero value decodes
// with default options. A Decoder is not safe for concurrent use.
type Decoder struct {
	// Options are the decode options.
	Options DecodeOptions

	strs map[string]string
	slab []uint64
}

// maxInterned bounds the Decoder's string cache; beyond it strings are copied.
const maxInterned = 4096

// Decode decodes one message like the package's Decode. Events it returns
// stay valid after later calls.
func (d *Decoder) Decode(frames [][]byte) (Event, error) {
	var ev Event
	if err := decode(&ev, frames, d.Options, d); err != nil {
		return Event{}, err
	}
	return ev, nil
}

func (d *Decoder) str(b []byte) string {
	if d == nil {
		return string(b)
	}
	if s, ok := d.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if d.strs == nil {
		d.strs = make(map[string]string)
	}
	if len(d.strs) < maxInterned {
		d.strs[s] = s
	}
	return s
}

func (d *Decoder) values(n int) []uint64 {
	if d == nil || n > 64 {
		return make([]uint64, n)
	}
	if len(d.slab) < n {
		d.slab = make([]uint64, 512)
	}
	v := d.slab[:n:n]
	d.slab = d.slab[n:]
	return v
}

// fits reports the format version of frames read without a source frame,
// or 0 when they fit neither format. It allocates nothing; shapeError
// explains a 0.
func fits(frames [][]byte, bo binary.ByteOrder) int {
	if len(frames) == 0 {
		return 0
	}
	switch len(frames[0]) {
	case 6:
		if len(frames) == 2 {
			return 1
		}
	case 8:
		if len(frames) < 4 || len(frames[1]) != 8 {
			return 0
		}
		n := bo.Uint64(frames[1])
		if n > MaxValues || uint64(len(frames)) != n+4 {
			return 0
		}
		for i := 2; i < 2+int(n); i++ {
			if len(frames[i]) != 8 {
				return 0
			}
		}
		return 2
	}
	return 0
}

// shapeError says why frames, read without a source frame, fit no format.
func shapeError(frames [][]byte, bo binary.ByteOrder) error {
	if len(frames) == 0 {
		return ErrNoFrames
	}
	switch len(frames[0]) {
	case 6:
		return fmt.Errorf("%w: v1 event frame (6 bytes) followed by %d frames, want 1 endpoint frame", ErrShape, len(frames)-1)
	case 8:
		if len(frames) < 2 || len(frames[1]) != 8 {
			return fmt.Errorf("%w: v2 event frame (8 bytes) not followed by an 8-byte value count (frames %s)", ErrShape, sizes(frames))
		}
		n := bo.Uint64(frames[1])
		if n > MaxValues {
			return fmt.Errorf("%w: %d values (limit %d)", ErrTooManyValues, n, MaxValues)
		}
		if uint64(len(frames)) != n+4 {
			return fmt.Errorf("%w: count %d needs %d frames, got %d", ErrValueCount, n, n+4, len(frames))
		}
		for i := 2; i < 2+int(n); i++ {
			if len(frames[i]) != 8 {
				return fmt.Errorf("%w: value %d is %d bytes", ErrValueSize, i-2, len(frames[i]))
			}
		}
		return nil
	}
	return fmt.Errorf("%w: first frame is %d bytes, not a v1 (6) or v2 (8) event frame (frames %s)", ErrShape, len(frames[0]), sizes(frames))
}

func decode(ev *Event, frames [][]byte, opts DecodeOptions, d *Decoder) error {
	bo := opts.ByteOrder
	if bo == nil {
		bo = binary.LittleEndian
	}
	if len(frames) == 0 {
		return ErrNoFrames
	}
	var (
		body    = frames
		ver     int
		hasSrc  bool
		srcFrom []byte
	)
	switch opts.Source {
	case SourceNever:
		if ver = fits(frames, bo); ver == 0 {
			return shapeError(frames, bo)
		}
	case SourceAlways:
		if len(frames) < 2 {
			return fmt.Errorf("%w: only %d frame, want a source frame and an event", ErrShape, len(frames))
		}
		hasSrc, srcFrom, body = true, frames[0], frames[1:]
		if ver = fits(body, bo); ver == 0 {
			return fmt.Errorf("after the source frame: %w", shapeError(body, bo))
		}
	default:
		v0 := fits(frames, bo)
		v1 := 0
		if len(frames) > 1 {
			v1 = fits(frames[1:], bo)
		}
		switch {
		case v0 != 0 && v1 != 0:
			// Only an 8-byte source frame before a v2 message gets here.
			if !EventCode(bo.Uint64(frames[0])).Known() && EventCode(bo.Uint64(frames[1])).Known() {
				hasSrc, srcFrom, body, ver = true, frames[0], frames[1:], v1
			} else {
				ver = v0
			}
		case v0 != 0:
			ver = v0
		case v1 != 0:
			hasSrc, srcFrom, body, ver = true, frames[0], frames[1:], v1
		default:
			// Explain by the reading that got further: when the first frame
			// cannot be an event frame but the second can, it was a source.
			if l := len(frames[0]); l != 6 && l != 8 && len(frames) > 1 {
				if l1 := len(frames[1]); l1 == 6 || l1 == 8 {
					return fmt.Errorf("after a %d-byte source frame: %w", l, shapeError(frames[1:], bo))
				}
			}
			return shapeError(frames, bo)
		}
	}

	*ev = Event{Version: ver}
	if hasSrc {
		if len(srcFrom) > MaxSourceLen {
			return fmt.Errorf("%w: %d bytes (limit %d)", ErrSourceTooLong, len(srcFrom), MaxSourceLen)
		}
		ev.HasSource = true
		ev.Source = d.str(srcFrom)
	}
	switch ver {
	case 1:
		ev.Code = EventCode(bo.Uint16(body[0][0:2]))
		ev.Value = uint64(bo.Uint32(body[0][2:6]))
		ev.Values = d.values(1)
		ev.Values[0] = ev.Value
		if len(body[1]) > MaxEndpointLen {
			return fmt.Errorf("%w: %d bytes (limit %d)", ErrEndpointLong, len(body[1]), MaxEndpointLen)
		}
		ev.Endpoint = d.str(body[1])
	case 2:
		ev.Code = EventCode(bo.Uint64(body[0]))
		n := int(bo.Uint64(body[1])) // shapeOf bounded it by MaxValues
		if n > 0 {
			ev.Values = d.values(n)
			for i := range n {
				ev.Values[i] = bo.Uint64(body[2+i])
			}
			ev.Value = ev.Values[0]
		}
		local, remote := body[2+n], body[3+n]
		if len(local) > MaxEndpointLen || len(remote) > MaxEndpointLen {
			return fmt.Errorf("%w: %d and %d bytes (limit %d)", ErrEndpointLong, len(local), len(remote), MaxEndpointLen)
		}
		ev.Endpoint = d.str(local)
		ev.RemoteEndpoint = d.str(remote)
	}
	ev.interpret()
	return nil
}

// sizes lists frame sizes for error messages, eliding after 8 frames.
func sizes(frames [][]byte) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, f := range frames {
		if i == 8 {
			fmt.Fprintf(&b, " ... %d frames", len(frames))
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d", len(f))
	}
	b.WriteByte(']')
	return b.String()
}

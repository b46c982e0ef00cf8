package dissect

import (
	"errors"
	"time"

	"github.com/zspy/zspy/zmtp"
)

// Kind is the kind of a dissector event.
type Kind uint8

// Event kinds.
const (
	// KindGreeting: a side's greeting is complete (Version, Mechanism, AsServer,
	// and for 2.0 greetings SocketType).
	KindGreeting Kind = iota + 1
	// KindCommand: a command frame (Cmd, Body and the parsed fields for it).
	KindCommand
	// KindFrame: a data frame (Size, More, Body holds its first bytes). Under CURVE,
	// every MESSAGE box is reported as a KindFrame with Curve set and Plain its
	// plaintext size.
	KindFrame
	// KindIdentity: the identity frame that opens a ZMTP 1.0 or 2.0 stream.
	KindIdentity
	// KindGap: Lost bytes of the stream were not captured. If they fell outside a
	// frame body, the dissector lost the frame boundaries and resynchronises.
	KindGap
	// KindResync: the dissector found frame boundaries again after Skipped bytes.
	KindResync
	// KindMalformed: something on the wire broke the protocol (Err says what).
	KindMalformed
)

func (k Kind) String() string {
	switch k {
	case KindGreeting:
		return "greeting"
	case KindCommand:
		return "command"
	case KindFrame:
		return "frame"
	case KindIdentity:
		return "identity"
	case KindGap:
		return "gap"
	case KindResync:
		return "resync"
	case KindMalformed:
		return "malformed"
	}
	return "unknown"
}

// Property is one metadata property of READY or INITIATE. Name and Value alias
// dissector buffers.
type Property struct {
	Name, Value []byte
	// ValueLen is the declared length, larger than len(Value) when the value was
	// cut by the command capture cap or by missing bytes.
	ValueLen uint32
}

// Event is one thing the dissector decoded. The dissector reuses one Event per
// connection: a Handler must copy whatever it keeps before returning, and all
// byte slices alias dissector buffers.
type Event struct {
	Kind   Kind
	Dir    zmtp.Dir
	TS     time.Time
	Offset uint64 // stream offset (in this direction) where the item started

	// Greeting.
	Version    zmtp.Version
	Mechanism  zmtp.Mechanism
	MechName   []byte // the mechanism field as sent, NUL padding removed
	AsServer   bool
	SocketType zmtp.SocketType // from a 2.0-style greeting, else zmtp.SocketUnknown

	// Frames and commands.
	Size     uint64 // body size from the frame header
	More     bool
	Long     bool
	Body     []byte // the captured prefix of the body (all of it when Complete)
	Complete bool   // Body holds the whole body
	Lost     uint64 // body bytes that were not captured (gaps, snap length)
	// Derived marks a frame whose header lay in a gap: counted by the
	// steady-stream hypothesis (derive.go), not seen. Its Lost is its size.
	Derived bool
	Curve   bool   // a CURVE MESSAGE box
	Plain   int64  // CURVE: plaintext payload size (box minus MAC and flags byte)
	Nonce   uint64 // CURVE: the short nonce of a MESSAGE, HELLO, INITIATE or READY

	// Commands.
	Cmd      zmtp.Command
	CmdName  []byte // the name as sent
	Props    []Property
	Username []byte // PLAIN HELLO
	Password []byte // PLAIN HELLO
	Reason   []byte // ERROR
	Topic    []byte // SUBSCRIBE, CANCEL (also 3.0-style subscription messages), JOIN, LEAVE
	Legacy   bool   // a 3.0-style subscription message (0x01/0x00 prefix)
	TTL      uint16 // PING, in tenths of a second
	Context  []byte // PING, PONG

	// Gaps, resyncs and malformed input.
	Skipped uint64
	Err     error
}

// Sentinel errors carried in KindMalformed events, to be sorted with errors.Is.
var (
	ErrBadFlags      = errors.New("invalid frame flags")
	ErrBadSize       = errors.New("frame size out of range")
	ErrHugeFrame     = errors.New("implausibly large frame")
	ErrBadCommand    = errors.New("malformed command")
	ErrBadMetadata   = errors.New("malformed metadata")
	ErrBadGreeting   = errors.New("malformed greeting")
	ErrLostSync      = errors.New("lost frame boundaries")
	ErrCommandCut    = errors.New("command larger than the capture cap")
	ErrTruncatedEnd  = errors.New("stream ended inside a frame")
	ErrMechMismatch  = errors.New("mechanism mismatch")
	ErrUnexpectedCmd = errors.New("unexpected command")
)

// Handler receives dissector events. It runs on the pipeline goroutine and must
// not keep e or any slice in it after returning.
type Handler interface {
	Event(e *Event)
}

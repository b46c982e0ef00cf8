package dissect

import (
	"errors"
	"time"

	"github.com/zspy/zspy/reassembly"
)

// Version is a ZMTP protocol version.
type Version uint8

// ZMTP versions, in increasing order so that the lower of two sides' versions is
// the one a connection speaks.
const (
	VersionUnknown Version = iota
	V10
	V20
	V30
	V31
)

func (v Version) String() string {
	switch v {
	case V10:
		return "1.0"
	case V20:
		return "2.0"
	case V30:
		return "3.0"
	case V31:
		return "3.1"
	}
	return ""
}

// Mechanism is a ZMTP security mechanism.
type Mechanism uint8

// Security mechanisms. MechOther is a name zspy does not know (its bodies are
// treated as opaque).
const (
	MechUnknown Mechanism = iota
	MechNULL
	MechPLAIN
	MechCURVE
	MechGSSAPI
	MechOther
)

func (m Mechanism) String() string {
	switch m {
	case MechNULL:
		return "NULL"
	case MechPLAIN:
		return "PLAIN"
	case MechCURVE:
		return "CURVE"
	case MechGSSAPI:
		return "GSSAPI"
	case MechOther:
		return "OTHER"
	}
	return ""
}

// SocketType is a ZeroMQ socket type as numbered in libzmq's zmq.h.
type SocketType int8

// Socket types. SocketUnknown means not (yet) known.
const (
	SocketUnknown SocketType = -1
	PAIR          SocketType = 0
	PUB           SocketType = 1
	SUB           SocketType = 2
	REQ           SocketType = 3
	REP           SocketType = 4
	DEALER        SocketType = 5
	ROUTER        SocketType = 6
	PULL          SocketType = 7
	PUSH          SocketType = 8
	XPUB          SocketType = 9
	XSUB          SocketType = 10
	STREAM        SocketType = 11
	SERVER        SocketType = 12
	CLIENT        SocketType = 13
	RADIO         SocketType = 14
	DISH          SocketType = 15
	GATHER        SocketType = 16
	SCATTER       SocketType = 17
	DGRAM         SocketType = 18
	PEER          SocketType = 19
	CHANNEL       SocketType = 20
)

var socketNames = [...]string{"PAIR", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PULL", "PUSH",
	"XPUB", "XSUB", "STREAM", "SERVER", "CLIENT", "RADIO", "DISH", "GATHER", "SCATTER", "DGRAM", "PEER", "CHANNEL"}

func (s SocketType) String() string {
	if s >= 0 && int(s) < len(socketNames) {
		return socketNames[s]
	}
	return ""
}

// ParseSocketType maps a Socket-Type metadata value to a SocketType.
func ParseSocketType(b []byte) SocketType {
	for i, n := range socketNames {
		if string(b) == n {
			return SocketType(i)
		}
	}
	return SocketUnknown
}

// Compatible reports whether two socket types may talk to each other (libzmq's
// mechanism_t::check_socket_type, which agrees with RFC 37).
func Compatible(a, b SocketType) bool {
	ok := func(x SocketType, ys ...SocketType) bool {
		for _, y := range ys {
			if x == y {
				return true
			}
		}
		return false
	}
	switch a {
	case REQ:
		return ok(b, REP, ROUTER)
	case REP:
		return ok(b, REQ, DEALER)
	case DEALER:
		return ok(b, REP, DEALER, ROUTER)
	case ROUTER:
		return ok(b, REQ, DEALER, ROUTER)
	case PUB, XPUB:
		return ok(b, SUB, XSUB)
	case SUB, XSUB:
		return ok(b, PUB, XPUB)
	case PUSH:
		return b == PULL
	case PULL:
		return b == PUSH
	case PAIR:
		return b == PAIR
	case SERVER:
		return b == CLIENT
	case CLIENT:
		return b == SERVER
	case RADIO:
		return b == DISH
	case DISH:
		return b == RADIO
	case SCATTER:
		return b == GATHER
	case GATHER:
		return b == SCATTER
	case PEER:
		return b == PEER
	case CHANNEL:
		return b == CHANNEL
	case DGRAM:
		return b == DGRAM
	}
	return false
}

// Command identifies a ZMTP command.
type Command uint8

// ZMTP commands. CmdOther is a well-formed command with a name zspy does not know.
const (
	CmdNone Command = iota
	CmdREADY
	CmdHELLO
	CmdWELCOME
	CmdINITIATE
	CmdERROR
	CmdSUBSCRIBE
	CmdCANCEL
	CmdPING
	CmdPONG
	CmdJOIN
	CmdLEAVE
	CmdMESSAGE
	CmdOther
)

var commandNames = [...]string{"", "READY", "HELLO", "WELCOME", "INITIATE", "ERROR", "SUBSCRIBE",
	"CANCEL", "PING", "PONG", "JOIN", "LEAVE", "MESSAGE", "OTHER"}

func (c Command) String() string { return commandNames[c] }

func lookupCommand(name []byte) Command {
	for i := CmdREADY; i < CmdOther; i++ {
		if string(name) == commandNames[i] {
			return i
		}
	}
	return CmdOther
}

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
	Dir    reassembly.Dir
	TS     time.Time
	Offset uint64 // stream offset (in this direction) where the item started

	// Greeting.
	Version    Version
	Mechanism  Mechanism
	MechName   []byte // the mechanism field as sent, NUL padding removed
	AsServer   bool
	SocketType SocketType // from a 2.0-style greeting, else SocketUnknown

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
	Cmd      Command
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

package zmtp

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

// MarshalText returns String's text.
func (s SocketType) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

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

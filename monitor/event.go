package monitor

import (
	"strconv"
	"time"
)

// EventCode is a libzmq socket-monitor event code (ZMQ_EVENT_*).
type EventCode uint64

// The event codes of libzmq's include/zmq.h; PIPES_STATS is a draft event that
// only the v2 format carries.
const (
	EventConnected               EventCode = 0x0001
	EventConnectDelayed          EventCode = 0x0002
	EventConnectRetried          EventCode = 0x0004
	EventListening               EventCode = 0x0008
	EventBindFailed              EventCode = 0x0010
	EventAccepted                EventCode = 0x0020
	EventAcceptFailed            EventCode = 0x0040
	EventClosed                  EventCode = 0x0080
	EventCloseFailed             EventCode = 0x0100
	EventDisconnected            EventCode = 0x0200
	EventMonitorStopped          EventCode = 0x0400
	EventHandshakeFailedNoDetail EventCode = 0x0800
	EventHandshakeSucceeded      EventCode = 0x1000
	EventHandshakeFailedProtocol EventCode = 0x2000
	EventHandshakeFailedAuth     EventCode = 0x4000
	EventPipesStats              EventCode = 0x10000
)

// Name returns the libzmq name of a known code without the ZMQ_EVENT_ prefix
// (e.g. "CONNECTED"), or "" for a code libzmq does not define.
func (c EventCode) Name() string {
	switch c {
	case EventConnected:
		return "CONNECTED"
	case EventConnectDelayed:
		return "CONNECT_DELAYED"
	case EventConnectRetried:
		return "CONNECT_RETRIED"
	case EventListening:
		return "LISTENING"
	case EventBindFailed:
		return "BIND_FAILED"
	case EventAccepted:
		return "ACCEPTED"
	case EventAcceptFailed:
		return "ACCEPT_FAILED"
	case EventClosed:
		return "CLOSED"
	case EventCloseFailed:
		return "CLOSE_FAILED"
	case EventDisconnected:
		return "DISCONNECTED"
	case EventMonitorStopped:
		return "MONITOR_STOPPED"
	case EventHandshakeFailedNoDetail:
		return "HANDSHAKE_FAILED_NO_DETAIL"
	case EventHandshakeSucceeded:
		return "HANDSHAKE_SUCCEEDED"
	case EventHandshakeFailedProtocol:
		return "HANDSHAKE_FAILED_PROTOCOL"
	case EventHandshakeFailedAuth:
		return "HANDSHAKE_FAILED_AUTH"
	case EventPipesStats:
		return "PIPES_STATS"
	}
	return ""
}

// Known reports whether libzmq defines the code.
func (c EventCode) Known() bool { return c.Name() != "" }

// String returns the name of a known code, or the code in hex (e.g. "0x40000").
func (c EventCode) String() string {
	if n := c.Name(); n != "" {
		return n
	}
	return "0x" + strconv.FormatUint(uint64(c), 16)
}

// ValueKind says what an event's value means.
type ValueKind uint8

// The meanings libzmq gives to event values.
const (
	ValueUnknown       ValueKind = iota // an unknown code: the value is just a number
	ValueNone                           // always 0 (HANDSHAKE_SUCCEEDED, MONITOR_STOPPED)
	ValueFD                             // a file descriptor
	ValueErrno                          // an errno
	ValueInterval                       // the next reconnect interval, in ms
	ValueProtocolError                  // a ZMQ_PROTOCOL_ERROR_* code
	ValueZAPStatus                      // a ZAP status code (300, 400, 500)
	ValueQueueDepths                    // two values: outbound and inbound messages queued
)

// ValueKind returns what the value of an event with this code means.
func (c EventCode) ValueKind() ValueKind {
	switch c {
	case EventConnected, EventListening, EventAccepted, EventClosed, EventDisconnected:
		return ValueFD
	case EventConnectDelayed, EventBindFailed, EventAcceptFailed, EventCloseFailed, EventHandshakeFailedNoDetail:
		return ValueErrno
	case EventConnectRetried:
		return ValueInterval
	case EventHandshakeFailedProtocol:
		return ValueProtocolError
	case EventHandshakeFailedAuth:
		return ValueZAPStatus
	case EventPipesStats:
		return ValueQueueDepths
	case EventHandshakeSucceeded, EventMonitorStopped:
		return ValueNone
	}
	return ValueUnknown
}

// Event is one decoded socket-monitor event. Decode fills everything except
// Time and Via, which the receiver sets; the interpretation fields are set
// only when Code's ValueKind gives them a meaning and are zero otherwise.
type Event struct {
	// Time is when zspy received the event (the wall clock of the subscriber,
	// or the packet time when decoded from a capture).
	Time time.Time
	// Via is the zspy-side endpoint the event arrived on.
	Via string
	// HasSource reports whether a leading source frame came with the event.
	HasSource bool
	// Source names the application and socket, from the source frame.
	Source string
	// Version is the message format: 1 (zmq_socket_monitor) or 2
	// (zmq_socket_monitor_versioned).
	Version int
	// Code is the event code.
	Code EventCode
	// Name is Code's libzmq name without prefix, or the code in hex when unknown.
	Name string
	// Value is the first value (v1: the only one, 32 bits; 0 when v2 sent none).
	Value uint64
	// Values holds every value in order (v1: one). Treat it as read-only.
	Values []uint64
	// Endpoint is v1's endpoint (the bound one for listener events, the remote
	// one for connect events) or v2's local endpoint.
	Endpoint string
	// RemoteEndpoint is v2's remote endpoint; v1 has none.
	RemoteEndpoint string

	// FD is the file descriptor, for CONNECTED, LISTENING, ACCEPTED, CLOSED
	// and DISCONNECTED.
	FD int64
	// Errno and ErrnoName give the errno of CONNECT_DELAYED, BIND_FAILED,
	// ACCEPT_FAILED, CLOSE_FAILED and HANDSHAKE_FAILED_NO_DETAIL, named by
	// Linux numbering (and libzmq's own EFSM, ENOCOMPATPROTO, ETERM, EMTHREAD).
	Errno     int64
	ErrnoName string
	// ProtocolError names the ZMQ_PROTOCOL_ERROR_* code of
	// HANDSHAKE_FAILED_PROTOCOL without prefix (e.g. "ZMTP_MECHANISM_MISMATCH"),
	// or gives it in hex when unknown.
	ProtocolError string
	// ZAPStatus and ZAPStatusText give the ZAP status of HANDSHAKE_FAILED_AUTH.
	ZAPStatus     int64
	ZAPStatusText string
	// ReconnectInterval is CONNECT_RETRIED's next reconnect interval.
	ReconnectInterval time.Duration
	// Outbound and Inbound are PIPES_STATS' queue depths in messages: queued
	// towards the peer, and received from it but not yet read by the application.
	Outbound, Inbound uint64
}

// interpret fills the interpretation fields from Code and Values.
func (e *Event) interpret() {
	e.Name = e.Code.String()
	switch e.Code.ValueKind() {
	case ValueFD:
		e.FD = int64(e.Value)
		if e.Version == 1 {
			e.FD = int64(int32(uint32(e.Value)))
		}
	case ValueErrno:
		e.Errno = int64(e.Value)
		e.ErrnoName = ErrnoName(e.Value)
	case ValueInterval:
		if e.Value <= uint64(1<<63-1)/uint64(time.Millisecond) {
			e.ReconnectInterval = time.Duration(e.Value) * time.Millisecond
		}
	case ValueProtocolError:
		e.ProtocolError = ProtocolErrorName(e.Value)
	case ValueZAPStatus:
		e.ZAPStatus = int64(e.Value)
		e.ZAPStatusText = ZAPStatusText(e.Value)
	case ValueQueueDepths:
		if len(e.Values) > 0 {
			e.Outbound = e.Values[0]
		}
		if len(e.Values) > 1 {
			e.Inbound = e.Values[1]
		}
	}
}

// libzmq's own errno values, above ZMQ_HAUSNUMERO (156384712).
const (
	zmqHausnumero = 156384712
	errnoEFSM     = zmqHausnumero + 51
)

// ErrnoName returns the name of a Linux errno value (e.g. "ECONNREFUSED"),
// libzmq's EFSM, ENOCOMPATPROTO, ETERM or EMTHREAD, or "" when unknown.
func ErrnoName(v uint64) string {
	if v < uint64(len(linuxErrno)) {
		return linuxErrno[v]
	}
	switch v {
	case errnoEFSM:
		return "EFSM"
	case errnoEFSM + 1:
		return "ENOCOMPATPROTO"
	case errnoEFSM + 2:
		return "ETERM"
	case errnoEFSM + 3:
		return "EMTHREAD"
	}
	return ""
}

// ProtocolErrorName returns the name of a ZMQ_PROTOCOL_ERROR_* code without
// prefix (e.g. "ZMTP_MECHANISM_MISMATCH"), or the code in hex when unknown.
func ProtocolErrorName(v uint64) string {
	switch v {
	case 0x10000000:
		return "ZMTP_UNSPECIFIED"
	case 0x10000001:
		return "ZMTP_UNEXPECTED_COMMAND"
	case 0x10000002:
		return "ZMTP_INVALID_SEQUENCE"
	case 0x10000003:
		return "ZMTP_KEY_EXCHANGE"
	case 0x10000011:
		return "ZMTP_MALFORMED_COMMAND_UNSPECIFIED"
	case 0x10000012:
		return "ZMTP_MALFORMED_COMMAND_MESSAGE"
	case 0x10000013:
		return "ZMTP_MALFORMED_COMMAND_HELLO"
	case 0x10000014:
		return "ZMTP_MALFORMED_COMMAND_INITIATE"
	case 0x10000015:
		return "ZMTP_MALFORMED_COMMAND_ERROR"
	case 0x10000016:
		return "ZMTP_MALFORMED_COMMAND_READY"
	case 0x10000017:
		return "ZMTP_MALFORMED_COMMAND_WELCOME"
	case 0x10000018:
		return "ZMTP_INVALID_METADATA"
	case 0x11000001:
		return "ZMTP_CRYPTOGRAPHIC"
	case 0x11000002:
		return "ZMTP_MECHANISM_MISMATCH"
	case 0x20000000:
		return "ZAP_UNSPECIFIED"
	case 0x20000001:
		return "ZAP_MALFORMED_REPLY"
	case 0x20000002:
		return "ZAP_BAD_REQUEST_ID"
	case 0x20000003:
		return "ZAP_BAD_VERSION"
	case 0x20000004:
		return "ZAP_INVALID_STATUS_CODE"
	case 0x20000005:
		return "ZAP_INVALID_METADATA"
	case 0x30000000:
		return "WS_UNSPECIFIED"
	}
	return "0x" + strconv.FormatUint(v, 16)
}

// ZAPStatusText returns RFC 27's meaning of a ZAP status code, or "" when unknown.
func ZAPStatusText(v uint64) string {
	switch v {
	case 200:
		return "success"
	case 300:
		return "temporary failure"
	case 400:
		return "authentication failure"
	case 500:
		return "internal error"
	}
	return ""
}

package tracker

import (
	"time"

	"github.com/zspy/zspy/dissect"
	"github.com/zspy/zspy/zmtp"
)

// EventType names a tracker event.
type EventType string

// Event types, as printed by `zspy replay --events`.
const (
	EvGreeting     EventType = "greeting"
	EvCommand      EventType = "command"
	EvMessage      EventType = "message"
	EvSubscription EventType = "subscription"
	EvIdentity     EventType = "identity"
	EvGap          EventType = "gap"
	EvResync       EventType = "resync"
	EvError        EventType = "error"
)

// Event is one decoded event of a connection, in packet order. The tracker
// reuses one Event: listeners copy what they keep.
type Event struct {
	Type   EventType
	TS     time.Time
	Packet uint64
	// The connection's ID and endpoints ("ip:port"), and its counters after
	// the event: messages (CURVE boxes under CURVE) and bytes per direction.
	ConnID         uint64
	Client, Server string
	Msgs, Bytes    [2]uint64
	Dir            zmtp.Dir
	// The sides' socket types as they said them so far (READY or the
	// greeting; SocketUnknown until then), for display filters.
	ClientSocket, ServerSocket zmtp.SocketType

	Version    zmtp.Version
	Mechanism  zmtp.Mechanism
	SocketType zmtp.SocketType
	Command    zmtp.Command
	CmdName    []byte
	Props      []dissect.Property
	Username   []byte
	Password   []byte
	Reason     []byte
	TTL        uint16

	Frames   int
	Sizes    []uint64 // frame sizes (the first 32)
	MsgBytes uint64   // the message's bytes (a CURVE box's plaintext size)
	Preview  []byte   // the first bytes of the first frames, joined by '|'
	// Envelope hashes the frames before the last (sizes and first
	// LastPrefix bytes each: the routing envelope ROUTER and DEALER add and
	// strip); Last holds the last frame's first LastPrefix bytes (what a
	// proxy forwards unchanged) and LastSize its size.
	Envelope uint64
	Last     []byte
	LastSize uint64
	Curve    bool

	// Topic: a subscription's or identity's; a message's first frame (its
	// first 64 bytes), the topic of PUB/SUB traffic.
	Topic  []byte
	Cancel bool
	Legacy bool

	Lost    uint64
	Skipped uint64
	Err     error
}

func (t *Tracker) emit(c *conn, i int, e *dissect.Event) {
	if t.listener == nil {
		return
	}
	ev := &t.ev
	*ev = Event{TS: e.TS, Packet: t.Packet, Dir: zmtp.Dir(i)}
	c.eventHead(ev)
	switch e.Kind {
	case dissect.KindGreeting:
		ev.Type = EvGreeting
		ev.Version, ev.Mechanism, ev.SocketType = e.Version, e.Mechanism, e.SocketType
	case dissect.KindIdentity:
		ev.Type = EvIdentity
		ev.Topic = e.Body
	case dissect.KindCommand:
		ev.Type = EvCommand
		ev.Command, ev.CmdName, ev.Props = e.Cmd, e.CmdName, e.Props
		ev.Username, ev.Password, ev.Reason, ev.TTL = e.Username, e.Password, e.Reason, e.TTL
		ev.Err = e.Err
		if e.Cmd == zmtp.CmdSUBSCRIBE || e.Cmd == zmtp.CmdCANCEL {
			ev.Type = EvSubscription
			ev.Topic, ev.Cancel = e.Topic, e.Cmd == zmtp.CmdCANCEL
		}
	case dissect.KindFrame:
		switch {
		case e.Curve:
			ev.Type = EvMessage
			ev.Curve = true
			ev.Frames = 1
			if e.Plain > 0 {
				ev.MsgBytes = uint64(e.Plain)
			}
		case e.Legacy:
			ev.Type = EvSubscription
			ev.Topic, ev.Cancel, ev.Legacy = e.Topic, e.Cmd == zmtp.CmdCANCEL, true
		default:
			return // reported whole by emitMessage
		}
	case dissect.KindGap:
		ev.Type = EvGap
		ev.Lost = e.Lost
		ev.Err = e.Err
	case dissect.KindResync:
		ev.Type = EvResync
		ev.Skipped = e.Skipped
	case dissect.KindMalformed:
		ev.Type = EvError
		ev.Err = e.Err
	default:
		return
	}
	t.listener.TrackerEvent(ev)
}

func (t *Tracker) emitMessage(c *conn, i int, m *msgAcc, e *dissect.Event) {
	if t.listener == nil {
		return
	}
	ev := &t.ev
	*ev = Event{Type: EvMessage, TS: e.TS, Packet: t.Packet, Dir: zmtp.Dir(i),
		Frames: m.frames, Sizes: m.sizes, MsgBytes: m.bytes, Preview: m.preview, Topic: m.topic[:m.topicN],
		Envelope: m.env, Last: m.last[:m.lastN], LastSize: m.lastSize}
	c.eventHead(ev)
	t.listener.TrackerEvent(ev)
}

// eventHead fills in the connection's part of an event.
func (c *conn) eventHead(ev *Event) {
	c.name()
	ev.ConnID, ev.Client, ev.Server = c.ID, c.ClientName, c.ServerName
	ev.ClientSocket, ev.ServerSocket = c.Sides[0].SocketType, c.Sides[1].SocketType
	for i := range c.Dirs {
		ev.Msgs[i] = c.Dirs[i].Messages
		if c.Curve {
			ev.Msgs[i] = c.Dirs[i].Frames
		}
		ev.Bytes[i] = c.Dirs[i].Bytes
	}
}

// LastPrefix is how many bytes of a message's frames an event's Envelope
// hash and Last hold.
const LastPrefix = 32

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// fnvAdd folds a frame's size and first LastPrefix bytes into h (FNV-1a).
func fnvAdd(h, size uint64, body []byte) uint64 {
	for i := 0; i < 8; i++ {
		h = (h ^ (size >> (8 * i) & 0xff)) * fnvPrime
	}
	if len(body) > LastPrefix {
		body = body[:LastPrefix]
	}
	for _, b := range body {
		h = (h ^ uint64(b)) * fnvPrime
	}
	return h
}

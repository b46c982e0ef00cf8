package session

import (
	"fmt"
	"time"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// Message log retention: the last GlobalLogLen events of all connections, and
// the last ConnLogLen of the connection the detail view shows.
const (
	GlobalLogLen = 4096
	ConnLogLen   = 200
	// MaxSizes and MaxPreview bound what one log entry keeps.
	MaxSizes   = 8
	MaxPreview = 64
)

// LogEntry is one decoded event as the detail view's log shows it. Entries are
// fixed-size: logging allocates nothing per event.
type LogEntry struct {
	TS     time.Time
	Packet uint64
	Conn   uint64
	Dir    int8
	Type   tracker.EventType
	Frames int
	Bytes  uint64
	// Sizes are the first frame sizes (NSizes of them).
	Sizes  [MaxSizes]uint64
	NSizes uint8
	// Data is the message preview (first bytes of the first frames, joined by
	// '|'), a command's name, a topic or an error text.
	Data  [MaxPreview]byte
	NData uint8
	Curve bool
	// Cancel marks an unsubscription; Lost and Skipped a gap's bytes.
	Cancel        bool
	Lost, Skipped uint64
}

// DataBytes returns the entry's data.
func (e *LogEntry) DataBytes() []byte { return e.Data[:e.NData] }

func (e *LogEntry) setData(b []byte) {
	e.NData = uint8(copy(e.Data[:], b))
}

// MessageLog is a tracker.Listener that keeps recent events in bounded rings.
// It belongs to the session's goroutine, which feeds it and copies the
// selected connection's events into each update (Detail.Log).
type MessageLog struct {
	global    []LogEntry
	gHead, gN int
	selected  uint64
	conn      []LogEntry
	cHead     int
	cN        int
	// cSeen counts the selected connection's events since it was selected
	// (the seeded ones included): a reader of Recent takes the entries
	// beyond those it has, and counts those it missed.
	cSeen uint64
	total uint64
}

var _ tracker.Listener = (*MessageLog)(nil)

// NewMessageLog returns an empty log.
func NewMessageLog() *MessageLog {
	return &MessageLog{global: make([]LogEntry, GlobalLogLen), conn: make([]LogEntry, ConnLogLen)}
}

// TrackerEvent records e.
func (l *MessageLog) TrackerEvent(e *tracker.Event) {
	l.total++
	g := &l.global[l.gHead]
	fillEntry(g, e)
	l.gHead = (l.gHead + 1) % len(l.global)
	if l.gN < len(l.global) {
		l.gN++
	}
	if e.ConnID != 0 && e.ConnID == l.selected {
		l.cSeen++
		l.conn[l.cHead] = *g
		l.cHead = (l.cHead + 1) % len(l.conn)
		if l.cN < len(l.conn) {
			l.cN++
		}
	}
}

func fillEntry(g *LogEntry, e *tracker.Event) {
	*g = LogEntry{TS: e.TS, Packet: e.Packet, Dir: int8(e.Dir), Type: e.Type}
	g.Conn = e.ConnID
	switch e.Type {
	case tracker.EvMessage:
		g.Frames, g.Bytes, g.Curve = e.Frames, e.MsgBytes, e.Curve
		g.NSizes = uint8(copy(g.Sizes[:], e.Sizes))
		g.setData(e.Preview)
	case tracker.EvCommand:
		if e.Command == zmtp.CmdOther {
			g.setData(e.CmdName)
		} else {
			g.setData([]byte(e.Command.String()))
		}
	case tracker.EvSubscription, tracker.EvIdentity:
		g.Cancel = e.Cancel
		g.setData(e.Topic)
	case tracker.EvGreeting:
		var b [48]byte
		s := fmt.Appendf(b[:0], "ZMTP %s %s %s", e.Version, e.Mechanism, e.SocketType)
		g.setData(s)
	case tracker.EvGap:
		g.Lost = e.Lost
	case tracker.EvResync:
		g.Skipped = e.Skipped
	}
	if e.Err != nil && g.NData == 0 {
		g.setData([]byte(e.Err.Error()))
	}
}

// Select makes id the connection whose events are kept apart (the detail
// view's); its ring is seeded from the global one.
func (l *MessageLog) Select(id uint64) {
	if id == l.selected {
		return
	}
	l.selected = id
	l.cHead, l.cN, l.cSeen = 0, 0, 0
	start := (l.gHead - l.gN + len(l.global)) % len(l.global)
	for i := range l.gN {
		e := &l.global[(start+i)%len(l.global)]
		if e.Conn != id {
			continue
		}
		l.cSeen++
		l.conn[l.cHead] = *e
		l.cHead = (l.cHead + 1) % len(l.conn)
		if l.cN < len(l.conn) {
			l.cN++
		}
	}
}

// Recent returns a copy of the selected connection's kept events (at most
// ConnLogLen), oldest first, if id is the selected connection.
func (l *MessageLog) Recent(id uint64) []LogEntry {
	if id != l.selected {
		return nil
	}
	out := make([]LogEntry, 0, l.cN)
	start := (l.cHead - l.cN + len(l.conn)) % len(l.conn)
	for i := range l.cN {
		out = append(out, l.conn[(start+i)%len(l.conn)])
	}
	return out
}

// Seen returns how many events of the selected connection the log has
// seen since it was selected (Recent holds the last ConnLogLen of them).
func (l *MessageLog) Seen() uint64 { return l.cSeen }

// Total returns how many events the log has seen.
func (l *MessageLog) Total() uint64 {
	return l.total
}

package report

import (
	"bytes"
	"encoding/json"
	"io"
	"time"

	"github.com/zspy/zspy/internal/textsafe"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// EventLine is one line of `zspy replay --events`.
type EventLine struct {
	Time       time.Time         `json:"time"`
	Packet     uint64            `json:"packet"`
	Event      string            `json:"event"`
	Client     string            `json:"client"`
	Server     string            `json:"server"`
	Dir        string            `json:"dir"`
	Version    string            `json:"zmtp,omitempty"`
	Mechanism  string            `json:"mechanism,omitempty"`
	SocketType string            `json:"socket_type,omitempty"`
	Command    string            `json:"command,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	Username   string            `json:"username,omitempty"`
	Password   string            `json:"password,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	TTLds      *uint16           `json:"ttl_ds,omitempty"`
	Frames     int               `json:"frames,omitempty"`
	Sizes      []uint64          `json:"sizes,omitempty"`
	Bytes      *uint64           `json:"bytes,omitempty"`
	Preview    string            `json:"preview,omitempty"`
	Encrypted  bool              `json:"encrypted,omitempty"`
	Topic      *string           `json:"topic,omitempty"`
	Op         string            `json:"op,omitempty"`
	Lost       uint64            `json:"lost,omitempty"`
	Skipped    uint64            `json:"skipped,omitempty"`
	Error      string            `json:"error,omitempty"`
}

// EventWriter prints tracker events as JSON lines. It implements
// tracker.Listener.
type EventWriter struct {
	w    io.Writer
	buf  bytes.Buffer
	enc  *json.Encoder
	opt  Options
	Err  error // the first write error
	line EventLine
}

var _ tracker.Listener = (*EventWriter)(nil)

// NewEventWriter returns a writer of JSON event lines to w.
func NewEventWriter(w io.Writer, opt Options) *EventWriter {
	ew := &EventWriter{w: w, opt: opt}
	ew.enc = json.NewEncoder(&ew.buf)
	ew.enc.SetEscapeHTML(false)
	return ew
}

// TrackerEvent writes one event.
func (w *EventWriter) TrackerEvent(e *tracker.Event) {
	if w.Err != nil {
		return
	}
	l := &w.line
	*l = EventLine{Time: e.TS.UTC(), Packet: e.Packet, Event: string(e.Type),
		Dir: e.Dir.String(), Client: e.Client, Server: e.Server}
	switch e.Type {
	case tracker.EvGreeting:
		l.Version = e.Version.String()
		l.Mechanism = e.Mechanism.String()
		l.SocketType = e.SocketType.String()
	case tracker.EvIdentity:
		s := tracker.Printable(e.Topic)
		l.Topic = &s
	case tracker.EvCommand:
		l.Command = e.Command.String()
		if e.Command == zmtp.CmdOther {
			l.Command = tracker.Printable(e.CmdName)
		}
		if len(e.Props) > 0 {
			l.Metadata = make(map[string]string, len(e.Props))
			for _, p := range e.Props {
				l.Metadata[string(p.Name)] = tracker.Printable(p.Value)
			}
		}
		if e.Command == zmtp.CmdHELLO && (e.Username != nil || e.Password != nil) {
			l.Username = tracker.Printable(e.Username)
			l.Password = Redacted
			if w.opt.ShowSecrets {
				l.Password = tracker.Printable(e.Password)
			}
		}
		if e.Command == zmtp.CmdERROR {
			l.Reason = tracker.Printable(e.Reason)
		}
		if e.Command == zmtp.CmdPING {
			ttl := e.TTL
			l.TTLds = &ttl
		}
	case tracker.EvMessage:
		l.Frames = e.Frames
		l.Sizes = e.Sizes
		b := e.MsgBytes
		l.Bytes = &b
		l.Preview = preview(e.Preview)
		l.Encrypted = e.Curve
	case tracker.EvSubscription:
		s := tracker.Printable(e.Topic)
		l.Topic = &s
		l.Op = "subscribe"
		if e.Cancel {
			l.Op = "cancel"
		}
	case tracker.EvGap:
		l.Lost = e.Lost
	case tracker.EvResync:
		l.Skipped = e.Skipped
	}
	if e.Err != nil {
		l.Error = e.Err.Error()
	}
	// Metadata names and errors are peers' text: C1 controls and
	// bidirectional overrides go out \u-escaped (textsafe.JSON).
	w.buf.Reset()
	if w.Err = w.enc.Encode(l); w.Err == nil {
		_, w.Err = w.w.Write(textsafe.JSON(w.buf.Bytes()))
	}
}

// preview renders bytes for people: printable ASCII as is, other bytes as '.'.
func preview(b []byte) string {
	out := make([]byte, len(b))
	for i, ch := range b {
		if ch < 0x20 || ch > 0x7E {
			ch = '.'
		}
		out[i] = ch
	}
	return string(out)
}

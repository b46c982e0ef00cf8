package report

import (
	"io"
	"strconv"

	"github.com/zspy/zspy/internal/textsafe"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// TextEventWriter prints tracker events one line each, as tcpdump -l and
// tshark -l do: time, sender > receiver (with their socket types when the
// sides said them), and what happened:
//
//	14:03:07.120331 10.0.0.1:40000 (SUB) > 10.0.0.2:5556 (PUB) SUBSCRIBE "prices."
//	14:03:07.120702 10.0.0.2:5556 (PUB) > 10.0.0.1:40000 (SUB) message 2 frames 57 bytes "prices.eur|1.0842"
//
// Every byte a peer chose (topics, metadata, reasons, previews) is printable
// ASCII or hex (tracker.Printable), errors are escaped (textsafe). It
// implements tracker.Listener.
type TextEventWriter struct {
	w   io.Writer
	opt Options
	buf []byte
	Err error // the first write error
}

var _ tracker.Listener = (*TextEventWriter)(nil)

// NewTextEventWriter returns a writer of text event lines to w; each event
// is one write.
func NewTextEventWriter(w io.Writer, opt Options) *TextEventWriter {
	return &TextEventWriter{w: w, opt: opt, buf: make([]byte, 0, 256)}
}

// TrackerEvent writes one event.
func (w *TextEventWriter) TrackerEvent(e *tracker.Event) {
	if w.Err != nil {
		return
	}
	b := e.TS.UTC().AppendFormat(w.buf[:0], "15:04:05.000000")
	src, dst := e.Client, e.Server
	srcT, dstT := e.ClientSocket, e.ServerSocket
	if e.Dir == zmtp.ServerToClient {
		src, dst, srcT, dstT = dst, src, dstT, srcT
	}
	b = append(b, ' ')
	b = appendEnd(b, src, srcT)
	b = append(b, " > "...)
	b = appendEnd(b, dst, dstT)
	b = append(b, ' ')
	switch e.Type {
	case tracker.EvGreeting:
		b = append(b, "greeting ZMTP "...)
		b = append(b, e.Version.String()...)
		b = append(b, ' ')
		b = append(b, e.Mechanism.String()...)
		if s := e.SocketType.String(); s != "" {
			b = append(b, " socket "...)
			b = append(b, s...)
		}
	case tracker.EvIdentity:
		b = append(b, "identity "...)
		b = strconv.AppendQuote(b, tracker.Printable(e.Topic))
	case tracker.EvCommand:
		if e.Command == zmtp.CmdOther {
			b = strconv.AppendQuote(append(b, "command "...), tracker.Printable(e.CmdName))
		} else {
			b = append(b, e.Command.String()...)
		}
		for _, p := range e.Props {
			b = append(b, ' ')
			b = append(b, tracker.Printable(p.Name)...)
			b = append(b, '=')
			b = strconv.AppendQuote(b, tracker.Printable(p.Value))
		}
		switch e.Command {
		case zmtp.CmdHELLO:
			if e.Username != nil || e.Password != nil {
				b = strconv.AppendQuote(append(b, " username "...), tracker.Printable(e.Username))
				pw := Redacted
				if w.opt.ShowSecrets {
					pw = strconv.Quote(tracker.Printable(e.Password))
				}
				b = append(append(b, " password "...), pw...)
			}
		case zmtp.CmdERROR:
			b = strconv.AppendQuote(append(b, " reason "...), tracker.Printable(e.Reason))
		case zmtp.CmdPING:
			b = strconv.AppendUint(append(b, " ttl "...), uint64(e.TTL)*100, 10)
			b = append(b, "ms"...)
		}
	case tracker.EvMessage:
		b = append(b, "message "...)
		if e.Curve {
			b = append(b, "(CURVE box) "...)
		}
		b = strconv.AppendInt(b, int64(e.Frames), 10)
		if e.Frames == 1 {
			b = append(b, " frame "...)
		} else {
			b = append(b, " frames "...)
		}
		b = strconv.AppendUint(b, e.MsgBytes, 10)
		b = append(b, " bytes"...)
		if len(e.Preview) > 0 {
			b = append(b, " \""...)
			b = append(b, preview(e.Preview)...)
			b = append(b, '"')
		}
	case tracker.EvSubscription:
		op := "SUBSCRIBE "
		if e.Cancel {
			op = "CANCEL "
		}
		b = strconv.AppendQuote(append(b, op...), tracker.Printable(e.Topic))
		if e.Legacy {
			b = append(b, " (as a message, ZMTP 3.0)"...)
		}
	case tracker.EvGap:
		b = strconv.AppendUint(append(b, "gap: "...), e.Lost, 10)
		b = append(b, " bytes lost"...)
	case tracker.EvResync:
		b = strconv.AppendUint(append(b, "resync: "...), e.Skipped, 10)
		b = append(b, " bytes skipped to the next frame"...)
	case tracker.EvError:
		b = append(b, "error"...)
	default:
		b = append(b, e.Type...)
	}
	if e.Err != nil {
		b = append(b, ": "...)
		b = append(b, textsafe.String(e.Err.Error())...)
	}
	b = append(b, '\n')
	w.buf = b[:0]
	_, w.Err = w.w.Write(b)
}

func appendEnd(b []byte, addr string, t zmtp.SocketType) []byte {
	b = append(b, addr...)
	if s := t.String(); s != "" {
		b = append(b, " ("...)
		b = append(b, s...)
		b = append(b, ')')
	}
	return b
}

package ui

import (
	"fmt"
	"strings"

	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/tracker"
)

// previewCut reports whether a message entry's preview shows less than the
// message: its frames' bytes beyond the preview's, less the '|' that join
// the frames in it.
func previewCut(e *session.LogEntry) bool {
	d := e.DataBytes()
	seps := min(max(e.Frames-1, 0), strings.Count(string(d), "|"))
	return e.Bytes > uint64(len(d)-seps)
}

// FormatEntry renders one log line: time, direction, event and what it
// carried (frames, sizes, hex and text preview for messages).
func FormatEntry(e *session.LogEntry, hexBytes int) string {
	var b strings.Builder
	b.WriteString(e.TS.UTC().Format("15:04:05.000000"))
	if e.Dir == 0 {
		b.WriteString(" ↑ ")
	} else {
		b.WriteString(" ↓ ")
	}
	d := e.DataBytes()
	switch e.Type {
	case tracker.EvMessage:
		if e.Curve {
			fmt.Fprintf(&b, "box %dB (encrypted)", e.Bytes)
			break
		}
		fmt.Fprintf(&b, "msg %dF %dB [", e.Frames, e.Bytes)
		for i := range int(e.NSizes) {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprint(&b, e.Sizes[i])
		}
		if e.Frames > int(e.NSizes) {
			b.WriteString(" …")
		}
		b.WriteString("] ")
		// The preview holds the first bytes of the first frames: say
		// when the message had more, so that a cut value does not read as
		// the whole (a topic "job-1" of "job-10").
		more := previewCut(e)
		if hexBytes > 0 {
			b.WriteString(HexPreview(d, hexBytes))
			if more && len(d) <= hexBytes {
				b.WriteString("…")
			}
			b.WriteString("  ")
		}
		b.WriteString(`"` + TextPreview(d) + `"`)
		if more {
			b.WriteString("…")
		}
	case tracker.EvSubscription:
		op := "SUBSCRIBE"
		if e.Cancel {
			op = "CANCEL"
		}
		fmt.Fprintf(&b, "%s %q", op, tracker.Printable(d))
	case tracker.EvCommand:
		fmt.Fprintf(&b, "command %s", TextPreview(d))
	case tracker.EvIdentity:
		fmt.Fprintf(&b, "identity %s", tracker.Printable(d))
	case tracker.EvGreeting:
		fmt.Fprintf(&b, "greeting %s", d)
	case tracker.EvGap:
		fmt.Fprintf(&b, "gap: %d bytes not captured", e.Lost)
	case tracker.EvResync:
		fmt.Fprintf(&b, "resync: skipped %d bytes", e.Skipped)
	case tracker.EvError:
		fmt.Fprintf(&b, "error: %s", d)
	default:
		fmt.Fprintf(&b, "%s %s", e.Type, TextPreview(d))
	}
	return b.String()
}

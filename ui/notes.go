package ui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// RowNotes are the short facts about a connection that no column of its own
// holds: the NOTES column joins them (cut with '…' when narrow) and the
// detail view lists them under "Notes". It is the one place such facts are
// derived from a record, so that a new fact the tracker records (a lone SUB
// that never subscribed, the refused attempts before a connection, the
// alert group a connection belongs to) joins the row, the detail and the
// filter's text by adding a line here.
func RowNotes(v *tracker.Record) []string {
	var out []string
	if v.RefusedBefore > 0 {
		// The client was refused while its server was not listening: this
		// connection delivered what it queued meanwhile.
		out = append(out, fmt.Sprintf("after %d refused over %s", v.RefusedBefore, fmtDur(v.NotListening())))
	}
	// A SUB that holds no subscription receives nothing (its PUB sends it
	// nothing, so the wire is silent): the tracker says so past its grace.
	// (Not when the tracker dropped subscriptions past its cap: one of them
	// may still hold.)
	switch {
	case v.SubDropped > 0:
	case v.NoSubscription && v.NeverSubscribed:
		out = append(out, "never subscribed: receives nothing")
	case v.NoSubscription:
		out = append(out, "unsubscribed: receives nothing")
	}
	if v.Outstanding > 0 {
		out = append(out, strconv.Itoa(v.Outstanding)+" unanswered")
	}
	if v.Dirs[0].Lost+v.Dirs[1].Lost > 0 {
		out = append(out, "bytes lost")
	}
	if v.MidStream {
		out = append(out, "mid-stream")
	}
	switch {
	case v.State == zmtp.StateEvicted:
		out = append(out, "evicted at the cap")
	case v.Unjoined:
		out = append(out, "came back after eviction, not joined")
	case v.Evictions > 0:
		// As the report says it.
		out = append(out, fmt.Sprintf("evicted and resumed %dx", v.Evictions))
	}
	return out
}

// subsText is the SUBS column: the subscribed topics, quoted ("" is
// everything), as printable text.
func subsText(topics []string) string {
	if len(topics) == 0 {
		return ""
	}
	var b strings.Builder
	for i, t := range topics {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('"')
		b.WriteString(t)
		b.WriteByte('"')
	}
	return b.String()
}

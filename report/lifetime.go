package report

import (
	"fmt"
	"io"
	"time"

	"github.com/zspy/zspy/tracker"
)

// RefusedAttempts is one start-up story: connects from a client host to a
// server endpoint refused (SYN answered by RST: nothing listened there)
// until one got through, collapsed into one entry instead of a row each.
type RefusedAttempts struct {
	ClientHost string    `json:"client_host"`
	Server     string    `json:"server"`
	Count      int       `json:"count"`
	First      time.Time `json:"first"`
	Last       time.Time `json:"last"`
	// NotListeningMS is how long the server was seen not listening: from
	// the first refused attempt to the connection that got through (to the
	// last attempt while none has).
	NotListeningMS float64 `json:"not_listening_ms"`
	// Connection is the ID of the connection that got through (0: none
	// yet); it delivered what the client queued meanwhile (Messages: what it
	// carried from client to server).
	Connection  uint64     `json:"connection,omitempty"`
	Established *time.Time `json:"established,omitempty"`
	Messages    *uint64    `json:"messages,omitempty"`
}

// Lifetime counts what the caps on tracked connections did (README,
// "Connection lifetime"): connections evicted to make room (oldest idle
// first) and what became of their traffic, and the closed connections
// summarised instead of listed (--keep-closed), added up so that totals
// stay exact.
type Lifetime struct {
	MaxConnections int    `json:"max_connections"`
	Evicted        uint64 `json:"evicted"`
	ForgotClosed   uint64 `json:"forgot_closed"`
	Resumed        uint64 `json:"resumed"`
	Unjoined       uint64 `json:"unjoined"`
	// EvictedForgotten counts evicted connections whose summary was
	// dropped too: their traffic, if it came back, was a new connection.
	EvictedForgotten uint64 `json:"evicted_forgotten"`
	// IdleClosed counts attempts never established (or half closed) closed
	// after the idle timeout.
	IdleClosed uint64 `json:"idle_closed"`
	// Summarised adds up the closed connections not listed (--keep-closed).
	Summarised Summarised `json:"summarised"`
	// RefusedTotal counts every refused connect; RefusedEpisodesDropped the
	// start-up entries dropped past tracker.MaxRefusedEpisodes.
	RefusedTotal           uint64 `json:"refused_total"`
	RefusedEpisodesDropped uint64 `json:"refused_episodes_dropped,omitempty"`
}

// Summarised adds up closed connections no longer listed.
type Summarised struct {
	Connections uint64 `json:"connections"`
	ZMTP        uint64 `json:"zmtp"`
	Refused     uint64 `json:"refused"`
	C2SMessages uint64 `json:"c2s_messages"`
	C2SBytes    uint64 `json:"c2s_bytes"`
	S2CMessages uint64 `json:"s2c_messages"`
	S2CBytes    uint64 `json:"s2c_bytes"`
}

// Refused makes the start-up entries of a snapshot's refusal episodes;
// conns are the report's connections (for the messages the connection that
// got through carried).
func Refused(snap *tracker.Snapshot, conns []Connection) []RefusedAttempts {
	if len(snap.Refused) == 0 {
		return nil
	}
	byID := make(map[uint64]*Connection, len(snap.Refused))
	for _, r := range snap.Refused {
		if r.Connection != 0 {
			byID[r.Connection] = nil
		}
	}
	for i := range conns {
		if _, ok := byID[conns[i].ID]; ok {
			byID[conns[i].ID] = &conns[i]
		}
	}
	out := make([]RefusedAttempts, 0, len(snap.Refused))
	for _, r := range snap.Refused {
		e := RefusedAttempts{ClientHost: r.ClientHost.String(), Server: r.Server.String(), Count: r.Count,
			First: r.First.UTC(), Last: r.Last.UTC(), NotListeningMS: ms(r.NotListening()), Connection: r.Connection}
		if r.Connection != 0 {
			t := r.Established.UTC()
			e.Established = &t
			if c := byID[r.Connection]; c != nil && c.C2S.Messages != nil {
				n := *c.C2S.Messages
				e.Messages = &n
			}
		}
		out = append(out, e)
	}
	return out
}

// SummarisedOf converts the tracker's summary.
func SummarisedOf(s tracker.Summary) Summarised {
	return Summarised{Connections: s.Connections, ZMTP: s.ZMTP, Refused: s.Refused,
		C2SMessages: s.Messages[0], C2SBytes: s.Bytes[0], S2CMessages: s.Messages[1], S2CBytes: s.Bytes[1]}
}

// clock prints a packet time of day (UTC) to the millisecond.
func clock(t time.Time) string { return t.UTC().Format("15:04:05.000") }

// writeStartupText prints one line per start-up story: how long the server
// was not listening, the refused connects collapsed, and the connection
// that got through.
func writeStartupText(w io.Writer, refused []RefusedAttempts) {
	for _, r := range refused {
		nl := time.Duration(r.NotListeningMS * float64(time.Millisecond)).Round(time.Millisecond)
		how := "was not listening for"
		if r.Connection == 0 {
			how = "not listening for at least"
		}
		fmt.Fprintf(w, "start-up: %s %s %s: %s from %s refused between %s and %s",
			r.Server, how, nl, plural(uint64(r.Count), "connect", "connects"), r.ClientHost, clock(r.First), clock(r.Last))
		switch {
		case r.Connection == 0:
			fmt.Fprint(w, "; none got through yet")
		case r.Messages != nil:
			fmt.Fprintf(w, "; connection %d got through at %s and delivered what was queued (%s from the client)",
				r.Connection, clock(*r.Established), plural(*r.Messages, "message", "messages"))
		default:
			fmt.Fprintf(w, "; connection %d got through at %s", r.Connection, clock(*r.Established))
		}
		fmt.Fprintln(w)
	}
}

// writeLifetimeText says what the caps on tracked connections did, when
// they did anything.
func writeLifetimeText(w io.Writer, l *Lifetime) {
	if l == nil {
		return
	}
	if l.Evicted+l.ForgotClosed > 0 {
		fmt.Fprintf(w, "connections: %d evicted at the cap of %d tracked (oldest idle first, not established before established; %d resumed when their traffic came back, %d not joined, %d summaries dropped), %d closed tombstones forgotten early\n",
			l.Evicted, l.MaxConnections, l.Resumed, l.Unjoined, l.EvictedForgotten, l.ForgotClosed)
	}
	if s := l.Summarised; s.Connections > 0 {
		fmt.Fprintf(w, "closed connections not listed (--keep-closed): %d (%d ZeroMQ, %d refused), carrying %d messages (%d bytes) client to server and %d (%d bytes) server to client\n",
			s.Connections, s.ZMTP, s.Refused, s.C2SMessages, s.C2SBytes, s.S2CMessages, s.S2CBytes)
	}
}

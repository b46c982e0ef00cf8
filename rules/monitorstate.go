package rules

import (
	"strings"
	"time"

	"github.com/zspy/zspy/monitor"
)

// Bounds of the monitor state the rules keep.
const (
	MaxPipes    = 4096 // sockets×peers whose latest PIPES_STATS is kept
	MaxRetries  = 1024 // CONNECT_RETRIED events kept (the newest)
	MaxFailures = 256  // HANDSHAKE_FAILED_* events kept (the newest)
)

// MonitorState is what the rules read from libzmq's socket monitors. Fold
// events into it with Observe (on the goroutine that calls Eval), or fill it
// directly; the rules only read it.
type MonitorState struct {
	// Pipes holds the latest PIPES_STATS per socket and peer.
	Pipes []PipeStat
	// Retries holds CONNECT_RETRIED events, oldest first.
	Retries []Retry
	// Failures holds HANDSHAKE_FAILED_* events, oldest first.
	Failures []HandshakeFailure
	// Dropped counts events not kept because of the bounds above.
	Dropped uint64
}

// PipeStat is one PIPES_STATS report: messages queued towards the peer
// (Outbound) and received from it but not yet read (Inbound).
type PipeStat struct {
	Source           string // the application and socket (the forwarder's source frame)
	Endpoint, Remote string // local and remote endpoint (tcp://ip:port)
	Outbound         uint64
	Inbound          uint64
	Time             time.Time
}

// Retry is one CONNECT_RETRIED: a connecting socket will try Endpoint again.
type Retry struct {
	Source   string
	Endpoint string // the endpoint being connected to
	Time     time.Time
}

// HandshakeFailure is one HANDSHAKE_FAILED_* event.
type HandshakeFailure struct {
	Source           string
	Endpoint, Remote string
	Event            string // e.g. HANDSHAKE_FAILED_AUTH
	Detail           string // ZAP status, protocol error or errno
	Time             time.Time
}

// Observe folds one monitor event into the state.
func (m *MonitorState) Observe(e *monitor.Event) {
	switch e.Code {
	case monitor.EventPipesStats:
		for i := range m.Pipes {
			p := &m.Pipes[i]
			if p.Source == e.Source && p.Endpoint == e.Endpoint && p.Remote == e.RemoteEndpoint {
				p.Outbound, p.Inbound, p.Time = e.Outbound, e.Inbound, e.Time
				return
			}
		}
		if len(m.Pipes) >= MaxPipes {
			m.Dropped++
			return
		}
		m.Pipes = append(m.Pipes, PipeStat{Source: e.Source, Endpoint: e.Endpoint, Remote: e.RemoteEndpoint, Outbound: e.Outbound, Inbound: e.Inbound, Time: e.Time})
	case monitor.EventConnectRetried:
		if len(m.Retries) >= MaxRetries {
			m.Retries = append(m.Retries[:0], m.Retries[1:]...)
			m.Dropped++
		}
		ep := e.Endpoint
		if e.RemoteEndpoint != "" {
			ep = e.RemoteEndpoint
		}
		m.Retries = append(m.Retries, Retry{Source: e.Source, Endpoint: ep, Time: e.Time})
	case monitor.EventHandshakeFailedAuth, monitor.EventHandshakeFailedProtocol, monitor.EventHandshakeFailedNoDetail:
		if len(m.Failures) >= MaxFailures {
			m.Failures = append(m.Failures[:0], m.Failures[1:]...)
			m.Dropped++
		}
		detail := e.ProtocolError
		switch e.Code {
		case monitor.EventHandshakeFailedAuth:
			detail = "ZAP status " + itoa(e.ZAPStatus)
			if e.ZAPStatusText != "" {
				detail += " (" + e.ZAPStatusText + ")"
			}
		case monitor.EventHandshakeFailedNoDetail:
			detail = e.ErrnoName
		}
		m.Failures = append(m.Failures, HandshakeFailure{Source: e.Source, Endpoint: e.Endpoint, Remote: e.RemoteEndpoint, Event: e.Name, Detail: detail, Time: e.Time})
	}
}

// Prune forgets retries and failures older than before.
func (m *MonitorState) Prune(before time.Time) {
	k := 0
	for k < len(m.Retries) && m.Retries[k].Time.Before(before) {
		k++
	}
	m.Retries = append(m.Retries[:0], m.Retries[k:]...)
	k = 0
	for k < len(m.Failures) && m.Failures[k].Time.Before(before) {
		k++
	}
	m.Failures = append(m.Failures[:0], m.Failures[k:]...)
}

// stripEndpoint turns "tcp://127.0.0.1:5555" into "127.0.0.1:5555".
func stripEndpoint(ep string) string {
	if ap, ok := monitor.EndpointAddr(ep); ok {
		return ap.String()
	}
	return strings.TrimPrefix(ep, "tcp://")
}

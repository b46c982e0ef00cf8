package tracker

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/zspy/zspy/monitor"
)

// Bounds on what the monitor merge keeps.
const (
	MaxMonitorNotes    = 32   // monitor events kept per connection
	MaxMonitorSessions = 4096 // open (source, fd) sessions followed
	MaxMonitorPeers    = 4096 // endpoints with retry/failure counters
)

// MonitorNote is one socket-monitor event attached to a connection.
type MonitorNote struct {
	Time   time.Time
	Source string
	Event  string
	Detail string
}

// PipeStats is the queue depth libzmq reported for one side of a connection
// (PIPES_STATS): messages queued towards the peer and received but not read.
type PipeStats struct {
	Time              time.Time
	Source            string
	Outbound, Inbound uint64
}

// MonitorPeer counts what the monitor said about one remote or bound endpoint
// that no wire connection may show (retries, failed connects).
type MonitorPeer struct {
	Endpoint        string
	Retries         uint64 // CONNECT_RETRIED
	LastRetry       time.Time
	Delayed         uint64 // CONNECT_DELAYED
	HandshakeFailed uint64
	LastEvent       string
}

// MonitorStats counts the monitor events the tracker folded in.
type MonitorStats struct {
	Events    uint64
	Matched   uint64 // attached to a wire connection
	Unmatched uint64 // no wire connection found (kept per endpoint only)
	Dropped   uint64 // sessions or peers beyond the caps
}

type sessionKey struct {
	source string
	fd     int64
}

// session follows one monitored socket's connection from CONNECTED or
// ACCEPTED to DISCONNECTED.
type session struct {
	conn     *Conn
	side     int // 0: the client (connecter) side, 1: the server side
	endpoint netip.AddrPort
	source   string
	at       time.Time
	done     bool // the handshake result is known
	// early holds the session's events while its wire connection is not
	// seen yet (live, monitor events can outrun the packets).
	early []monitor.Event
}

// monitorPrefix marks a handshake error only a socket monitor reported.
const monitorPrefix = "monitor: "

// maxEarly bounds the events a session keeps before its connection appears.
const maxEarly = 16

type monitorState struct {
	sessions map[sessionKey]*session
	pending  []*session // sessions whose wire connection was not seen yet
	last     map[string]*session
	peers    map[string]*MonitorPeer
	stats    MonitorStats
}

func (t *Tracker) mon() *monitorState {
	if t.monitor == nil {
		t.monitor = &monitorState{sessions: map[sessionKey]*session{}, last: map[string]*session{}, peers: map[string]*MonitorPeer{}}
	}
	return t.monitor
}

// MonitorStats returns the counters of the monitor merge.
func (t *Tracker) MonitorStats() MonitorStats {
	if t.monitor == nil {
		return MonitorStats{}
	}
	return t.monitor.stats
}

// MonitorPeers returns the per-endpoint monitor counters (live state).
func (t *Tracker) MonitorPeers() map[string]*MonitorPeer {
	if t.monitor == nil {
		return nil
	}
	return t.monitor.peers
}

// MonitorEvent folds a socket-monitor event into the model: it attaches the
// event to the wire connection it speaks of, so one connection view holds both
// what the wire showed and what the sockets said. It runs on the pipeline
// goroutine, in time order with the packets.
//
// Matching: a v2 event names both endpoints, which is the TCP 4-tuple. A v1
// event names one endpoint and a file descriptor: CONNECTED(fd) names the
// server, and is matched to the oldest connection to that server not yet
// claimed by a connecting socket; ACCEPTED(fd) names the listener's own bound
// address, matched likewise; later events carrying the fd (DISCONNECTED,
// CLOSED) follow the session, and HANDSHAKE_* events (no fd) go to the newest
// session of that source and endpoint. Events whose connection has not been
// seen yet wait until it is.
func (t *Tracker) MonitorEvent(ev *monitor.Event) {
	m := t.mon()
	m.stats.Events++
	ep, epOK := monitor.EndpointAddr(ev.Endpoint)
	key := sessionKey{ev.Source, ev.FD}
	switch ev.Code {
	case monitor.EventConnectDelayed, monitor.EventConnectRetried:
		p := m.peer(ev.Endpoint)
		if p == nil {
			return
		}
		p.LastEvent = ev.Name
		if ev.Code == monitor.EventConnectRetried {
			p.Retries++
			p.LastRetry = ev.Time
		} else {
			p.Delayed++
		}
		return
	case monitor.EventConnected, monitor.EventAccepted:
		side := 0
		if ev.Code == monitor.EventAccepted {
			side = 1
		}
		if len(m.sessions) >= MaxMonitorSessions {
			m.stats.Dropped++
			return
		}
		s := &session{side: side, endpoint: ep, source: ev.Source, at: ev.Time}
		m.sessions[key] = s
		m.last[ev.Source+"|"+ev.Endpoint] = s
		if ev.Version >= 2 {
			if remote, ok := monitor.EndpointAddr(ev.RemoteEndpoint); ok && epOK {
				s.conn = t.findByTuple(ep, remote)
			}
		} else if epOK {
			s.conn = t.claim(ep, side)
		}
		if s.conn == nil {
			m.pending = append(m.pending, s)
			m.stats.Unmatched++
		} else {
			m.stats.Matched++
		}
		t.note(s, ev)
		return
	case monitor.EventHandshakeSucceeded, monitor.EventHandshakeFailedNoDetail,
		monitor.EventHandshakeFailedProtocol, monitor.EventHandshakeFailedAuth:
		s := m.last[ev.Source+"|"+ev.Endpoint]
		if s == nil {
			// A v1 listener's handshake events name the bound endpoint; a v2
			// event names both.
			p := m.peer(ev.Endpoint)
			if p != nil && ev.Code != monitor.EventHandshakeSucceeded {
				p.HandshakeFailed++
				p.LastEvent = ev.Name
			}
			m.stats.Unmatched++
			return
		}
		s.done = true
		if ev.Code != monitor.EventHandshakeSucceeded {
			if p := m.peer(ev.Endpoint); p != nil {
				p.HandshakeFailed++
				p.LastEvent = ev.Name
			}
		}
		t.note(s, ev)
		return
	case monitor.EventDisconnected, monitor.EventClosed:
		s := m.sessions[key]
		if s == nil {
			m.stats.Unmatched++
			return
		}
		t.note(s, ev)
		delete(m.sessions, key)
		return
	case monitor.EventPipesStats:
		if remote, ok := monitor.EndpointAddr(ev.RemoteEndpoint); ok && epOK {
			if c := t.findByTuple(ep, remote); c != nil {
				i := 0
				if c.Server == ep {
					i = 1
				}
				c.Pipes[i] = PipeStats{Time: ev.Time, Source: ev.Source, Outbound: ev.Outbound, Inbound: ev.Inbound}
				c.HasPipes[i] = true
				m.stats.Matched++
				return
			}
		}
		m.stats.Unmatched++
		return
	}
	// Other events (LISTENING, BIND_FAILED, MONITOR_STOPPED...) concern no
	// connection: keep them per endpoint.
	if p := m.peer(ev.Endpoint); p != nil {
		p.LastEvent = ev.Name
	}
}

func (m *monitorState) peer(ep string) *MonitorPeer {
	if ep == "" {
		return nil
	}
	p := m.peers[ep]
	if p == nil {
		if len(m.peers) >= MaxMonitorPeers {
			m.stats.Dropped++
			return nil
		}
		p = &MonitorPeer{Endpoint: ep}
		m.peers[ep] = p
	}
	return p
}

// claim finds the oldest connection to server ep not yet claimed for the given
// side. A wildcard bound address (0.0.0.0, ::) matches by port.
func (t *Tracker) claim(ep netip.AddrPort, side int) *Conn {
	for _, c := range t.conns {
		if c.monitorClaimed[side] || c.State == "refused" {
			continue
		}
		if c.Server == ep || (ep.Addr().IsUnspecified() && c.Server.Port() == ep.Port()) {
			c.monitorClaimed[side] = true
			return c
		}
	}
	return nil
}

func (t *Tracker) findByTuple(local, remote netip.AddrPort) *Conn {
	for i := len(t.conns) - 1; i >= 0; i-- {
		c := t.conns[i]
		if (c.Client == local && c.Server == remote) || (c.Client == remote && c.Server == local) {
			return c
		}
	}
	return nil
}

// matchPending attaches waiting monitor sessions to a connection the wire
// just showed.
func (t *Tracker) matchPending(c *Conn) {
	m := t.monitor
	if m == nil || len(m.pending) == 0 {
		return
	}
	kept := m.pending[:0]
	for _, s := range m.pending {
		if s.conn == nil && !c.monitorClaimed[s.side] && (c.Server == s.endpoint || (s.endpoint.Addr().IsUnspecified() && c.Server.Port() == s.endpoint.Port())) {
			c.monitorClaimed[s.side] = true
			s.conn = c
			m.stats.Matched++
			m.stats.Unmatched--
			early := s.early
			s.early = nil
			for i := range early {
				t.note(s, &early[i])
			}
			continue
		}
		kept = append(kept, s)
	}
	m.pending = kept
}

func (t *Tracker) note(s *session, ev *monitor.Event) {
	if s.conn == nil {
		if len(s.early) < maxEarly {
			s.early = append(s.early, *ev)
		} else {
			t.monitor.stats.Dropped++
		}
		return
	}
	c := s.conn
	if s.source != "" {
		c.MonitorSource[s.side] = s.source
	}
	n := MonitorNote{Time: ev.Time, Source: ev.Source, Event: ev.Name, Detail: detail(ev)}
	c.addNote(n)
	switch ev.Code {
	case monitor.EventHandshakeSucceeded:
		if c.MonitorHandshake == "" {
			c.MonitorHandshake = "succeeded"
		}
	case monitor.EventHandshakeFailedNoDetail, monitor.EventHandshakeFailedProtocol, monitor.EventHandshakeFailedAuth:
		c.MonitorHandshake = "failed: " + ev.Name + " " + n.Detail
		if c.HandshakeError == "" {
			c.HandshakeError = monitorPrefix + ev.Name + " " + n.Detail
		}
	case monitor.EventDisconnected:
		c.MonitorDisconnects++
	}
}

func (c *Conn) addNote(n MonitorNote) {
	if len(c.MonitorNotes) >= MaxMonitorNotes {
		c.MonitorNotesDropped++
		return
	}
	c.MonitorNotes = append(c.MonitorNotes, n)
}

func detail(ev *monitor.Event) string {
	switch {
	case ev.ProtocolError != "":
		return ev.ProtocolError
	case ev.ZAPStatusText != "":
		return fmt.Sprintf("ZAP %d (%s)", ev.ZAPStatus, ev.ZAPStatusText)
	case ev.ErrnoName != "":
		return ev.ErrnoName
	case ev.Code == monitor.EventConnected || ev.Code == monitor.EventAccepted || ev.Code == monitor.EventDisconnected:
		return fmt.Sprintf("fd %d", ev.FD)
	}
	return ""
}

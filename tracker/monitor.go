package tracker

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/zspy/zspy/monitor"
	"github.com/zspy/zspy/zmtp"
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
	// Uncertain is true when the event could as well belong to another
	// connection (v1 events that the wire could not tell apart).
	Uncertain bool
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
	conn     *conn
	side     int // 0: the client (connecter) side, 1: the server side
	endpoint netip.AddrPort
	source   string
	fd       int64
	at       time.Time
	done     bool // the handshake result is known
	// uncertain marks the next note: the wire could not tell its
	// connection from another one.
	uncertain bool
	// unsure: the session's connection is a guess among several; its
	// later events (DISCONNECTED, CLOSED) are marked uncertain.
	unsure bool
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
	byEP     map[epKey][]*session // open v1 sessions per side and endpoint
	peers    map[string]*MonitorPeer
	stats    MonitorStats
}

func (t *Tracker) mon() *monitorState {
	if t.monitor == nil {
		t.monitor = &monitorState{sessions: map[sessionKey]*session{}, last: map[string]*session{}, byEP: map[epKey][]*session{}, peers: map[string]*MonitorPeer{}}
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
// session of that source and endpoint. The wire then corrects these guesses
// (handshakeSession, disconnectSession): a handshake result must match how
// and when the handshake ended on the wire, a DISCONNECTED the connection's
// FIN or RST; where two connections stay indistinguishable the notes are
// marked Uncertain. Events whose connection has not been seen yet wait until
// it is.
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
		s := &session{side: side, endpoint: ep, source: ev.Source, fd: ev.FD, at: ev.Time}
		if old := m.sessions[key]; old != nil {
			m.forget(old)
		}
		m.sessions[key] = s
		if ev.Version < 2 && epOK {
			k := epKey{side, ep}
			m.byEP[k] = append(m.byEP[k], s)
		}
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
		if ev.Version < 2 && s.conn != nil {
			s = t.handshakeSession(s, ev)
		}
		s.done = true
		if s.conn != nil {
			s.conn.monHS[s.side] = true
		}
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
		if ev.Version < 2 && ev.Code == monitor.EventDisconnected && s.conn != nil && !(s.side == 0 && s.done) {
			t.disconnectSession(s, ev)
		}
		t.note(s, ev)
		m.forget(s)
		delete(m.sessions, key)
		return
	case monitor.EventPipesStats:
		if remote, ok := monitor.EndpointAddr(ev.RemoteEndpoint); ok && epOK {
			if c := t.findByTuple(ep, remote); c != nil {
				i := 0
				if c.Server == ep {
					i = 1
				}
				c.touch()
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
func (t *Tracker) claim(ep netip.AddrPort, side int) *conn {
	for _, c := range t.conns {
		if c.monitorClaimed[side] || c.State == zmtp.StateRefused {
			continue
		}
		if c.Server == ep || (ep.Addr().IsUnspecified() && c.Server.Port() == ep.Port()) {
			c.monitorClaimed[side] = true
			return c
		}
	}
	return nil
}

func (t *Tracker) findByTuple(local, remote netip.AddrPort) *conn {
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
func (t *Tracker) matchPending(c *conn) {
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
	c.touch()
	if s.source != "" {
		c.MonitorSource[s.side] = s.source
	}
	n := MonitorNote{Time: ev.Time, Source: ev.Source, Event: ev.Name, Detail: detail(ev), Uncertain: s.uncertain || (s.unsure && (ev.Code == monitor.EventDisconnected || ev.Code == monitor.EventClosed))}
	s.uncertain = false
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

func (c *conn) addNote(n MonitorNote) {
	c.touch()
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
		return fdDetail(ev.FD)
	}
	return ""
}

// fdDetail is the detail of a note that names a file descriptor.
func fdDetail(fd int64) string { return fmt.Sprintf("fd %d", fd) }

// fdNote reports whether n is the note that opened session s: its CONNECTED
// or ACCEPTED, naming its fd.
func (s *session) fdNote(n *MonitorNote) bool {
	return n.Source == s.source && (n.Event == "CONNECTED" || n.Event == "ACCEPTED") && n.Detail == fdDetail(s.fd)
}

type epKey struct {
	side int
	ep   netip.AddrPort
}

// forget drops a session from the per-endpoint index.
func (m *monitorState) forget(s *session) {
	k := epKey{s.side, s.endpoint}
	l := m.byEP[k]
	for i, x := range l {
		if x == s {
			l = append(l[:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(m.byEP, k)
	} else {
		m.byEP[k] = l
	}
}

// ambiguity is how close two candidates' wire times must be for a v1 event
// to be called uncertain between them: a monitor event reaches zspy
// microseconds to a few milliseconds after its packets.
const ambiguity = 2 * time.Millisecond

// handshakeSession picks, for a v1 HANDSHAKE_* event, the session (and so
// the connection) it is about. A v1 handshake event carries no fd: by
// default it is about the newest session of its source and endpoint, s. The
// wire narrows it down: the connection's handshake must have ended the same
// way (a failure only matches a failed handshake) and before the event, and
// no monitor of that side may have reported it yet. A listener (one source,
// many connections) reports handshakes in the order they end: the oldest
// such connection is taken. Connecting sockets of different sources relay
// on their own: the connection whose handshake ended last before the event
// is taken, and a connecting session moves to it (its CONNECTED note with
// it), trading places with the session that held it. When another candidate
// ended within `ambiguity` of the one taken, the note is marked uncertain.
func (t *Tracker) handshakeSession(s *session, ev *monitor.Event) *session {
	m := t.monitor
	failed := ev.Code != monitor.EventHandshakeSucceeded
	pick := rank{at: func(x *session) time.Time { return x.conn.hsEnd }, earliest: s.side == 1}
	pool := m.byEP[epKey{s.side, s.endpoint}]
	for _, x := range pool {
		c := x.conn
		if c == nil || x.done || c.monHS[s.side] || (s.side == 1 && x.source != s.source) {
			continue
		}
		if c.hsEnd.IsZero() || c.hsFailed != failed || c.hsEnd.After(ev.Time) {
			continue
		}
		pick.offer(x)
	}
	best, next := pick.best, pick.next
	if best == nil {
		// The wire shows no such end (yet): keep the default, and say so if
		// it had company.
		s.uncertain = len(pool) > 1
		s.unsure = s.uncertain
		return s
	}
	uncertain := pick.close()
	if s.side == 1 {
		best.uncertain = uncertain
		return best
	}
	if best != s {
		t.swap(s, best)
		best.unsure = best.unsure || uncertain
	}
	s.uncertain, s.unsure = uncertain, uncertain
	if uncertain {
		// The CONNECTED notes of both candidates are as unsure.
		markFDNote(s)
		markFDNote(next)
		next.unsure = true
	}
	return s
}

// disconnectSession checks a v1 DISCONNECTED(fd) against the wire: its
// connection must have seen a FIN or RST before it. Sessions of one socket
// report disconnects in the order the connections ended, so when the fd's
// session holds a connection still open, or one that ended after another
// open session's, the sessions trade connections: the fd was matched to the
// wrong one at CONNECTED or ACCEPTED time.
func (t *Tracker) disconnectSession(s *session, ev *monitor.Event) {
	m := t.monitor
	pick := rank{at: func(x *session) time.Time { return x.conn.endAt }, earliest: true}
	for _, x := range m.byEP[epKey{s.side, s.endpoint}] {
		c := x.conn
		if c == nil || x.source != s.source || c.endAt.IsZero() || c.endAt.After(ev.Time) {
			continue
		}
		pick.offer(x)
	}
	if pick.best == nil {
		return
	}
	if pick.best != s {
		t.swap(s, pick.best)
	}
	s.uncertain = pick.close()
}

// rank keeps the best and the second best of the sessions offered: the one
// whose time at is earliest (or latest).
type rank struct {
	at         func(*session) time.Time
	earliest   bool
	best, next *session
}

func (r *rank) offer(x *session) {
	first := func(a, b *session) bool {
		if r.earliest {
			return r.at(a).Before(r.at(b))
		}
		return r.at(a).After(r.at(b))
	}
	switch {
	case r.best == nil || first(x, r.best):
		r.best, r.next = x, r.best
	case r.next == nil || first(x, r.next):
		r.next = x
	}
}

// close reports whether the second best is within ambiguity of the best:
// the wire cannot tell them apart.
func (r *rank) close() bool {
	return r.next != nil && absDur(r.at(r.best).Sub(r.at(r.next))) < ambiguity
}

// swap trades the connections of two sessions of one side, moving the notes
// that name their fds (CONNECTED, ACCEPTED).
func (t *Tracker) swap(a, b *session) {
	ca, cb := a.conn, b.conn
	na := takeFDNotes(ca, a)
	nb := takeFDNotes(cb, b)
	a.conn, b.conn = cb, ca
	putNotes(cb, na)
	putNotes(ca, nb)
	cb.MonitorSource[a.side] = a.source
	ca.MonitorSource[b.side] = b.source
}

// markFDNote marks the CONNECTED or ACCEPTED note of s uncertain.
func markFDNote(s *session) {
	if s == nil || s.conn == nil {
		return
	}
	s.conn.touch()
	for i := range s.conn.MonitorNotes {
		if n := &s.conn.MonitorNotes[i]; s.fdNote(n) {
			n.Uncertain = true
		}
	}
}

func takeFDNotes(c *conn, s *session) []MonitorNote {
	c.touch()
	var out []MonitorNote
	kept := c.MonitorNotes[:0]
	for _, n := range c.MonitorNotes {
		if s.fdNote(&n) {
			out = append(out, n)
			continue
		}
		kept = append(kept, n)
	}
	c.MonitorNotes = kept
	return out
}

func putNotes(c *conn, ns []MonitorNote) {
	for _, n := range ns {
		c.addNote(n)
	}
	slices.SortStableFunc(c.MonitorNotes, func(a, b MonitorNote) int { return a.Time.Compare(b.Time) })
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// wireHandshakeEnd records when the wire showed the handshake end, for the
// monitor merge.
func (c *conn) wireHandshakeEnd(failed bool) {
	if c.hsEnd.IsZero() {
		c.hsEnd, c.hsFailed = c.Last, failed
	}
}

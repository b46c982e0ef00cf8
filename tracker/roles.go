package tracker

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/zspy/zspy/dissect"
	"github.com/zspy/zspy/zmtp"
)

// Roles of connections whose handshake the capture did not hold: which side
// connected (mid-stream joins, where the SYN is missing) and, under CURVE,
// which socket types talk (READY travels encrypted). Each is inferred from
// small explicit inputs by the functions here; the tracker gathers the inputs.

// PortRange is a range of TCP ports, both ends included.
type PortRange struct{ Lo, Hi uint16 }

// DefaultEphemeral is Linux's default net.ipv4.ip_local_port_range, from
// which connecting sockets take their ports.
var DefaultEphemeral = PortRange{32768, 60999}

// Contains reports whether p is in r.
func (r PortRange) Contains(p uint16) bool { return p >= r.Lo && p <= r.Hi }

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.Lo, r.Hi) }

// ParsePortRange parses "LO-HI".
func ParsePortRange(s string) (PortRange, error) {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		return PortRange{}, fmt.Errorf("port range %q: want LO-HI", s)
	}
	a, err := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	if err != nil {
		return PortRange{}, fmt.Errorf("port range %q: %w", s, err)
	}
	b, err := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
	if err != nil {
		return PortRange{}, fmt.Errorf("port range %q: %w", s, err)
	}
	if a == 0 || a > b {
		return PortRange{}, fmt.Errorf("port range %q: want 1 <= LO <= HI", s)
	}
	return PortRange{uint16(a), uint16(b)}, nil
}

// How a mid-stream connection's client was chosen (Conn.OrientedBy).
const (
	BySharedPort = "shared port" // the other end's endpoint has other peers: it is the server
	ByEphemeral  = "ephemeral"   // only the client's port is in the ephemeral range
	ByRequester  = "requester"   // lockstep exchanges, opened after quiet spells by the client
	ByLowerPort  = "lower port"  // no evidence: the lower port is taken as the server
)

// OrientInput is the evidence on which end of a connection captured without
// its SYN connected.
type OrientInput struct {
	// A and B are the two ends; A is taken as the client so far.
	A, B netip.AddrPort
	// PeersA and PeersB count the connections seen with each endpoint as
	// their server's, or captured without the SYN (this one included): a
	// server's endpoint is shared by its clients.
	PeersA, PeersB int
	// Ephemeral is the range connecting sockets take their ports from.
	Ephemeral PortRange
	// Lockstep is true while messages alternated between the two ends;
	// Opened counts, per end (A, B), the messages that end sent after a quiet
	// spell (requests, in a request/reply conversation).
	Lockstep bool
	Opened   [2]int
}

// Orient says whether B rather than A connected, and by which evidence:
// a shared endpoint is the server's; else the one port in the ephemeral
// range is the client's; else the end that opens lockstep exchanges after
// quiet spells is the client; else the lower port is the server's.
func Orient(in OrientInput) (swap bool, by string) {
	switch {
	case in.PeersA >= 2 && in.PeersB == 1:
		return true, BySharedPort
	case in.PeersB >= 2 && in.PeersA == 1:
		return false, BySharedPort
	}
	ea, eb := in.Ephemeral.Contains(in.A.Port()), in.Ephemeral.Contains(in.B.Port())
	if ea != eb {
		return eb, ByEphemeral
	}
	if in.Lockstep && in.Opened[0] != in.Opened[1] {
		return in.Opened[1] > in.Opened[0], ByRequester
	}
	return in.A.Port() < in.B.Port(), ByLowerPort
}

// quietSpell is how long both directions must have been silent for a
// message to count as opening an exchange.
const quietSpell = 20 * time.Millisecond

// maxEndpoints bounds the endpoints whose connections are counted for the
// shared-port evidence (about 48 bytes each): a connection seen from its SYN
// counts its server's endpoint, one without counts both. Past the bound new
// endpoints are not counted (endpoints.uncounted) and count as unshared.
const maxEndpoints = 1 << 16

// endpoints counts the connections seen per endpoint.
type endpoints struct {
	n         map[netip.AddrPort]uint32
	uncounted uint64
}

func (e *endpoints) add(ap netip.AddrPort) {
	if e.n == nil {
		e.n = make(map[netip.AddrPort]uint32)
	}
	if _, ok := e.n[ap]; !ok && len(e.n) >= maxEndpoints {
		e.uncounted++
		return
	}
	e.n[ap]++
}

func (e *endpoints) peers(ap netip.AddrPort) int { return max(1, int(e.n[ap])) }

// shape is what the tracker keeps of a connection's traffic for role
// inference, indexed by the tracker's direction (0: client→server).
type shape struct {
	lastData time.Time // packet time of the last data frame, either way
	lastFrom int8      // direction of the last complete message (-1: none)
	first    int8      // direction of the first complete message (-1: none)
	broken   bool      // two messages in a row came from one side
	opened   [2]int    // messages sent after a quiet spell
	box      [2]boxShape
	lastBox  int8 // direction of the last CURVE box (-1: none)
}

// boxShape describes one direction's CURVE MESSAGE boxes.
type boxShape struct {
	boxes      int // boxes carrying data (heartbeats excluded)
	bursts     int // runs of boxes not interrupted by the other direction
	emptyFirst int // bursts that opened with a box of 0 bytes of plaintext
	afterPeer  int // boxes sent after the other direction's first box
}

func newShape() *shape { return &shape{lastFrom: -1, first: -1, lastBox: -1} }

// frame notes a data frame of direction i; start says it opens a message,
// end that it completes one. A nil shape keeps nothing.
func (s *shape) frame(i int, e *dissect.Event, start, end bool) {
	if s == nil {
		return
	}
	if start && !s.lastData.IsZero() && e.TS.Sub(s.lastData) >= quietSpell {
		s.opened[i]++
	}
	s.lastData = e.TS
	if e.Curve {
		b, p := &s.box[i], &s.box[1-i]
		b.boxes++
		if s.lastBox != int8(i) {
			b.bursts++
			if e.Plain == 0 {
				b.emptyFirst++
			}
		}
		if p.boxes > 0 {
			b.afterPeer++
		}
		s.lastBox = int8(i)
		return
	}
	if !end {
		return
	}
	if s.first < 0 {
		s.first = int8(i)
	}
	if s.lastFrom == int8(i) {
		s.broken = true
	}
	s.lastFrom = int8(i)
}

// swap exchanges the two directions.
func (s *shape) swap() {
	flip := func(d int8) int8 {
		if d < 0 {
			return d
		}
		return 1 - d
	}
	s.lastFrom, s.first, s.lastBox = flip(s.lastFrom), flip(s.first), flip(s.lastBox)
	s.opened[0], s.opened[1] = s.opened[1], s.opened[0]
	s.box[0], s.box[1] = s.box[1], s.box[0]
}

// CurveRoles infers the socket types of a CURVE connection's client (0) and
// server (1) from the shapes of their MESSAGE boxes, when the shape decides:
//   - both send bursts that each open with an empty box (REQ/REP's
//     delimiter) and alternate: the end whose burst came first is the REQ;
//   - one end sends boxes and the other none: PUSH and PULL;
//   - one end sends boxes and the other sent boxes (its subscriptions) only
//     before the first of them: PUB and SUB.
func CurveRoles(box [2]boxShape, first int) (types [2]zmtp.SocketType, ok bool) {
	a, b := box[0], box[1]
	switch {
	case a.bursts >= 2 && b.bursts >= 2 && a.emptyFirst == a.bursts && b.emptyFirst == b.bursts && (first == 0 || first == 1):
		types[first], types[1-first] = zmtp.REQ, zmtp.REP
		return types, true
	}
	for s := range 2 {
		snd, rcv := box[s], box[1-s]
		if snd.boxes < 2 || snd.boxes <= rcv.boxes {
			continue
		}
		switch {
		case rcv.boxes == 0:
			types[s], types[1-s] = zmtp.PUSH, zmtp.PULL
			return types, true
		case rcv.afterPeer == 0 && snd.afterPeer == snd.boxes:
			types[s], types[1-s] = zmtp.PUB, zmtp.SUB
			return types, true
		}
	}
	return types, false
}

// curveFirst is the direction whose box came first, or -1.
func (s *shape) curveFirst() int {
	switch {
	case s.box[0].boxes > 0 && s.box[0].afterPeer < s.box[0].boxes && s.box[1].afterPeer == s.box[1].boxes:
		return 0
	case s.box[1].boxes > 0 && s.box[1].afterPeer < s.box[1].boxes && s.box[0].afterPeer == s.box[0].boxes:
		return 1
	}
	return -1
}

// orient settles which end of a connection captured without its SYN
// connected, from the evidence gathered so far, and reorients it if needed.
func (c *conn) orient() {
	if c.SawSYN {
		return
	}
	if c.shape == nil {
		c.shape = newShape()
	}
	in := OrientInput{
		A: c.Client, B: c.Server,
		PeersA: 1, PeersB: 1,
		Ephemeral: DefaultEphemeral,
		Lockstep:  !c.shape.broken && c.shape.first >= 0,
		Opened:    c.shape.opened,
	}
	if c.t != nil {
		in.Ephemeral = c.t.opt.ephemeral()
		in.PeersA, in.PeersB = c.t.endpoints.peers(c.Client), c.t.endpoints.peers(c.Server)
	}
	swap, by := Orient(in)
	c.OrientedBy = by
	if swap {
		c.reorient()
	}
}

// reorient makes the server the client and the reverse, with everything kept
// per direction.
func (c *conn) reorient() {
	c.touch()
	c.Client, c.Server = c.Server, c.Client
	c.ClientName, c.ServerName = c.ServerName, c.ClientName
	c.flipped = !c.flipped
	c.Sides[0], c.Sides[1] = c.Sides[1], c.Sides[0]
	c.Dirs[0], c.Dirs[1] = c.Dirs[1], c.Dirs[0]
	c.TCP[0], c.TCP[1] = c.TCP[1], c.TCP[0]
	if e := c.eng; e != nil {
		e.msg[0], e.msg[1] = e.msg[1], e.msg[0]
	}
	if q := c.curvePings; q != nil {
		q[0], q[1] = q[1], q[0]
	}
	c.HandshakeDone[0], c.HandshakeDone[1] = c.HandshakeDone[1], c.HandshakeDone[0]
	c.MonitorSource[0], c.MonitorSource[1] = c.MonitorSource[1], c.MonitorSource[0]
	c.Pipes[0], c.Pipes[1] = c.Pipes[1], c.Pipes[0]
	c.HasPipes[0], c.HasPipes[1] = c.HasPipes[1], c.HasPipes[0]
	c.monitorClaimed[0], c.monitorClaimed[1] = c.monitorClaimed[1], c.monitorClaimed[0]
	c.monHS[0], c.monHS[1] = c.monHS[1], c.monHS[0]
	if c.shape != nil {
		c.shape.swap()
		// Lockstep as the tracker keeps it: the client opens each exchange.
		c.notLockstep = c.shape.broken || c.shape.first != 0
	}
}

// inferredSocketTypes returns the socket types the traffic's shape decides
// when neither side said them: REQ/REP from lockstep messages with
// delimiters both ways, or CURVE box shapes (CurveRoles).
func (c *conn) inferredSocketTypes() (client, server zmtp.SocketType, ok bool) {
	d0, d1 := &c.Dirs[0], &c.Dirs[1]
	if !c.notLockstep && d0.Messages > 0 && d1.Messages > 0 && d0.Delimited == d0.Messages && d1.Delimited == d1.Messages {
		return zmtp.REQ, zmtp.REP, true
	}
	if c.Curve && c.shape != nil {
		if t, ok := CurveRoles(c.shape.box, c.shape.curveFirst()); ok {
			return t[0], t[1], true
		}
	}
	return zmtp.SocketUnknown, zmtp.SocketUnknown, false
}

func (o Options) ephemeral() PortRange {
	if o.Ephemeral == (PortRange{}) {
		return DefaultEphemeral
	}
	return o.Ephemeral
}

package tracker

import (
	"net/netip"
	"time"

	"github.com/zspy/zspy/dissect"
	"github.com/zspy/zspy/zmtp"
)

// Limits that bound the memory one connection can cost, whatever its traffic.
const (
	MaxSubscriptions   = 1024 // topics kept per connection
	MaxSubHistory      = 256  // subscription changes kept per connection
	MaxErrors          = 32   // error strings kept per connection
	MaxMetadata        = 16   // metadata properties kept per side
	MaxValueLen        = 256  // bytes kept of an identity, topic or metadata value
	MaxPendingRequests = 1024 // unanswered requests tracked per connection
)

// DirStats counts what one direction carried.
type DirStats struct {
	Messages uint64 // complete messages (last frame without MORE)
	Frames   uint64 // data frames (under CURVE: MESSAGE boxes)
	Bytes    uint64 // data frame body bytes (under CURVE: plaintext sizes)
	Commands uint64 // command frames
	// Partial counts frames of a message still open (MORE set on the last one).
	Partial uint64
	// Lost is the number of stream bytes that were not captured.
	Lost uint64
	// Gaps counts losses; Resyncs counts how often frame boundaries were found again.
	Gaps, Resyncs uint64
	// LostSync counts the gaps that hid a frame boundary (a header, not only
	// body bytes): frames in them could not be counted. While it is 0, every
	// frame and its size were counted, whatever Lost says.
	LostSync uint64
	// Delimited counts messages that opened with an empty frame with MORE (a
	// REQ/REP envelope delimiter).
	Delimited uint64
	// Derived counts the frames (each a message) whose headers the capture
	// lost but a steady stream's sizes placed (dissect's Event.Derived):
	// included in Messages, Frames and Bytes.
	Derived uint64
	// Pings and Pongs count heartbeat commands sent in this direction, with the
	// packet time of the last of each.
	Pings, Pongs       uint64
	LastPing, LastPong time.Time
	// LastMessage is the packet time of the last complete message.
	LastMessage time.Time
	// Interval holds message-size extremes since the metrics collector last
	// reset them (Tracker.EndInterval).
	Interval IntervalStats
}

// ping and pong count a heartbeat command sent in this direction at ts.
func (d *DirStats) ping(ts time.Time) { d.Pings++; d.LastPing = ts }
func (d *DirStats) pong(ts time.Time) { d.Pongs++; d.LastPong = ts }

// IntervalStats are per-interval extremes that cumulative counters cannot give.
type IntervalStats struct {
	Messages         uint64
	MinSize, MaxSize uint64
}

// Side is what one peer of a connection said about itself.
type Side struct {
	Version    zmtp.Version
	SocketType zmtp.SocketType
	Identity   []byte
	HasIdent   bool
	AsServer   bool
	Metadata   []Property
}

// Property is a metadata property as the tracker keeps it (values capped).
type Property struct {
	Name  string
	Value []byte
}

// SubChange is one subscription or cancellation.
type SubChange struct {
	TS     time.Time
	Packet uint64
	Cancel bool
	Topic  []byte
}

// TCPDir follows one direction's TCP state: what the sender sent and what the
// receiver acknowledged and advertised. It is the wire's view of the queue
// between the sender's socket and the receiver's application.
type TCPDir struct {
	NextSeq     uint32 // highest sequence number sent + 1
	HaveSeq     bool
	Acked       uint32 // highest acknowledgement from the receiver
	HaveAck     bool
	Window      uint32 // receiver's last advertised window, scaled
	WScale      int8   // receiver's window scale (-1 unknown)
	Retransmits uint64
	// ZeroWindows counts episodes where the receiver advertised a zero window;
	// ZeroWindowTime is their total duration (packet time), and ZeroSince the
	// start of the current one (zero when none).
	ZeroWindows    uint64
	ZeroWindowTime time.Duration
	ZeroSince      time.Time
	// WindowFull counts segments sent while in-flight bytes filled the window.
	WindowFull uint64
}

// InFlight returns bytes sent but not yet acknowledged.
func (t *TCPDir) InFlight() uint32 {
	if !t.HaveSeq || !t.HaveAck {
		return 0
	}
	if d := int32(t.NextSeq - t.Acked); d > 0 {
		return uint32(d)
	}
	return 0
}

// Record is what the tracker knows of one TCP connection at a snapshot's time.
// Records leave the tracker in Snapshots and are immutable: the tracker never
// changes a Record it handed out (it makes a new one when the connection
// changes), and nothing that receives one may change it either. Index 0 of
// the per-direction and per-side arrays is the client (zmtp.ClientToServer,
// zmtp.Client), 1 the server.
type Record struct {
	ID uint64
	// Gen is the Snapshot.Gen of the snapshot this Record was made for: the
	// connection did not change in later snapshots that hand out the same
	// Record (see Snapshot.Gen).
	Gen    uint64
	Client netip.AddrPort
	Server netip.AddrPort
	// ClientName and ServerName are Client and Server as "ip:port", made once
	// (when the connection first leaves the tracker in a Record or an Event).
	ClientName, ServerName string
	SawSYN                 bool
	FirstPacket            uint64
	Start, Last            time.Time
	State                  zmtp.ConnState
	Closed                 bool // State is not open
	MidStream              bool
	Detection              zmtp.Detection
	Version                zmtp.Version
	Mechanism              zmtp.Mechanism

	Sides [2]Side
	Dirs  [2]DirStats
	TCP   [2]TCPDir

	PlainUsername string
	PlainPassword string
	HandshakeDone [2]bool
	// HandshakeError says why the handshake failed: an ERROR reason, a
	// mechanism mismatch, or a close before both READYs. Empty otherwise.
	HandshakeError string

	Subscriptions []string
	SubHistory    []SubChange
	SubDropped    uint64 // subscription changes not kept (caps)

	Errors        []string
	ErrorsDropped uint64
	ErrorReasons  []string // ERROR command reasons

	Latency Latency
	// IntervalLatency holds the request→reply times of the current metrics
	// interval (see Tracker.EndInterval).
	IntervalLatency Latency
	// TopicDelivered counts messages delivered per subscribed topic (the
	// longest subscription the message's first frame starts with).
	TopicDelivered map[string]uint64
	PendingLost    uint64
	// EarlyReplies counts replies captured before the request they answer
	// (mirror.go: a SPAN port whose requester side lags). Each answers the
	// next request seen (no latency is measured for it).
	EarlyReplies uint64

	// RefusedBefore counts the refused attempts (SYN answered by RST) from
	// the same client host to this server before this connection got
	// through, the first of them at RefusedFirst: the server was not
	// listening for NotListening().
	RefusedBefore int
	RefusedFirst  time.Time
	// Evictions counts the times the connection was evicted to make room
	// (the cap on tracked connections) and its traffic came back continuing
	// it. Unjoined is set on a connection whose traffic came back after an
	// eviction but did not continue the evicted one's sequence numbers: its
	// record starts where the traffic came back, Continues naming the
	// evicted connection when it is still kept.
	Evictions int
	Unjoined  bool
	Continues uint64
	// OrientedBy says how the client was chosen when the SYN was not
	// captured: BySharedPort, ByEphemeral, ByRequester or ByLowerPort.
	OrientedBy string

	// Curve is true when frames are CURVE MESSAGE boxes (messages unknown).
	Curve bool
	// What the socket monitor said (see MonitorEvent). Index 0 is the client
	// (connecting) socket, 1 the server (listening) socket.
	MonitorSource       [2]string
	MonitorNotes        []MonitorNote
	MonitorNotesDropped uint64
	MonitorHandshake    string
	MonitorDisconnects  uint64
	Pipes               [2]PipeStats
	HasPipes            [2]bool

	// Facts derived from the above, made when the record is.

	// Handshake is where the ZMTP handshake stands (see handshakeState).
	Handshake zmtp.HandshakeState
	// ClientSocket and ServerSocket are the sides' socket types; when
	// neither side said (ZMTP 1.0, a capture that joined mid-stream) but the
	// traffic is a strict request/reply lockstep with envelope delimiters
	// both ways, they are REQ and REP with RolesInferred set.
	ClientSocket, ServerSocket zmtp.SocketType
	RolesInferred              bool
	// Compatible is false only when both socket types are known and libzmq
	// would drop the pair.
	Compatible bool
	// Subscriber is the side that sends subscriptions when PubSub is set (a
	// SUB or XSUB side); the other side publishes.
	PubSub     bool
	Subscriber zmtp.Role
	// NoSubscription is set when PubSub is and the subscriber holds no
	// subscription after a complete handshake: it never subscribed
	// (NeverSubscribed) or cancelled every one. It can receive nothing, and
	// its publisher sends it nothing: the wire shows only silence.
	NoSubscription, NeverSubscribed bool
	// Requester is the side that issues requests the other answers in order
	// (REQ, or DEALER talking to REP or ROUTER) when ReqRep is set.
	ReqRep    bool
	Requester zmtp.Role
	// Outstanding counts requests not yet answered; OldestRequest is the
	// packet time of the oldest of them.
	Outstanding   int
	OldestRequest time.Time
}

// conn is the tracker's engine for one connection: its working Record and
// what only the engine needs (the dissector, messages being received,
// pending requests, CURVE heartbeat queues, the monitor matching state). It
// never leaves the tracker package.
type conn struct {
	Record

	// pub is the Record last handed out, nil once the connection changed
	// since (see touch and record).
	pub *Record
	// idx is the connection's index in Tracker.conns and Tracker.records
	// (-1 once dropped, KeepClosed); listed is set while it is in
	// Tracker.changed.
	idx    int
	listed bool

	pending []pendingReq
	// earlyUsed counts the requests answered by an early reply
	// (EarlyReplies).
	earlyUsed uint64
	// curvePings holds the times of boxes of a PING's size not yet answered
	// by a box of a PONG's size, per direction (see curveHeartbeat); made
	// for CURVE connections only (nil until the first box).
	curvePings     *[2]pingQueue
	monitorClaimed [2]bool
	// What the wire showed, for matching v1 monitor events (monitor.go):
	// when the handshake ended and whether it failed, the first FIN or RST,
	// and the sides whose monitor already reported the handshake's end.
	hsEnd    time.Time
	hsFailed bool
	endAt    time.Time
	monHS    [2]bool

	// lockstep stays true while messages alternate client, server, client...
	// as REQ/REP conversations do.
	notLockstep bool
	// shape is the traffic's shape, evidence for roles (roles.go): kept for
	// connections captured without their SYN and for CURVE ones (nil else).
	shape *shape

	// serial is the reassembler's number of the connection (ConnInfo.Serial);
	// inDirty is set while the connection is in Tracker.dirty;
	// nonZMTPCounted while an evicted connection counts in NonZMTP.
	serial         uint64
	inDirty        bool
	nonZMTPCounted bool

	flipped bool
	// eng is what only an open connection needs (its dissector and the
	// messages being received): handed back to the tracker's spares when
	// the connection closes (Tracker.release) and nil from then on, so that
	// a closed connection keeps only its Record and what snapshots derive
	// from.
	eng *engine
	t   *Tracker
}

// engine is the decoding state of an open connection. Engines of closed
// connections are reused by new ones (Tracker.spare): a replay of many
// short connections touches a few warm engines rather than fresh memory
// for each.
type engine struct {
	dis dissect.Conn
	msg [2]msgAcc
}

// pingQueue is a small FIFO of packet times, and the plaintext size of the
// direction's previous box (-1 before the first).
type pingQueue struct {
	ts   [4]time.Time
	n    int
	last int64
}

type pendingReq struct {
	ts  time.Time
	key [16]byte
	n   int8 // key length, -1 for none
}

// msgAcc accumulates the message being received in one direction.
type msgAcc struct {
	frames  int
	bytes   uint64
	delim   bool
	topic   [64]byte
	topicN  int
	first   [16]byte
	firstN  int8
	sizes   []uint64
	preview []byte
	// With a listener: env hashes the frames before the last (their sizes
	// and first bytes: the routing envelope), last holds the last frame's
	// first bytes (lastN of them) and lastSize its size (tracing).
	env      uint64
	last     [LastPrefix]byte
	lastN    uint8
	lastSize uint64
	start    time.Time
	packet   uint64
}

// touch marks the connection changed: the next snapshot makes a new Record.
func (c *conn) touch() {
	c.pub = nil
	if !c.listed && c.t != nil {
		c.listed = true
		c.t.changed = append(c.t.changed, c)
	}
}

// compatible reports whether the two sides' socket types may talk, and false
// only when both are known and libzmq would drop the pair.
func (c *conn) compatible() bool {
	a, b := c.Sides[0].SocketType, c.Sides[1].SocketType
	if a == zmtp.SocketUnknown || b == zmtp.SocketUnknown {
		return true
	}
	return zmtp.Compatible(a, b)
}

func (c *conn) addError(s string) {
	if len(c.Errors) >= MaxErrors {
		c.ErrorsDropped++
		return
	}
	c.Errors = append(c.Errors, s)
}

// dir maps a reassembly direction to the tracker's (client-first) index.
func (c *conn) dir(d zmtp.Dir) int {
	if c.flipped {
		return int(d ^ 1)
	}
	return int(d)
}

// socketTypes returns the client's and server's socket types. When neither
// side said (ZMTP 1.0, a capture that joined mid-stream, CURVE) but the
// traffic's shape decides (a strict request/reply lockstep with envelope
// delimiters both ways; CURVE box shapes, see CurveRoles), it returns those
// with inferred set.
func (c *conn) socketTypes() (client, server zmtp.SocketType, inferred bool) {
	client, server = c.Sides[0].SocketType, c.Sides[1].SocketType
	if client != zmtp.SocketUnknown || server != zmtp.SocketUnknown {
		return client, server, false
	}
	if a, b, ok := c.inferredSocketTypes(); ok {
		return a, b, true
	}
	return client, server, false
}

// handshakeState returns complete (both sides finished: READY, or INITIATE
// from a PLAIN or CURVE client, or the identity frame in 1.0 and 2.0), failed
// (see HandshakeError), pending (still under way), unknown (the capture
// joined after it) or none (not ZMTP, e.g. a refused attempt).
func (c *conn) handshakeState() zmtp.HandshakeState {
	switch {
	case c.Detection != zmtp.IsZMTP:
		return zmtp.HandshakeNone
	case c.HandshakeError != "":
		return zmtp.HandshakeFailed
	case c.HandshakeDone[0] && c.HandshakeDone[1]:
		return zmtp.HandshakeComplete
	case c.MidStream:
		return zmtp.HandshakeUnknown
	case c.Curve && (c.HandshakeDone[0] || c.HandshakeDone[1]) && c.Dirs[0].Frames+c.Dirs[1].Frames > 0:
		return zmtp.HandshakeComplete
	}
	return zmtp.HandshakePending
}

// name makes ClientName and ServerName, once: a connection that never
// leaves the tracker in a Record or an Event is never formatted.
func (c *conn) name() {
	if c.ClientName == "" {
		c.ClientName, c.ServerName = c.Client.String(), c.Server.String()
	}
}

// Names returns the client and server as "ip:port" (made once per connection
// by the tracker; computed here for records built elsewhere, as in tests).
func (r *Record) Names() (client, server string) {
	client, server = r.ClientName, r.ServerName
	if client == "" {
		client = r.Client.String()
	}
	if server == "" {
		server = r.Server.String()
	}
	return client, server
}

// NotListening returns how long the server was seen not listening before
// the connection got through: from the first refused attempt to its start
// (0 when no attempt was refused).
func (r *Record) NotListening() time.Duration {
	if r.RefusedBefore == 0 {
		return 0
	}
	return r.Start.Sub(r.RefusedFirst)
}

// IsZMTP reports whether the connection carried ZMTP.
func (r *Record) IsZMTP() bool { return r.Detection == zmtp.IsZMTP }

// resetInterval starts a new metrics interval. A connection with nothing in
// the interval keeps its Record.
func (c *conn) resetInterval() {
	if c.Dirs[0].Interval == (IntervalStats{}) && c.Dirs[1].Interval == (IntervalStats{}) && c.IntervalLatency.Count == 0 {
		return
	}
	c.touch()
	for i := range c.Dirs {
		c.Dirs[i].Interval = IntervalStats{}
	}
	c.IntervalLatency = Latency{buckets: c.IntervalLatency.clearBuckets()}
}

package monitor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SocketKind is the zmq4 socket type a subscriber uses on an endpoint.
type SocketKind uint8

// The socket types that can receive forwarded monitor events. SUB suits a
// forwarder's PUB, PAIR a PAIR, PULL a PUSH.
const (
	SocketSub SocketKind = iota
	SocketPair
	SocketPull
)

// String returns "sub", "pair" or "pull".
func (k SocketKind) String() string {
	switch k {
	case SocketSub:
		return "sub"
	case SocketPair:
		return "pair"
	case SocketPull:
		return "pull"
	}
	return fmt.Sprintf("socket(%d)", uint8(k))
}

// ParseSocketKind parses "sub", "pair" or "pull".
func ParseSocketKind(s string) (SocketKind, error) {
	switch strings.ToLower(s) {
	case "sub", "":
		return SocketSub, nil
	case "pair":
		return SocketPair, nil
	case "pull":
		return SocketPull, nil
	}
	return 0, fmt.Errorf("unknown socket type %q (want sub, pair or pull)", s)
}

// Endpoint is one parsed subscriber endpoint.
type Endpoint struct {
	// Spec is the endpoint as given, e.g. "@pull+tcp://*:7777".
	Spec string
	// Bind is true when zspy listens (a leading "@") and the forwarders
	// connect; otherwise zspy connects (an optional leading ">").
	Bind bool
	// Socket is the socket type, from a "sub+", "pair+" or "pull+" prefix or the default.
	Socket SocketKind
	// Transport is "tcp" or "ipc".
	Transport string
	// Address is what follows "://": host:port, or a socket path.
	Address string
}

// URL returns the endpoint in ZeroMQ form, e.g. "tcp://127.0.0.1:7777".
func (e Endpoint) URL() string { return e.Transport + "://" + e.Address }

// ParseEndpoint parses [@|>][sub+|pair+|pull+](tcp|ipc)://address, taking
// def as the socket type when the spec names none.
func ParseEndpoint(spec string, def SocketKind) (Endpoint, error) {
	e := Endpoint{Spec: spec, Socket: def}
	s := spec
	switch {
	case strings.HasPrefix(s, "@"):
		e.Bind, s = true, s[1:]
	case strings.HasPrefix(s, ">"):
		s = s[1:]
	}
	if i := strings.Index(s, "+"); i >= 0 && i < strings.Index(s, "://") {
		k, err := ParseSocketKind(s[:i])
		if err != nil {
			return Endpoint{}, fmt.Errorf("endpoint %q: %w", spec, err)
		}
		e.Socket, s = k, s[i+1:]
	}
	tr, addr, ok := strings.Cut(s, "://")
	if !ok {
		return Endpoint{}, fmt.Errorf("endpoint %q: want transport://address", spec)
	}
	switch tr {
	case "tcp":
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return Endpoint{}, fmt.Errorf("endpoint %q: %w", spec, err)
		}
		if !e.Bind && (host == "" || host == "*" || port == "" || port == "*" || port == "0") {
			return Endpoint{}, fmt.Errorf("endpoint %q: connecting needs a host and a port", spec)
		}
	case "ipc":
		if addr == "" {
			return Endpoint{}, fmt.Errorf("endpoint %q: empty ipc path", spec)
		}
	default:
		return Endpoint{}, fmt.Errorf("endpoint %q: unsupported transport %q (want tcp or ipc)", spec, tr)
	}
	e.Transport, e.Address = tr, addr
	return e, nil
}

// Config configures a Subscriber; NewSubscriber validates it once.
type Config struct {
	// Endpoints are the forwarding endpoints, as ParseEndpoint reads them.
	Endpoints []string
	// Socket is the socket type of endpoints that name none; zero is SUB.
	Socket SocketKind
	// Decode are the decode options (byte order, source-frame rule).
	Decode DecodeOptions
	// ReconnectMin and ReconnectMax bound the wait between connection
	// attempts, which doubles after each failure (defaults 100 ms and 5 s).
	ReconnectMin, ReconnectMax time.Duration
	// Now gives the receive time of events; nil means time.Now.
	Now func() time.Time

	// Plain, when set, makes every connection use the ZMTP PLAIN mechanism:
	// forwarders that connect to a bound endpoint must present these
	// credentials (others get ERROR "400" and are closed), and zspy presents
	// them when it connects. PLAIN sends them in clear text: use it on
	// loopback, ipc:// or a private network. Nil means NULL (no
	// authentication). go-zeromq/zmq4 has no CURVE.
	Plain *PlainAuth
	// Allow lists the source networks a bound tcp:// endpoint accepts
	// forwarders from; connections from elsewhere are closed before any
	// byte is read. Empty accepts any source.
	Allow []netip.Prefix
	// HandshakeTimeout bounds each connection's greeting and handshake
	// (default 10 s). Handshakes run concurrently, so a peer that connects
	// and says nothing delays no one else.
	HandshakeTimeout time.Duration
	// MaxHandshakes bounds the handshakes in progress on one bound endpoint
	// (default 64); MaxForwarders the connections it holds, handshaking or
	// not (default 1024). Connections beyond either are closed at once and
	// counted as refused.
	MaxHandshakes, MaxForwarders int
}

// PlainAuth are ZMTP PLAIN credentials (RFC 24): each at most 255 bytes.
type PlainAuth struct {
	Username, Password string
}

// Stats are a subscriber's counters, summed over its endpoints.
type Stats struct {
	// Received counts monitor messages received.
	Received uint64
	// Events counts messages decoded into events.
	Events uint64
	// Malformed counts messages that could not be decoded.
	Malformed uint64
	// Connects counts connections established (dials that succeeded).
	Connects uint64
	// Reconnects counts connections re-established after one was lost.
	Reconnects uint64
	// DialFailures counts failed connection or bind attempts.
	DialFailures uint64
	// LinkErrors counts connections lost (peer gone, or a guard limit broken).
	LinkErrors uint64
	// Refused counts connections to bound endpoints closed unheard: a source
	// outside Allow, or MaxHandshakes or MaxForwarders reached.
	Refused uint64
	// HandshakeFailures counts connections whose greeting or handshake
	// failed or timed out (a wrong mechanism, a socket type that cannot
	// send to zspy's, silence); AuthFailures those among them whose PLAIN
	// credentials were wrong.
	HandshakeFailures, AuthFailures uint64
}

// Malformed reports a message that could not be decoded.
type Malformed struct {
	// Time is when it was received.
	Time time.Time
	// Via is the zspy-side endpoint it arrived on.
	Via string
	// Frames is its frame count, and Sizes its first frames' sizes (at most 16).
	Frames int
	Sizes  []int
	// Err says what was wrong; it wraps one of the Err* values.
	Err error
}

// String describes the malformed message in one line.
func (m Malformed) String() string {
	return fmt.Sprintf("malformed monitor message via %s: %d frames %v: %v", m.Via, m.Frames, m.Sizes, m.Err)
}

// LinkState is what happened to a subscriber's connection.
type LinkState uint8

// Link states reported to Handler.Link.
const (
	LinkConnected  LinkState = iota // a dial succeeded
	LinkListening                   // a bind succeeded
	LinkDialFailed                  // a dial or bind failed; it is retried
	LinkLost                        // a connection was lost; a connecting endpoint redials
	LinkAccepted                    // a forwarder connected to a bound endpoint and completed its handshake
	LinkRefused                     // a connection was refused or failed its handshake (Err says why)
)

// String returns the state's name.
func (s LinkState) String() string {
	switch s {
	case LinkConnected:
		return "connected"
	case LinkListening:
		return "listening"
	case LinkDialFailed:
		return "dial failed"
	case LinkLost:
		return "lost"
	case LinkAccepted:
		return "accepted"
	case LinkRefused:
		return "refused"
	}
	return fmt.Sprintf("linkstate(%d)", uint8(s))
}

// LinkEvent reports a change of a subscriber's own connection.
type LinkEvent struct {
	Time  time.Time
	Via   string
	State LinkState
	// Addr is the bound address when State is LinkListening, e.g.
	// "tcp://127.0.0.1:40123" for a spec that asked for port 0; the
	// forwarder's address ("127.0.0.1:51234") for a connection to a bound
	// endpoint that was accepted, refused or lost.
	Addr string
	Err  error
}

// Handler receives what a Subscriber decodes. Run calls its functions from
// one goroutine, one call at a time; a slow handler holds back receiving
// (nothing is dropped on zspy's side). Nil functions are skipped.
type Handler struct {
	Event     func(Event)
	Malformed func(Malformed)
	Link      func(LinkEvent)
}

// Subscriber receives forwarded monitor events on one or more endpoints and
// reconnects on its own. Create it with NewSubscriber and call Run once.
type Subscriber struct {
	cfg Config
	eps []Endpoint
	// bound holds the listeners Bind opened, by endpoint index, for Run
	// to take.
	mu    sync.Mutex
	bound map[int]net.Listener

	received, events, malformed      atomic.Uint64
	connects, reconnects, dialFailed atomic.Uint64
	linkErrors, refused              atomic.Uint64
	handshakeFailed, authFailed      atomic.Uint64
}

// NewSubscriber validates cfg and returns a Subscriber.
func NewSubscriber(cfg Config) (*Subscriber, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("no monitor endpoints")
	}
	if cfg.Socket > SocketPull {
		return nil, fmt.Errorf("invalid socket type %d", cfg.Socket)
	}
	if cfg.Decode.Source > SourceNever {
		return nil, fmt.Errorf("invalid source-frame mode %d", cfg.Decode.Source)
	}
	if cfg.ReconnectMin <= 0 {
		cfg.ReconnectMin = 100 * time.Millisecond
	}
	if cfg.ReconnectMax <= 0 {
		cfg.ReconnectMax = 5 * time.Second
	}
	if cfg.ReconnectMax < cfg.ReconnectMin {
		return nil, fmt.Errorf("reconnect max %v below min %v", cfg.ReconnectMax, cfg.ReconnectMin)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = HandshakeTimeout
	}
	if cfg.MaxHandshakes <= 0 {
		cfg.MaxHandshakes = 64
	}
	if cfg.MaxForwarders <= 0 {
		cfg.MaxForwarders = 1024
	}
	if cfg.MaxForwarders < cfg.MaxHandshakes {
		cfg.MaxHandshakes = cfg.MaxForwarders
	}
	if a := cfg.Plain; a != nil && (len(a.Username) > 255 || len(a.Password) > 255) {
		return nil, errors.New("PLAIN username and password are at most 255 bytes each")
	}
	s := &Subscriber{cfg: cfg}
	for _, spec := range cfg.Endpoints {
		e, err := ParseEndpoint(spec, cfg.Socket)
		if err != nil {
			return nil, err
		}
		s.eps = append(s.eps, e)
	}
	return s, nil
}

// Endpoints returns the parsed endpoints.
func (s *Subscriber) Endpoints() []Endpoint { return append([]Endpoint(nil), s.eps...) }

// Stats returns the counters so far; safe to call at any time.
func (s *Subscriber) Stats() Stats {
	return Stats{
		Received:     s.received.Load(),
		Events:       s.events.Load(),
		Malformed:    s.malformed.Load(),
		Connects:     s.connects.Load(),
		Reconnects:   s.reconnects.Load(),
		DialFailures: s.dialFailed.Load(),
		LinkErrors:   s.linkErrors.Load(),
		Refused:      s.refused.Load(),

		HandshakeFailures: s.handshakeFailed.Load(),
		AuthFailures:      s.authFailed.Load(),
	}
}

// item is one delivery from an endpoint goroutine to Run's goroutine.
type item struct {
	ev   *Event
	mal  *Malformed
	link *LinkEvent
}

// Run receives until ctx ends, then closes its sockets and returns nil once
// every endpoint goroutine has stopped.
func (s *Subscriber) Run(ctx context.Context, h Handler) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer s.closeBound()
	items := make(chan item)
	var wg sync.WaitGroup
	for i := range s.eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serve(ctx, i, items)
		}()
	}
	go func() {
		wg.Wait()
		close(items)
	}()
	for it := range items {
		switch {
		case it.ev != nil && h.Event != nil:
			h.Event(*it.ev)
		case it.mal != nil && h.Malformed != nil:
			h.Malformed(*it.mal)
		case it.link != nil && h.Link != nil:
			h.Link(*it.link)
		}
	}
	return nil
}

// Events runs the subscriber in a goroutine and delivers decoded events on a
// channel of the given buffer size, closed when ctx ends. Malformed messages
// are only counted (see Stats).
func (s *Subscriber) Events(ctx context.Context, buffer int) <-chan Event {
	ch := make(chan Event, buffer)
	go func() {
		defer close(ch)
		_ = s.Run(ctx, Handler{Event: func(e Event) {
			select {
			case ch <- e:
			case <-ctx.Done():
			}
		}})
	}()
	return ch
}

func (s *Subscriber) send(ctx context.Context, out chan<- item, it item) bool {
	select {
	case out <- it:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Subscriber) link(ctx context.Context, out chan<- item, l LinkEvent) {
	l.Time = s.cfg.Now()
	s.send(ctx, out, item{link: &l})
}

// wait sleeps d unless ctx ends first; it reports whether ctx is still live.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Subscriber) deliver(ctx context.Context, out chan<- item, ep Endpoint, dec *Decoder, frames [][]byte) {
	s.received.Add(1)
	now := s.cfg.Now()
	ev, err := dec.Decode(frames)
	if err != nil {
		s.malformed.Add(1)
		m := &Malformed{Time: now, Via: ep.Spec, Frames: len(frames), Err: err}
		for i, f := range frames {
			if i == 16 {
				break
			}
			m.Sizes = append(m.Sizes, len(f))
		}
		s.send(ctx, out, item{mal: m})
		return
	}
	s.events.Add(1)
	ev.Time, ev.Via = now, ep.Spec
	s.send(ctx, out, item{ev: &ev})
}

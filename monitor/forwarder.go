package monitor

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/go-zeromq/zmq4"
)

// Why a connection to a bound endpoint was refused before its handshake.
var (
	ErrNotAllowed        = errors.New("source address not in the allowlist")
	ErrTooManyHandshakes = errors.New("too many handshakes in progress")
	ErrTooManyForwarders = errors.New("too many forwarders connected")
	// ErrTooLarge marks a message of more than MaxFrames frames or
	// MaxMessageSize bytes: it is skipped and the connection goes on.
	ErrTooLarge = errors.New("message too large")
)

// serve runs one endpoint until ctx ends.
func (s *Subscriber) serve(ctx context.Context, i int, out chan<- item) {
	ep := s.eps[i]
	if ep.Bind {
		s.serveBound(ctx, ep, s.takeBound(i), out)
		return
	}
	s.serveDialled(ctx, ep, out)
}

// serveDialled connects to a forwarder that binds, and redials whenever the
// connection fails or ends, backing off while it fails.
func (s *Subscriber) serveDialled(ctx context.Context, ep Endpoint, out chan<- item) {
	backoff := s.cfg.ReconnectMin
	connected := false
	for ctx.Err() == nil {
		c, err := dial(ctx, ep, s.cfg.HandshakeTimeout)
		var f *forwarder
		if err == nil {
			f, err = s.handshake(ctx, ep, c, false)
		}
		if err != nil {
			if ctx.Err() != nil || !s.retry(ctx, out, ep, fmt.Errorf("could not connect to %s: %w", ep.URL(), err), &backoff) {
				return
			}
			continue
		}
		backoff = s.cfg.ReconnectMin
		s.connects.Add(1)
		if connected {
			s.reconnects.Add(1)
		}
		connected = true
		s.link(ctx, out, LinkEvent{Via: ep.Spec, State: LinkConnected, Addr: ep.URL()})
		err = f.receive(ctx, s, ep, out)
		f.close()
		if ctx.Err() != nil {
			return
		}
		s.linkErrors.Add(1)
		s.link(ctx, out, LinkEvent{Via: ep.Spec, State: LinkLost, Err: err})
		if !wait(ctx, s.cfg.ReconnectMin) {
			return
		}
	}
}

// retry reports a failed dial or bind, waits backoff and doubles it (up to
// ReconnectMax); it reports whether ctx is still live.
func (s *Subscriber) retry(ctx context.Context, out chan<- item, ep Endpoint, err error, backoff *time.Duration) bool {
	s.dialFailed.Add(1)
	s.link(ctx, out, LinkEvent{Via: ep.Spec, State: LinkDialFailed, Err: err})
	if !wait(ctx, *backoff) {
		return false
	}
	*backoff = min(2**backoff, s.cfg.ReconnectMax)
	return true
}

// listen binds ep. An IPv4 address (0.0.0.0 included) listens on IPv4 only
// and an IPv6 one on IPv6 only: Go's "tcp" would take 0.0.0.0 for every
// address of both families. "*" or an empty host means both.
func listen(ctx context.Context, ep Endpoint) (net.Listener, error) {
	var lc net.ListenConfig
	if ep.Transport == "ipc" {
		return lc.Listen(ctx, "unix", ep.Address)
	}
	host, port, err := net.SplitHostPort(ep.Address)
	if err != nil {
		return nil, err
	}
	network := "tcp"
	if host == "*" {
		host = ""
	} else if a, err := netip.ParseAddr(host); err == nil {
		network = "tcp6"
		if a.Is4() {
			network = "tcp4"
		}
	}
	return lc.Listen(ctx, network, net.JoinHostPort(host, port))
}

// Bind binds every endpoint with a leading "@" now, so that an address in
// use (or any other reason a bind fails) is an error at start instead of a
// retry that goes on for ever. Run then serves on these listeners; if their
// socket is later lost, Run binds again and retries as before. Without Bind,
// Run binds each endpoint itself and retries.
func (s *Subscriber) Bind(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bound == nil {
		s.bound = map[int]net.Listener{}
	}
	for i, ep := range s.eps {
		if !ep.Bind || s.bound[i] != nil {
			continue
		}
		ln, err := listen(ctx, ep)
		if err != nil {
			for j, l := range s.bound {
				l.Close()
				delete(s.bound, j)
			}
			return bindError(ep, err)
		}
		s.bound[i] = ln
	}
	return nil
}

// bindError says why ep could not be bound, in words for an address in use.
func bindError(ep Endpoint, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		if ep.Transport == "ipc" {
			return fmt.Errorf("could not bind %s: the socket file exists (another zspy, or one that did not clean up: remove %s if nothing listens on it): %w", ep.URL(), ep.Address, err)
		}
		_, port, _ := net.SplitHostPort(ep.Address)
		return fmt.Errorf("could not bind %s: the address is in use by another process (`ss -ltnp 'sport = :%s'` names it): %w", ep.URL(), port, err)
	}
	return fmt.Errorf("could not bind %s: %w", ep.URL(), err)
}

// takeBound returns the listener Bind opened for endpoint i, once.
func (s *Subscriber) takeBound(i int) net.Listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	ln := s.bound[i]
	delete(s.bound, i)
	return ln
}

// closeBound closes the listeners Bind opened that Run did not take.
func (s *Subscriber) closeBound() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, ln := range s.bound {
		ln.Close()
		delete(s.bound, i)
	}
}

// serveBound listens on ep and serves every forwarder that connects, each on
// its own goroutine, so that a slow, silent or hostile peer holds up no one.
// ln is the listener Bind opened, or nil.
func (s *Subscriber) serveBound(ctx context.Context, ep Endpoint, ln net.Listener, out chan<- item) {
	backoff := s.cfg.ReconnectMin
	for ctx.Err() == nil {
		var err error
		if ln == nil {
			ln, err = listen(ctx, ep)
		}
		if err != nil {
			if ctx.Err() != nil || !s.retry(ctx, out, ep, fmt.Errorf("could not bind %s: %w", ep.URL(), err), &backoff) {
				return
			}
			continue
		}
		backoff = s.cfg.ReconnectMin
		s.link(ctx, out, LinkEvent{Via: ep.Spec, State: LinkListening, Addr: ep.Transport + "://" + ln.Addr().String()})
		s.accept(ctx, ep, ln, out)
		ln.Close()
		ln = nil
	}
	if ln != nil { // ctx ended before it served
		ln.Close()
	}
}

// accept takes connections from ln until ctx ends.
func (s *Subscriber) accept(ctx context.Context, ep Endpoint, ln net.Listener, out chan<- item) {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	handshakes := make(chan struct{}, s.cfg.MaxHandshakes)
	held := make(chan struct{}, s.cfg.MaxForwarders)
	refuse := func(c net.Conn, remote string, why error) {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset: nothing was said, nothing to wait for
		}
		c.Close()
		s.refused.Add(1)
		s.link(ctx, out, LinkEvent{Via: ep.Spec, State: LinkRefused, Addr: remote, Err: why})
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors, or the like: say so, and try again soon.
			s.link(ctx, out, LinkEvent{Via: ep.Spec, State: LinkDialFailed, Err: fmt.Errorf("accept: %w", err)})
			if !wait(ctx, s.cfg.ReconnectMin) {
				return
			}
			continue
		}
		remote := c.RemoteAddr().String()
		ta, isIP := c.RemoteAddr().(*net.TCPAddr)
		var ap netip.AddrPort
		if isIP {
			ap = ta.AddrPort()
		}
		if !s.allowed(ap, isIP) {
			refuse(c, remote, ErrNotAllowed)
			continue
		}
		select {
		case held <- struct{}{}:
		default:
			refuse(c, remote, ErrTooManyForwarders)
			continue
		}
		select {
		case handshakes <- struct{}{}:
		default:
			<-held
			refuse(c, remote, ErrTooManyHandshakes)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-held }()
			f, err := s.handshake(ctx, ep, c, true)
			<-handshakes
			if err != nil {
				if ctx.Err() == nil {
					s.link(ctx, out, LinkEvent{Via: ep.Spec, State: LinkRefused, Addr: remote, Err: err})
				}
				return
			}
			s.connects.Add(1)
			s.link(ctx, out, LinkEvent{Via: ep.Spec, State: LinkAccepted, Addr: remote})
			err = f.receive(ctx, s, ep, out)
			f.close()
			if ctx.Err() == nil {
				s.linkErrors.Add(1)
				s.link(ctx, out, LinkEvent{Via: ep.Spec, State: LinkLost, Addr: remote, Err: err})
			}
		}()
	}
}

// forwarder is one connection with a forwarder, past its handshake.
type forwarder struct {
	g  *guardConn
	zc *zmq4.Conn
}

func (f *forwarder) close() { f.g.Close() }

// zmq4Type is the zmq4 socket type zspy speaks on an endpoint of kind k.
func (k SocketKind) zmq4Type() zmq4.SocketType {
	switch k {
	case SocketPair:
		return zmq4.Pair
	case SocketPull:
		return zmq4.Pull
	}
	return zmq4.Sub
}

// handshake runs the ZMTP greeting and security handshake on c within
// HandshakeTimeout, and for a SUB endpoint subscribes to everything.
func (s *Subscriber) handshake(ctx context.Context, ep Endpoint, c net.Conn, server bool) (*forwarder, error) {
	g := newGuardConn(ctx, c)
	_ = c.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	sec := s.security(server)
	zc, err := zmq4.Open(g, sec, ep.Socket.zmq4Type(), nil, server, nil)
	if err != nil {
		g.Close()
		s.handshakeFailed.Add(1)
		var ne net.Error
		switch {
		case errors.Is(err, errBadCredentials):
			s.authFailed.Add(1)
			err = errBadCredentials
			if p, ok := sec.(*plainServer); ok {
				err = fmt.Errorf("%w (user %q)", errBadCredentials, p.gotUser)
			}
		case errors.As(err, &ne) && ne.Timeout():
			err = fmt.Errorf("no handshake within %v", s.cfg.HandshakeTimeout)
		default:
			err = fmt.Errorf("handshake failed: %w", err)
		}
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	g.handshook()
	if ep.Socket == SocketSub {
		// A PUB sends nothing until subscribed (the 0x01 prefix form, which
		// libzmq takes from any ZMTP 3 peer, as zmq4's SUB sends it).
		if err := zc.SendMsg(zmq4.NewMsg([]byte{1})); err != nil {
			g.Close()
			return nil, fmt.Errorf("subscribing: %w", err)
		}
	}
	return &forwarder{g: g, zc: zc}, nil
}

// receive reads messages until the connection fails or ends, delivering
// each as an event or a malformed message. It answers PING with PONG.
func (f *forwarder) receive(ctx context.Context, s *Subscriber, ep Endpoint, out chan<- item) error {
	r := &msgReader{br: bufio.NewReaderSize(f.g, 16<<10)}
	dec := &Decoder{Options: s.cfg.Decode}
	for {
		frames, cmd, skipped, err := r.next()
		switch {
		case err != nil:
			if errors.Is(err, io.EOF) {
				return errors.New("closed by the forwarder")
			}
			return err
		case cmd != nil:
			if n := int(cmd[0]); len(cmd) >= 1+n && string(cmd[1:1+n]) == zmq4.CmdPing && len(cmd) >= 7 {
				// PING: name, 2-byte TTL, context to echo.
				if err := f.zc.SendCmd(zmq4.CmdPong, slices.Clone(cmd[7:])); err != nil {
					return err
				}
			}
		case skipped != nil:
			s.received.Add(1)
			s.malformed.Add(1)
			m := &Malformed{Time: s.cfg.Now(), Via: ep.Spec, Frames: r.nframes, Sizes: slices.Clone(r.sizes), Err: skipped}
			if !s.send(ctx, out, item{mal: m}) {
				return ctx.Err()
			}
		default:
			s.deliver(ctx, out, ep, dec, frames)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
}

// msgReader reads ZMTP 3 messages within the limits: a frame above
// MaxFrameSize is an error (the connection ends); a message above MaxFrames
// frames or MaxMessageSize bytes is read through without being kept and
// reported as skipped. It keeps at most MaxMessageSize bytes.
type msgReader struct {
	br      *bufio.Reader
	buf     []byte   // the kept bytes of the current message
	ends    []int    // end offset of each kept frame in buf
	frames  [][]byte // the frames returned, aliasing buf
	sizes   []int    // the first 16 frame sizes, for a skipped message
	nframes int      // frames of the current message
}

// next returns the next message's frames, or a command's body, or the error
// that made it skip a message. Frames and body alias the reader's buffer
// until the next call.
func (r *msgReader) next() (frames [][]byte, cmd []byte, skipped, err error) {
	r.buf, r.ends, r.sizes, r.nframes = r.buf[:0], r.ends[:0], r.sizes[:0], 0
	for {
		flags, err := r.br.ReadByte()
		if err != nil {
			return nil, nil, nil, err
		}
		if flags&^7 != 0 {
			return nil, nil, nil, &guardError{fmt.Sprintf("monitor peer sent invalid frame flags 0x%02x", flags)}
		}
		var size uint64
		if flags&2 != 0 {
			var b [8]byte
			if _, err := io.ReadFull(r.br, b[:]); err != nil {
				return nil, nil, nil, err
			}
			size = binary.BigEndian.Uint64(b[:])
		} else {
			b, err := r.br.ReadByte()
			if err != nil {
				return nil, nil, nil, err
			}
			size = uint64(b)
		}
		if size > MaxFrameSize {
			return nil, nil, nil, &guardError{fmt.Sprintf("monitor peer sent a %d-byte frame (limit %d)", size, MaxFrameSize)}
		}
		if flags&4 != 0 {
			if r.nframes > 0 || flags&1 != 0 {
				return nil, nil, nil, &guardError{"monitor peer sent a command inside a message"}
			}
			r.buf = slices.Grow(r.buf, int(size))[:size]
			if _, err := io.ReadFull(r.br, r.buf); err != nil {
				return nil, nil, nil, err
			}
			if size == 0 {
				return nil, nil, nil, &guardError{"monitor peer sent an empty command"}
			}
			return nil, r.buf, nil, nil
		}
		r.nframes++
		if len(r.sizes) < 16 {
			r.sizes = append(r.sizes, int(size))
		}
		if skipped == nil {
			switch {
			case r.nframes > MaxFrames:
				skipped = fmt.Errorf("%w: more than %d frames", ErrTooLarge, MaxFrames)
			case len(r.buf)+int(size) > MaxMessageSize:
				skipped = fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxMessageSize)
			}
		}
		if skipped != nil {
			if _, err := r.br.Discard(int(size)); err != nil {
				return nil, nil, nil, err
			}
		} else {
			start := len(r.buf)
			r.buf = slices.Grow(r.buf, int(size))[:start+int(size)]
			if _, err := io.ReadFull(r.br, r.buf[start:]); err != nil {
				return nil, nil, nil, err
			}
			r.ends = append(r.ends, len(r.buf))
		}
		if flags&1 == 0 {
			break
		}
	}
	if skipped != nil {
		return nil, nil, skipped, nil
	}
	r.frames = r.frames[:0]
	start := 0
	for _, end := range r.ends {
		r.frames = append(r.frames, r.buf[start:end:end])
		start = end
	}
	return r.frames, nil, nil, nil
}

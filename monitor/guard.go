package monitor

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/transport"
)

// Limits the subscriber's transport enforces on what forwarders send, before
// zmq4 sees the bytes: zmq4 allocates a frame body by the size in its header
// and collects frames without bound, so a hostile or broken peer could make it
// allocate gigabytes. A connection breaking a limit is closed (and redialled).
const (
	// MaxFrameSize caps one ZMTP frame's body, in bytes.
	MaxFrameSize = 64 << 10
	// MaxFrames caps the frames of one ZMTP message.
	MaxFrames = MaxValues + 5
	// HandshakeTimeout bounds the ZMTP greeting and handshake.
	HandshakeTimeout = 10 * time.Second
)

// The zmq4 transports zspy registers: tcp and ipc wrapped in the guard.
const (
	guardTCP = "zspymon-tcp"
	guardIPC = "zspymon-ipc"
)

var registerOnce sync.Once

func registerGuards() {
	registerOnce.Do(func() {
		// Errors mean the names are taken already, which only zspy does.
		_ = zmq4.RegisterTransport(guardTCP, guardTransport{transport.New("tcp")})
		_ = zmq4.RegisterTransport(guardIPC, guardTransport{transport.New("unix")})
	})
}

// guardTransport wraps a zmq4 transport so that every connection is guarded.
type guardTransport struct{ base transport.Transport }

func (t guardTransport) Dial(ctx context.Context, d transport.Dialer, addr string) (net.Conn, error) {
	c, err := t.base.Dial(ctx, d, addr)
	if err != nil {
		return nil, err
	}
	if selfConnected(c) {
		// Nothing listens on addr, and the kernel picked addr itself as the
		// source port of the dial (it is in the ephemeral range): TCP's
		// simultaneous open joined the socket to itself. Left alone, the
		// subscriber would hand-shake with its own greeting, wait forever
		// on itself, and hold the port the forwarder means to bind. Close
		// with a reset: an orderly close would leave the port in TIME_WAIT,
		// unbindable for a minute.
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
		return nil, fmt.Errorf("dial %s: connected to itself (nothing listens there; the port is in the ephemeral range): %w", addr, errSelfConnect)
	}
	return newGuardConn(ctx, c), nil
}

// errSelfConnect is a dial that TCP joined to itself.
var errSelfConnect = errors.New("self-connection")

// selfConnected reports whether a TCP connection's two ends are one socket.
func selfConnected(c net.Conn) bool {
	l, ok1 := c.LocalAddr().(*net.TCPAddr)
	r, ok2 := c.RemoteAddr().(*net.TCPAddr)
	return ok1 && ok2 && l.Port == r.Port && l.IP.Equal(r.IP)
}

func (t guardTransport) Listen(ctx context.Context, addr string) (net.Listener, error) {
	l, err := t.base.Listen(ctx, addr)
	if err != nil {
		return nil, err
	}
	return guardListener{Listener: l, ctx: ctx}, nil
}

func (t guardTransport) Addr(ep string) (string, error) { return t.base.Addr(ep) }

type guardListener struct {
	net.Listener
	ctx context.Context
}

func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newGuardConn(l.ctx, c), nil
}

// newGuardConn wraps c, closes it when ctx ends (zmq4 does not stop a
// handshake in progress) and bounds the handshake by HandshakeTimeout.
func newGuardConn(ctx context.Context, c net.Conn) *guardConn {
	g := &guardConn{Conn: c, scan: frameScanner{greeting: 64}}
	g.stop = context.AfterFunc(ctx, func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(HandshakeTimeout))
	return g
}

// guardConn checks the ZMTP byte stream it reads against the limits.
type guardConn struct {
	net.Conn
	stop func() bool
	scan frameScanner
	err  error
}

func (g *guardConn) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.Conn.Read(p)
	if n > 0 {
		handshook := g.scan.commandsDone > 0
		if e := g.scan.scan(p[:n]); e != nil {
			g.err = e
			g.Conn.Close()
			return 0, e
		}
		if !handshook && g.scan.commandsDone > 0 {
			// The peer's first command (READY) is through: no more deadline.
			_ = g.Conn.SetReadDeadline(time.Time{})
		}
	}
	return n, err
}

func (g *guardConn) Close() error {
	g.stop()
	return g.Conn.Close()
}

// guardError is a net.Error so that zmq4 treats the connection as closed.
type guardError struct{ msg string }

func (e *guardError) Error() string   { return e.msg }
func (e *guardError) Timeout() bool   { return false }
func (e *guardError) Temporary() bool { return false }

// frameScanner follows ZMTP 3.x framing after the 64-byte greeting, one byte
// slice at a time, without buffering.
type frameScanner struct {
	greeting     int   // greeting bytes still to skip
	state        uint8 // what the next byte is
	flags        byte  // the current frame's flags
	sizeBuf      [8]byte
	sizeN        int    // long-size bytes collected
	body         uint64 // body bytes still to skip
	frames       int    // frames of the current message so far
	commandsDone int    // complete command frames seen
}

const (
	scanFlags uint8 = iota
	scanShortSize
	scanLongSize
	scanBody
)

func (s *frameScanner) scan(p []byte) error {
	for len(p) > 0 {
		if s.greeting > 0 {
			k := min(s.greeting, len(p))
			s.greeting -= k
			p = p[k:]
			continue
		}
		switch s.state {
		case scanFlags:
			s.flags = p[0]
			p = p[1:]
			if s.flags&0x02 != 0 {
				s.state, s.sizeN = scanLongSize, 0
			} else {
				s.state = scanShortSize
			}
		case scanShortSize:
			size := uint64(p[0])
			p = p[1:]
			if err := s.startBody(size); err != nil {
				return err
			}
		case scanLongSize:
			k := copy(s.sizeBuf[s.sizeN:], p)
			s.sizeN += k
			p = p[k:]
			if s.sizeN == 8 {
				if err := s.startBody(binary.BigEndian.Uint64(s.sizeBuf[:])); err != nil {
					return err
				}
			}
		case scanBody:
			k := uint64(len(p))
			if k > s.body {
				k = s.body
			}
			s.body -= k
			p = p[k:]
			if s.body == 0 {
				s.endFrame()
			}
		}
	}
	return nil
}

func (s *frameScanner) startBody(size uint64) error {
	if size > MaxFrameSize {
		return &guardError{fmt.Sprintf("monitor peer sent a %d-byte frame (limit %d)", size, MaxFrameSize)}
	}
	if s.flags&0x04 == 0 {
		s.frames++
		if s.frames > MaxFrames {
			return &guardError{fmt.Sprintf("monitor peer sent a message of more than %d frames", MaxFrames)}
		}
	}
	s.body = size
	s.state = scanBody
	if size == 0 {
		s.endFrame()
	}
	return nil
}

func (s *frameScanner) endFrame() {
	s.state = scanFlags
	if s.flags&0x04 != 0 {
		s.commandsDone++
		return
	}
	if s.flags&0x01 == 0 {
		s.frames = 0
	}
}

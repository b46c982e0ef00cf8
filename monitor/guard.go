package monitor

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"
)

// Limits on what forwarders send. zmq4 allocates a frame body by the size in
// its header and collects frames without bound, so during the handshake,
// which zmq4 reads, the guard checks the bytes before zmq4 sees them; after
// it, the subscriber's msgReader reads messages within the same limits. A
// frame above MaxFrameSize closes the connection (a connecting endpoint
// redials); a message of more than MaxFrames frames or MaxMessageSize bytes
// is read through, counted as malformed and skipped, and the connection
// goes on.
const (
	// MaxFrameSize caps one ZMTP frame's body, in bytes.
	MaxFrameSize = 64 << 10
	// MaxFrames caps the frames of one ZMTP message.
	MaxFrames = MaxValues + 5
	// MaxMessageSize caps the bytes kept of one message (the largest event,
	// MaxValues values, two MaxEndpointLen endpoints and a source, is under
	// 10 KiB).
	MaxMessageSize = 64 << 10
	// HandshakeTimeout is the default bound of one connection's greeting
	// and handshake (Config.HandshakeTimeout).
	HandshakeTimeout = 10 * time.Second
)

// dial connects to ep (tcp or unix) and refuses a TCP connection joined to
// itself.
func dial(ctx context.Context, ep Endpoint, timeout time.Duration) (net.Conn, error) {
	network := "tcp"
	if ep.Transport == "ipc" {
		network = "unix"
	}
	return dialWith(ctx, &net.Dialer{Timeout: timeout}, network, ep.Address)
}

func dialWith(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error) {
	c, err := d.DialContext(ctx, network, addr)
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
	return c, nil
}

// errSelfConnect is a dial that TCP joined to itself.
var errSelfConnect = errors.New("self-connection")

// selfConnected reports whether a TCP connection's two ends are one socket.
func selfConnected(c net.Conn) bool {
	l, ok1 := c.LocalAddr().(*net.TCPAddr)
	r, ok2 := c.RemoteAddr().(*net.TCPAddr)
	return ok1 && ok2 && l.Port == r.Port && l.IP.Equal(r.IP)
}

// newGuardConn wraps c and closes it when ctx ends (zmq4 does not stop a
// handshake in progress). Until handshook is called it checks what it reads
// against MaxFrameSize and MaxFrames, before zmq4, which allocates a frame
// by its declared size, reads it; afterwards the subscriber's own bounded
// reader (msgReader) reads the messages.
func newGuardConn(ctx context.Context, c net.Conn) *guardConn {
	g := &guardConn{Conn: c, scan: frameScanner{greeting: 64}, guarding: true}
	g.stop = context.AfterFunc(ctx, func() { c.Close() })
	return g
}

// guardConn checks the ZMTP byte stream it reads against the limits.
type guardConn struct {
	net.Conn
	stop     func() bool
	scan     frameScanner
	guarding bool
	err      error
}

// handshook ends the checks: the handshake is through.
func (g *guardConn) handshook() { g.guarding = false }

func (g *guardConn) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.Conn.Read(p)
	if n > 0 && g.guarding {
		if e := g.scan.scan(p[:n]); e != nil {
			g.err = e
			g.Conn.Close()
			return 0, e
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

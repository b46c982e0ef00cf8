package monitor

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
	"github.com/go-zeromq/zmq4/security/plain"
)

// security returns the mechanism of one connection: NULL, or PLAIN with
// cfg.Plain (a fresh value per connection: zmq4's PLAIN client forgets its
// credentials after a handshake).
func (s *Subscriber) security(server bool) zmq4.Security {
	a := s.cfg.Plain
	switch {
	case a == nil:
		return null.Security()
	case server:
		return &plainServer{user: []byte(a.Username), pass: []byte(a.Password)}
	}
	return plain.Security(a.Username, a.Password)
}

// errBadCredentials is a PLAIN HELLO whose credentials do not match.
var errBadCredentials = errors.New("wrong PLAIN username or password")

// plainServer is the server side of ZMTP PLAIN (RFC 24) that checks the
// client's credentials. go-zeromq/zmq4's own PLAIN server accepts any
// (its validateHello is a stub), so it cannot guard an endpoint.
type plainServer struct {
	user, pass []byte
	// gotUser is the username the client presented, for the refusal.
	gotUser string
}

func (*plainServer) Type() zmq4.SecurityType { return zmq4.PlainSecurity }

// Handshake runs HELLO → WELCOME, INITIATE → READY, answering a wrong HELLO
// with ERROR "400" as libzmq's ZAP does.
func (p *plainServer) Handshake(conn *zmq4.Conn, server bool) error {
	if !server {
		return errors.New("plainServer is the server side only")
	}
	cmd, err := conn.RecvCmd()
	if err != nil {
		return fmt.Errorf("PLAIN: no HELLO: %w", err)
	}
	if cmd.Name != zmq4.CmdHello {
		return fmt.Errorf("PLAIN: %q instead of HELLO", cmd.Name)
	}
	user, rest, ok := shortField(cmd.Body)
	pass, _, ok2 := shortField(rest)
	if !ok || !ok2 {
		return errors.New("PLAIN: malformed HELLO")
	}
	p.gotUser = string(user)
	// Both compared whatever the first gives, in time independent of the
	// contents.
	okUser := subtle.ConstantTimeCompare(user, p.user)
	okPass := subtle.ConstantTimeCompare(pass, p.pass)
	if okUser&okPass != 1 {
		_ = conn.SendCmd(zmq4.CmdError, []byte("\x03400"))
		return errBadCredentials
	}
	if err := conn.SendCmd(zmq4.CmdWelcome, nil); err != nil {
		return fmt.Errorf("PLAIN: sending WELCOME: %w", err)
	}
	cmd, err = conn.RecvCmd()
	if err != nil {
		return fmt.Errorf("PLAIN: no INITIATE: %w", err)
	}
	if cmd.Name != zmq4.CmdInitiate {
		return fmt.Errorf("PLAIN: %q instead of INITIATE", cmd.Name)
	}
	if err := conn.Peer.Meta.UnmarshalZMTP(cmd.Body); err != nil {
		return fmt.Errorf("PLAIN: INITIATE metadata: %w", err)
	}
	raw, err := conn.Meta.MarshalZMTP()
	if err != nil {
		return fmt.Errorf("PLAIN: READY metadata: %w", err)
	}
	if err := conn.SendCmd(zmq4.CmdReady, raw); err != nil {
		return fmt.Errorf("PLAIN: sending READY: %w", err)
	}
	return nil
}

func (*plainServer) Encrypt(w io.Writer, data []byte) (int, error) { return w.Write(data) }
func (*plainServer) Decrypt(w io.Writer, data []byte) (int, error) { return w.Write(data) }

// shortField splits b into a field with a 1-byte length and what follows.
func shortField(b []byte) (field, rest []byte, ok bool) {
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return nil, nil, false
	}
	n := 1 + int(b[0])
	return b[1:n], b[n:], true
}

// allowed reports whether a forwarder at addr may connect: any address when
// the allowlist is empty; otherwise one inside an allowed network (an IPv4
// peer on a dual-stack socket is compared as IPv4). Addresses that are not
// IP (ipc://) are allowed: file permissions guard them.
func (s *Subscriber) allowed(addr netip.AddrPort, isIP bool) bool {
	if len(s.cfg.Allow) == 0 || !isIP {
		return true
	}
	a := addr.Addr().Unmap()
	for _, p := range s.cfg.Allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

package monitor

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/go-zeromq/zmq4"
)

// plainPush is a hand-written ZMTP 3.0 PLAIN PUSH client on a raw TCP
// connection: it completes the handshake with user and password and
// returns the connection, or the error (an ERROR command's reason
// included).
func plainPush(t *testing.T, addr, user, pass string) (net.Conn, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(deadline))
	greeting := make([]byte, 64)
	greeting[0], greeting[9], greeting[10] = 0xFF, 0x7F, 3
	copy(greeting[12:], "PLAIN")
	cmd := func(name string, body []byte) []byte {
		b := append([]byte{byte(len(name))}, name...)
		b = append(b, body...)
		return append([]byte{0x04, byte(len(b))}, b...)
	}
	recvCmd := func() (string, []byte, error) {
		hdr := make([]byte, 2)
		if _, err := io.ReadFull(conn, hdr); err != nil {
			return "", nil, err
		}
		body := make([]byte, hdr[1])
		if _, err := io.ReadFull(conn, body); err != nil {
			return "", nil, err
		}
		n := int(body[0])
		return string(body[1 : 1+n]), body[1+n:], nil
	}
	hello := append(append([]byte{byte(len(user))}, user...), byte(len(pass)))
	hello = append(hello, pass...)
	if _, err := conn.Write(append(greeting, cmd("HELLO", hello)...)); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(conn, make([]byte, 64)); err != nil {
		return nil, err
	}
	name, body, err := recvCmd()
	if err != nil {
		return nil, err
	}
	if name != "WELCOME" {
		return nil, errors.New(name + " " + string(body))
	}
	meta := binary.BigEndian.AppendUint32([]byte("\x0bSocket-Type"), 4)
	if _, err := conn.Write(cmd("INITIATE", append(meta, "PUSH"...))); err != nil {
		return nil, err
	}
	if name, _, err := recvCmd(); err != nil || name != "READY" {
		return nil, errors.New("no READY: " + name)
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}

// The monitor test of issue 13: a bound endpoint guarded by PLAIN, under
// ten idle TCP connects (held open, silent, for the whole test), a forwarder
// without credentials, a real libzmq forwarder with the wrong password, and
// an authenticated forwarder that sends a 70-frame message. The handshake
// timeout is an hour: a serial accept loop (zmq4's) would wait on the first
// idle connect for all of it. Every event of the real libzmq forwarder with
// the right password arrives, as does the hostile one's event after its bad
// message; nothing of the unauthenticated ones does.
func TestBoundEndpointUnderAttack(t *testing.T) {
	python(t)
	const user, pass = "zspy", "s3cret"
	sub, c := start(t, Config{Endpoints: []string{"@pull+tcp://127.0.0.1:0"},
		Plain: &PlainAuth{Username: user, Password: pass}, HandshakeTimeout: time.Hour})
	addr := c.listening(t)
	host := strings.TrimPrefix(addr, "tcp://")

	for range 10 {
		idle, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { idle.Close() })
	}
	// No credentials: a NULL PUSH.
	null, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { null.Close() })
	_ = null.SetDeadline(time.Now().Add(deadline))
	if err := zmtpPeer(null); err == nil {
		t.Error("a NULL forwarder was accepted")
	}
	// Wrong user, wrong password.
	for _, cred := range [][2]string{{"admin", pass}, {user, "guess"}} {
		if _, err := plainPush(t, host, cred[0], cred[1]); err == nil || !strings.Contains(err.Error(), "ERROR \x03400") {
			t.Errorf("%s:%s: %v, want ERROR 400", cred[0], cred[1], err)
		}
	}
	// Wrong password, real libzmq: it retries on its own while the others
	// run. (A PUB: its relay drops what it cannot deliver, where a PUSH
	// would block with no peer, and the scenario waits on its own relay.)
	wrong := startApp(t, "--forward", addr, "--mode", "connect", "--socket", "pub", "--plain", user+":guess", "retry")
	// Authenticated but hostile: a message of MaxFrames+1 frames, then a good event.
	hostile, err := plainPush(t, host, user, pass)
	if err != nil {
		t.Fatalf("authenticated raw forwarder: %v", err)
	}
	bad := append(bytesRepeat([]byte{0x01, 0x00}, MaxFrames), 0x00, 0x00)
	if _, err := hostile.Write(append(bad, zmtpMsg(withSource("hostile/after", v1(le, 0x1, 5, "tcp://h:1")))...)); err != nil {
		t.Fatal(err)
	}
	// The right password, real libzmq: every event it relays must arrive.
	good := startApp(t, "--forward", addr, "--mode", "connect", "--socket", "push", "--plain", user+":"+pass,
		"bind_connect", "bad_password")
	recs := good.finish(t)
	wrongRecs := wrong.finish(t)
	c.waitFor(t, "every event of the authenticated forwarders", func() bool { return len(c.events) >= len(recs)+1 })
	// The wrong user, the wrong password, libzmq's wrong password (at least
	// once; it retries), and NULL, each refused.
	c.waitFor(t, "the refusals", func() bool {
		creds, other := 0, 0
		for _, l := range c.links {
			switch {
			case l.State != LinkRefused:
			case errors.Is(l.Err, errBadCredentials):
				creds++
			default:
				other++
			}
		}
		return creds >= 3 && other >= 1
	})

	c.mu.Lock()
	var fromGood []Event
	var hostileEvents, wrongEvents int
	for _, e := range c.events {
		switch {
		case e.Source == "hostile/after":
			hostileEvents++
		case strings.HasPrefix(e.Source, "retry/"):
			wrongEvents++
		default:
			fromGood = append(fromGood, e)
		}
	}
	mal := append([]Malformed(nil), c.mal...)
	c.mu.Unlock()
	compare(t, recs, fromGood)
	if hostileEvents != 1 || wrongEvents != 0 || len(wrongRecs) == 0 {
		t.Errorf("events: %d from the hostile forwarder (want 1), %d from the wrong password (want 0 of %d relayed)",
			hostileEvents, wrongEvents, len(wrongRecs))
	}
	if len(mal) != 1 || !errors.Is(mal[0].Err, ErrTooLarge) {
		t.Errorf("malformed %v, want the one 70-frame message", mal)
	}
	st := sub.Stats()
	if st.AuthFailures < 3 || st.HandshakeFailures < st.AuthFailures+1 || st.Refused != 0 {
		t.Errorf("stats %+v: want at least 3 wrong credentials, 1 more failed handshake, none refused", st)
	}
}

// Sources outside the allowlist are reset before anything is read; the
// allowlist compares an IPv4 peer of a dual-stack socket as IPv4.
func TestAllowlist(t *testing.T) {
	sub, c := start(t, Config{Endpoints: []string{"@pull+tcp://127.0.0.1:0"},
		Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	addr := c.listening(t)
	// The reset can come before the dial returns.
	if conn, err := net.Dial("tcp", strings.TrimPrefix(addr, "tcp://")); err == nil {
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(deadline))
		if n, err := conn.Read(make([]byte, 64)); err == nil {
			t.Fatalf("read %d bytes (a greeting?) from an endpoint that should refuse 127.0.0.1", n)
		}
	}
	c.waitFor(t, "the refusal", func() bool {
		for _, l := range c.links {
			if l.State == LinkRefused && errors.Is(l.Err, ErrNotAllowed) && strings.HasPrefix(l.Addr, "127.0.0.1:") {
				return true
			}
		}
		return false
	})
	if st := sub.Stats(); st.Refused != 1 || st.HandshakeFailures != 0 {
		t.Errorf("stats %+v", st)
	}
	s := &Subscriber{cfg: Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}
	if !s.allowed(netip.MustParseAddrPort("[::ffff:127.0.0.1]:5"), true) || s.allowed(netip.MustParseAddrPort("[::1]:5"), true) {
		t.Error("IPv4-mapped peer not compared as IPv4, or ::1 taken for 127.0.0.0/8")
	}
}

// FuzzMsgReader: whatever a forwarder sends after its handshake, the reader
// never panics, keeps at most MaxMessageSize bytes of a message, returns at
// most MaxFrames frames, and reads a stream the same however it arrives.
func FuzzMsgReader(f *testing.F) {
	f.Add(zmtpMsg(withSource("app/sock", v1(le, 0x1, 7, "tcp://h:1"))), uint8(1))
	f.Add(append(bytesRepeat([]byte{0x01, 0x00}, MaxFrames), 0x00, 0x01, 'x'), uint8(3))
	f.Add([]byte{0x04, 0x07, 0x04, 'P', 'I', 'N', 'G', 0x00, 0x0a}, uint8(0))
	f.Add([]byte{0x03, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x00}, uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		read := func(src io.Reader) []string {
			r := &msgReader{br: bufio.NewReaderSize(src, 16)}
			var out []string
			for {
				frames, cmd, skipped, err := r.next()
				if err != nil {
					return append(out, "end")
				}
				total := 0
				for _, f := range frames {
					total += len(f)
				}
				if total > MaxMessageSize || len(frames) > MaxFrames || cap(r.buf) > 2*MaxMessageSize {
					t.Fatalf("kept %d bytes in %d frames (buffer %d)", total, len(frames), cap(r.buf))
				}
				out = append(out, fmt.Sprintf("%q %q %v", frames, cmd, skipped))
			}
		}
		whole := read(bytes.NewReader(data))
		pieces := read(iotest.OneByteReader(bytes.NewReader(data)))
		if chunk&1 == 1 {
			pieces = read(iotest.HalfReader(bytes.NewReader(data)))
		}
		if strings.Join(whole, "\n") != strings.Join(pieces, "\n") {
			t.Fatalf("split reads differ:\n%s\n---\n%s", strings.Join(whole, "\n"), strings.Join(pieces, "\n"))
		}
	})
}

// A bound 0.0.0.0 listens on IPv4 only (Go's "tcp" would take every
// address of both families), "*" on both.
func TestListenFamilies(t *testing.T) {
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	} else {
		ln.Close()
	}
	for _, tc := range []struct {
		addr string
		v6   bool
	}{{"0.0.0.0:0", false}, {"*:0", true}, {"[::]:0", true}} {
		ep, err := ParseEndpoint("@tcp://"+tc.addr, SocketPull)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := listen(t.Context(), ep)
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		c, err := net.Dial("tcp6", net.JoinHostPort("::1", fmt.Sprint(port)))
		if err == nil {
			c.Close()
		}
		if (err == nil) != tc.v6 {
			t.Errorf("%s: IPv6 dial error %v, want reachable %v", tc.addr, err, tc.v6)
		}
		ln.Close()
	}
}

// Connecting to a forwarder that binds, zspy presents Config.Plain with
// zmq4's PLAIN client (a fresh one on every dial: zmq4's forgets its
// credentials after a handshake); the forwarder here is a zmq4 PUSH whose
// PLAIN server reports what it was given.
func TestDialWithPlain(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 2)
	go func() {
		for range 2 {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			p := &plainServer{user: []byte("zspy"), pass: []byte("s3cret")}
			zc, err := zmq4.Open(conn, p, zmq4.Push, nil, true, nil)
			got <- p.gotUser
			if err != nil {
				conn.Close()
				continue
			}
			_ = zc.SendMsg(zmq4.NewMsgFrom(v1(le, 0x1, 3, "tcp://h:1")...))
			conn.Close() // zspy redials: a second handshake with the same credentials
		}
	}()
	sub, c := start(t, Config{Endpoints: []string{"pull+tcp://" + ln.Addr().String()},
		Plain: &PlainAuth{Username: "zspy", Password: "s3cret"}})
	c.waitFor(t, "an event from each of two connections", func() bool { return len(c.events) >= 2 })
	if u1, u2 := <-got, <-got; u1 != "zspy" || u2 != "zspy" {
		t.Errorf("users presented %q, %q", u1, u2)
	}
	if st := sub.Stats(); st.HandshakeFailures != 0 || st.Connects < 2 {
		t.Errorf("stats %+v", st)
	}
}

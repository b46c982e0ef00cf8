package host

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// diagConn asks the kernel's sock_diag for single TCP sockets by their
// 4-tuple (an inet_diag_req_v2 without NLM_F_DUMP: the kernel looks the
// socket up in its hash table instead of walking and serialising every
// socket on the machine). vishvananda/netlink has no such request with
// tcp_info (its SocketGet sends a dump with the ports set, which walks all
// sockets, and asks for no extension), so the request is written here with
// x/sys/unix. Requests go out in batches, one sendto per batch, and every
// one is answered by one message: the socket, or an error (ENOENT when no
// socket has that 4-tuple on this host).
type diagConn struct {
	fd   int
	seq  uint32
	wbuf []byte
	rbuf []byte
}

// Sizes of the kernel's structs (linux/inet_diag.h, linux/netlink.h).
const (
	sizeofNlMsghdr      = 16
	sizeofInetDiagReqV2 = 56
	sizeofInetDiagMsg   = 72
	inetDiagInfo        = 2  // INET_DIAG_INFO: the tcp_info attribute
	diagBatch           = 32 // requests per sendto: their answers fit the receive buffer
)

func openDiag() (*diagConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("host: socket diagnostics: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("host: socket diagnostics: %w", err)
	}
	// The kernel answers during sendto; the timeout only guards against an
	// answer lost to a full receive buffer.
	tv := unix.NsecToTimeval(time.Second.Nanoseconds())
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	return &diagConn{fd: fd, wbuf: make([]byte, 0, diagBatch*(sizeofNlMsghdr+sizeofInetDiagReqV2)), rbuf: make([]byte, 64<<10)}, nil
}

func (d *diagConn) close() { unix.Close(d.fd) }

// lookup asks for the socket of each (local, remote) pair and calls found
// with each answer that names one. It returns the first error other than
// "no such socket".
func (d *diagConn) lookup(pairs [][2]netip.AddrPort, found func(diagMsg)) error {
	var first error
	for len(pairs) > 0 {
		n := min(len(pairs), diagBatch)
		if err := d.batch(pairs[:n], found); err != nil && first == nil {
			first = err
		}
		pairs = pairs[n:]
	}
	return first
}

func (d *diagConn) batch(pairs [][2]netip.AddrPort, found func(diagMsg)) error {
	base := d.seq + 1
	d.wbuf = d.wbuf[:0]
	for i, p := range pairs {
		d.wbuf = appendDiagReq(d.wbuf, base+uint32(i), p[0], p[1])
	}
	d.seq += uint32(len(pairs))
	if err := unix.Sendto(d.fd, d.wbuf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("host: tcp socket lookup: %w", err)
	}
	var first error
	for left := len(pairs); left > 0; {
		n, _, err := unix.Recvfrom(d.fd, d.rbuf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("host: tcp socket lookup: %d answers missing: %w", left, err)
		}
		msgs, err := syscall.ParseNetlinkMessage(d.rbuf[:n])
		if err != nil {
			return fmt.Errorf("host: tcp socket lookup: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq < base || m.Header.Seq >= base+uint32(len(pairs)) {
				continue // a late answer to an earlier batch
			}
			left--
			switch m.Header.Type {
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					continue
				}
				errno := syscall.Errno(-int32(binary.NativeEndian.Uint32(m.Data)))
				if errno != 0 && errno != unix.ENOENT && first == nil {
					first = fmt.Errorf("host: tcp socket lookup: %w", errno)
				}
			case unix.SOCK_DIAG_BY_FAMILY:
				if dm, ok := parseDiagMsg(m.Data); ok {
					found(dm)
				}
			}
		}
	}
	return first
}

// appendDiagReq appends one netlink message asking for the TCP socket whose
// local end is local and remote end is remote, with tcp_info.
func appendDiagReq(b []byte, seq uint32, local, remote netip.AddrPort) []byte {
	var m [sizeofNlMsghdr + sizeofInetDiagReqV2]byte
	ne := binary.NativeEndian
	ne.PutUint32(m[0:], uint32(len(m)))
	ne.PutUint16(m[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(m[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(m[8:], seq)
	r := m[sizeofNlMsghdr:]
	la, ra := local.Addr().Unmap(), remote.Addr().Unmap()
	r[0] = unix.AF_INET6
	if la.Is4() && ra.Is4() {
		r[0] = unix.AF_INET
	}
	r[1] = unix.IPPROTO_TCP
	r[2] = 1 << (inetDiagInfo - 1)
	ne.PutUint32(r[4:], 0xffffffff) // every state
	binary.BigEndian.PutUint16(r[8:], local.Port())
	binary.BigEndian.PutUint16(r[10:], remote.Port())
	if r[0] == unix.AF_INET {
		a, b := la.As4(), ra.As4()
		copy(r[12:], a[:])
		copy(r[28:], b[:])
	} else {
		a, b := local.Addr().As16(), remote.Addr().As16()
		copy(r[12:], a[:])
		copy(r[28:], b[:])
	}
	ne.PutUint32(r[48:], 0xffffffff) // INET_DIAG_NOCOOKIE
	ne.PutUint32(r[52:], 0xffffffff)
	return append(b, m[:]...)
}

// diagMsg is what a sample keeps of one inet_diag_msg.
type diagMsg struct {
	local, remote            netip.AddrPort
	state                    uint8
	rqueue, wqueue, uid, ino uint32
	info                     *unix.TCPInfo
}

// parseDiagMsg reads an inet_diag_msg and its tcp_info attribute; it
// reports false for a message too short to be one.
func parseDiagMsg(b []byte) (diagMsg, bool) {
	if len(b) < sizeofInetDiagMsg {
		return diagMsg{}, false
	}
	ne := binary.NativeEndian
	var d diagMsg
	fam := b[0]
	d.state = b[1]
	sport, dport := binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:])
	if fam == unix.AF_INET {
		d.local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[8:12])), sport)
		d.remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[24:28])), dport)
	} else {
		d.local = unmap(netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), sport))
		d.remote = unmap(netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[24:40])), dport))
	}
	d.rqueue, d.wqueue, d.uid, d.ino = ne.Uint32(b[56:]), ne.Uint32(b[60:]), ne.Uint32(b[64:]), ne.Uint32(b[68:])
	for a := b[sizeofInetDiagMsg:]; len(a) >= 4; {
		l, typ := int(ne.Uint16(a)), ne.Uint16(a[2:])
		if l < 4 || l > len(a) {
			break
		}
		if typ == inetDiagInfo {
			// A kernel older or newer than x/sys's struct sends less or
			// more: what it sent is copied, the rest stays zero.
			var ti unix.TCPInfo
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&ti)), unsafe.Sizeof(ti)), a[4:l])
			d.info = &ti
		}
		a = a[min((l+3)&^3, len(a)):]
	}
	return d, true
}

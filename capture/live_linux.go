//go:build linux

package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// LiveOptions configures a live capture. The zero value selects the defaults.
type LiveOptions struct {
	// SnapLen is how many bytes of each packet are kept (default and maximum
	// MaxRecordLen).
	SnapLen int
	// Promiscuous puts the interface in promiscuous mode while capturing.
	Promiscuous bool
	// BufferSize is the socket receive buffer in bytes (default 32 MiB). A
	// larger one rides out longer stalls of the pipeline before the kernel drops.
	BufferSize int
	// Filter keeps only some TCP traffic, in the kernel (nil: all TCP).
	Filter *Filter
	// ReadTimeout bounds how long Next waits for a packet before returning
	// ErrTimeout, so that the caller can flush idle connections by the clock
	// (default 200 ms).
	ReadTimeout time.Duration
}

// ErrTimeout is returned by a live source's Next when no packet arrived within
// LiveOptions.ReadTimeout. Call Next again to go on waiting.
var ErrTimeout = errors.New("no packet within the read timeout")

var _ Source = (*LiveSource)(nil)

// LiveSource captures TCP segments from a network interface with an AF_PACKET
// socket (root or CAP_NET_RAW). Packets arrive without their link-layer header
// (cooked), so every interface type reads alike, and a kernel filter passes
// only IPv4 TCP and IPv6 packets that may carry TCP. On loopback interfaces
// the kernel shows each packet twice (sent, then received); the sent copy is
// dropped and counted in Stats.Duplicates.
//
// Next, Stats and Close may be called from different goroutines; Close makes a
// blocked Next return io.EOF within ReadTimeout. Stats includes the kernel's
// drop counter.
type LiveSource struct {
	name     string
	fd       int
	loopback map[int32]bool // interface indexes of loopback devices
	buf      []byte
	oob      [64]byte
	from     unix.RawSockaddrLinklayer
	iov      unix.Iovec
	msg      unix.Msghdr
	num      uint64
	cur      Stats // guarded by mu
	filter   *Filter
	rcvbuf   int
	wantBuf  int
	last     []byte // the last packet read, from its IP header
	lastWire int

	// mu guards the descriptor's life: Close closes it only when no Next is
	// inside recvmsg, otherwise that Next closes it on its way out.
	mu       sync.Mutex
	reading  bool
	closed   bool
	fdClosed bool
}

// tcpFilter is a classic BPF program over cooked packets (starting at the IP
// header): IPv4 with protocol 6, and IPv6 unless its next header is UDP or
// ICMPv6 (extension headers are followed in user space).
var tcpFilter = []unix.SockFilter{
	{Code: 0x30, K: 0},                // 0: ldb [0]
	{Code: 0x74, K: 4},                // 1: rsh #4
	{Code: 0x15, Jt: 0, Jf: 2, K: 4},  // 2: jeq #4 → 3 : 5
	{Code: 0x30, K: 9},                // 3: ldb [9]
	{Code: 0x15, Jt: 5, Jf: 6, K: 6},  // 4: jeq #6 → accept : reject
	{Code: 0x15, Jt: 0, Jf: 5, K: 6},  // 5: jeq #6 (version) → 6 : reject
	{Code: 0x30, K: 6},                // 6: ldb [6]
	{Code: 0x15, Jt: 2, Jf: 0, K: 6},  // 7: jeq #6 → accept : 8
	{Code: 0x15, Jt: 2, Jf: 0, K: 17}, // 8: jeq #17 → reject : 9
	{Code: 0x15, Jt: 1, Jf: 0, K: 58}, // 9: jeq #58 → reject : accept
	{Code: 0x06, K: 0x40000},          // 10: accept
	{Code: 0x06, K: 0},                // 11: reject
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// OpenLive starts capturing on the named interface ("any" or "" for all).
func OpenLive(iface string, opts LiveOptions) (*LiveSource, error) {
	if opts.SnapLen <= 0 || opts.SnapLen > MaxRecordLen {
		opts.SnapLen = MaxRecordLen
	}
	if opts.BufferSize <= 0 {
		opts.BufferSize = 32 << 20
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 200 * time.Millisecond
	}
	name := iface
	if name == "" {
		name = "any"
	}
	ifindex := 0
	if name != "any" {
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			return nil, fmt.Errorf("capture on %s: %w", name, err)
		}
		ifindex = ifc.Index
	}
	s := &LiveSource{name: name, loopback: map[int32]bool{}, buf: make([]byte, opts.SnapLen)}
	if ifcs, err := net.Interfaces(); err == nil {
		for _, ifc := range ifcs {
			if ifc.Flags&net.FlagLoopback != 0 {
				s.loopback[int32(ifc.Index)] = true
			}
		}
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("capture on %s: packet socket (needs root or CAP_NET_RAW): %w", name, err)
	}
	s.fd = fd
	fail := func(what string, err error) (*LiveSource, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("capture on %s: %s: %w", name, what, err)
	}
	filter := tcpFilter
	if !opts.Filter.Empty() {
		ins, err := opts.Filter.Program(0x40000)
		if err != nil {
			return fail("filter", err)
		}
		raw, err := sockFilterOf(ins)
		if err != nil {
			return fail("filter", err)
		}
		filter = make([]unix.SockFilter, len(raw))
		for i, r := range raw {
			filter[i] = unix.SockFilter{Code: r.Code, Jt: r.Jt, Jf: r.Jf, K: r.K}
		}
		s.filter = opts.Filter
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
		return fail("attach filter", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, opts.BufferSize); err != nil {
		// Without CAP_NET_ADMIN the kernel caps the buffer at net.core.rmem_max.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, opts.BufferSize); err != nil {
			return fail("receive buffer", err)
		}
	}
	if n, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF); err == nil {
		s.rcvbuf = n / 2 // the kernel reports twice what it accounts for data
	}
	s.wantBuf = opts.BufferSize
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fail("timestamps", err)
	}
	tv := unix.NsecToTimeval(opts.ReadTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fail("read timeout", err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if opts.Promiscuous && ifindex != 0 {
		mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return fail("promiscuous mode", err)
		}
	}
	// Packets queued before the filter was attached may be anything: they are
	// decoded and counted like the rest.
	s.iov.Base = &s.buf[0]
	s.iov.SetLen(len(s.buf))
	s.msg.Name = (*byte)(unsafe.Pointer(&s.from))
	s.msg.Namelen = uint32(unsafe.Sizeof(s.from))
	s.msg.Iov = &s.iov
	s.msg.SetIovlen(1)
	s.msg.Control = &s.oob[0]
	return s, nil
}

// Name returns the interface name.
func (s *LiveSource) Name() string { return s.name }

// Next waits for the next TCP segment and fills seg; seg.Payload is valid until
// the next call. It returns ErrTimeout when no packet came within the read
// timeout, a *PacketError for a packet it could not decode, and io.EOF after
// Close.
func (s *LiveSource) Next(seg *Segment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed {
			s.closeFD()
			return io.EOF
		}
		s.reading = true
		s.mu.Unlock()
		s.msg.Namelen = uint32(unsafe.Sizeof(s.from))
		s.msg.SetControllen(len(s.oob))
		s.msg.Flags = 0
		n, _, errno := unix.Syscall(unix.SYS_RECVMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.msg)), unix.MSG_TRUNC)
		s.mu.Lock()
		s.reading = false
		if s.closed {
			s.closeFD()
			return io.EOF
		}
		switch errno {
		case 0:
		case unix.EAGAIN:
			return ErrTimeout
		case unix.EINTR:
			continue
		default:
			return fmt.Errorf("capture on %s: read: %w", s.name, errno)
		}
		wire := int(n)
		data := s.buf[:min(wire, len(s.buf))]
		if s.from.Pkttype == unix.PACKET_OUTGOING && s.loopback[s.from.Ifindex] {
			s.cur.Duplicates++
			continue
		}
		s.num++
		s.cur.Packets++
		s.cur.Bytes += uint64(wire)
		if len(data) < wire {
			s.cur.Truncated++
		}
		var link LinkType
		switch htons(s.from.Protocol) {
		case etherTypeIPv4:
			link = LinkIPv4
		case etherTypeIPv6:
			link = LinkIPv6
		default:
			s.cur.NonTCP++
			continue
		}
		s.last, s.lastWire = data, wire
		res, err := Decode(link, data, wire, seg)
		if res == ResultTCP && s.filter != nil && !s.filter.Match(seg) {
			s.cur.Filtered++
			continue
		}
		switch res {
		case ResultTCP:
			seg.Num = s.num
			seg.TS = s.timestamp()
			s.cur.TCP++
			return nil
		case ResultNotTCP:
			s.cur.NonTCP++
		case ResultFragment:
			s.cur.Fragments++
		default:
			s.cur.Malformed++
			return &PacketError{File: s.name, Packet: s.num, Err: err}
		}
	}
}

// ReceiveBuffer returns the socket receive buffer the kernel granted and the
// size that was asked for; a smaller grant (no CAP_NET_ADMIN, a low
// net.core.rmem_max) means drops come sooner in bursts.
func (s *LiveSource) ReceiveBuffer() (got, wanted int) { return s.rcvbuf, s.wantBuf }

// Raw returns the packet behind the last segment Next returned, from its IP
// header on (link type raw IP), and its length on the wire. It is valid until
// the next call to Next.
func (s *LiveSource) Raw() (data []byte, wireLen int) { return s.last, s.lastWire }

// timestamp reads the kernel's receive time from the control message, or
// falls back to the clock.
func (s *LiveSource) timestamp() time.Time {
	oob := s.oob[:min(int(s.msg.Controllen), len(s.oob))]
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			break
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && l >= unix.SizeofCmsghdr+16 {
			d := oob[unix.SizeofCmsghdr:]
			sec := int64(binary.NativeEndian.Uint64(d[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(d[8:16]))
			return time.Unix(sec, nsec).UTC()
		}
		oob = oob[min(len(oob), unix.CmsgSpace(l-unix.SizeofCmsghdr)):]
	}
	return time.Now().UTC()
}

// Stats returns the counters, with the packets the kernel dropped for want of
// buffer space. Safe to call from any goroutine.
func (s *LiveSource) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.fdClosed {
		if ks, err := unix.GetsockoptTpacketStats(s.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
			// The kernel resets its counters on every read.
			s.cur.KernelDrops += uint64(ks.Drops)
		}
	}
	return s.cur
}

// closeFD closes the descriptor once; s.mu is held.
func (s *LiveSource) closeFD() {
	if !s.fdClosed {
		s.fdClosed = true
		unix.Close(s.fd)
	}
}

// Close stops the capture; a Next in progress returns io.EOF within the read
// timeout.
func (s *LiveSource) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if !s.reading {
		s.closeFD()
	}
	return nil
}

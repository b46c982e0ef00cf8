//go:build linux

package capture

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// LiveOptions configures a live capture. The zero value selects the defaults.
type LiveOptions struct {
	// SnapLen is how many bytes of each packet are kept (default and maximum
	// MaxRecordLen; a block holds at most BlockSize less its headers).
	SnapLen int
	// Promiscuous puts the interface in promiscuous mode while capturing.
	Promiscuous bool
	// RingSize is the memory-mapped ring the kernel writes packets into, in
	// bytes (default 32 MiB; rounded up to whole blocks). A larger one rides
	// out longer stalls of the pipeline before the kernel drops.
	RingSize int
	// BlockSize is the ring's unit of hand-over: the kernel passes a block to
	// zspy when it is full or BlockTimeout after its first packet (default
	// 512 KiB; a power of two of at least a page).
	BlockSize int
	// BlockTimeout is how long a partly filled block waits (default 50 ms).
	// At low rates each block holds this long of traffic, so the ring holds
	// RingSize/BlockSize of these periods at least.
	BlockTimeout time.Duration
	// Fanout spreads the packets over this many rings (PACKET_FANOUT by flow
	// hash: each connection stays on one ring) read in turn (default 1).
	Fanout int
	// Filter keeps only some TCP traffic, in the kernel (nil: all TCP).
	Filter *Filter
	// ReadTimeout bounds how long Next waits for a packet before returning
	// ErrTimeout, so that the caller can flush idle connections by the clock
	// (default 200 ms).
	ReadTimeout time.Duration
}

// Defaults of LiveOptions.
const (
	DefaultRingSize     = 32 << 20
	DefaultBlockSize    = 512 << 10
	DefaultBlockTimeout = 50 * time.Millisecond
	MaxFanout           = 16
)

// ErrTimeout is returned by a live source's Next when no packet arrived within
// LiveOptions.ReadTimeout. Call Next again to go on waiting.
var ErrTimeout = errors.New("no packet within the read timeout")

var (
	_ Source       = (*LiveSource)(nil)
	_ PacketReader = (*LiveSource)(nil)
)

// LiveSource captures TCP segments from a network interface through
// AF_PACKET sockets (root or CAP_NET_RAW) with TPACKET_V3 rings mapped into
// memory: the kernel writes packets into blocks, and a busy capture makes one
// poll per block instead of one system call per packet. Packets arrive
// without their link-layer header (cooked), so every interface type reads
// alike. The kernel filter passes only IPv4 TCP and IPv6 packets that may
// carry TCP (and the Filter's ports and hosts), and drops the copy of every
// packet a loopback device shows as sent: lo and "any" show each packet once,
// like any other device.
//
// With several rings (LiveOptions.Fanout) the kernel spreads packets by flow
// hash, so each connection's packets are in one ring in their order; Next
// reads the rings in turn, a block at a time.
//
// Next, Stats and Close may be called from different goroutines; Close makes
// a blocked Next return io.EOF within ReadTimeout. Close invalidates the
// last segment's Payload and Raw data (they point into the ring): call it
// from the reading goroutine, or once that goroutine is done with them.
// Stats includes the kernel's drop and ring-freeze counters.
type LiveSource struct {
	name         string
	rings        []*ring
	cur          int // ring being read
	readOut      int // ring whose held block was read out on the last call, or -1
	pkt          rawPacket
	pfds         []unix.PollFd
	num          uint64
	stats        Stats // guarded by mu
	filter       *Filter
	ringSize     int
	readTimeout  time.Duration
	blockTimeout time.Duration
	// parts, once Rings split the source, read a ring each; the source
	// then only sums their counters and closes them.
	parts []*LiveSource

	// mu guards the rings' life: Close unmaps them only when no Next is
	// inside poll, otherwise that Next unmaps them on its way out.
	mu      sync.Mutex
	reading bool
	closed  bool
	freed   bool
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// skipLoopbackSent is the kernel filter's prefix that drops the sent copy
// of a loopback device's packets (packet type outgoing on a device of type
// loopback): they come back as received. Outgoing packets of other devices
// are their only copy and pass.
var skipLoopbackSent = []unix.SockFilter{
	{Code: 0x20, K: 0xfffff000 + 4},               // 0: ld #pkttype
	{Code: 0x15, Jt: 0, Jf: 3, K: 4},              // 1: jeq #PACKET_OUTGOING → 2 : 5
	{Code: 0x20, K: 0xfffff000 + 28},              // 2: ld #hatype
	{Code: 0x15, Jt: 0, Jf: 1, K: arphrdLoopback}, // 3: jeq #ARPHRD_LOOPBACK → 4 : 5
	{Code: 0x06, K: 0},                            // 4: ret #0
}

// kernelFilter assembles the socket filter: the loopback prefix, then the
// TCP, port and host tests of f, accepting snap bytes.
func kernelFilter(f *Filter, snap int) ([]unix.SockFilter, error) {
	if f == nil {
		f = &Filter{}
	}
	ins, err := f.Program(uint32(snap))
	if err != nil {
		return nil, err
	}
	raw, err := sockFilterOf(ins)
	if err != nil {
		return nil, err
	}
	out := append([]unix.SockFilter(nil), skipLoopbackSent...)
	for _, r := range raw {
		out = append(out, unix.SockFilter{Code: r.Code, Jt: r.Jt, Jf: r.Jf, K: r.K})
	}
	if len(out) > 4096 { // BPF_MAXINSNS
		return nil, fmt.Errorf("filter: program of %d instructions", len(out))
	}
	return out, nil
}

// OpenLive starts capturing on the named interface ("any" or "" for all).
func OpenLive(iface string, opts LiveOptions) (*LiveSource, error) {
	if opts.SnapLen <= 0 || opts.SnapLen > MaxRecordLen {
		opts.SnapLen = MaxRecordLen
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 200 * time.Millisecond
	}
	if opts.BlockTimeout <= 0 {
		opts.BlockTimeout = DefaultBlockTimeout
	}
	name := iface
	if name == "" {
		name = "any"
	}
	page := unix.Getpagesize()
	switch {
	case opts.BlockSize == 0:
		opts.BlockSize = DefaultBlockSize
	case opts.BlockSize < page || opts.BlockSize&(opts.BlockSize-1) != 0 || opts.BlockSize > 1<<30:
		return nil, fmt.Errorf("capture on %s: block size %d: want a power of two from %d bytes to 1 GiB", name, opts.BlockSize, page)
	}
	if opts.RingSize <= 0 {
		opts.RingSize = DefaultRingSize
	}
	blocks := max(2, (opts.RingSize+opts.BlockSize-1)/opts.BlockSize)
	if opts.Fanout <= 0 {
		opts.Fanout = 1
	}
	if opts.Fanout > MaxFanout {
		return nil, fmt.Errorf("capture on %s: fan-out of %d rings: at most %d", name, opts.Fanout, MaxFanout)
	}
	ifindex := 0
	if name != "any" {
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			return nil, fmt.Errorf("capture on %s: %w", name, err)
		}
		ifindex = ifc.Index
	}
	filter, err := kernelFilter(opts.Filter, opts.SnapLen)
	if err != nil {
		return nil, fmt.Errorf("capture on %s: %w", name, err)
	}
	s := &LiveSource{name: name, readTimeout: opts.ReadTimeout, blockTimeout: opts.BlockTimeout, readOut: -1}
	if !opts.Filter.Empty() {
		s.filter = opts.Filter
	}
	// Each ring has its share of the memory.
	perRing := max(2, blocks/opts.Fanout)
	cfg := ringConfig{blockSize: opts.BlockSize, numBlocks: perRing, blockTimeout: opts.BlockTimeout,
		filter: filter, ifindex: ifindex, promisc: opts.Promiscuous}
	if opts.Fanout > 1 {
		// A group id of this process's own: pid and a counter.
		cfg.fanout = 1 + int(uint16(unix.Getpid())^uint16(fanoutSeq.Add(1)<<12))
	}
	for range opts.Fanout {
		r, err := openRing(cfg)
		if err != nil {
			s.free()
			return nil, fmt.Errorf("capture on %s: %w", name, err)
		}
		s.rings = append(s.rings, r)
		s.pfds = append(s.pfds, unix.PollFd{Fd: int32(r.fd), Events: unix.POLLIN | unix.POLLERR})
		s.ringSize += perRing * opts.BlockSize
	}
	return s, nil
}

var fanoutSeq atomic.Uint32

// Name returns the interface name.
func (s *LiveSource) Name() string { return s.name }

// RingReadTimeout is the read timeout of the sources Rings returns at most:
// a reader of one ring of several wakes this often when its ring is quiet,
// to say how far its time got (the merge of the rings waits for it).
const RingReadTimeout = 5 * time.Millisecond

// Rings splits a source of several rings (LiveOptions.Fanout) into a
// source per ring, to be read on goroutines of their own: the kernel puts
// each connection's packets in one ring, in order. Each counts its own
// packets (Num) and keeps its own counters; s's Stats sums them and its
// Close closes them all. Call it before reading s, once; s itself is not
// read after. With one ring it returns s.
func (s *LiveSource) Rings() []*LiveSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rings) == 1 {
		return []*LiveSource{s}
	}
	if s.parts == nil {
		for i, r := range s.rings {
			s.parts = append(s.parts, &LiveSource{name: s.name, rings: []*ring{r}, readOut: -1, pfds: []unix.PollFd{s.pfds[i]},
				filter: s.filter, ringSize: s.ringSize / len(s.rings), readTimeout: min(s.readTimeout, RingReadTimeout), blockTimeout: s.blockTimeout})
		}
	}
	return s.parts
}

// Settled returns a time before which no packet can still come from this
// source: while the kernel fills a block it has not handed over, the time
// it opened it (less a margin for the packets' own earlier timestamps),
// else now less that margin. Call it when NextReady said ErrNotReady; ok is
// false with several rings.
func (s *LiveSource) Settled() (t time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rings) != 1 || s.closed {
		return time.Time{}, false
	}
	now := time.Now()
	if pending, opened := s.rings[0].filling(); pending && opened.Before(now) {
		now = opened
	}
	return now.Add(-settleMargin), true
}

// Holding reports whether the kernel holds packets for this source in a
// block it has not handed over yet (they come within the block timeout).
// With several rings it reports whether any does.
func (s *LiveSource) Holding() bool {
	for _, p := range s.split() {
		if p.Holding() {
			return true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.parts != nil {
		return false
	}
	for _, r := range s.rings {
		if pending, _ := r.filling(); pending {
			return true
		}
	}
	return false
}

// settleMargin is how much older than its block's opening (or than now) a
// packet's timestamp may be: taken when the packet entered the network
// stack, a moment before it was written into the ring.
const settleMargin = 5 * time.Millisecond

// BlockTimeout is how long a partly filled block of the ring may wait
// before the kernel hands it over: a packet is readable at most this long
// (and a scheduling delay) after its timestamp.
func (s *LiveSource) BlockTimeout() time.Duration { return s.blockTimeout }

// RingSize returns the bytes of ring memory the kernel writes packets into.
func (s *LiveSource) RingSize() int { return s.ringSize }

// nextPacket reads the next packet of a ready block into s.pkt, from the
// current ring or the next that has one; it reports false when none has.
// The rings take turns a block at a time, so that a busy one does not keep
// the others waiting until they fill up.
func (s *LiveSource) nextPacket() bool {
	if s.readOut >= 0 {
		// The block read out on the last call: its last packet is no longer
		// in use.
		s.rings[s.readOut].release()
		s.readOut = -1
	}
	for range len(s.rings) {
		r := s.rings[s.cur]
		if r.next(&s.pkt) {
			if r.done() && len(s.rings) > 1 {
				s.readOut = s.cur
				s.cur = (s.cur + 1) % len(s.rings)
			}
			return true
		}
		s.cur = (s.cur + 1) % len(s.rings)
	}
	return false
}

// wait polls every ring for a ready block, for at most the read timeout.
func (s *LiveSource) wait() (bool, error) {
	if len(s.rings) == 1 {
		return s.rings[0].waitReady(time.Now().Add(s.readTimeout))
	}
	for i := range s.pfds {
		s.pfds[i].Revents = 0
	}
	for {
		_, err := unix.Poll(s.pfds, max(1, int(s.readTimeout.Milliseconds())))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("poll: %w", err)
		}
		for i, r := range s.rings {
			if err := r.pollError(s.pfds[i].Revents); err != nil {
				return false, err
			}
		}
		for _, r := range s.rings {
			if r.ready() {
				return true, nil
			}
		}
		return false, nil
	}
}

// ReadPacket waits for the next packet and returns it undecoded, from its IP
// header on (the socket is cooked: info.Link is LinkIPv4 or LinkIPv6, or
// another type for a packet of another protocol), valid until the next call.
// It returns ErrTimeout when no packet came within the read timeout, and
// io.EOF after Close.
func (s *LiveSource) ReadPacket() (data []byte, info PacketInfo, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.read(true); err != nil {
		return nil, PacketInfo{}, err
	}
	return s.pkt.data, s.info(), nil
}

// info describes the packet in s.pkt.
func (s *LiveSource) info() PacketInfo {
	return PacketInfo{TS: s.pkt.ts, WireLen: s.pkt.wire, Link: linkOf(s.pkt.protocol), Num: s.num}
}

// linkOther is the link type of a cooked packet that is neither IPv4 nor
// IPv6: nothing decodes it.
const linkOther LinkType = 0xffffffff

func linkOf(ethertype uint16) LinkType {
	switch ethertype {
	case etherTypeIPv4:
		return LinkIPv4
	case etherTypeIPv6:
		return LinkIPv6
	}
	return linkOther
}

// read waits for the next packet, puts it in s.pkt and counts it; s.mu is
// held. Without block it does not wait: errNotReady when no packet is ready.
func (s *LiveSource) read(block bool) error {
	for {
		if s.closed {
			s.free()
			return io.EOF
		}
		if !s.nextPacket() {
			if !block {
				return ErrNotReady
			}
			if err := s.waitUnlocked(); err != nil {
				return err
			}
			continue
		}
		p := &s.pkt
		if p.pktType == packetOutgoing && p.hatype == arphrdLoopback {
			// The kernel filter drops these; count any that got by it.
			s.stats.Duplicates++
			continue
		}
		s.num++
		s.stats.Packets++
		s.stats.Bytes += uint64(p.wire)
		if len(p.data) < p.wire {
			s.stats.Truncated++
		}
		return nil
	}
}

// waitUnlocked waits, with s.mu released, until a block is ready: nil when
// one is, ErrTimeout when none came within the read timeout, io.EOF after
// Close. s.mu is held on entry and on return.
func (s *LiveSource) waitUnlocked() error {
	s.reading = true
	s.mu.Unlock()
	ok, err := s.wait()
	s.mu.Lock()
	s.reading = false
	if s.closed {
		s.free()
		return io.EOF
	}
	if err != nil {
		return fmt.Errorf("capture on %s: %w", s.name, err)
	}
	if !ok {
		return ErrTimeout
	}
	return nil
}

// ErrNotReady is returned by NextReady when no packet is ready to read.
var ErrNotReady = errors.New("no packet ready")

// Wait waits until a packet is ready for NextReady (nil), for at most the
// read timeout (ErrTimeout); it returns io.EOF after Close. It lets one
// goroutine wait while another owns the packets: call NextReady until it
// returns ErrNotReady, then Wait (on any goroutine, but not while NextReady
// runs), and read again.
func (s *LiveSource) Wait() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.free()
		return io.EOF
	}
	return s.waitUnlocked()
}

// Next waits for the next TCP segment and fills seg; seg.Payload is valid until
// the next call. It reads packets as ReadPacket does and decodes them. It
// returns ErrTimeout when no packet came within the read timeout, a
// *PacketError for a packet it could not decode, and io.EOF after Close.
func (s *LiveSource) Next(seg *Segment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next(seg, true)
}

// NextReady is Next without waiting: it returns ErrNotReady when no packet
// is ready (see Wait).
func (s *LiveSource) NextReady(seg *Segment) error {
	s.mu.Lock()
	err := s.next(seg, false) // never waits, and does not panic on any input
	s.mu.Unlock()
	return err
}

// next reads and decodes packets until one holds a TCP segment; s.mu is
// held.
func (s *LiveSource) next(seg *Segment, block bool) error {
	for {
		if err := s.read(block); err != nil {
			return err
		}
		p := &s.pkt
		link := linkOf(p.protocol)
		if link == linkOther {
			s.stats.NonTCP++
			continue
		}
		var l layout
		res, err := decode(link, p.data, p.wire, seg, &l)
		if res == ResultTCP && s.filter != nil && !s.filter.Match(seg) {
			s.stats.Filtered++
			continue
		}
		switch res {
		case ResultTCP:
			// The kernel says when the card checked the checksum or has
			// yet to fill it in (sent packets); the rest are checked here,
			// counted when wrong, and decoded as captured.
			if p.status&(unix.TP_STATUS_CSUMNOTREADY|unix.TP_STATUS_CSUM_VALID) == 0 && tcpChecksum(p.data, &l) == checksumBad {
				s.stats.BadChecksums++
			}
			seg.Num = s.num
			seg.TS = p.ts
			s.stats.TCP++
			return nil
		case ResultNotTCP:
			s.stats.NonTCP++
		case ResultFragment:
			s.stats.Fragments++
		default:
			s.stats.Malformed++
			return &PacketError{File: s.name, Packet: s.num, Err: err}
		}
	}
}

// Raw returns the packet behind the last segment Next returned, from its IP
// header on (link type raw IP), and its length on the wire. It is valid until
// the next call to Next.
func (s *LiveSource) Raw() (data []byte, wireLen int) { return s.pkt.data, s.pkt.wire }

// Stats returns the counters, with the packets the kernel dropped for want of
// ring space and how often the ring filled up. Safe to call from any
// goroutine.
func (s *LiveSource) Stats() Stats {
	if parts := s.split(); parts != nil {
		var st Stats
		for _, p := range parts {
			st.Add(p.Stats())
		}
		return st
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.freed {
		for _, r := range s.rings {
			// The kernel resets its counters on every read.
			d, f := r.stats()
			s.stats.KernelDrops += d
			s.stats.RingFreezes += f
		}
	}
	return s.stats
}

// split returns the per-ring sources once Rings made them.
func (s *LiveSource) split() []*LiveSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.parts
}

// free unmaps and closes the rings once; s.mu is held (or s is not shared).
func (s *LiveSource) free() {
	if s.freed {
		return
	}
	s.freed = true
	for _, r := range s.rings {
		d, f := r.stats()
		s.stats.KernelDrops += d
		s.stats.RingFreezes += f
		r.close()
	}
	s.pkt = rawPacket{}
}

// Close stops the capture; a Next in progress returns io.EOF within the read
// timeout.
func (s *LiveSource) Close() error {
	for _, p := range s.split() {
		p.Close()
	}
	if s.split() != nil {
		s.mu.Lock()
		s.closed, s.freed = true, true // the parts own the rings
		s.mu.Unlock()
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if !s.reading {
		s.free()
	}
	return nil
}

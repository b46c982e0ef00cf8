package pcaptest

import (
	"encoding/binary"
	"io"
	"net/netip"
	"time"

	"github.com/zspy/zspy/capture"
)

// Conns synthesises many ZeroMQ connections as segments, without pcap bytes,
// so that a million of them cost no memory of their own: N DEALER→ROUTER
// connections, one after another from distinct client addresses to one
// server, each with its TCP handshake, greetings, READYs, one request and
// its reply, then FINs both ways unless Hold keeps it open (established
// and quiet). Connection i starts at Start + i×Every. It is a
// capture.Source.
type Conns struct {
	N     int
	Hold  bool
	Start time.Time
	Every time.Duration

	i, step int
	seq     [2]uint32
	num     uint64
	stats   capture.Stats
}

// Server is the endpoint every Conns connection goes to.
var Server = netip.MustParseAddrPort("10.255.0.1:5555")

// Client returns the address of connection i of a Conns.
func Client(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 40000)
}

var (
	connsGreeting = func() []byte {
		g := make([]byte, 64)
		g[0], g[9], g[10], g[11] = 0xFF, 0x7F, 3, 1
		copy(g[12:], "NULL")
		return g
	}()
	connsReady = func(sock string) []byte {
		body := append([]byte{5}, "READY"...)
		body = append(body, 11)
		body = append(body, "Socket-Type"...)
		body = binary.BigEndian.AppendUint32(body, uint32(len(sock)))
		body = append(body, sock...)
		return append([]byte{4, byte(len(body))}, body...)
	}
	connsReadyC, connsReadyS = connsReady("DEALER"), connsReady("ROUTER")
	connsMsg                 = append([]byte{1, 3, 'r', 'i', 'd', 0, 8}, "request!"...)
)

// Next fills seg with the next segment.
func (c *Conns) Next(seg *capture.Segment) error {
	if c.i >= c.N {
		return io.EOF
	}
	type pkt struct {
		dir     int
		flags   uint8
		payload []byte
	}
	const (
		syn, ack, fin, psh = capture.FlagSYN, capture.FlagACK, capture.FlagFIN, capture.FlagPSH
	)
	script := [...]pkt{
		{0, syn, nil}, {1, syn | ack, nil}, {0, ack, nil},
		{0, psh | ack, connsGreeting}, {1, psh | ack, connsGreeting},
		{0, psh | ack, connsReadyC}, {1, psh | ack, connsReadyS},
		{0, psh | ack, connsMsg}, {1, psh | ack, connsMsg},
		{0, fin | ack, nil}, {1, fin | ack, nil}, {0, ack, nil},
	}
	n := len(script)
	if c.Hold {
		n = 9
	}
	if c.step == 0 {
		c.seq = [2]uint32{uint32(c.i) * 7919, uint32(c.i) * 104729}
	}
	p := script[c.step]
	client := Client(c.i)
	src, dst := client, Server
	if p.dir == 1 {
		src, dst = dst, src
	}
	c.num++
	*seg = capture.Segment{Num: c.num, TS: c.Start.Add(time.Duration(c.i) * c.Every).Add(time.Duration(c.step) * time.Microsecond),
		Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port(),
		Seq: c.seq[p.dir], Flags: p.flags, Window: 65535, WScale: -1,
		Payload: p.payload, PayloadLen: len(p.payload)}
	if p.flags&ack != 0 {
		seg.Ack = c.seq[1-p.dir]
	}
	c.seq[p.dir] += uint32(len(p.payload))
	if p.flags&(syn|fin) != 0 {
		c.seq[p.dir]++
	}
	c.stats.Packets++
	c.stats.TCP++
	c.stats.Bytes += uint64(54 + len(p.payload))
	if c.step++; c.step == n {
		c.step = 0
		c.i++
	}
	return nil
}

// Stats returns the counters.
func (c *Conns) Stats() capture.Stats { return c.stats }

// Close does nothing.
func (c *Conns) Close() error { return nil }

package capture

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Hand-built packets for the tests: every header is laid out here byte by byte,
// so the tests check the decoder against the wire formats, not against itself.

var (
	ip4A = [4]byte{10, 0, 0, 1}
	ip4B = [4]byte{192, 168, 1, 2}
	ip6A = [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}
	ip6B = [16]byte{0xfe, 0x80, 15: 2}
)

type tcpSpec struct {
	sport, dport uint16
	seq, ack     uint32
	flags        uint8
	win          uint16
	opts         []byte // padded to 4 by tcpBytes
	payload      []byte
}

func tcpBytes(t tcpSpec) []byte {
	opts := append([]byte(nil), t.opts...)
	for len(opts)%4 != 0 {
		opts = append(opts, 1) // NOP
	}
	h := make([]byte, 20+len(opts))
	binary.BigEndian.PutUint16(h[0:], t.sport)
	binary.BigEndian.PutUint16(h[2:], t.dport)
	binary.BigEndian.PutUint32(h[4:], t.seq)
	binary.BigEndian.PutUint32(h[8:], t.ack)
	h[12] = byte(len(h)/4) << 4
	h[13] = t.flags
	binary.BigEndian.PutUint16(h[14:], t.win)
	copy(h[20:], opts)
	return append(h, t.payload...)
}

// ipv4Bytes builds an IPv4 header (with optional options) around payload.
func ipv4Bytes(src, dst [4]byte, proto byte, fragWord uint16, opts []byte, payload []byte) []byte {
	h := make([]byte, 20+len(opts))
	h[0] = 0x40 | byte(len(h)/4)
	binary.BigEndian.PutUint16(h[2:], uint16(len(h)+len(payload)))
	binary.BigEndian.PutUint16(h[6:], fragWord)
	h[8] = 64
	h[9] = proto
	copy(h[12:], src[:])
	copy(h[16:], dst[:])
	copy(h[20:], opts)
	return append(h, payload...)
}

// ipv6Bytes builds an IPv6 header; ext is a chain of extension headers already
// laid out, whose first next-header value is next.
func ipv6Bytes(src, dst [16]byte, next byte, ext []byte, payload []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(ext)+len(payload)))
	h[6] = next
	h[7] = 64
	copy(h[8:], src[:])
	copy(h[24:], dst[:])
	h = append(h, ext...)
	return append(h, payload...)
}

// ext6 builds one 8-byte-unit extension header (hop-by-hop, routing, dest opts).
func ext6(next byte, units int) []byte {
	b := make([]byte, 8*(units+1))
	b[0] = next
	b[1] = byte(units)
	if units >= 0 {
		b[2] = 1 // PadN option
		b[3] = byte(len(b) - 4)
	}
	return b
}

func frag6(next byte, offset uint16, more bool) []byte {
	b := make([]byte, 8)
	b[0] = next
	w := offset << 3
	if more {
		w |= 1
	}
	binary.BigEndian.PutUint16(b[2:], w)
	binary.BigEndian.PutUint32(b[4:], 0xabcd)
	return b
}

func etherBytes(etype uint16, vlans []uint16, payload []byte) []byte {
	b := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	for i, tpid := range vlans {
		b = binary.BigEndian.AppendUint16(b, tpid)
		b = binary.BigEndian.AppendUint16(b, uint16(100+i)) // TCI
	}
	b = binary.BigEndian.AppendUint16(b, etype)
	return append(b, payload...)
}

func sllBytes(etype uint16, payload []byte) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint16(b[0:], 0)      // packet type: to us
	binary.BigEndian.PutUint16(b[2:], 772)    // ARPHRD_LOOPBACK
	binary.BigEndian.PutUint16(b[4:], 6)      // address length
	binary.BigEndian.PutUint16(b[14:], etype) // protocol
	return append(b, payload...)
}

func sll2Bytes(etype uint16, payload []byte) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b[0:], etype)
	binary.BigEndian.PutUint32(b[4:], 1)   // interface index
	binary.BigEndian.PutUint16(b[8:], 772) // ARPHRD_LOOPBACK
	b[10] = 0                              // packet type
	b[11] = 6                              // address length
	return append(b, payload...)
}

func nullBytes(family uint32, order binary.ByteOrder, payload []byte) []byte {
	b := make([]byte, 4)
	order.PutUint32(b, family)
	return append(b, payload...)
}

// tcp4 is an Ethernet/IPv4/TCP packet from A:sport to B:dport.
func tcp4(t tcpSpec) []byte {
	return etherBytes(etherTypeIPv4, nil, ipv4Bytes(ip4A, ip4B, 6, 0, nil, tcpBytes(t)))
}

// capPacket is a packet with its capture metadata, for writing capture files.
type capPacket struct {
	ts   time.Time
	data []byte
	wire int // 0: len(data)
}

func (p capPacket) ci() gopacket.CaptureInfo {
	w := p.wire
	if w == 0 {
		w = len(p.data)
	}
	return gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(p.data), Length: w}
}

// pcapFile writes a pcap file with pcapgo (an independent writer).
func pcapFile(t testing.TB, link LinkType, nanos bool, pkts []capPacket) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if nanos {
		w = pcapgo.NewWriterNanos(&buf)
	}
	if err := w.WriteFileHeader(65535, layers.LinkType(link)); err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		if err := w.WritePacket(p.ci(), p.data); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// pcapngFile writes a pcapng file with pcapgo, one interface per link type
// given; packet i goes to interface ifaceOf(i).
func pcapngFile(t testing.TB, links []LinkType, ifaceOf func(int) int, pkts []capPacket) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{
		LinkType: layers.LinkType(links[0]), SnapLength: 65535, TimestampResolution: 9,
	}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links[1:] {
		if _, err := w.AddInterface(pcapgo.NgInterface{LinkType: layers.LinkType(l), SnapLength: 65535, TimestampResolution: 9}); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range pkts {
		ci := p.ci()
		if ifaceOf != nil {
			ci.InterfaceIndex = ifaceOf(i)
		}
		if err := w.WritePacket(ci, p.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

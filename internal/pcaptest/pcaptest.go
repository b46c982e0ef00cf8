// Package pcaptest reads and builds captures for zspy's tests and benchmarks:
// a file's records as they are (ReadPackets), its packet-time span (Span),
// real corpus traffic multiplied with new addresses (Big), and synthetic
// long-lived DEALER/ROUTER traffic (Steady).
package pcaptest

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/zspy/zspy/capture"
)

// Big builds an in-memory pcap from real captures in the corpus,
// repeated copies times with each copy's addresses moved to 10.a.b.1 and its
// timestamps shifted, so every copy's connections are distinct: the traffic is
// real libzmq traffic, multiplied.
func Big(b *testing.B, corpus string, cases []string, copies int, countConns func(path string) int) (pcap []byte, packets, conns int) {
	b.Helper()
	type rec struct {
		data []byte
		ci   gopacket.CaptureInfo
	}
	var recs []rec
	var base time.Time
	for _, name := range cases {
		data, cis, link := ReadPackets(b, filepath.Join(corpus, name, "capture.pcap"))
		if link != layers.LinkTypeEthernet || len(data) == 0 {
			b.Fatalf("%s: link %v, %d packets", name, link, len(data))
		}
		off := time.Duration(0)
		if !base.IsZero() {
			off = base.Sub(cis[0].Timestamp)
		} else {
			base = cis[0].Timestamp
		}
		for i := range data {
			ci := cis[i]
			ci.Timestamp = ci.Timestamp.Add(off)
			recs = append(recs, rec{data[i], ci})
		}
		conns += countConns(filepath.Join(corpus, name, "capture.pcap"))
	}
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
		b.Fatal(err)
	}
	span := recs[len(recs)-1].ci.Timestamp.Sub(recs[0].ci.Timestamp) + time.Millisecond
	tmp := make([]byte, 0, 1<<20)
	for k := 0; k < copies; k++ {
		for _, r := range recs {
			d := append(tmp[:0], r.data...)
			if len(d) >= 34 && d[12] == 0x08 && d[13] == 0x00 {
				ip := [4]byte{10, byte(k >> 8), byte(k), 1}
				copy(d[26:30], ip[:])
				copy(d[30:34], ip[:])
			}
			ci := r.ci
			ci.Timestamp = ci.Timestamp.Add(time.Duration(k) * span)
			if err := w.WritePacket(ci, d); err != nil {
				b.Fatal(err)
			}
		}
	}
	return buf.Bytes(), len(recs) * copies, conns * copies
}

// ReadPackets reads a pcap file's records.
func ReadPackets(tb testing.TB, path string) ([][]byte, []gopacket.CaptureInfo, layers.LinkType) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	var data [][]byte
	var cis []gopacket.CaptureInfo
	for {
		d, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		data = append(data, d)
		cis = append(cis, ci)
	}
	return data, cis, r.LinkType()
}

// Steady synthesises long-lived traffic, the usual shape of ZeroMQ
// deployments: conns DEALER→ROUTER connections (greetings, READYs, then
// requests and replies of 2-frame messages, several per segment as libzmq
// batches them) over seconds of packet time, in an in-memory pcap. Unlike
// Big, connections do not churn, so points per packet are what a
// steady deployment produces.
func Steady(b *testing.B, conns, rounds int, span time.Duration) (pcap []byte, packets int) {
	b.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
		b.Fatal(err)
	}
	type conn struct {
		seq  [2]uint32
		port uint16
	}
	cs := make([]conn, conns)
	start := time.Unix(1_800_000_000, 0)
	pkt := make([]byte, 0, 2048)
	write := func(c *conn, dir int, flags byte, payload []byte, ts time.Time) {
		pkt = pkt[:0]
		pkt = append(pkt, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00) // Ethernet, IPv4
		total := 20 + 20 + len(payload)
		ip := [20]byte{0x45, 0, byte(total >> 8), byte(total), 0, 0, 0x40, 0, 64, 6}
		src, dst := [4]byte{10, 9, 0, 1}, [4]byte{10, 9, 0, 2}
		sp, dp := c.port, uint16(5555)
		if dir == 1 {
			src, dst, sp, dp = dst, src, dp, sp
		}
		copy(ip[12:16], src[:])
		copy(ip[16:20], dst[:])
		pkt = append(pkt, ip[:]...)
		tcp := [20]byte{byte(sp >> 8), byte(sp), byte(dp >> 8), byte(dp)}
		binary.BigEndian.PutUint32(tcp[4:], c.seq[dir])
		binary.BigEndian.PutUint32(tcp[8:], c.seq[1-dir])
		tcp[12] = 5 << 4
		tcp[13] = flags
		tcp[14], tcp[15] = 0xff, 0xff
		pkt = append(pkt, tcp[:]...)
		pkt = append(pkt, payload...)
		c.seq[dir] += uint32(len(payload))
		if flags&0x03 != 0 { // SYN or FIN
			c.seq[dir]++
		}
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(pkt), Length: len(pkt)}, pkt); err != nil {
			b.Fatal(err)
		}
		packets++
	}
	greet := make([]byte, 64)
	greet[0], greet[8], greet[9], greet[10], greet[11] = 0xFF, 1, 0x7F, 3, 1
	copy(greet[12:], "NULL")
	ready := func(sock string) []byte {
		body := append([]byte{5}, "READY"...)
		body = append(body, 11)
		body = append(body, "Socket-Type"...)
		body = binary.BigEndian.AppendUint32(body, uint32(len(sock)))
		body = append(body, sock...)
		return append([]byte{4, byte(len(body))}, body...)
	}
	msg := func(n int) []byte {
		var m []byte
		for i := 0; i < n; i++ {
			m = append(m, 1, 4, 'r', 'e', 'q', '1', 0, 40)
			m = append(m, bytes.Repeat([]byte{'x'}, 40)...)
		}
		return m
	}
	ts := start
	for i := range cs {
		c := &cs[i]
		c.port, c.seq = uint16(20000+i), [2]uint32{1000, 5000}
		write(c, 0, 0x02, nil, ts)
		write(c, 1, 0x12, nil, ts)
		write(c, 0, 0x10, nil, ts)
		write(c, 0, 0x18, greet, ts)
		write(c, 1, 0x18, greet, ts)
		write(c, 0, 0x18, ready("DEALER"), ts)
		write(c, 1, 0x18, ready("ROUTER"), ts)
	}
	step := span / time.Duration(rounds)
	for r := 0; r < rounds; r++ {
		ts = start.Add(time.Duration(r) * step)
		n := 1 + r%8
		for i := range cs {
			write(&cs[i], 0, 0x18, msg(n), ts)
			write(&cs[i], 1, 0x18, msg(n), ts)
		}
	}
	for i := range cs {
		write(&cs[i], 0, 0x11, nil, ts)
		write(&cs[i], 1, 0x11, nil, ts)
	}
	return buf.Bytes(), packets
}

// Span returns the packet time between a capture's first and last TCP
// segments, and their number, as zspy's own reader delivers them.
func Span(tb testing.TB, path string) (first, last time.Time, n int) {
	tb.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	var seg capture.Segment
	for src.Next(&seg) == nil {
		if first.IsZero() {
			first = seg.TS
		}
		last = seg.TS
		n++
	}
	return first, last, n
}

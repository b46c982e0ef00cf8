package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// checksummed serialises an IPv4 or IPv6 TCP packet with gopacket, which
// computes its checksum (an independent reference), from the IP header on.
func checksummed(t *testing.T, v6 bool, payload []byte) []byte {
	t.Helper()
	tcp := &layers.TCP{SrcPort: 4000, DstPort: 5555, Seq: 1000, ACK: true, PSH: true, Window: 512}
	var ip gopacket.SerializableLayer
	if v6 {
		l := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("2001:db8::2")}
		_ = tcp.SetNetworkLayerForChecksum(l)
		ip = l
	} else {
		l := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.ParseIP("10.0.0.1"), DstIP: net.ParseIP("10.0.0.2")}
		_ = tcp.SetNetworkLayerForChecksum(l)
		ip = l
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, ip, tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestTCPChecksum(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		for _, n := range []int{0, 1, 7, 8, 9, 1000, 1461} {
			payload := bytes.Repeat([]byte{0xa5, 0x3c, 0xff}, n)[:n]
			pkt := checksummed(t, v6, payload)
			link := LinkIPv4
			if v6 {
				link = LinkIPv6
			}
			check := func(data []byte, wire int) checksum {
				var seg Segment
				var l layout
				if res, err := decode(link, data, wire, &seg, &l); res != ResultTCP {
					t.Fatalf("v6 %v, %d bytes: %v %v", v6, n, res, err)
				}
				return tcpChecksum(data, &l)
			}
			if got := check(pkt, len(pkt)); got != checksumOK {
				t.Errorf("v6 %v, %d bytes: a correct checksum gives %d", v6, n, got)
			}
			tcpOff := 20
			if v6 {
				tcpOff = 40
			}
			if n > 0 {
				bad := bytes.Clone(pkt)
				bad[len(bad)-1] ^= 0x10
				if got := check(bad, len(bad)); got != checksumBad {
					t.Errorf("v6 %v, %d bytes: a flipped payload bit gives %d", v6, n, got)
				}
				// Cut by the snap length: not checked.
				if got := check(bad[:len(bad)-1], len(bad)); got != checksumUnchecked {
					t.Errorf("v6 %v, %d bytes: a cut packet gives %d", v6, n, got)
				}
			}
			// Offloaded: the sender's capture holds the pseudo-header sum.
			off := bytes.Clone(pkt)
			var pseudo uint64
			if v6 {
				pseudo = onesSum(off[8:40], 0)
			} else {
				pseudo = onesSum(off[12:20], 0)
			}
			pseudo += uint64(len(off)-tcpOff) + 6
			binary.BigEndian.PutUint16(off[tcpOff+16:], fold(pseudo))
			if got := check(off, len(off)); got != checksumUnchecked {
				t.Errorf("v6 %v, %d bytes: an offloaded checksum gives %d", v6, n, got)
			}
		}
	}
}

// TestBadChecksumInFile: a segment whose checksum is wrong is counted and
// named in a warning, and still decoded as captured; past five, one warning
// at the end counts them.
func TestBadChecksumInFile(t *testing.T) {
	good := checksummed(t, false, []byte("hello"))
	bad := bytes.Clone(good)
	bad[len(bad)-1] = 'O'
	file := pcapFile(t, LinkRaw, false, []capPacket{{ts: t0, data: good}, {ts: t0, data: bad}, {ts: t0, data: good}})
	s, err := NewReader(bytes.NewReader(file), "sums.pcap")
	if err != nil {
		t.Fatal(err)
	}
	segs, perrs := readAll(t, s)
	if len(segs) != 3 || string(segs[1].Payload) != "hellO" || len(perrs) != 1 || !errors.Is(perrs[0], ErrBadChecksum) || perrs[0].Packet != 2 ||
		!strings.Contains(perrs[0].Error(), "sums.pcap: packet 2") {
		t.Fatalf("segments %d, errors %v", len(segs), perrs)
	}
	if st := s.Stats(); st.BadChecksums != 1 || st.Malformed != 0 || st.TCP != 3 {
		t.Errorf("stats %+v", st)
	}

	var many []capPacket
	for range 20 {
		many = append(many, capPacket{ts: t0, data: bad}, capPacket{ts: t0, data: good})
	}
	s, _ = NewReader(bytes.NewReader(pcapFile(t, LinkRaw, false, many)), "many.pcap")
	segs, perrs = readAll(t, s)
	if len(segs) != 40 || len(perrs) != 6 || !strings.Contains(perrs[5].Error(), "20 of 40 TCP segments") || perrs[5].Packet != 1 {
		t.Fatalf("segments %d, errors %v", len(segs), perrs)
	}
}

// TestHugeWireLength: a record claiming a 4 GiB wire length is read as what
// it captured, counted as corrupt and named in a warning; stats.bytes does
// not grow by 4 GiB.
func TestHugeWireLength(t *testing.T) {
	pkt := tcp4(tcpSpec{sport: 1, dport: 2, flags: FlagACK, payload: []byte("data")})
	file := pcapFile(t, LinkEthernet, false, []capPacket{{ts: t0, data: pkt}, {ts: t0, data: pkt, wire: 0xffffffff}, {ts: t0, data: pkt}})
	s, err := NewReader(bytes.NewReader(file), "wire.pcap")
	if err != nil {
		t.Fatal(err)
	}
	segs, perrs := readAll(t, s)
	if len(segs) != 3 || len(perrs) != 1 || !errors.Is(perrs[0], ErrCorrupt) || perrs[0].Packet != 2 || !strings.Contains(perrs[0].Error(), "4294967295") {
		t.Fatalf("segments %d, errors %v", len(segs), perrs)
	}
	if st := s.Stats(); st.Bytes != uint64(3*len(pkt)) || st.Corrupt != 1 || st.Truncated != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestWrongLinkType: a file whose header says Ethernet but holds raw IP
// packets decodes to no TCP; at its end a warning says which link type the
// packets look like.
func TestWrongLinkType(t *testing.T) {
	var pkts []capPacket
	for i := range 5 {
		pkts = append(pkts, capPacket{ts: t0, data: ipv4Bytes(ip4A, ip4B, 6, 0, nil, tcpBytes(tcpSpec{sport: 1, dport: 2, seq: uint32(i), flags: FlagACK, payload: []byte("x")}))})
	}
	file := pcapFile(t, LinkEthernet, false, pkts)
	s, err := NewReader(bytes.NewReader(file), "mislabelled.pcap")
	if err != nil {
		t.Fatal(err)
	}
	segs, perrs := readAll(t, s)
	if len(segs) != 0 || len(perrs) != 1 || !strings.Contains(perrs[0].Error(), "mislabelled.pcap") ||
		!strings.Contains(perrs[0].Error(), "link type ethernet") || !strings.Contains(perrs[0].Error(), "5 of its 5 packets decode as TCP only as raw") {
		t.Fatalf("segments %d, errors %v", len(segs), perrs)
	}
	// A right one says nothing.
	file = pcapFile(t, LinkRaw, false, pkts)
	s, _ = NewReader(bytes.NewReader(file), "right.pcap")
	if segs, perrs := readAll(t, s); len(segs) != 5 || len(perrs) != 0 {
		t.Fatalf("right link type: segments %d, errors %v", len(segs), perrs)
	}
}

func FuzzTCPChecksum(f *testing.F) {
	f.Add([]byte("payload"), false)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, payload []byte, v6 bool) {
		if len(payload) > 9000 {
			return
		}
		pkt := checksummed(t, v6, payload)
		link := LinkIPv4
		if v6 {
			link = LinkIPv6
		}
		var seg Segment
		var l layout
		if res, _ := decode(link, pkt, len(pkt), &seg, &l); res != ResultTCP {
			t.Fatal("not decoded")
		}
		// Unchecked only when the right sum happens to be 0 or the
		// pseudo-header's (1 in 65536 each).
		if got := tcpChecksum(pkt, &l); got == checksumBad {
			t.Fatalf("gopacket's checksum rejected")
		}
	})
}

// onesSumRef is the checksum's definition, 16 bits at a time: the
// reference onesSum is checked against.
func onesSumRef(b []byte, sum uint64) uint64 {
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	return sum
}

// onesSum folds to the definition's sum for every length from 0 to 300 at
// every alignment, for all-ones words (the carries the 64-bit chain must
// not lose), zeros and random bytes, and with a starting sum.
func TestOnesSum(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 300+8)
	for _, fill := range []string{"ones", "zeros", "random"} {
		for i := range buf {
			switch fill {
			case "ones":
				buf[i] = 0xff
			case "zeros":
				buf[i] = 0
			default:
				buf[i] = byte(rnd.Uint32())
			}
		}
		for _, start := range []uint64{0, 0xffff, 0x1fffe, rnd.Uint64() >> 20} {
			for align := range 8 {
				for n := 0; n <= 300; n++ {
					b := buf[align : align+n]
					if got, want := fold(onesSum(b, start)), fold(onesSumRef(b, start)); got != want {
						t.Fatalf("%s, start %#x, %d bytes at +%d: %#04x, want %#04x", fill, start, n, align, got, want)
					}
				}
			}
		}
	}
}

func FuzzOnesSum(f *testing.F) {
	f.Add(bytes.Repeat([]byte{0xff}, 77), uint64(0xffff))
	f.Fuzz(func(t *testing.T, b []byte, start uint64) {
		start >>= 16 // a sum of pseudo-header words, not near overflow
		if got, want := fold(onesSum(b, start)), fold(onesSumRef(b, start)); got != want {
			t.Fatalf("%d bytes, start %#x: %#04x, want %#04x", len(b), start, got, want)
		}
	})
}

// BenchmarkOnesSum sums a small segment's and a large one's bytes.
func BenchmarkOnesSum(b *testing.B) {
	for _, n := range []int{40, 1460, 65000} {
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = byte(i * 7)
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			var s uint16
			for b.Loop() {
				s += fold(onesSum(buf, 0))
			}
			sink16 = s
		})
	}
}

var sink16 uint16

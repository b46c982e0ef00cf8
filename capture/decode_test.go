package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

func TestDecode(t *testing.T) {
	payload := []byte("hello, zmtp")
	seg := tcpSpec{sport: 5555, dport: 40000, seq: 0xfffffff0, ack: 77, flags: FlagACK | FlagPSH, win: 512, payload: payload}
	syn := tcpSpec{sport: 40000, dport: 5555, seq: 1000, flags: FlagSYN, win: 65535,
		opts: []byte{2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2}} // MSS, NOP, WS=7, SACK-permitted
	tcp := tcpBytes(seg)
	v4 := ipv4Bytes(ip4A, ip4B, 6, 0, nil, tcp)
	v6 := ipv6Bytes(ip6A, ip6B, 6, nil, tcp)
	addr4A, addr4B := netip.AddrFrom4(ip4A), netip.AddrFrom4(ip4B)
	addr6A, addr6B := netip.AddrFrom16(ip6A), netip.AddrFrom16(ip6B)
	padded := etherBytes(etherTypeIPv4, nil, ipv4Bytes(ip4A, ip4B, 6, 0, nil, tcpBytes(tcpSpec{sport: 1, dport: 2, flags: FlagACK})))
	padded = append(padded, make([]byte, 60-len(padded))...) // Ethernet minimum frame

	cases := []struct {
		name     string
		link     LinkType
		data     []byte
		wire     int
		res      Result
		src, dst netip.Addr
		payload  []byte
		plen     int
		wscale   int8
	}{
		{"ethernet ipv4", LinkEthernet, etherBytes(etherTypeIPv4, nil, v4), 0, ResultTCP, addr4A, addr4B, payload, len(payload), -1},
		{"ethernet ipv6", LinkEthernet, etherBytes(etherTypeIPv6, nil, v6), 0, ResultTCP, addr6A, addr6B, payload, len(payload), -1},
		{"ethernet padding is not payload", LinkEthernet, padded, 0, ResultTCP, addr4A, addr4B, nil, 0, -1},
		{"802.1Q", LinkEthernet, etherBytes(etherTypeIPv4, []uint16{etherTypeVLAN}, v4), 0, ResultTCP, addr4A, addr4B, payload, len(payload), -1},
		{"802.1ad over 802.1Q", LinkEthernet, etherBytes(etherTypeIPv6, []uint16{etherTypeQinQ, etherTypeVLAN}, v6), 0, ResultTCP, addr6A, addr6B, payload, len(payload), -1},
		{"old QinQ 0x9100", LinkEthernet, etherBytes(etherTypeIPv4, []uint16{etherTypeQinQ2, etherTypeVLAN, etherTypeVLAN}, v4), 0, ResultTCP, addr4A, addr4B, payload, len(payload), -1},
		{"arp", LinkEthernet, etherBytes(0x0806, nil, make([]byte, 28)), 0, ResultNotTCP, netip.Addr{}, netip.Addr{}, nil, 0, 0},
		{"udp", LinkEthernet, etherBytes(etherTypeIPv4, nil, ipv4Bytes(ip4A, ip4B, 17, 0, nil, make([]byte, 12))), 0, ResultNotTCP, netip.Addr{}, netip.Addr{}, nil, 0, 0},
		{"ipv4 options", LinkRaw, ipv4Bytes(ip4A, ip4B, 6, 0, []byte{1, 1, 1, 0, 7, 7, 4, 0}, tcp), 0, ResultTCP, addr4A, addr4B, payload, len(payload), -1},
		{"ipv4 first fragment", LinkRaw, ipv4Bytes(ip4A, ip4B, 6, 0x2000, nil, tcp), 0, ResultTCP, addr4A, addr4B, payload, len(payload), -1},
		{"ipv4 later fragment", LinkRaw, ipv4Bytes(ip4A, ip4B, 6, 0x2000|185, nil, tcp), 0, ResultFragment, netip.Addr{}, netip.Addr{}, nil, 0, 0},
		{"ipv4 last fragment", LinkRaw, ipv4Bytes(ip4A, ip4B, 6, 185, nil, tcp), 0, ResultFragment, netip.Addr{}, netip.Addr{}, nil, 0, 0},
		{"ipv6 extension chain", LinkRaw, ipv6Bytes(ip6A, ip6B, 0,
			concat(ext6(60, 0), ext6(43, 1), ext6(44, 0), frag6(6, 0, true)), tcp), 0, ResultTCP, addr6A, addr6B, payload, len(payload), -1},
		{"ipv6 later fragment", LinkRaw, ipv6Bytes(ip6A, ip6B, 44, frag6(6, 100, false), tcp), 0, ResultFragment, netip.Addr{}, netip.Addr{}, nil, 0, 0},
		{"ipv6 udp after dest opts", LinkRaw, ipv6Bytes(ip6A, ip6B, 60, ext6(17, 0), make([]byte, 8)), 0, ResultNotTCP, netip.Addr{}, netip.Addr{}, nil, 0, 0},
		{"ipv6 no next header", LinkRaw, ipv6Bytes(ip6A, ip6B, 59, nil, nil), 0, ResultNotTCP, netip.Addr{}, netip.Addr{}, nil, 0, 0},
		{"linux sll", LinkLinuxSLL, sllBytes(etherTypeIPv4, v4), 0, ResultTCP, addr4A, addr4B, payload, len(payload), -1},
		{"linux sll2", LinkLinuxSLL2, sll2Bytes(etherTypeIPv6, v6), 0, ResultTCP, addr6A, addr6B, payload, len(payload), -1},
		{"raw dlt 12", LinkRawDLT12, v4, 0, ResultTCP, addr4A, addr4B, payload, len(payload), -1},
		{"raw dlt 14", LinkRawDLT14, v6, 0, ResultTCP, addr6A, addr6B, payload, len(payload), -1},
		{"linktype ipv4", LinkIPv4, v4, 0, ResultTCP, addr4A, addr4B, payload, len(payload), -1},
		{"linktype ipv6", LinkIPv6, v6, 0, ResultTCP, addr6A, addr6B, payload, len(payload), -1},
		{"null AF_INET little-endian", LinkNull, nullBytes(2, binary.LittleEndian, v4), 0, ResultTCP, addr4A, addr4B, payload, len(payload), -1},
		{"null AF_INET big-endian host", LinkNull, nullBytes(2, binary.BigEndian, v4), 0, ResultTCP, addr4A, addr4B, payload, len(payload), -1},
		{"null AF_INET6 darwin", LinkNull, nullBytes(30, binary.LittleEndian, v6), 0, ResultTCP, addr6A, addr6B, payload, len(payload), -1},
		{"null AF_INET6 freebsd", LinkNull, nullBytes(28, binary.LittleEndian, v6), 0, ResultTCP, addr6A, addr6B, payload, len(payload), -1},
		{"loop AF_INET6 openbsd", LinkLoop, nullBytes(24, binary.BigEndian, v6), 0, ResultTCP, addr6A, addr6B, payload, len(payload), -1},
		{"loop other family", LinkLoop, nullBytes(7, binary.BigEndian, v4), 0, ResultNotTCP, netip.Addr{}, netip.Addr{}, nil, 0, 0},
		{"syn window scale", LinkRaw, ipv4Bytes(ip4A, ip4B, 6, 0, nil, tcpBytes(syn)), 0, ResultTCP, addr4A, addr4B, nil, 0, 7},
		{"snap length cut payload", LinkEthernet, etherBytes(etherTypeIPv4, nil, v4)[:14+20+20+4], 14 + len(v4), ResultTCP, addr4A, addr4B, payload[:4], len(payload), -1},
		{"snap length cut at tcp header", LinkEthernet, etherBytes(etherTypeIPv4, nil, v4)[:14+20+10], 14 + len(v4), ResultMalformed, netip.Addr{}, netip.Addr{}, nil, 0, 0},
		{"ipv4 total length 0 (tso)", LinkRaw, func() []byte { b := bytes.Clone(v4); b[2], b[3] = 0, 0; return b }(), 0, ResultTCP, addr4A, addr4B, payload, len(payload), -1},
		{"ipv4 bad ihl", LinkRaw, func() []byte { b := bytes.Clone(v4); b[0] = 0x44; return b }(), 0, ResultMalformed, netip.Addr{}, netip.Addr{}, nil, 0, 0},
		{"raw bad version", LinkRaw, func() []byte { b := bytes.Clone(v4); b[0] = 0x55; return b }(), 0, ResultMalformed, netip.Addr{}, netip.Addr{}, nil, 0, 0},
		{"tcp data offset 4", LinkRaw, func() []byte { b := bytes.Clone(v4); b[20+12] = 0x40; return b }(), 0, ResultMalformed, netip.Addr{}, netip.Addr{}, nil, 0, 0},
		{"tcp data offset past packet", LinkRaw, func() []byte { b := bytes.Clone(v4); b[20+12] = 0xf0; return b }(), 0, ResultMalformed, netip.Addr{}, netip.Addr{}, nil, 0, 0},
		{"unknown link", LinkType(147), v4, 0, ResultMalformed, netip.Addr{}, netip.Addr{}, nil, 0, 0},
		{"empty", LinkEthernet, nil, 0, ResultMalformed, netip.Addr{}, netip.Addr{}, nil, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s Segment
			wire := c.wire
			if wire == 0 {
				wire = len(c.data)
			}
			res, err := Decode(c.link, c.data, wire, &s)
			if res != c.res {
				t.Fatalf("result %d (err %v), want %d", res, err, c.res)
			}
			if (err != nil) != (res == ResultMalformed) {
				t.Fatalf("err %v with result %d", err, res)
			}
			if res != ResultTCP {
				return
			}
			if s.Src != c.src || s.Dst != c.dst {
				t.Errorf("addresses %v -> %v, want %v -> %v", s.Src, s.Dst, c.src, c.dst)
			}
			if !bytes.Equal(s.Payload, c.payload) || s.PayloadLen != c.plen {
				t.Errorf("payload %q (len %d), want %q (len %d)", s.Payload, s.PayloadLen, c.payload, c.plen)
			}
			if s.WScale != c.wscale {
				t.Errorf("wscale %d, want %d", s.WScale, c.wscale)
			}
		})
	}
}

func concat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func TestDecodeTCPFields(t *testing.T) {
	data := tcp4(tcpSpec{sport: 5555, dport: 40000, seq: 0xfffffff0, ack: 77, flags: FlagACK | FlagPSH | FlagFIN, win: 512, payload: []byte("x")})
	var s Segment
	if res, err := Decode(LinkEthernet, data, len(data), &s); res != ResultTCP {
		t.Fatal(res, err)
	}
	if s.SrcPort != 5555 || s.DstPort != 40000 || s.Seq != 0xfffffff0 || s.Ack != 77 || s.Window != 512 {
		t.Errorf("fields: %+v", s)
	}
	if !s.Has(FlagACK|FlagPSH|FlagFIN) || s.Has(FlagSYN) || s.Has(FlagRST) {
		t.Errorf("flags %08b", s.Flags)
	}
}

func TestDecodeErrorsAreTyped(t *testing.T) {
	v4 := ipv4Bytes(ip4A, ip4B, 6, 0, nil, tcpBytes(tcpSpec{payload: []byte("abc")}))
	var s Segment
	if _, err := Decode(LinkRaw, v4[:30], len(v4), &s); !errors.Is(err, ErrHeadersCut) {
		t.Errorf("cut tcp header: %v, want ErrHeadersCut", err)
	}
	if _, err := Decode(LinkType(9999), v4, len(v4), &s); !errors.Is(err, ErrUnsupportedLink) {
		t.Errorf("unknown link: %v, want ErrUnsupportedLink", err)
	}
	b := bytes.Clone(v4)
	b[0] = 0x43
	if _, err := Decode(LinkRaw, b, len(b), &s); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad ihl: %v, want ErrMalformed", err)
	}
	vlans := make([]uint16, 9)
	for i := range vlans {
		vlans[i] = etherTypeVLAN
	}
	e := etherBytes(etherTypeIPv4, vlans, v4)
	if _, err := Decode(LinkEthernet, e, len(e), &s); !errors.Is(err, ErrMalformed) {
		t.Errorf("9 vlan tags: %v, want ErrMalformed", err)
	}
}

// TestDecodeAgainstGopacket builds packets with gopacket's serializer, an
// independent implementation, and checks that both decoders agree.
func TestDecodeAgainstGopacket(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		for _, n := range []int{0, 1, 100, 1400} {
			eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{1, 2, 3, 4, 5, 6}, DstMAC: net.HardwareAddr{6, 5, 4, 3, 2, 1}, EthernetType: layers.EthernetTypeIPv4}
			tcp := &layers.TCP{SrcPort: 34567, DstPort: 5555, Seq: uint32(n) * 7919, Ack: 42, PSH: n > 0, ACK: true, Window: 1000,
				Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: make([]byte, 8)}}}
			var ip gopacket.SerializableLayer
			if v6 {
				eth.EthernetType = layers.EthernetTypeIPv6
				ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: net.IP(ip6A[:]), DstIP: net.IP(ip6B[:])}
				tcp.SetNetworkLayerForChecksum(ip6)
				ip = ip6
			} else {
				ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP(ip4A[:]), DstIP: net.IP(ip4B[:])}
				tcp.SetNetworkLayerForChecksum(ip4)
				ip = ip4
			}
			body := bytes.Repeat([]byte{0xab}, n)
			buf := gopacket.NewSerializeBuffer()
			err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(body))
			if err != nil {
				t.Fatal(err)
			}
			data := buf.Bytes()
			var s Segment
			if res, err := Decode(LinkEthernet, data, len(data), &s); res != ResultTCP {
				t.Fatalf("v6=%v n=%d: %d %v", v6, n, res, err)
			}
			p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
			g := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
			if s.Seq != g.Seq || s.Ack != g.Ack || s.SrcPort != uint16(g.SrcPort) || s.DstPort != uint16(g.DstPort) || s.Window != g.Window {
				t.Errorf("v6=%v n=%d: header mismatch %+v vs %+v", v6, n, s, g)
			}
			if !bytes.Equal(s.Payload, g.Payload) || s.PayloadLen != len(g.Payload) {
				t.Errorf("v6=%v n=%d: payload %d bytes, gopacket %d", v6, n, s.PayloadLen, len(g.Payload))
			}
		}
	}
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	data := tcp4(tcpSpec{sport: 1, dport: 2, seq: 3, flags: FlagACK, payload: make([]byte, 100)})
	var s Segment
	allocs := testing.AllocsPerRun(1000, func() {
		if res, _ := Decode(LinkEthernet, data, len(data), &s); res != ResultTCP {
			t.Fatal(res)
		}
	})
	if allocs != 0 {
		t.Errorf("Decode allocates %.1f times per packet", allocs)
	}
}

func FuzzDecode(f *testing.F) {
	v4 := ipv4Bytes(ip4A, ip4B, 6, 0, nil, tcpBytes(tcpSpec{sport: 1, dport: 2, flags: FlagSYN, opts: []byte{3, 3, 7}, payload: []byte("abc")}))
	v6 := ipv6Bytes(ip6A, ip6B, 0, concat(ext6(44, 0), frag6(6, 0, true)), tcpBytes(tcpSpec{payload: []byte("abc")}))
	f.Add(uint16(LinkEthernet), etherBytes(etherTypeIPv4, []uint16{etherTypeVLAN}, v4), 0)
	f.Add(uint16(LinkEthernet), etherBytes(etherTypeIPv6, nil, v6), 0)
	f.Add(uint16(LinkLinuxSLL), sllBytes(etherTypeIPv4, v4), 0)
	f.Add(uint16(LinkLinuxSLL2), sll2Bytes(etherTypeIPv6, v6), 100)
	f.Add(uint16(LinkNull), nullBytes(30, binary.LittleEndian, v6), 0)
	f.Add(uint16(LinkLoop), nullBytes(2, binary.BigEndian, v4), 0)
	f.Add(uint16(LinkRaw), v4[:30], 2000)
	f.Fuzz(func(t *testing.T, link uint16, data []byte, extra int) {
		var s Segment
		wire := len(data) + extra%70000
		res, err := Decode(LinkType(link), data, wire, &s)
		if (err != nil) != (res == ResultMalformed) {
			t.Fatalf("result %d with error %v", res, err)
		}
		if res != ResultTCP {
			return
		}
		if s.PayloadLen < len(s.Payload) || s.PayloadLen < 0 {
			t.Fatalf("payload %d captured of %d", len(s.Payload), s.PayloadLen)
		}
		if len(s.Payload) > 0 && !within(data, s.Payload) {
			t.Fatal("payload does not alias the packet")
		}
		if !s.Src.IsValid() || !s.Dst.IsValid() {
			t.Fatal("invalid addresses")
		}
	})
}

// within reports whether sub is a subslice of b.
func within(b, sub []byte) bool {
	if len(sub) == 0 || len(b) == 0 {
		return len(sub) == 0
	}
	for i := range b {
		if &b[i] == &sub[0] {
			return i+len(sub) <= len(b)
		}
	}
	return false
}

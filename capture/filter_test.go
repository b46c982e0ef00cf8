package capture

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"golang.org/x/net/bpf"
)

// ipPacket serialises an IPv4 or IPv6 packet (from the IP header on, as an
// AF_PACKET datagram socket delivers it) carrying TCP or UDP.
func ipPacket(t *testing.T, src, dst string, sport, dport uint16, udp bool) []byte {
	t.Helper()
	s, d := net.ParseIP(src), net.ParseIP(dst)
	var l3 gopacket.SerializableLayer
	var nl gopacket.NetworkLayer
	proto := layers.IPProtocolTCP
	if udp {
		proto = layers.IPProtocolUDP
	}
	if s.To4() != nil {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: s, DstIP: d}
		l3, nl = ip, ip
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: s, DstIP: d}
		l3, nl = ip, ip
	}
	var l4 gopacket.SerializableLayer
	if udp {
		u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
		_ = u.SetNetworkLayerForChecksum(nl)
		l4 = u
	} else {
		tc := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), ACK: true, Window: 100}
		_ = tc.SetNetworkLayerForChecksum(nl)
		l4 = tc
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, l3, l4, gopacket.Payload("zmtp")); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The kernel program, run in x/net/bpf's interpreter, keeps exactly what
// Match keeps, for IPv4 and IPv6, ports and hosts, and never UDP.
func TestFilterProgram(t *testing.T) {
	hostA := netip.MustParseAddr("10.1.1.1")
	host6 := netip.MustParseAddr("fd00::1")
	filters := []Filter{
		{},
		{Ports: []uint16{5555}},
		{Ports: []uint16{5555, 7777}, Hosts: []netip.Addr{hostA}},
		{Hosts: []netip.Addr{host6, hostA}},
	}
	packets := []struct {
		src, dst     string
		sport, dport uint16
		udp          bool
	}{
		{"10.1.1.1", "10.1.1.2", 40000, 5555, false},
		{"10.1.1.2", "10.1.1.1", 5555, 40000, false},
		{"10.1.1.3", "10.1.1.2", 40000, 5555, false},
		{"10.1.1.3", "10.1.1.2", 40000, 7777, false},
		{"10.1.1.3", "10.1.1.2", 40000, 80, false},
		{"10.1.1.1", "10.1.1.2", 40000, 5555, true},
		{"fd00::1", "fd00::2", 40000, 5555, false},
		{"fd00::2", "fd00::3", 5555, 40000, false},
		{"fd00::2", "fd00::3", 40000, 80, false},
		{"fd00::1", "fd00::2", 40000, 5555, true},
	}
	for fi, f := range filters {
		ins, err := f.Program(0x40000)
		if err != nil {
			t.Fatal(err)
		}
		vm, err := bpf.NewVM(ins)
		if err != nil {
			t.Fatalf("filter %d: %v", fi, err)
		}
		for _, pk := range packets {
			data := ipPacket(t, pk.src, pk.dst, pk.sport, pk.dport, pk.udp)
			n, err := vm.Run(data)
			if err != nil {
				t.Fatal(err)
			}
			want := !pk.udp
			if want {
				var seg Segment
				link := LinkIPv4
				if pk.src[0] == 'f' {
					link = LinkIPv6
				}
				if res, err := Decode(link, data, len(data), &seg); res != ResultTCP {
					t.Fatalf("decode: %v %v", res, err)
				}
				want = f.Match(&seg)
			}
			if (n > 0) != want {
				t.Errorf("filter %+v, packet %+v: kernel keeps %v, Match says %v", f, pk, n > 0, want)
			}
		}
	}
}

func TestFilterLimits(t *testing.T) {
	f := Filter{Ports: make([]uint16, MaxFilterPorts+1)}
	if _, err := f.Program(100); err == nil {
		t.Fatal("too many ports accepted")
	}
	many := Filter{Hosts: make([]netip.Addr, MaxFilterHosts)}
	for i := range many.Hosts {
		many.Hosts[i] = netip.AddrFrom16([16]byte{0xfd, 15: byte(i)})
	}
	many.Ports = make([]uint16, MaxFilterPorts)
	for i := range many.Ports {
		many.Ports[i] = uint16(1000 + i)
	}
	if _, err := many.Program(100); err != nil {
		t.Fatalf("largest filter: %v", err)
	}
}

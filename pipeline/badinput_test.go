package pipeline

import (
	"bytes"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/zspy/zspy/internal/pcaptest"
	"github.com/zspy/zspy/report"
)

// writePcap writes packets to a new pcap file with the given snap length,
// cutting longer packets as a capture with that snap length would.
func writePcap(t *testing.T, path string, link layers.LinkType, snap int, data [][]byte, cis []gopacket.CaptureInfo) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(uint32(snap), link); err != nil {
		t.Fatal(err)
	}
	for i, d := range data {
		ci := cis[i]
		if len(d) > snap {
			d = d[:snap]
		}
		ci.CaptureLength = len(d)
		if err := w.WritePacket(ci, d); err != nil {
			t.Fatal(err)
		}
	}
}

// A capture cut mid-record reports what it read and one warning naming the
// file and the packet.
func TestTruncatedFile(t *testing.T) {
	full, err := os.ReadFile(filepath.Join(corpus, "reqrep", "capture.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(path, full[:len(full)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	r := replayFile(t, path)
	if r.WarningsTotal != 1 || !strings.Contains(r.Warnings[0], "cut.pcap: packet ") {
		t.Fatalf("warnings %v", r.Warnings)
	}
	if len(r.Connections) != 1 || *r.Connections[0].C2S.Messages == 0 {
		t.Fatalf("connections %+v", r.Connections)
	}
}

// Random damage to the packets of a real capture never crashes the replay.
func TestCorruptedPackets(t *testing.T) {
	for _, name := range []string{"dealer_router", "curve", "pubsub", "longframe"} {
		data, cis, link := pcaptest.ReadPackets(t, filepath.Join(corpus, name, "capture.pcap"))
		rng := rand.New(rand.NewSource(int64(len(data))))
		for round := 0; round < 20; round++ {
			damaged := damage(rng, data)
			path := filepath.Join(t.TempDir(), "damaged.pcap")
			writePcap(t, path, link, 262144, damaged, cis)
			r := replayFile(t, path)
			if r.Packets != uint64(len(data)) {
				t.Fatalf("%s: read %d packets of %d", name, r.Packets, len(data))
			}
		}
	}
}

// damage returns copies of the packets with up to three random bytes of
// each changed.
func damage(rng *rand.Rand, data [][]byte) [][]byte {
	damaged := make([][]byte, len(data))
	for i, d := range data {
		d = bytes.Clone(d)
		for k := rng.Intn(4); k > 0 && len(d) > 0; k-- {
			d[rng.Intn(len(d))] = byte(rng.Intn(256))
		}
		damaged[i] = d
	}
	return damaged
}

// tcpStream builds the packets of one TCP connection from 10.0.0.1:40000 to
// 10.0.0.2:5555 carrying the given client and server payloads.
type tcpStream struct {
	pkts [][]byte
	cis  []gopacket.CaptureInfo
	seq  [2]uint32
	ts   time.Time
}

func (s *tcpStream) add(t *testing.T, dir int, flags string, payload []byte) {
	t.Helper()
	ips := [2]net.IP{{10, 0, 0, 1}, {10, 0, 0, 2}}
	ports := [2]layers.TCPPort{40000, 5555}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{0, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: ips[dir], DstIP: ips[1-dir]}
	tcp := &layers.TCP{SrcPort: ports[dir], DstPort: ports[1-dir], Seq: s.seq[dir], Ack: s.seq[1-dir], Window: 65535,
		SYN: strings.Contains(flags, "S"), ACK: strings.Contains(flags, "A"), FIN: strings.Contains(flags, "F"), PSH: len(payload) > 0}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	s.seq[dir] += uint32(len(payload))
	if tcp.SYN || tcp.FIN {
		s.seq[dir]++
	}
	s.ts = s.ts.Add(time.Millisecond)
	d := bytes.Clone(buf.Bytes())
	s.pkts = append(s.pkts, d)
	s.cis = append(s.cis, gopacket.CaptureInfo{Timestamp: s.ts, CaptureLength: len(d), Length: len(d)})
}

// pushStream starts a ZMTP 3.0 connection from 10.0.0.1:40000 to
// 10.0.0.2:5555: the handshake, both greetings and the client's READY
// (a PUSH).
func pushStream(t *testing.T) *tcpStream {
	s := &tcpStream{seq: [2]uint32{1000, 9000}, ts: time.Unix(1700000000, 0)}
	s.add(t, 0, "S", nil)
	s.add(t, 1, "SA", nil)
	s.add(t, 0, "A", zmtpGreeting())
	s.add(t, 1, "A", zmtpGreeting())
	ready := []byte{4, 0x1a, 5, 'R', 'E', 'A', 'D', 'Y', 11, 'S', 'o', 'c', 'k', 'e', 't', '-', 'T', 'y', 'p', 'e', 0, 0, 0, 4, 'P', 'U', 'S', 'H'}
	s.add(t, 0, "A", ready)
	return s
}

func zmtpGreeting() []byte {
	g := make([]byte, 64)
	g[0], g[8], g[9], g[10], g[11] = 0xFF, 1, 0x7F, 3, 1
	copy(g[12:], "NULL")
	return g
}

// Hostile frame sizes (2^63-1, 2^64-1) neither crash zspy nor make it
// allocate by them; the connection reports the problem and the replay goes on.
func TestHostileFrameSizes(t *testing.T) {
	s := pushStream(t)
	huge := []byte{2, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 'x', 'y'}
	s.add(t, 0, "A", huge)
	s.add(t, 1, "A", []byte{2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	// A command whose metadata claims a 2^31-1 byte value.
	meta := []byte{4, 0x14, 5, 'R', 'E', 'A', 'D', 'Y', 1, 'X', 0x7F, 0xFF, 0xFF, 0xFF, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}
	s.add(t, 1, "A", meta)
	s.add(t, 0, "FA", nil)
	s.add(t, 1, "FA", nil)
	path := filepath.Join(t.TempDir(), "hostile.pcap")
	writePcap(t, path, layers.LinkTypeEthernet, 262144, s.pkts, s.cis)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := replayFile(t, path)
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Fatalf("replay of a 10-packet capture allocated %d bytes", grew)
	}
	if len(r.Connections) != 1 {
		t.Fatalf("connections: %+v", r.Connections)
	}
	c := r.Connections[0]
	// The 2^63-1 frame is refused, not counted (the client's READY before
	// it is well formed: its frame header comes right after); the server's
	// 2^64-1 is out of range.
	if c.C2S.Frames != 0 || c.C2S.LostBytes != 0 || len(c.Errors) == 0 {
		t.Fatalf("c2s %+v errors %v", c.C2S, c.Errors)
	}
	errs := strings.Join(c.Errors, ";")
	if !strings.Contains(errs, "implausibly large frame") || !strings.Contains(errs, "frame size out of range") {
		t.Fatalf("errors %v", c.Errors)
	}
}

// A capture with a short snap length still counts every frame and its size,
// following the sequence numbers across the bytes that were cut. 400 bytes keep
// every frame header of this capture (its multipart message puts three headers
// in the first 286 payload bytes of a segment) and cut the long bodies.
func TestShortSnapLength(t *testing.T) {
	full := replayFile(t, filepath.Join(corpus, "longframe", "capture.pcap"))
	data, cis, link := pcaptest.ReadPackets(t, filepath.Join(corpus, "longframe", "capture.pcap"))
	path := filepath.Join(t.TempDir(), "snap.pcap")
	writePcap(t, path, link, 400, data, cis)
	cut := replayFile(t, path)
	if cut.Stats.TruncatedPackets == 0 {
		t.Fatal("no packet was cut: the test proves nothing")
	}
	for i := range full.Connections {
		f, c := full.Connections[i], cut.Connections[i]
		for _, d := range []struct{ f, c report.Counts }{{f.C2S, c.C2S}, {f.S2C, c.S2C}} {
			if *d.c.Messages != *d.f.Messages || d.c.Frames != d.f.Frames || d.c.Bytes != d.f.Bytes {
				t.Errorf("cut capture counts %+v, full capture %+v", d.c, d.f)
			}
			if d.c.LostBytes == 0 && cut.Stats.TruncatedPackets > 0 && d.f.Bytes > 1000 {
				t.Errorf("lost bytes not reported: %+v", d.c)
			}
		}
	}
}

// Non-TCP packets and non-ZMTP TCP flows are counted, not reported as
// connections.
func TestNonZMTPTraffic(t *testing.T) {
	s := &tcpStream{seq: [2]uint32{1, 1}, ts: time.Unix(1700000000, 0)}
	s.add(t, 0, "S", nil)
	s.add(t, 1, "SA", nil)
	s.add(t, 0, "A", []byte("GET / HTTP/1.1\r\nHost: example\r\n\r\n"))
	s.add(t, 1, "A", []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
	s.add(t, 0, "FA", nil)
	s.add(t, 1, "FA", nil)
	// A UDP packet.
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{0, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
	udp := &layers.UDP{SrcPort: 53, DstPort: 53}
	_ = udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, eth, ip, udp, gopacket.Payload("dns")); err != nil {
		t.Fatal(err)
	}
	s.pkts = append(s.pkts, buf.Bytes())
	s.cis = append(s.cis, gopacket.CaptureInfo{Timestamp: s.ts, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())})
	path := filepath.Join(t.TempDir(), "http.pcap")
	writePcap(t, path, layers.LinkTypeEthernet, 262144, s.pkts, s.cis)
	r := replayFile(t, path)
	if len(r.Connections) != 0 || r.NonZMTPFlows != 1 || r.Stats.NonTCPPackets != 1 || r.Packets != 7 {
		t.Fatalf("connections %d, non-ZMTP %d, non-TCP %d, packets %d", len(r.Connections), r.NonZMTPFlows, r.Stats.NonTCPPackets, r.Packets)
	}
}

// With a snap length that cuts frame headers too, the loss is reported, never
// hidden: lost bytes and a resynchronisation, and the counts of what was seen.
func TestSnapLengthCutsHeaders(t *testing.T) {
	data, cis, link := pcaptest.ReadPackets(t, filepath.Join(corpus, "longframe", "capture.pcap"))
	path := filepath.Join(t.TempDir(), "snap.pcap")
	writePcap(t, path, link, 200, data, cis)
	r := replayFile(t, path)
	c := r.Connections[0]
	if c.C2S.LostBytes == 0 || c.C2S.Frames == 0 || c.C2S.Frames >= 6 {
		t.Fatalf("c2s %+v", c.C2S)
	}
}

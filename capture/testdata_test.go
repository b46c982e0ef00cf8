package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// TestRealCapturesAgainstGopacket reads the real captures in testdata/pcaps
// (pcap files taken with tcpdump) with OpenFile and with gopacket, and checks
// that both see the same TCP segments: numbers, ports, sequence numbers and
// payload bytes.
func TestRealCapturesAgainstGopacket(t *testing.T) {
	paths, _ := filepath.Glob("../testdata/pcaps/*/capture.pcap")
	if len(paths) == 0 {
		t.Skip("no captures in testdata/pcaps")
	}
	for _, path := range paths {
		name := filepath.Base(filepath.Dir(path))
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if binary.LittleEndian.Uint32(raw[20:24]) != uint32(LinkEthernet) {
				t.Skip("gopacket decodes only the 8-bit link types here")
			}
			r, err := pcapgo.NewReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			type ref struct {
				num      uint64
				sp, dp   uint16
				seq, ack uint32
				payload  []byte
				cut      bool // the snap length cut the packet
			}
			var want []ref
			for num := uint64(1); ; num++ {
				data, ci, err := r.ReadPacketData()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
				if tl, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
					want = append(want, ref{num, uint16(tl.SrcPort), uint16(tl.DstPort), tl.Seq, tl.Ack, tl.Payload, ci.CaptureLength < ci.Length})
				}
			}
			s, err := OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			i := 0
			for ; ; i++ {
				var seg Segment
				err := s.Next(&seg)
				if err == io.EOF {
					break
				}
				var pe *PacketError
				if errors.As(err, &pe) || err != nil {
					t.Fatalf("Next: %v", err)
				}
				if i >= len(want) {
					t.Fatalf("more segments than gopacket's %d", len(want))
				}
				w := want[i]
				if seg.Num != w.num || seg.SrcPort != w.sp || seg.DstPort != w.dp || seg.Seq != w.seq || seg.Ack != w.ack ||
					!bytes.Equal(seg.Payload, w.payload) || (seg.PayloadLen != len(w.payload) && !(w.cut && seg.PayloadLen > len(w.payload))) {
					// (A packet the snap length cut carries its whole payload's
					// length from the IP header; gopacket's is what was captured.)
					t.Fatalf("segment %d: packet %d %d>%d seq %d, gopacket: packet %d %d>%d seq %d", i, seg.Num, seg.SrcPort, seg.DstPort, seg.Seq, w.num, w.sp, w.dp, w.seq)
				}
			}
			if i != len(want) {
				t.Errorf("%d segments, gopacket %d", i, len(want))
			}
			if st := s.Stats(); st.TCP != uint64(len(want)) || st.Malformed != 0 || st.Corrupt != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

package reassembly

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/zmtp"
)

// countStream counts the bytes a connection delivered and skipped per direction.
type countStream struct {
	info   ConnInfo
	data   [2]int64
	skip   [2]int64
	closed CloseReason
}

func (s *countStream) Segment(zmtp.Dir, *capture.Segment)     {}
func (s *countStream) Data(d zmtp.Dir, b []byte, _ time.Time) { s.data[d] += int64(len(b)) }
func (s *countStream) Skip(d zmtp.Dir, n int, _ time.Time)    { s.skip[d] += int64(n) }
func (s *countStream) Close(r CloseReason, _ time.Time)       { s.closed = r }

// reassembleFile runs a capture through capture.OpenFile and the assembler.
func reassembleFile(t *testing.T, path string) ([]*countStream, Stats) {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var streams []*countStream
	a := New(factoryFunc(func(info ConnInfo) Stream {
		s := &countStream{info: info}
		streams = append(streams, s)
		return s
	}), Options{})
	var seg capture.Segment
	var last time.Time
	for {
		err := src.Next(&seg)
		if err == io.EOF {
			break
		}
		var pe *capture.PacketError
		if errors.As(err, &pe) {
			t.Logf("warning: %v", err)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		a.Assemble(&seg)
		last = seg.TS
	}
	a.FlushAll(last)
	return streams, a.Stats()
}

// dirSpan is one direction of one connection as recomputed independently:
// the union of the sequence ranges its payloads covered.
type dirSpan struct {
	start     uint32
	ranges    [][2]int64 // offsets from start, of the captured payload
	fullEnd   int64      // the furthest end of a payload as sent (a snap length cuts it)
	haveStart bool
}

func (d *dirSpan) covered() (union, span int64) {
	r := slices.Clone(d.ranges)
	slices.SortFunc(r, func(a, b [2]int64) int { return int(a[0] - b[0]) })
	var end int64 = -1 << 62
	var lo int64
	for i, x := range r {
		if i == 0 {
			lo = x[0]
		}
		if x[0] > end {
			union += x[1] - x[0]
			end = x[1]
		} else if x[1] > end {
			union += x[1] - end
			end = x[1]
		}
	}
	if len(r) > 0 {
		span = max(end, d.fullEnd) - lo
	}
	return
}

// recompute reads a pcap with gopacket (an independent decoder) and returns,
// per direction "src>dst", the union and span of payload bytes of each
// connection, a new one starting at every SYN.
func recompute(t *testing.T, path string) map[string][][2]int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var in io.Reader = bufio.NewReader(f)
	if magic, _ := in.(*bufio.Reader).Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		if in, err = gzip.NewReader(in); err != nil {
			t.Fatal(err)
		}
		in = bufio.NewReader(in)
	}
	var r interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var link layers.LinkType
	magic, _ := in.(*bufio.Reader).Peek(24)
	if bytes.Equal(magic[:4], []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		ng, err := pcapgo.NewNgReader(in, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		r, link = ng, ng.LinkType()
	} else {
		pr, err := pcapgo.NewReader(in)
		if err != nil {
			t.Fatal(err)
		}
		r, link = pr, pr.LinkType()
	}
	// gopacket's LinkType is 8 bits: Linux SLL2 (276) reads as 20, and gopacket
	// has no decoder for it. Its 20-byte header starts with the EtherType.
	sll2 := link == 20 || binary.LittleEndian.Uint32(magic[20:24]) == 276 || binary.BigEndian.Uint32(magic[20:24]) == 276
	gens := map[string][]*dirSpan{}
	for {
		data, _, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var p gopacket.Packet
		if sll2 {
			if len(data) < 20 {
				continue
			}
			first := layers.LayerTypeIPv4
			if binary.BigEndian.Uint16(data[0:2]) == 0x86dd {
				first = layers.LayerTypeIPv6
			}
			p = gopacket.NewPacket(data[20:], first, gopacket.Default)
		} else {
			p = gopacket.NewPacket(data, link, gopacket.Default)
		}
		tl, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tl == nil || p.NetworkLayer() == nil {
			continue
		}
		src, dst := p.NetworkLayer().NetworkFlow().Endpoints()
		key := fmt.Sprintf("%v:%d>%v:%d", src, tl.SrcPort, dst, tl.DstPort)
		if tl.SYN || len(gens[key]) == 0 {
			gens[key] = append(gens[key], &dirSpan{})
		}
		d := gens[key][len(gens[key])-1]
		if tl.SYN {
			d.start, d.haveStart = tl.Seq+1, true
		}
		if len(tl.Payload) == 0 {
			continue
		}
		if !d.haveStart {
			d.start, d.haveStart = tl.Seq, true
		}
		off := int64(int32(tl.Seq - d.start))
		d.ranges = append(d.ranges, [2]int64{off, off + int64(len(tl.Payload))})
		// The payload as sent, from the IP length, when a snap length cut it.
		full := len(tl.Payload)
		if ip4, ok := p.NetworkLayer().(*layers.IPv4); ok {
			full = max(full, int(ip4.Length)-int(ip4.IHL)*4-int(tl.DataOffset)*4)
		}
		d.fullEnd = max(d.fullEnd, off+int64(full))
	}
	out := map[string][][2]int64{}
	for k, ds := range gens {
		for _, d := range ds {
			if u, s := d.covered(); u > 0 {
				out[k] = append(out[k], [2]int64{u, s})
			}
		}
	}
	return out
}

// TestRealCaptures reassembles every capture in testdata/pcaps (real ZeroMQ
// exchanges over loopback, taken with tcpdump) and checks the bytes delivered
// per direction against an independent recomputation from the same file.
func TestRealCaptures(t *testing.T) {
	paths, _ := filepath.Glob("../testdata/pcaps/*/capture.*")
	if len(paths) == 0 {
		t.Skip("no captures in testdata/pcaps")
	}
	for _, path := range paths {
		name := filepath.Base(filepath.Dir(path))
		t.Run(name, func(t *testing.T) {
			want := recompute(t, path)
			streams, st := reassembleFile(t, path)
			got := map[string][][2]int64{}
			for _, s := range streams {
				if s.closed == 0 {
					t.Errorf("connection %v not closed", s.info)
				}
				for d := zmtp.Dir(0); d < 2; d++ {
					src, dst := s.info.Client, s.info.Server
					if d == zmtp.ServerToClient {
						src, dst = dst, src
					}
					if s.data[d] > 0 {
						key := fmt.Sprintf("%v>%v", src, dst)
						got[key] = append(got[key], [2]int64{s.data[d], s.data[d] + s.skip[d]})
					}
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d directions with data, recomputed %d", len(got), len(want))
			}
			var total int64
			for k, w := range want {
				if !slices.Equal(got[k], w) {
					t.Errorf("%s: delivered [data, data+skip] %v, recomputed [union, span] %v", k, got[k], w)
				}
				for _, x := range w {
					total += x[0]
				}
			}
			if st.DataBytes != uint64(total) || st.Buffered != 0 || st.Open != 0 {
				t.Errorf("stats %+v, recomputed %d bytes", st, total)
			}
			checkTruth(t, filepath.Join(filepath.Dir(path), "truth.json"), st)
			t.Logf("%d connections, %d bytes, %d gaps", len(streams), st.DataBytes, st.Gaps)
		})
	}
}

// checkTruth compares connection counts and ends with what the generator of
// the capture recorded (truth.json, written from the peers' point of view).
func checkTruth(t *testing.T, path string, st Stats) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Logf("no truth: %v", err)
		return
	}
	var truth struct {
		Connections []struct {
			State string `json:"state"`
		} `json:"connections"`
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	states := map[string]uint64{}
	for _, c := range truth.Connections {
		states[c.State]++
	}
	if st.Connections != uint64(len(truth.Connections)) {
		t.Errorf("%d connections, truth has %d", st.Connections, len(truth.Connections))
	}
	if st.Refused != states["refused"] {
		t.Errorf("%d refused, truth has %d", st.Refused, states["refused"])
	}
	if st.ClosedFIN < states["closed"] {
		t.Errorf("%d closed by FIN, truth has %d closed", st.ClosedFIN, states["closed"])
	}
}

// TestSnapLengthCutCapture cuts every packet of a real capture to 96 bytes, as
// tcpdump -s 96 would, and checks that the missing bytes reach the streams as
// Skip calls: data plus skips per direction still span the whole stream.
func TestSnapLengthCutCapture(t *testing.T) {
	orig := "../testdata/pcaps/longframe/capture.pcap"
	if _, err := os.Stat(orig); err != nil {
		t.Skip("no longframe capture in testdata/pcaps")
	}
	f, err := os.Open(orig)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	cutPath := filepath.Join(t.TempDir(), "cut.pcap")
	out, err := os.Create(cutPath)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriterNanos(out)
	if err := w.WriteFileHeader(96, r.LinkType()); err != nil {
		t.Fatal(err)
	}
	cut := 0
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 96 {
			data = data[:96]
			ci.CaptureLength = 96
			cut++
		}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if cut == 0 {
		t.Fatal("no packet longer than 96 bytes")
	}
	want := recompute(t, orig)
	streams, st := reassembleFile(t, cutPath)
	var wantTotal int64
	for _, w := range want {
		for _, x := range w {
			wantTotal += x[1]
		}
	}
	var data, skip int64
	for _, s := range streams {
		for d := 0; d < 2; d++ {
			data += s.data[d]
			skip += s.skip[d]
		}
	}
	if data+skip != wantTotal {
		t.Errorf("data %d + skipped %d = %d bytes, the stream spans %d", data, skip, data+skip, wantTotal)
	}
	if st.Gaps != 0 || uint64(skip) != st.SnapCutBytes || st.SnapCutBytes == 0 {
		t.Errorf("stats %+v", st)
	}
	if data >= wantTotal/10 {
		t.Errorf("%d bytes delivered from packets cut to 96 bytes (of %d)", data, wantTotal)
	}
}

// BenchmarkReplay reads a real capture from memory through capture and the
// assembler: the replay path without the dissector.
func BenchmarkReplay(b *testing.B) {
	for _, name := range []string{"longframe", "many_conns"} {
		b.Run(name, func(b *testing.B) {
			raw, err := os.ReadFile("../testdata/pcaps/" + name + "/capture.pcap")
			if err != nil {
				b.Skip(err)
			}
			a := New(factoryFunc(func(ConnInfo) Stream { return nopStream{} }), Options{})
			var seg capture.Segment
			packets := 0
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				src, err := capture.NewReader(bytes.NewReader(raw), name)
				if err != nil {
					b.Fatal(err)
				}
				for {
					if err := src.Next(&seg); err != nil {
						if err == io.EOF {
							break
						}
						b.Fatal(err)
					}
					packets++
					a.Assemble(&seg)
				}
				a.FlushAll(seg.TS)
			}
			b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "segments/s")
		})
	}
}

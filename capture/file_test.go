package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.UTC)

// mixedPackets returns TCP segments interleaved with ARP and UDP packets: the
// TCP ones are packets 1, 3, 4 and 6 (1-based), with seq = packet number.
func mixedPackets() []capPacket {
	arp := etherBytes(0x0806, nil, make([]byte, 28))
	udp := etherBytes(etherTypeIPv4, nil, ipv4Bytes(ip4A, ip4B, 17, 0, nil, make([]byte, 20)))
	seg := func(n uint32) []byte {
		return tcp4(tcpSpec{sport: 4000, dport: 5555, seq: n, flags: FlagACK, payload: []byte(fmt.Sprint("packet ", n))})
	}
	ds := [][]byte{seg(1), arp, seg(3), seg(4), udp, seg(6)}
	pkts := make([]capPacket, len(ds))
	for i, d := range ds {
		pkts[i] = capPacket{ts: t0.Add(time.Duration(i) * time.Millisecond), data: d}
	}
	return pkts
}

// readAll reads every segment, collecting PacketErrors, until io.EOF.
func readAll(t *testing.T, s Source) (segs []Segment, perrs []*PacketError) {
	t.Helper()
	for i := 0; i < 1e6; i++ {
		var seg Segment
		err := s.Next(&seg)
		if err == io.EOF {
			return segs, perrs
		}
		var pe *PacketError
		if errors.As(err, &pe) {
			perrs = append(perrs, pe)
			continue
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		seg.Payload = bytes.Clone(seg.Payload)
		segs = append(segs, seg)
	}
	t.Fatal("no io.EOF after a million calls")
	return
}

func checkMixed(t *testing.T, s *FileSource, wantTS []time.Time) {
	t.Helper()
	segs, perrs := readAll(t, s)
	if len(perrs) != 0 {
		t.Fatalf("errors: %v", perrs)
	}
	if len(segs) != 4 {
		t.Fatalf("%d segments, want 4", len(segs))
	}
	for i, seg := range segs {
		if seg.Num != uint64(seg.Seq) {
			t.Errorf("segment %d: packet number %d, want %d", i, seg.Num, seg.Seq)
		}
		if want := fmt.Sprint("packet ", seg.Seq); string(seg.Payload) != want {
			t.Errorf("segment %d: payload %q, want %q", i, seg.Payload, want)
		}
		if wantTS != nil && !seg.TS.Equal(wantTS[seg.Num-1]) {
			t.Errorf("segment %d: time %v, want %v", i, seg.TS, wantTS[seg.Num-1])
		}
	}
	st := s.Stats()
	if st.Packets != 6 || st.TCP != 4 || st.NonTCP != 2 || st.Malformed != 0 {
		t.Errorf("stats %+v", st)
	}
}

func timestamps(pkts []capPacket, res time.Duration) []time.Time {
	ts := make([]time.Time, len(pkts))
	for i, p := range pkts {
		ts[i] = p.ts.Truncate(res)
	}
	return ts
}

func TestReadPcap(t *testing.T) {
	pkts := mixedPackets()
	for _, nanos := range []bool{false, true} {
		res := time.Microsecond
		if nanos {
			res = time.Nanosecond
		}
		s, err := NewReader(bytes.NewReader(pcapFile(t, LinkEthernet, nanos, pkts)), "mem.pcap")
		if err != nil {
			t.Fatal(err)
		}
		checkMixed(t, s, timestamps(pkts, res))
	}
}

// TestReadPcapBigEndian swaps a little-endian file into big-endian by hand.
func TestReadPcapBigEndian(t *testing.T) {
	pkts := mixedPackets()
	le := pcapFile(t, LinkEthernet, false, pkts)
	be := bytes.Clone(le)
	swap32 := func(off int) { binary.BigEndian.PutUint32(be[off:], binary.LittleEndian.Uint32(le[off:])) }
	swap16 := func(off int) { binary.BigEndian.PutUint16(be[off:], binary.LittleEndian.Uint16(le[off:])) }
	swap32(0)
	swap16(4)
	swap16(6)
	swap32(8)
	swap32(12)
	swap32(16)
	swap32(20)
	for off := 24; off < len(le); {
		for i := 0; i < 4; i++ {
			swap32(off + 4*i)
		}
		off += 16 + int(binary.LittleEndian.Uint32(le[off+8:]))
	}
	s, err := NewReader(bytes.NewReader(be), "be.pcap")
	if err != nil {
		t.Fatal(err)
	}
	checkMixed(t, s, timestamps(pkts, time.Microsecond))
}

func TestReadPcapng(t *testing.T) {
	pkts := mixedPackets()
	s, err := NewReader(bytes.NewReader(pcapngFile(t, []LinkType{LinkEthernet}, nil, pkts)), "mem.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	checkMixed(t, s, timestamps(pkts, time.Nanosecond))
}

// TestReadPcapngInterfaces puts packets on interfaces of different link types;
// packet numbers count all packets across interfaces.
func TestReadPcapngInterfaces(t *testing.T) {
	v4 := ipv4Bytes(ip4A, ip4B, 6, 0, nil, tcpBytes(tcpSpec{seq: 2, payload: []byte("raw")}))
	pkts := []capPacket{
		{ts: t0, data: tcp4(tcpSpec{seq: 1, payload: []byte("eth")})},
		{ts: t0, data: sll2Bytes(etherTypeIPv4, v4)},
		{ts: t0, data: []byte{1, 2, 3}}, // on an unsupported link (USB): not TCP
		{ts: t0, data: v4},
	}
	// By hand: gopacket's LinkType is 8 bits wide and cannot say SLL2 (276).
	links := []LinkType{LinkEthernet, LinkLinuxSLL2, LinkType(189), LinkRaw}
	file := ngSHB()
	for _, l := range links {
		file = append(file, ngIDB(l, 6, 0)...)
	}
	for i, p := range pkts {
		file = append(file, ngEPB(uint32(i), uint64(i), p.data, len(p.data))...)
	}
	s, err := NewReader(bytes.NewReader(file), "multi.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	segs, perrs := readAll(t, s)
	if len(perrs) != 0 || len(segs) != 3 {
		t.Fatalf("%d segments, errors %v", len(segs), perrs)
	}
	if segs[0].Num != 1 || segs[1].Num != 2 || segs[2].Num != 4 || string(segs[2].Payload) != "raw" {
		t.Errorf("segments %+v", segs)
	}
	if st := s.Stats(); st.NonTCP != 1 || st.Packets != 4 {
		t.Errorf("stats %+v", st)
	}
}

// ngBlock lays out one pcapng block (little-endian).
func ngBlock(typ uint32, body []byte) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	total := uint32(12 + len(body))
	b := binary.LittleEndian.AppendUint32(nil, typ)
	b = binary.LittleEndian.AppendUint32(b, total)
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, total)
}

func ngSHB() []byte {
	body := binary.LittleEndian.AppendUint32(nil, pcapngByteOrder)
	body = binary.LittleEndian.AppendUint16(body, 1)
	body = binary.LittleEndian.AppendUint16(body, 0)
	body = binary.LittleEndian.AppendUint64(body, ^uint64(0))
	return ngBlock(pcapngSHB, body)
}

func ngIDB(link LinkType, tsresol byte, offset int64) []byte {
	body := binary.LittleEndian.AppendUint16(nil, uint16(link))
	body = binary.LittleEndian.AppendUint16(body, 0)
	body = binary.LittleEndian.AppendUint32(body, 0)
	body = append(body, 9, 0, 1, 0, tsresol, 0, 0, 0) // if_tsresol
	if offset != 0 {
		body = append(body, 14, 0, 8, 0)
		body = binary.LittleEndian.AppendUint64(body, uint64(offset))
	}
	body = append(body, 0, 0, 0, 0) // end of options
	return ngBlock(ngBlockIDB, body)
}

func ngEPB(iface uint32, ts uint64, data []byte, wire int) []byte {
	body := binary.LittleEndian.AppendUint32(nil, iface)
	body = binary.LittleEndian.AppendUint32(body, uint32(ts>>32))
	body = binary.LittleEndian.AppendUint32(body, uint32(ts))
	body = binary.LittleEndian.AppendUint32(body, uint32(len(data)))
	body = binary.LittleEndian.AppendUint32(body, uint32(wire))
	return ngBlock(ngBlockEPB, append(body, data...))
}

func TestPcapngTimestampResolution(t *testing.T) {
	p := tcp4(tcpSpec{payload: []byte("x")})
	cases := []struct {
		resol  byte
		offset int64
		ts     uint64
		want   time.Time
	}{
		{6, 0, 1_700_000_000_123_456, time.Unix(1_700_000_000, 123_456_000)},
		{9, 0, 1_700_000_000_123_456_789, time.Unix(1_700_000_000, 123_456_789)},
		{3, 100, 1_700_000_000_123, time.Unix(1_700_000_100, 123_000_000)},
		{12, 0, 1_700_000_000_123_456_789, time.Unix(1_700_000, 123_456)}, // ps
		{0x80 | 10, 0, 5<<10 | 512, time.Unix(5, 500_000_000)},            // 2^-10 s
		{0x80 | 63, 0, 1 << 62, time.Unix(0, 500_000_000)},
		{0x80 | 64, 0, 7_000_000, time.Unix(7, 0)}, // invalid: default µs
		{99, 0, 7_000_000, time.Unix(7, 0)},        // invalid: default µs
	}
	for _, c := range cases {
		file := concat(ngSHB(), ngIDB(LinkEthernet, c.resol, c.offset), ngEPB(0, c.ts, p, len(p)))
		s, err := NewReader(bytes.NewReader(file), "ts.pcapng")
		if err != nil {
			t.Fatal(err)
		}
		var seg Segment
		if err := s.Next(&seg); err != nil {
			t.Fatal(err)
		}
		if !seg.TS.Equal(c.want) {
			t.Errorf("tsresol %#x: %v, want %v", c.resol, seg.TS, c.want)
		}
	}
}

func TestReadGzip(t *testing.T) {
	pkts := mixedPackets()
	for _, ng := range []bool{false, true} {
		raw := pcapFile(t, LinkEthernet, true, pkts)
		if ng {
			raw = pcapngFile(t, []LinkType{LinkEthernet}, nil, pkts)
		}
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		w.Write(raw)
		w.Close()
		// The name says nothing: detection is by magic.
		path := filepath.Join(t.TempDir(), "capture.bin")
		if err := os.WriteFile(path, gz.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		checkMixed(t, s, timestamps(pkts, time.Nanosecond))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	eth := pcapFile(t, LinkEthernet, false, nil)
	usb := bytes.Clone(eth)
	binary.LittleEndian.PutUint32(usb[20:], 189)
	var gzGarbage bytes.Buffer
	gw := gzip.NewWriter(&gzGarbage)
	gw.Write([]byte("this is a text file, not a capture"))
	gw.Close()
	cases := []struct {
		name string
		path string
		want error
	}{
		{"missing", filepath.Join(dir, "nope.pcap"), os.ErrNotExist},
		{"text", write("notes.txt", []byte("hello world, not a capture at all")), ErrNotCapture},
		{"two bytes, no magic", write("two.pcap", []byte("hi")), ErrNotCapture},
		{"gzip of text", write("text.gz", gzGarbage.Bytes()), ErrNotCapture},
		{"gzip cut in its header", write("cut.gz", gzGarbage.Bytes()[:5]), nil},
		{"unsupported link", write("usb.pcap", usb), ErrUnsupportedLink},
		{"pcapng bad byte order", write("bad.pcapng", func() []byte { b := ngSHB(); b[8] = 0; return b }()), ErrCorrupt},
		{"directory", dir, nil},
	}
	for _, c := range cases {
		s, err := OpenFile(c.path)
		if err == nil && c.name == "directory" {
			// Opening a directory works on Linux; reading it fails.
			var seg Segment
			err = s.Next(&seg)
			if err == nil {
				t.Errorf("%s: no error", c.name)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.path) {
			t.Errorf("%s: error %q does not name the file", c.name, err)
		}
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: error %q is not %v", c.name, err, c.want)
		}
	}
}

// TestTornHeader opens files cut inside their header, as a capture writer
// killed before its first flush leaves them: each opens as a capture of no
// packets, and its first Next says so, once, naming the file.
func TestTornHeader(t *testing.T) {
	dir := t.TempDir()
	pcap := pcapFile(t, LinkEthernet, false, nil)
	ng := pcapngFile(t, []LinkType{LinkEthernet}, nil, nil)
	cases := map[string][]byte{"empty.pcap": nil, "pcap-2.pcap": pcap[:2], "pcap-10.pcap": pcap[:10], "pcap-23.pcap": pcap[:23],
		"ng-3.pcapng": ng[:3], "ng-20.pcapng": ng[:20], "ng-27.pcapng": ng[:27]}
	for name, b := range cases {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := OpenFile(path)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var seg Segment
		err = s.Next(&seg)
		var pe *PacketError
		if !errors.As(err, &pe) || !errors.Is(err, ErrTruncatedFile) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: first Next: %v, want a truncated-file error naming the file", name, err)
		}
		if err := s.Next(&seg); err != io.EOF {
			t.Errorf("%s: second Next: %v, want io.EOF", name, err)
		}
		if st := s.Stats(); st.Corrupt != 1 || st.Packets != 0 {
			t.Errorf("%s: stats %+v", name, st)
		}
		s.Close()
	}
}

// TestTruncatedFile cuts a file at every byte: every packet before the cut is
// read, then one warning names the file and the cut packet, then io.EOF.
func TestTruncatedFile(t *testing.T) {
	pkts := mixedPackets()
	for _, ng := range []bool{false, true} {
		file := pcapFile(t, LinkEthernet, false, pkts)
		if ng {
			file = pcapngFile(t, []LinkType{LinkEthernet}, nil, pkts)
		}
		full, _ := NewReader(bytes.NewReader(file), "full")
		all, _ := readAll(t, full)
		for cut := len(file) - 1; cut > 40; cut-- {
			s, err := NewReader(bytes.NewReader(file[:cut]), "cut.pcap")
			if err != nil {
				t.Fatalf("cut %d: %v", cut, err)
			}
			segs, perrs := readAll(t, s)
			if len(segs) > len(all) {
				t.Fatalf("cut %d: %d segments from a cut file, %d from the whole", cut, len(segs), len(all))
			}
			for i := range segs {
				if segs[i].Num != all[i].Num || !bytes.Equal(segs[i].Payload, all[i].Payload) {
					t.Fatalf("cut %d: segment %d differs", cut, i)
				}
			}
			st := s.Stats()
			if len(perrs) == 0 {
				// A cut exactly between records is a clean end.
				continue
			}
			if len(perrs) != 1 || !errors.Is(perrs[0], ErrTruncatedFile) || st.Corrupt != 1 {
				t.Fatalf("cut %d: errors %v, stats %+v", cut, perrs, st)
			}
			if want := st.Packets + 1; perrs[0].Packet != want || perrs[0].File != "cut.pcap" {
				t.Fatalf("cut %d: error %v names packet %d, want %d", cut, perrs[0], perrs[0].Packet, want)
			}
		}
	}
}

func TestHugeRecordLength(t *testing.T) {
	pkts := mixedPackets()
	file := pcapFile(t, LinkEthernet, false, pkts[:1])
	rec := make([]byte, 16)
	binary.LittleEndian.PutUint32(rec[8:], 0xfffffff0)
	binary.LittleEndian.PutUint32(rec[12:], 0xfffffff0)
	file = append(file, rec...)
	file = append(file, make([]byte, 1000)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := NewReader(bytes.NewReader(file), "huge.pcap")
	if err != nil {
		t.Fatal(err)
	}
	segs, perrs := readAll(t, s)
	runtime.ReadMemStats(&after)
	if len(segs) != 1 || len(perrs) != 1 || !errors.Is(perrs[0], ErrRecordTooLarge) || perrs[0].Packet != 2 {
		t.Fatalf("segments %d, errors %v", len(segs), perrs)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("reading a record that claims 4 GB allocated %d bytes", grew)
	}
	if !strings.Contains(perrs[0].Error(), "huge.pcap: packet 2") {
		t.Errorf("error %q does not name file and packet", perrs[0])
	}
}

// TestRecordLengthCapped: a record length within the cap but past the end of a
// small file allocates no more than about twice the file.
func TestRecordPastEnd(t *testing.T) {
	file := pcapFile(t, LinkEthernet, false, nil)
	rec := make([]byte, 16)
	binary.LittleEndian.PutUint32(rec[8:], MaxRecordLen)
	binary.LittleEndian.PutUint32(rec[12:], MaxRecordLen)
	file = append(file, rec...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s, _ := NewReader(bytes.NewReader(file), "short.pcap")
	_, perrs := readAll(t, s)
	runtime.ReadMemStats(&after)
	if len(perrs) != 1 || !errors.Is(perrs[0], ErrTruncatedFile) {
		t.Fatalf("errors %v", perrs)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 200<<10 {
		t.Errorf("allocated %d bytes for a 56-byte file", grew)
	}
}

func TestPcapngOversizedBlockSkipped(t *testing.T) {
	p := tcp4(tcpSpec{seq: 1, payload: []byte("first")})
	q := tcp4(tcpSpec{seq: 3, payload: []byte("third")})
	big := make([]byte, maxBlockLen)
	file := concat(ngSHB(), ngIDB(LinkEthernet, 6, 0), ngEPB(0, 1, p, len(p)), ngEPB(0, 2, big, len(big)), ngEPB(0, 3, q, len(q)))
	s, err := NewReader(bytes.NewReader(file), "big.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	segs, perrs := readAll(t, s)
	if len(segs) != 2 || segs[1].Num != 3 || string(segs[1].Payload) != "third" {
		t.Fatalf("segments %+v", segs)
	}
	if len(perrs) != 1 || !errors.Is(perrs[0], ErrRecordTooLarge) || perrs[0].Packet != 2 {
		t.Fatalf("errors %v", perrs)
	}
}

func TestPcapngBadBlocks(t *testing.T) {
	p := tcp4(tcpSpec{seq: 1, payload: []byte("ok")})
	good := ngEPB(0, 1, p, len(p))
	badTrailer := bytes.Clone(good)
	badTrailer[len(badTrailer)-1] = 0x7f
	capPast := bytes.Clone(good)
	binary.LittleEndian.PutUint32(capPast[8+12:], 5000) // captured length past the block
	noIface := ngEPB(7, 1, p, len(p))
	cases := []struct {
		name  string
		file  []byte
		segs  int
		want  error
		after bool // reading goes on after the error
	}{
		{"trailer mismatch", concat(ngSHB(), ngIDB(LinkEthernet, 6, 0), good, badTrailer, good), 1, ErrCorrupt, false},
		{"captured length past block", concat(ngSHB(), ngIDB(LinkEthernet, 6, 0), capPast, good), 1, ErrCorrupt, true},
		{"undeclared interface", concat(ngSHB(), ngIDB(LinkEthernet, 6, 0), noIface, good), 1, ErrCorrupt, true},
		{"block length 5", concat(ngSHB(), ngIDB(LinkEthernet, 6, 0), good, []byte{6, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0}), 1, ErrCorrupt, false},
		{"packet before interface", concat(ngSHB(), good), 0, ErrCorrupt, false},
	}
	for _, c := range cases {
		s, err := NewReader(bytes.NewReader(c.file), c.name)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		segs, perrs := readAll(t, s)
		if len(perrs) != 1 || !errors.Is(perrs[0], c.want) {
			t.Errorf("%s: errors %v", c.name, perrs)
		}
		if c.after && len(segs) != 1 {
			t.Errorf("%s: %d segments after the bad block, want 1", c.name, len(segs))
		}
		if !c.after && len(segs) != c.segs {
			t.Errorf("%s: %d segments, want %d", c.name, len(segs), c.segs)
		}
	}
}

// TestGarbageAfterHeader feeds random bytes after a valid header: reading ends,
// with errors naming the file, and never panics.
func TestGarbageAfterHeader(t *testing.T) {
	rng := uint64(1)
	for round := 0; round < 200; round++ {
		garbage := make([]byte, 3000)
		for i := range garbage {
			rng = rng*6364136223846793005 + 1442695040888963407
			garbage[i] = byte(rng >> 56)
		}
		if round%2 == 0 {
			// Small lengths so that some records parse as packets.
			for off := 0; off+16 < len(garbage); off += 64 {
				binary.LittleEndian.PutUint32(garbage[off+8:], 48)
			}
		}
		for _, head := range [][]byte{pcapFile(t, LinkEthernet, false, nil), concat(ngSHB(), ngIDB(LinkEthernet, 6, 0))} {
			s, err := NewReader(bytes.NewReader(concat(head, garbage)), "garbage.pcap")
			if err != nil {
				t.Fatal(err)
			}
			_, perrs := readAll(t, s)
			for _, pe := range perrs {
				if pe.File != "garbage.pcap" || pe.Packet == 0 {
					t.Fatalf("error %v", pe)
				}
			}
		}
	}
}

func TestOpenFileReadsFromDisk(t *testing.T) {
	pkts := mixedPackets()
	path := filepath.Join(t.TempDir(), "x.pcapng")
	if err := os.WriteFile(path, pcapngFile(t, []LinkType{LinkEthernet}, nil, pkts), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Name() != path || s.LinkType() != LinkEthernet {
		t.Errorf("name %q, link %v", s.Name(), s.LinkType())
	}
	checkMixed(t, s, nil)
}

// loopReader replays records after a header forever.
type loopReader struct {
	head, recs []byte
	pos        int
	inHead     bool
}

func (l *loopReader) Read(p []byte) (int, error) {
	if l.inHead {
		n := copy(p, l.head[l.pos:])
		l.pos += n
		if l.pos == len(l.head) {
			l.inHead, l.pos = false, 0
		}
		return n, nil
	}
	n := copy(p, l.recs[l.pos:])
	l.pos = (l.pos + n) % len(l.recs)
	return n, nil
}

func benchFile(tb testing.TB, payload int) (*loopReader, int) {
	pkts := make([]capPacket, 1000)
	for i := range pkts {
		pkts[i] = capPacket{ts: t0, data: tcp4(tcpSpec{sport: 4000, dport: 5555, seq: uint32(i * payload), flags: FlagACK, payload: make([]byte, payload)})}
	}
	file := pcapFile(tb, LinkEthernet, false, pkts)
	return &loopReader{head: file[:24], recs: file[24:], inHead: true}, (len(file) - 24) / len(pkts)
}

func TestFileSourceDoesNotAllocate(t *testing.T) {
	r, _ := benchFile(t, 100)
	s, err := NewReader(r, "loop")
	if err != nil {
		t.Fatal(err)
	}
	var seg Segment
	allocs := testing.AllocsPerRun(5000, func() {
		if err := s.Next(&seg); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Next allocates %.2f times per packet", allocs)
	}
}

func BenchmarkFileSourceNext(b *testing.B) {
	for _, payload := range []int{64, 1400} {
		b.Run(fmt.Sprint("payload", payload), func(b *testing.B) {
			r, recLen := benchFile(b, payload)
			s, err := NewReader(r, "loop")
			if err != nil {
				b.Fatal(err)
			}
			var seg Segment
			b.SetBytes(int64(recLen))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := s.Next(&seg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
		})
	}
}

func FuzzReadFile(f *testing.F) {
	pkts := mixedPackets()
	f.Add(pcapFile(f, LinkEthernet, false, pkts))
	f.Add(pcapFile(f, LinkLinuxSLL, true, []capPacket{{ts: t0, data: sllBytes(etherTypeIPv4, ipv4Bytes(ip4A, ip4B, 6, 0, nil, tcpBytes(tcpSpec{payload: []byte("a")})))}}))
	f.Add(pcapngFile(f, []LinkType{LinkEthernet, LinkRaw}, func(i int) int { return i % 2 }, pkts[:2]))
	p := tcp4(tcpSpec{payload: []byte("x")})
	f.Add(concat(ngSHB(), ngIDB(LinkEthernet, 0x80|20, 5), ngEPB(0, 1, p, len(p)+100)))
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(pcapFile(f, LinkEthernet, false, pkts[:2]))
	w.Close()
	f.Add(gz.Bytes())
	f.Fuzz(func(t *testing.T, file []byte) {
		s, err := NewReader(bytes.NewReader(file), "fuzz")
		if err != nil {
			return
		}
		var last uint64
		for i := 0; ; i++ {
			if i > len(file)+10 {
				t.Fatal("no io.EOF: more results than bytes")
			}
			var seg Segment
			err := s.Next(&seg)
			if err == io.EOF {
				break
			}
			var pe *PacketError
			if err != nil && !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if err == nil {
				if seg.Num <= last {
					t.Fatalf("packet number %d after %d", seg.Num, last)
				}
				last = seg.Num
			}
		}
		st := s.Stats()
		if st.TCP+st.NonTCP+st.Malformed+st.Fragments != st.Packets {
			t.Fatalf("stats do not add up: %+v", st)
		}
	})
}

// TestLenientRecordLengths: records longer than the header's snap length (as
// some writers produce) and records whose original length is below the
// captured one are read, not rejected.
func TestLenientRecordLengths(t *testing.T) {
	p := tcp4(tcpSpec{seq: 1, payload: []byte("longer than the snap length says")})
	file := pcapFile(t, LinkEthernet, false, []capPacket{{ts: t0, data: p}, {ts: t0, data: p}})
	binary.LittleEndian.PutUint32(file[16:], 40) // snap length 40 in the header
	rec2 := 24 + 16 + len(p)
	binary.LittleEndian.PutUint32(file[rec2+12:], 10) // original length 10 < captured
	s, err := NewReader(bytes.NewReader(file), "lenient.pcap")
	if err != nil {
		t.Fatal(err)
	}
	segs, perrs := readAll(t, s)
	if len(segs) != 2 || len(perrs) != 0 {
		t.Fatalf("%d segments, errors %v", len(segs), perrs)
	}
	for _, seg := range segs {
		if string(seg.Payload) != "longer than the snap length says" {
			t.Errorf("payload %q", seg.Payload)
		}
	}
	if st := s.Stats(); st.Truncated != 0 || st.Bytes != uint64(2*len(p)) {
		t.Errorf("stats %+v", st)
	}
}

// TestTruncatedGzip cuts a gzip-compressed capture at many points: the packets
// before the cut are read, then at most one error, then io.EOF.
func TestTruncatedGzip(t *testing.T) {
	pkts := mixedPackets()
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(pcapFile(t, LinkEthernet, false, pkts))
	w.Close()
	full := gz.Bytes()
	for cut := len(full) - 1; cut > 10; cut -= 3 {
		s, err := NewReader(bytes.NewReader(full[:cut]), "cut.pcap.gz")
		if err != nil {
			if !strings.Contains(err.Error(), "cut.pcap.gz") {
				t.Fatalf("cut %d: error %v does not name the file", cut, err)
			}
			continue
		}
		segs, perrs := readAll(t, s)
		if len(perrs) > 1 || len(segs) > 4 {
			t.Fatalf("cut %d: %d segments, errors %v", cut, len(segs), perrs)
		}
		if len(perrs) == 1 && !errors.Is(perrs[0], ErrTruncatedFile) && !errors.Is(perrs[0], ErrCorrupt) {
			t.Fatalf("cut %d: error %v", cut, perrs[0])
		}
		if cut < len(full)-8 && len(perrs) == 0 {
			t.Fatalf("cut %d of %d: a cut gzip stream read without a warning", cut, len(full))
		}
	}
}

// TestReadPacket reads a file's raw packets, undecoded: every record, TCP or
// not, as written, with its link type and number; Next over the same file
// gives the TCP ones.
func TestReadPacket(t *testing.T) {
	pkts := mixedPackets()
	for _, ng := range []bool{false, true} {
		file := pcapFile(t, LinkEthernet, true, pkts)
		if ng {
			file = pcapngFile(t, []LinkType{LinkEthernet}, nil, pkts)
		}
		s, err := NewReader(bytes.NewReader(file), "raw")
		if err != nil {
			t.Fatal(err)
		}
		var n int
		for {
			data, info, err := s.ReadPacket()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if n >= len(pkts) || !bytes.Equal(data, pkts[n].data) || info.Link != LinkEthernet || info.Num != uint64(n+1) ||
				info.WireLen != len(data) || !info.TS.Equal(pkts[n].ts) {
				t.Fatalf("ng %v: packet %d: %x %+v", ng, n, data, info)
			}
			n++
		}
		if st := s.Stats(); n != len(pkts) || st.Packets != uint64(n) || st.TCP != 0 {
			t.Errorf("ng %v: %d packets read, stats %+v", ng, n, st)
		}
	}
}

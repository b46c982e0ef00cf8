package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"time"
)

// Source yields the TCP segments of a packet source (a file or, later, a live
// interface), one call at a time, from one goroutine.
type Source interface {
	// Next fills seg with the next TCP segment. It returns io.EOF at the end, a
	// *PacketError for a packet it could not read or decode (call Next again to
	// go on), or another error when the source failed.
	Next(seg *Segment) error
	// Stats returns the cumulative counters.
	Stats() Stats
	// Close releases the source.
	Close() error
}

var (
	_ Source       = (*FileSource)(nil)
	_ PacketReader = (*FileSource)(nil)
)

// PacketInfo describes a raw packet (gopacket's CaptureInfo, with the link
// type of the interface it came from).
type PacketInfo struct {
	TS      time.Time
	WireLen int      // length on the wire; at least the captured length
	Link    LinkType // how the packet's data begins
	Num     uint64   // 1-based packet number within its source
}

// PacketReader reads raw packets, undecoded: the layer under a Source.
// ReadPacket's data is valid until the next call; errors are as for
// Source.Next (io.EOF, *PacketError, or the source failed).
type PacketReader interface {
	ReadPacket() (data []byte, info PacketInfo, err error)
}

// MaxRecordLen caps the captured length of one packet record (tcpdump's own
// maximum snap length). A record claiming more is corrupt: the reader never
// allocates by a length read from the file.
const MaxRecordLen = 262144

// maxBlockLen caps a pcapng packet block (packet plus options) that is read
// whole; larger packet blocks are skipped, other large blocks are streamed past.
const maxBlockLen = MaxRecordLen + 65536

const (
	pcapMagicMicro   = 0xa1b2c3d4
	pcapMagicNano    = 0xa1b23c4d
	pcapngSHB        = 0x0a0d0d0a
	pcapngByteOrder  = 0x1a2b3c4d
	ngBlockIDB       = 1
	ngBlockPB        = 2
	ngBlockSPB       = 3
	ngBlockEPB       = 6
	maxNgInterfaces  = 4096
	initialBufferLen = 64 << 10
)

type format uint8

const (
	formatPcap format = iota + 1
	formatPcapng
)

// ngInterface is a pcapng interface description: its link type and clock.
type ngInterface struct {
	link    LinkType
	snaplen uint32
	// Timestamps count units of 10^-exp s (decimal) or 2^-exp s (binary).
	exp    uint8
	binary bool
	offset int64 // seconds added to every timestamp (if_tsoffset)
}

// FileSource reads TCP segments from a pcap or pcapng file, gzip-compressed or
// not. It is not safe for concurrent use.
type FileSource struct {
	name   string
	closer io.Closer
	in     recordReader
	format format

	// pcap
	bigEndian bool
	nanos     bool
	link      LinkType

	// pcapng
	ifaces []ngInterface
	// zspy's custom blocks read and not yet taken (annotate.go)
	anns       []Annotation
	annBytes   int
	annDropped uint64

	num   uint64 // packets seen so far, including unreadable ones
	stats Stats
	done  bool
	// pending is a warning about the packet Next returned last, returned
	// by the next call.
	pending          []error // decode warnings, returned by Next
	readPending      []error // framing warnings, returned by ReadPacket
	firstBadChecksum uint64
	sumsChecked      bool
	// Link-type probe: packets that were TCP only as probeAs (probeFrom is
	// the file's type), of probes tried.
	probes             int
	probeHits          uint64
	probeAs, probeFrom LinkType
	linkChecked        bool
	// torn is set when the file ends inside its own header (a writer killed
	// before its first flush): Next reports it once, then io.EOF.
	torn error
}

// OpenFile opens a capture file: pcap or pcapng, detected by magic, optionally
// gzip-compressed (detected by the gzip magic, not the name).
func OpenFile(path string) (*FileSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open capture: %w", err)
	}
	s, err := newSource(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.closer = f
	return s, nil
}

// NewReader reads a capture from r; name names it in errors.
func NewReader(r io.Reader, name string) (*FileSource, error) {
	return newSource(r, name)
}

func newSource(r io.Reader, name string) (*FileSource, error) {
	s := &FileSource{name: name}
	s.in.src = r
	s.in.buf = make([]byte, initialBufferLen)
	head, _ := s.in.peek(4)
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		raw := new(recordReader)
		*raw = s.in
		gz, err := gzip.NewReader(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", name, err)
		}
		s.in = recordReader{src: gz, buf: make([]byte, initialBufferLen)}
		head, _ = s.in.peek(4)
	}
	if err := s.in.err; err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(head) < 4 {
		if !isMagicPrefix(head) {
			return nil, fmt.Errorf("%s: %d-byte file: %w", name, len(head), ErrNotCapture)
		}
		return s.tornHeader(len(head)), nil
	}
	switch {
	case binary.LittleEndian.Uint32(head) == pcapngSHB:
		s.format = formatPcapng
		// The section header is read by the first call to Next; read it now so
		// that a broken one fails the open.
		if err := s.readNgHeaderBlock(true); err != nil {
			if errors.Is(err, errHeaderCut) {
				return s.tornHeader(s.in.w), nil
			}
			return nil, err
		}
		s.readLeadingInterfaces()
	case isPcapMagic(head):
		s.format = formatPcap
		if err := s.readPcapHeader(); err != nil {
			if errors.Is(err, errHeaderCut) {
				return s.tornHeader(s.in.w), nil
			}
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%s: %w (starts with %x)", name, ErrNotCapture, head)
	}
	return s, nil
}

// errHeaderCut marks a file that ends inside its header.
var errHeaderCut = errors.New("file ends in its header")

// tornHeader makes s a source of no packets that says, once, that the file
// ends n bytes into its header: what a capture writer killed before its
// first flush leaves (0 bytes) is read as an empty capture, so that a set of
// files with a torn last one replays.
func (s *FileSource) tornHeader(n int) *FileSource {
	what := "is empty"
	if n > 0 {
		what = fmt.Sprintf("ends %d bytes into its header", n)
	}
	s.torn = fmt.Errorf("%w: the file %s: no packets (cut while it was written?)", ErrTruncatedFile, what)
	return s
}

// isMagicPrefix reports whether b (shorter than 4 bytes) begins a pcap or
// pcapng magic number. An empty b does.
func isMagicPrefix(b []byte) bool {
	for _, m := range []uint32{pcapMagicMicro, pcapMagicNano, pcapngSHB} {
		var le, be [4]byte
		binary.LittleEndian.PutUint32(le[:], m)
		binary.BigEndian.PutUint32(be[:], m)
		if bytes.HasPrefix(le[:], b) || bytes.HasPrefix(be[:], b) {
			return true
		}
	}
	return false
}

func isPcapMagic(b []byte) bool {
	le, be := binary.LittleEndian.Uint32(b), binary.BigEndian.Uint32(b)
	return le == pcapMagicMicro || le == pcapMagicNano || be == pcapMagicMicro || be == pcapMagicNano
}

// Name returns the file name the source reports in errors.
func (s *FileSource) Name() string { return s.name }

// LinkType returns the link type of a pcap file, or of a pcapng file's first
// interface.
func (s *FileSource) LinkType() LinkType {
	if s.format == formatPcapng && len(s.ifaces) > 0 {
		return s.ifaces[0].link
	}
	return s.link
}

// Stats returns the cumulative counters.
func (s *FileSource) Stats() Stats { return s.stats }

// Close closes the file (if OpenFile opened it).
func (s *FileSource) Close() error {
	s.done = true
	if s.closer != nil {
		c := s.closer
		s.closer = nil
		return c.Close()
	}
	return nil
}

// ReadPacket reads the next packet record, undecoded: the raw-packet layer
// under Next (what gopacket's PacketDataSource and pcapgo's readers give).
// data is the packet as captured, from its link-layer header on, valid
// until the next call. It returns io.EOF at the end and a *PacketError for a
// record the framing could not deliver (then, after a truncated or corrupt
// framing, io.EOF).
func (s *FileSource) ReadPacket() (data []byte, info PacketInfo, err error) {
	if s.torn != nil {
		err := s.torn
		s.torn, s.done = nil, true
		s.stats.Corrupt++
		return nil, PacketInfo{}, &PacketError{File: s.name, Packet: 1, Err: err}
	}
	if len(s.readPending) > 0 {
		err := s.readPending[0]
		s.readPending = s.readPending[1:]
		return nil, PacketInfo{}, err
	}
	if s.done {
		return nil, PacketInfo{}, io.EOF
	}
	var rec record
	if s.format == formatPcap {
		err = s.readPcapRecord(&rec)
	} else {
		err = s.readNgRecord(&rec)
	}
	if err != nil {
		return nil, PacketInfo{}, err
	}
	s.stats.Packets++
	if rec.wire > maxWireLen && rec.wire > len(rec.data) {
		// No packet is that long: count what was captured, and say so on
		// the next call.
		s.stats.Corrupt++
		s.readPending = append(s.readPending, &PacketError{File: s.name, Packet: s.num,
			Err: fmt.Errorf("%w: record claims a wire length of %d bytes; counted as its %d captured bytes", ErrCorrupt, rec.wire, len(rec.data))})
		rec.wire = len(rec.data)
	}
	s.stats.Bytes += uint64(rec.wire)
	if len(rec.data) < rec.wire {
		s.stats.Truncated++
	}
	return rec.data, PacketInfo{TS: rec.ts, WireLen: rec.wire, Link: rec.link, Num: s.num}, nil
}

// Next fills seg with the next TCP segment; see Source. It reads packets
// with ReadPacket and decodes them; packets that are not TCP are counted and
// skipped. seg.Payload is valid until the next call.
func (s *FileSource) Next(seg *Segment) error {
	if len(s.pending) > 0 {
		err := s.pending[0]
		s.pending = s.pending[1:]
		return err
	}
	for {
		data, info, err := s.ReadPacket()
		if err == io.EOF {
			if err := s.endWarning(); err != nil {
				return err
			}
			return io.EOF
		}
		if err != nil {
			return err
		}
		if !info.Link.Supported() {
			// A pcapng interface of another kind (USB, Bluetooth, ...).
			s.stats.NonTCP++
			continue
		}
		var l layout
		res, derr := decode(info.Link, data, info.WireLen, seg, &l)
		if res != ResultTCP {
			s.probeLink(data, &info)
		}
		switch res {
		case ResultTCP:
			if tcpChecksum(data, &l) == checksumBad {
				s.badChecksum()
			}
			seg.Num = info.Num
			seg.TS = info.TS
			s.stats.TCP++
			return nil
		case ResultNotTCP:
			s.stats.NonTCP++
		case ResultFragment:
			s.stats.Fragments++
		default:
			s.stats.Malformed++
			return &PacketError{File: s.name, Packet: info.Num, Err: derr}
		}
	}
}

// maxWireLen is the longest wire length a record may claim: more than any
// link's frame or a segmentation offload's super-packet. A record claiming
// more is counted as what it captured.
const maxWireLen = 1 << 20

// maxLinkProbes bounds how many packets that are not TCP are tried as
// other link types.
const maxLinkProbes = 1000

// probeLinks are the link types a packet that is not TCP under its file's
// link type is tried as.
var probeLinks = []LinkType{LinkEthernet, LinkRaw, LinkLinuxSLL, LinkLinuxSLL2, LinkNull}

// probeLink tries a packet that did not decode as TCP as other link types,
// and counts it when one of them finds TCP in it: a file whose header names
// the wrong link type decodes to nothing, and the warning at its end says
// which type its packets look like.
func (s *FileSource) probeLink(data []byte, info *PacketInfo) {
	if s.probes >= maxLinkProbes {
		return
	}
	s.probes++
	var seg Segment
	for _, lt := range probeLinks {
		if lt == info.Link {
			continue
		}
		var l layout
		if res, _ := decode(lt, data, info.WireLen, &seg, &l); res == ResultTCP && tcpChecksum(data, &l) != checksumBad {
			if s.probeHits == 0 {
				s.probeAs, s.probeFrom = lt, info.Link
			}
			if lt == s.probeAs {
				s.probeHits++
			}
			return
		}
	}
}

// maxChecksumWarnings is how many checksum mismatches a file names one by
// one; the end-of-file warning counts them all.
const maxChecksumWarnings = 5

// badChecksum counts a segment whose checksum is wrong, and names the first
// few in warnings after it. The segment is still decoded as captured: a
// capture whose addresses a tool rewrote without fixing the checksums would
// otherwise lose every segment.
func (s *FileSource) badChecksum() {
	s.stats.BadChecksums++
	if s.stats.BadChecksums == 1 {
		s.firstBadChecksum = s.num
	}
	if s.stats.BadChecksums <= maxChecksumWarnings {
		s.pending = append(s.pending, &PacketError{File: s.name, Packet: s.num, Err: fmt.Errorf("%w; decoded as captured", ErrBadChecksum)})
	}
}

// endWarning returns the warnings due at the end of the file, one a call:
// the checksum mismatches past those named one by one, and a link type that
// looks wrong.
func (s *FileSource) endWarning() error {
	if !s.sumsChecked {
		s.sumsChecked = true
		if n := s.stats.BadChecksums; n > maxChecksumWarnings {
			return &PacketError{File: s.name, Packet: s.firstBadChecksum, Err: fmt.Errorf("%w: %d of %d TCP segments in all, from this packet on (rewritten addresses, or a damaged file?); decoded as captured",
				ErrBadChecksum, n, s.stats.TCP)}
		}
	}
	return s.linkWarning()
}

// linkWarning returns, once, at the end of a file, a warning when packets
// decoded as TCP only under another link type than the file's, more of them
// than decoded under its own.
func (s *FileSource) linkWarning() error {
	if s.linkChecked {
		return nil
	}
	s.linkChecked = true
	if s.probeHits == 0 || s.probeHits <= s.stats.TCP {
		return nil
	}
	return &PacketError{File: s.name, Packet: s.num, Err: fmt.Errorf("%w: the file says link type %s, but %d of its %d packets decode as TCP only as %s, and %d as %s: wrong link type in the file header?",
		ErrUnsupportedLink, s.probeFrom, s.probeHits, s.stats.Packets, s.probeAs, s.stats.TCP, s.probeFrom)}
}

// record is one packet as read from the file.
type record struct {
	data []byte
	wire int
	ts   time.Time
	link LinkType
}

// fail ends reading: the error is reported once, then Next returns io.EOF.
func (s *FileSource) fail(packet uint64, err error) error {
	s.done = true
	s.stats.Corrupt++
	return &PacketError{File: s.name, Packet: packet, Err: err}
}

// endOfInput turns the reader's state at a short read into io.EOF (clean end),
// a truncated-file warning, or a read error.
func (s *FileSource) endOfInput(got, want int) error {
	err := s.in.err
	if got == 0 && (err == io.EOF) {
		s.done = true
		return io.EOF
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return s.fail(s.num+1, fmt.Errorf("%w: read %d of %d bytes", ErrTruncatedFile, got, want))
	}
	return s.fail(s.num+1, fmt.Errorf("%w: %w", ErrCorrupt, err))
}

func (s *FileSource) u16(b []byte) uint16 {
	if s.bigEndian {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (s *FileSource) u32(b []byte) uint32 {
	if s.bigEndian {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// --- pcap ---

func (s *FileSource) readPcapHeader() error {
	h, _ := s.in.peek(24)
	if len(h) < 24 {
		return fmt.Errorf("%s: pcap header cut at %d of 24 bytes: %w", s.name, len(h), errHeaderCut)
	}
	magic := binary.LittleEndian.Uint32(h)
	s.bigEndian = magic != pcapMagicMicro && magic != pcapMagicNano
	s.nanos = s.u32(h) == pcapMagicNano
	if major := s.u16(h[4:6]); major != 2 {
		return fmt.Errorf("%s: pcap version %d.%d: %w", s.name, major, s.u16(h[6:8]), ErrNotCapture)
	}
	// The link type's upper 16 bits hold FCS flags; the type is the lower 16.
	s.link = LinkType(s.u32(h[20:24]) & 0xffff)
	if !s.link.Supported() {
		return fmt.Errorf("%s: %w %d", s.name, ErrUnsupportedLink, uint32(s.link))
	}
	s.in.discard(24)
	return nil
}

func (s *FileSource) readPcapRecord(rec *record) error {
	h, _ := s.in.peek(16)
	if len(h) < 16 {
		return s.endOfInput(len(h), 16)
	}
	capLen := s.u32(h[8:12])
	wire := s.u32(h[12:16])
	if capLen > MaxRecordLen {
		// pcap has no way to find the next record: stop here.
		return s.fail(s.num+1, fmt.Errorf("%w: record claims %d bytes, more than %d", ErrRecordTooLarge, capLen, MaxRecordLen))
	}
	sec, frac := int64(s.u32(h[0:4])), int64(s.u32(h[4:8]))
	if !s.nanos {
		frac *= 1000
	}
	data, _ := s.in.peek(16 + int(capLen))
	if len(data) < 16+int(capLen) {
		return s.endOfInput(len(data), 16+int(capLen))
	}
	s.in.discard(16 + int(capLen))
	s.num++
	rec.data = data[16:]
	rec.wire = max(int(wire), int(capLen))
	rec.ts = time.Unix(sec, frac).UTC()
	rec.link = s.link
	return nil
}

// --- pcapng ---

// readNgHeaderBlock reads a section header block: byte order and version; it
// forgets the previous section's interfaces. At open, a bad header is a plain
// error; later it ends reading with a *PacketError.
func (s *FileSource) readNgHeaderBlock(atOpen bool) error {
	bad := func(err error) error {
		if atOpen {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		return s.fail(s.num+1, err)
	}
	h, _ := s.in.peek(28)
	if len(h) < 28 {
		if atOpen {
			return fmt.Errorf("%s: pcapng section header cut at %d bytes: %w", s.name, len(h), errHeaderCut)
		}
		return s.endOfInput(len(h), 28)
	}
	switch {
	case binary.LittleEndian.Uint32(h[8:12]) == pcapngByteOrder:
		s.bigEndian = false
	case binary.BigEndian.Uint32(h[8:12]) == pcapngByteOrder:
		s.bigEndian = true
	default:
		return bad(fmt.Errorf("%w: pcapng section header with a bad byte-order magic", ErrCorrupt))
	}
	total := s.u32(h[4:8])
	if major := s.u16(h[12:14]); major != 1 || total < 28 || total%4 != 0 {
		return bad(fmt.Errorf("%w: pcapng section header (version %d, length %d)", ErrCorrupt, major, total))
	}
	s.ifaces = s.ifaces[:0]
	if n, _ := s.in.discard(int(total)); n < int(total) {
		if atOpen {
			return fmt.Errorf("%s: pcapng section header cut: %w", s.name, errHeaderCut)
		}
		return s.endOfInput(n, int(total))
	}
	return nil
}

func (s *FileSource) readNgRecord(rec *record) error {
	for {
		h, _ := s.in.peek(12)
		if len(h) < 12 {
			return s.endOfInput(len(h), 12)
		}
		typ := s.u32(h[0:4])
		if typ == pcapngSHB {
			if err := s.readNgHeaderBlock(false); err != nil {
				return err
			}
			continue
		}
		total := s.u32(h[4:8])
		if total < 12 || total%4 != 0 {
			return s.fail(s.num+1, fmt.Errorf("%w: pcapng block of type %#x with length %d", ErrCorrupt, typ, total))
		}
		isPacket := typ == ngBlockEPB || typ == ngBlockSPB || typ == ngBlockPB
		isCustom := typ == ngBlockCustomCopy || typ == ngBlockCustomNoCopy
		if total > maxBlockLen || (!isPacket && typ != ngBlockIDB && !isCustom) {
			// Stream past without buffering it.
			if n, _ := s.in.discard(int(total)); n < int(total) {
				if isPacket {
					s.num++
				}
				return s.endOfInput(n, int(total))
			}
			if isPacket {
				s.num++
				s.stats.Corrupt++
				return &PacketError{File: s.name, Packet: s.num,
					Err: fmt.Errorf("%w: packet block of %d bytes, more than %d; skipped", ErrRecordTooLarge, total, maxBlockLen)}
			}
			if total > maxBlockLen && typ == ngBlockIDB {
				return s.fail(s.num+1, fmt.Errorf("%w: interface block of %d bytes", ErrCorrupt, total))
			}
			continue
		}
		b, _ := s.in.peek(int(total))
		if len(b) < int(total) {
			return s.endOfInput(len(b), int(total))
		}
		if s.u32(b[total-4:]) != total {
			return s.fail(s.num+1, fmt.Errorf("%w: pcapng block length %d does not match its trailer %d", ErrCorrupt, total, s.u32(b[total-4:])))
		}
		s.in.discard(int(total))
		body := b[8 : total-4]
		if typ == ngBlockIDB {
			s.addInterface(body)
			continue
		}
		if isCustom {
			s.customBlock(body)
			continue
		}
		s.num++
		if err := s.ngPacket(typ, body, rec); err != nil {
			s.stats.Corrupt++
			return &PacketError{File: s.name, Packet: s.num, Err: err}
		}
		return nil
	}
}

// readLeadingInterfaces reads the interface blocks right after the section
// header, so that LinkType is known before the first packet. Anything unusual
// is left for Next to report.
func (s *FileSource) readLeadingInterfaces() {
	for {
		h, _ := s.in.peek(8)
		if len(h) < 8 || s.u32(h[0:4]) != ngBlockIDB {
			return
		}
		total := s.u32(h[4:8])
		if total < 12 || total%4 != 0 || total > maxBlockLen {
			return
		}
		b, _ := s.in.peek(int(total))
		if len(b) < int(total) || s.u32(b[total-4:]) != total {
			return
		}
		s.in.discard(int(total))
		s.addInterface(b[8 : total-4])
	}
}

func (s *FileSource) addInterface(body []byte) {
	if len(s.ifaces) >= maxNgInterfaces {
		return
	}
	ifc := ngInterface{exp: 6}
	if len(body) >= 8 {
		ifc.link = LinkType(s.u16(body[0:2]))
		ifc.snaplen = s.u32(body[4:8])
		opts := body[8:]
		for len(opts) >= 4 {
			code, l := s.u16(opts[0:2]), int(s.u16(opts[2:4]))
			if code == 0 || 4+l > len(opts) {
				break
			}
			v := opts[4 : 4+l]
			switch {
			case code == 9 && l == 1: // if_tsresol
				e, bin := v[0]&0x7f, v[0]&0x80 != 0
				if (bin && e < 64) || (!bin && e <= 19) {
					ifc.exp, ifc.binary = e, bin
				}
			case code == 14 && l == 8: // if_tsoffset
				if s.bigEndian {
					ifc.offset = int64(binary.BigEndian.Uint64(v))
				} else {
					ifc.offset = int64(binary.LittleEndian.Uint64(v))
				}
			}
			opts = opts[4+(l+3)&^3:]
		}
	} else {
		ifc.link = LinkType(0xffffffff)
	}
	s.ifaces = append(s.ifaces, ifc)
}

var (
	errNgShortPacket = fmt.Errorf("%w: pcapng packet block shorter than its header", ErrCorrupt)
	errNgCapLen      = fmt.Errorf("%w: pcapng captured length runs past its block", ErrCorrupt)
	errNgNoInterface = fmt.Errorf("%w: pcapng packet names an undeclared interface", ErrCorrupt)
)

func (s *FileSource) ngPacket(typ uint32, body []byte, rec *record) error {
	var ifid int
	var ts uint64
	var capLen, wire uint32
	var data []byte
	switch typ {
	case ngBlockEPB, ngBlockPB:
		if len(body) < 20 {
			return errNgShortPacket
		}
		if typ == ngBlockEPB {
			ifid = int(s.u32(body[0:4]))
		} else {
			ifid = int(s.u16(body[0:2]))
		}
		ts = uint64(s.u32(body[4:8]))<<32 | uint64(s.u32(body[8:12]))
		capLen, wire = s.u32(body[12:16]), s.u32(body[16:20])
		if uint64(capLen) > uint64(len(body)-20) {
			return errNgCapLen
		}
		data = body[20 : 20+capLen]
	case ngBlockSPB:
		if len(body) < 4 {
			return errNgShortPacket
		}
		wire = s.u32(body[0:4])
		capLen = uint32(min(uint64(wire), uint64(len(body)-4)))
		if len(s.ifaces) > 0 && s.ifaces[0].snaplen != 0 {
			capLen = min(capLen, s.ifaces[0].snaplen)
		}
		data = body[4 : 4+capLen]
	}
	if ifid >= len(s.ifaces) {
		return errNgNoInterface
	}
	ifc := &s.ifaces[ifid]
	rec.data = data
	rec.wire = max(int(wire), len(data))
	rec.link = ifc.link
	if typ == ngBlockSPB {
		rec.ts = time.Time{}
	} else {
		rec.ts = ifc.time(ts)
	}
	return nil
}

var pow10 = [20]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// time converts a pcapng timestamp in the interface's units.
func (ifc *ngInterface) time(ts uint64) time.Time {
	var sec, ns uint64
	if ifc.binary {
		e := uint(ifc.exp)
		sec = ts >> e
		frac := ts & (1<<e - 1)
		if e > 0 {
			hi, lo := bits.Mul64(frac, 1e9)
			ns = hi<<(64-e) | lo>>e
		}
	} else {
		div := pow10[ifc.exp]
		sec, ns = ts/div, ts%div
		if ifc.exp <= 9 {
			ns *= pow10[9-ifc.exp]
		} else {
			ns /= pow10[ifc.exp-9]
		}
	}
	return time.Unix(int64(sec)+ifc.offset, int64(ns)).UTC()
}

// recordReader is a buffered reader that hands out records in place. Its
// buffer grows only as data really arrives, so a corrupt length never makes it
// allocate more than twice the bytes the input actually holds.
type recordReader struct {
	src  io.Reader
	buf  []byte
	r, w int
	err  error // sticky error from src
}

// peek returns the next n bytes without consuming them, or fewer at the end of
// the input. The slice is valid until the next call.
func (b *recordReader) peek(n int) ([]byte, error) {
	for b.w-b.r < n && b.err == nil {
		if b.r > 0 && len(b.buf)-b.r < n {
			copy(b.buf, b.buf[b.r:b.w])
			b.w -= b.r
			b.r = 0
		}
		if b.w == len(b.buf) {
			nb := make([]byte, min(2*len(b.buf), max(n, len(b.buf))))
			copy(nb, b.buf[:b.w])
			b.buf = nb
		}
		m, err := b.src.Read(b.buf[b.w:])
		b.w += m
		if err != nil {
			b.err = err
		}
	}
	if b.w-b.r < n {
		return b.buf[b.r:b.w], b.err
	}
	return b.buf[b.r : b.r+n], nil
}

// discard consumes n bytes, reading past those not yet buffered without
// keeping them, and returns how many it consumed.
func (b *recordReader) discard(n int) (int, error) {
	if b.w-b.r >= n {
		b.r += n
		return n, nil
	}
	done := b.w - b.r
	b.r, b.w = 0, 0
	for done < n && b.err == nil {
		m, err := b.src.Read(b.buf[:min(len(b.buf), n-done)])
		done += m
		if err != nil {
			b.err = err
		}
	}
	return done, b.err
}

// Read lets a gzip reader sit on top of the bytes already peeked.
func (b *recordReader) Read(p []byte) (int, error) {
	if b.r == b.w {
		if b.err != nil {
			return 0, b.err
		}
		return b.src.Read(p)
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	return n, nil
}

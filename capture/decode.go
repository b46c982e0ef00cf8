package capture

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
)

// LinkType is a pcap LINKTYPE_ value: the link-layer header in front of each packet.
type LinkType uint32

// Link types zspy decodes.
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte address family, host byte order
	LinkEthernet  LinkType = 1   // Ethernet II, with stacked 802.1Q/802.1ad tags
	LinkRawDLT12  LinkType = 12  // raw IP (DLT_RAW on most BSDs)
	LinkRawDLT14  LinkType = 14  // raw IP (DLT_RAW on OpenBSD)
	LinkRaw       LinkType = 101 // raw IPv4 or IPv6
	LinkLoop      LinkType = 108 // OpenBSD loopback: 4-byte address family, network byte order
	LinkLinuxSLL  LinkType = 113 // Linux cooked capture v1 (the "any" device)
	LinkIPv4      LinkType = 228 // raw IPv4
	LinkIPv6      LinkType = 229 // raw IPv6
	LinkLinuxSLL2 LinkType = 276 // Linux cooked capture v2
)

// Supported reports whether Decode understands the link type.
func (l LinkType) Supported() bool {
	switch l {
	case LinkNull, LinkEthernet, LinkRawDLT12, LinkRawDLT14, LinkRaw, LinkLoop,
		LinkLinuxSLL, LinkIPv4, LinkIPv6, LinkLinuxSLL2:
		return true
	}
	return false
}

func (l LinkType) String() string {
	switch l {
	case LinkNull:
		return "null"
	case LinkEthernet:
		return "ethernet"
	case LinkRawDLT12, LinkRawDLT14, LinkRaw:
		return "raw"
	case LinkLoop:
		return "loop"
	case LinkLinuxSLL:
		return "linux-sll"
	case LinkIPv4:
		return "ipv4"
	case LinkIPv6:
		return "ipv6"
	case LinkLinuxSLL2:
		return "linux-sll2"
	}
	return "linktype-" + strconv.FormatUint(uint64(l), 10)
}

// Result says what Decode found in a packet.
type Result uint8

const (
	// ResultTCP means the packet carried a TCP segment, now in seg.
	ResultTCP Result = iota
	// ResultNotTCP means the packet was something else (ARP, UDP, ICMP, ...).
	ResultNotTCP
	// ResultFragment means the packet was a non-first IP fragment, skipped.
	ResultFragment
	// ResultMalformed means the headers could not be decoded; the error says why.
	ResultMalformed
)

// Pre-built errors so that decoding a bad packet does not allocate.
var (
	errShortLink    = fmt.Errorf("%w: link-layer header", ErrHeadersCut)
	errShortIP      = fmt.Errorf("%w: ip header", ErrHeadersCut)
	errShortTCP     = fmt.Errorf("%w: tcp header", ErrHeadersCut)
	errIPVersion    = fmt.Errorf("%w: ip version is neither 4 nor 6", ErrMalformed)
	errIPv4IHL      = fmt.Errorf("%w: ipv4 header length below 20", ErrMalformed)
	errIPv4Total    = fmt.Errorf("%w: ipv4 total length below the header length", ErrMalformed)
	errIPv6Ext      = fmt.Errorf("%w: ipv6 extension headers run past the packet", ErrMalformed)
	errTCPOffset    = fmt.Errorf("%w: tcp data offset below 20", ErrMalformed)
	errTCPPastIP    = fmt.Errorf("%w: tcp header runs past the ip packet", ErrMalformed)
	errUnknownLink  = fmt.Errorf("%w", ErrUnsupportedLink)
	errTooManyVLANs = fmt.Errorf("%w: more than 8 stacked vlan tags", ErrMalformed)
)

const (
	etherTypeIPv4  = 0x0800
	etherTypeIPv6  = 0x86dd
	etherTypeVLAN  = 0x8100
	etherTypeQinQ  = 0x88a8
	etherTypeQinQ2 = 0x9100
	maxVLANTags    = 8
	maxIPv6Ext     = 16
)

// Decode decodes one captured packet of the given link type into seg. data is
// what was captured; wireLen is the packet's length on the wire (larger than
// len(data) when the snap length cut it). Decode fills every field of seg but
// Num and TS; seg.Payload aliases data. It never allocates and never panics on
// bad input: a packet it cannot decode gives ResultMalformed and an error
// wrapping ErrMalformed, ErrHeadersCut or ErrUnsupportedLink.
func Decode(link LinkType, data []byte, wireLen int, seg *Segment) (Result, error) {
	var l layout
	return decode(link, data, wireLen, seg, &l)
}

// layout is where Decode found a TCP segment's headers in the packet.
type layout struct {
	ip, tcp, end int // offsets of the IP and TCP headers, and of the IP packet's end
	v6           bool
}

func decode(link LinkType, data []byte, wireLen int, seg *Segment, l *layout) (Result, error) {
	if wireLen < len(data) {
		wireLen = len(data)
	}
	off, v, res, err := linkHeader(link, data)
	if res != ResultTCP {
		return res, err
	}
	l.ip = off
	switch v {
	case 4:
		l.v6 = false
		return decodeIPv4(data, off, wireLen, seg, l)
	case 6:
		l.v6 = true
		return decodeIPv6(data, off, wireLen, seg, l)
	}
	return ResultNotTCP, nil
}

// linkHeader returns the offset of the IP header and its version (4 or 6), or a
// non-TCP result (ResultTCP here means "go on").
func linkHeader(link LinkType, data []byte) (off int, version int, res Result, err error) {
	var etype uint16
	switch link {
	case LinkEthernet:
		if len(data) < 14 {
			return 0, 0, ResultMalformed, errShortLink
		}
		etype, off = binary.BigEndian.Uint16(data[12:14]), 14
	case LinkLinuxSLL:
		if len(data) < 16 {
			return 0, 0, ResultMalformed, errShortLink
		}
		etype, off = binary.BigEndian.Uint16(data[14:16]), 16
	case LinkLinuxSLL2:
		if len(data) < 20 {
			return 0, 0, ResultMalformed, errShortLink
		}
		etype, off = binary.BigEndian.Uint16(data[0:2]), 20
	case LinkRaw, LinkRawDLT12, LinkRawDLT14:
		if len(data) < 1 {
			return 0, 0, ResultMalformed, errShortLink
		}
		switch data[0] >> 4 {
		case 4:
			return 0, 4, ResultTCP, nil
		case 6:
			return 0, 6, ResultTCP, nil
		}
		return 0, 0, ResultMalformed, errIPVersion
	case LinkIPv4:
		return 0, 4, ResultTCP, nil
	case LinkIPv6:
		return 0, 6, ResultTCP, nil
	case LinkNull, LinkLoop:
		if len(data) < 4 {
			return 0, 0, ResultMalformed, errShortLink
		}
		fam := binary.BigEndian.Uint32(data[0:4])
		if link == LinkNull && fam > 0xffff {
			// Host byte order of the capturing machine: little-endian on most.
			fam = binary.LittleEndian.Uint32(data[0:4])
		}
		switch fam {
		case 2: // AF_INET everywhere
			return 4, 4, ResultTCP, nil
		case 10, 24, 28, 30: // AF_INET6: Linux, NetBSD/OpenBSD, FreeBSD, Darwin
			return 4, 6, ResultTCP, nil
		}
		return 0, 0, ResultNotTCP, nil
	default:
		return 0, 0, ResultMalformed, errUnknownLink
	}
	for tags := 0; etype == etherTypeVLAN || etype == etherTypeQinQ || etype == etherTypeQinQ2; tags++ {
		if tags == maxVLANTags {
			return 0, 0, ResultMalformed, errTooManyVLANs
		}
		if len(data) < off+4 {
			return 0, 0, ResultMalformed, errShortLink
		}
		etype = binary.BigEndian.Uint16(data[off+2 : off+4])
		off += 4
	}
	switch etype {
	case etherTypeIPv4:
		return off, 4, ResultTCP, nil
	case etherTypeIPv6:
		return off, 6, ResultTCP, nil
	}
	return 0, 0, ResultNotTCP, nil
}

func decodeIPv4(data []byte, off, wireLen int, seg *Segment, l *layout) (Result, error) {
	if len(data) < off+20 {
		return ResultMalformed, errShortIP
	}
	h := data[off:]
	if h[0]>>4 != 4 {
		return ResultMalformed, errIPVersion
	}
	ihl := int(h[0]&0x0f) * 4
	if ihl < 20 {
		return ResultMalformed, errIPv4IHL
	}
	if binary.BigEndian.Uint16(h[6:8])&0x1fff != 0 {
		return ResultFragment, nil
	}
	if h[9] != 6 {
		return ResultNotTCP, nil
	}
	if len(h) < ihl {
		return ResultMalformed, errShortIP
	}
	total := int(binary.BigEndian.Uint16(h[2:4]))
	onWire := wireLen - off
	if total == 0 || total > onWire {
		// 0: a TSO/GSO super-packet; larger than the frame: the frame is what was sent.
		total = onWire
	}
	if total < ihl {
		return ResultMalformed, errIPv4Total
	}
	seg.Src = netip.AddrFrom4([4]byte(h[12:16]))
	seg.Dst = netip.AddrFrom4([4]byte(h[16:20]))
	return decodeTCP(data, off+ihl, off+total, seg, l)
}

func decodeIPv6(data []byte, off, wireLen int, seg *Segment, l *layout) (Result, error) {
	if len(data) < off+40 {
		return ResultMalformed, errShortIP
	}
	h := data[off:]
	if h[0]>>4 != 6 {
		return ResultMalformed, errIPVersion
	}
	total := 40 + int(binary.BigEndian.Uint16(h[4:6]))
	onWire := wireLen - off
	if total == 40 || total > onWire {
		// 0 payload length: a jumbogram or a GSO super-packet.
		total = onWire
	}
	next := h[6]
	pos := 40
	for i := 0; ; i++ {
		if i == maxIPv6Ext {
			return ResultMalformed, errIPv6Ext
		}
		switch next {
		case 6:
			if pos > total {
				return ResultMalformed, errIPv6Ext
			}
			seg.Src = netip.AddrFrom16([16]byte(h[8:24]))
			seg.Dst = netip.AddrFrom16([16]byte(h[24:40]))
			return decodeTCP(data, off+pos, off+total, seg, l)
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(h) < pos+2 {
				return ResultMalformed, errShortIP
			}
			next = h[pos]
			pos += (int(h[pos+1]) + 1) * 8
		case 51: // authentication header
			if len(h) < pos+2 {
				return ResultMalformed, errShortIP
			}
			next = h[pos]
			pos += (int(h[pos+1]) + 2) * 4
		case 44: // fragment
			if len(h) < pos+8 {
				return ResultMalformed, errShortIP
			}
			if binary.BigEndian.Uint16(h[pos+2:pos+4])>>3 != 0 {
				return ResultFragment, nil
			}
			next = h[pos]
			pos += 8
		default: // 59 (no next header), UDP, ICMPv6, ESP, ...
			return ResultNotTCP, nil
		}
		if pos > total {
			return ResultMalformed, errIPv6Ext
		}
	}
}

// decodeTCP decodes the TCP header at data[off:]; end is where the IP packet ends
// (possibly beyond len(data) when the snap length cut it).
func decodeTCP(data []byte, off, end int, seg *Segment, l *layout) (Result, error) {
	l.tcp, l.end = off, end
	if end-off < 20 {
		return ResultMalformed, errTCPPastIP
	}
	if len(data) < off+20 {
		return ResultMalformed, errShortTCP
	}
	h := data[off:]
	doff := int(h[12]>>4) * 4
	if doff < 20 {
		return ResultMalformed, errTCPOffset
	}
	if doff > end-off {
		return ResultMalformed, errTCPPastIP
	}
	seg.SrcPort = binary.BigEndian.Uint16(h[0:2])
	seg.DstPort = binary.BigEndian.Uint16(h[2:4])
	seg.Seq = binary.BigEndian.Uint32(h[4:8])
	seg.Ack = binary.BigEndian.Uint32(h[8:12])
	seg.Flags = h[13]
	seg.Window = binary.BigEndian.Uint16(h[14:16])
	seg.WScale = -1
	if seg.Flags&FlagSYN != 0 && doff > 20 {
		opts := h[20:min(doff, len(h))]
		seg.WScale = windowScale(opts)
	}
	start := off + doff
	seg.PayloadLen = end - start
	capEnd := min(end, len(data))
	if start < capEnd {
		seg.Payload = data[start:capEnd]
	} else {
		seg.Payload = data[:0]
	}
	return ResultTCP, nil
}

// windowScale finds the window-scale option (kind 3) in TCP options.
func windowScale(opts []byte) int8 {
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0: // end of options
			return -1
		case 1: // no-op
			i++
			continue
		}
		if i+1 >= len(opts) {
			return -1
		}
		l := int(opts[i+1])
		if l < 2 || i+l > len(opts) {
			return -1
		}
		if opts[i] == 3 && l == 3 {
			return int8(min(opts[i+2], 14))
		}
		i += l
	}
	return -1
}

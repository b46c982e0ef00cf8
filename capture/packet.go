// Package capture reads packets from capture files (pcap, pcapng, gzip-compressed)
// and live interfaces, and decodes their link, network and transport layers into
// TCP segments for the reassembly stage. It is the first stage of zspy's pipeline:
//
//	capture → reassembly → dissect → tracker → (store | rules | ui | report)
package capture

import (
	"net/netip"
	"time"
)

// TCP flag bits as carried in Segment.Flags.
const (
	FlagFIN = 1 << 0
	FlagSYN = 1 << 1
	FlagRST = 1 << 2
	FlagPSH = 1 << 3
	FlagACK = 1 << 4
	FlagURG = 1 << 5
	FlagECE = 1 << 6
	FlagCWR = 1 << 7
)

// Segment is one decoded TCP segment. The decoder overwrites a Segment in place
// for every packet; Payload aliases the packet buffer and is valid only until the
// next call to the source that produced it.
type Segment struct {
	Num uint64    // 1-based packet number within its source (file or interface)
	TS  time.Time // capture timestamp

	Src, Dst         netip.Addr
	SrcPort, DstPort uint16

	Seq, Ack uint32
	Flags    uint8
	Window   uint16 // raw advertised window, unscaled
	// WScale is the window-scale option carried by a SYN, or -1 when absent.
	WScale int8

	// Payload holds the captured TCP payload bytes. PayloadLen is the payload length
	// the packet really carried (from the IP header); it is larger than len(Payload)
	// when the snap length cut the packet.
	Payload    []byte
	PayloadLen int
}

// Has reports whether all the given flag bits are set.
func (s *Segment) Has(flags uint8) bool { return s.Flags&flags == flags }

// Stats counts what a source read and what it could not use. All counters are
// cumulative.
type Stats struct {
	Packets       uint64 // packets read
	Bytes         uint64 // bytes on the wire (original length)
	TCP           uint64 // packets that carried a TCP segment
	NonTCP        uint64 // packets that were not TCP (UDP, ARP, ICMP, ...)
	Truncated     uint64 // packets cut by the snap length
	Malformed     uint64 // packets whose headers could not be decoded
	BadChecksums  uint64 // TCP segments whose checksum does not match (checked where captured whole and not offloaded); decoded as captured, and in TCP
	Fragments     uint64 // non-first IP fragments, skipped
	Corrupt       uint64 // records the file framing could not deliver (too large, cut, broken)
	KernelDrops   uint64 // live only: packets the kernel dropped
	RingFreezes   uint64 // live only: times the kernel found the ring full (it drops until zspy frees a block)
	Duplicates    uint64 // copies of the same packet seen twice: live on lo/any, or in two merged captures (MergeSource)
	InternalDrops uint64 // live only: packets dropped by zspy's own queues
	Filtered      uint64 // live only: TCP segments left out by the port/host filter in user space
}

// Add adds o's counters to s (the totals of several sources).
func (s *Stats) Add(o Stats) {
	s.Packets += o.Packets
	s.Bytes += o.Bytes
	s.TCP += o.TCP
	s.NonTCP += o.NonTCP
	s.Truncated += o.Truncated
	s.Malformed += o.Malformed
	s.BadChecksums += o.BadChecksums
	s.Fragments += o.Fragments
	s.Corrupt += o.Corrupt
	s.KernelDrops += o.KernelDrops
	s.RingFreezes += o.RingFreezes
	s.Duplicates += o.Duplicates
	s.InternalDrops += o.InternalDrops
	s.Filtered += o.Filtered
}

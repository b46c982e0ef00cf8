package capture

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// ErrBadChecksum means a TCP segment's checksum does not match its bytes:
// the receiving host dropped it (a retransmission follows), the capture was
// damaged after it was taken, or a tool rewrote its addresses without
// fixing the checksum. Sources count such segments and still deliver them.
var ErrBadChecksum = fmt.Errorf("%w: tcp checksum mismatch", ErrMalformed)

// checksum says what a TCP checksum check found.
type checksum uint8

const (
	checksumUnchecked checksum = iota // cut by the snap length, offloaded, or not filled in
	checksumOK
	checksumBad
)

// tcpChecksum checks the TCP checksum of the segment Decode found at l in
// data. It checks only what it can: the whole segment must be captured, and
// a checksum left to the network card (the sending host captured the packet
// before the card filled it in: the field holds the pseudo-header's sum
// alone) or left zero is not checked.
func tcpChecksum(data []byte, l *layout) checksum {
	if l.end > len(data) || l.end-l.tcp < 20 {
		return checksumUnchecked
	}
	seg := data[l.tcp:l.end]
	field := binary.BigEndian.Uint16(seg[16:18])
	if field == 0 {
		return checksumUnchecked
	}
	ip := data[l.ip:]
	var pseudo uint64
	n := uint64(len(seg))
	if l.v6 {
		pseudo = onesSum(ip[8:40], 0) + n + 6
	} else {
		pseudo = onesSum(ip[12:20], 0) + n + 6
	}
	if fold(pseudo) == field {
		return checksumUnchecked // offloaded: only the pseudo-header is summed
	}
	if fold(onesSum(seg, pseudo)) == 0xffff {
		return checksumOK
	}
	return checksumBad
}

// onesSum adds b, as big-endian 16-bit words, to sum (one's complement
// arithmetic, folded later by fold).
//
// It sums 64-bit words with end-around carry (the add-with-carry chain of
// Linux's do_csum and gVisor's checksum package): 2^16 ≡ 1 modulo 0xffff,
// so a 64-bit word adds up to the same folded sum as its four 16-bit words,
// and 2^64 ≡ 1 too, so a carry out of 64 bits goes back in at the bottom.
// The words are read little-endian (one load, no byte swap): the one's
// complement sum of byte-swapped words is the byte-swapped sum (RFC 1071,
// 2(B)), swapped back once at the end. An odd last byte is padded with a
// zero, as the checksum defines. 32 bytes a round keep the chain long.
func onesSum(b []byte, sum uint64) uint64 {
	var acc, c uint64
	for len(b) >= 32 {
		_ = b[31]
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[0:8]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[8:16]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[16:24]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[24:32]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b), c)
		b = b[8:]
	}
	// The rest, at an even offset from the start: whole 16-bit words in
	// one load, and a last byte as the low byte of its (little-endian) word.
	if len(b) >= 4 {
		acc, c = bits.Add64(acc, uint64(binary.LittleEndian.Uint32(b)), c)
		b = b[4:]
	}
	if len(b) >= 2 {
		acc, c = bits.Add64(acc, uint64(binary.LittleEndian.Uint16(b)), c)
		b = b[2:]
	}
	if len(b) == 1 {
		acc, c = bits.Add64(acc, uint64(b[0]), c)
	}
	acc, c = bits.Add64(acc, 0, c)
	acc += c // acc was 0 if this carries: no carry out again
	return sum + uint64(bits.ReverseBytes16(fold(acc)))
}

// fold reduces a one's complement sum to 16 bits.
func fold(sum uint64) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

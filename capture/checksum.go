package capture

import (
	"encoding/binary"
	"fmt"
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
// arithmetic, folded later by fold). It takes 8 bytes at a time: 2^16 ≡ 1
// modulo 0xffff, so 32-bit words add up to the same folded sum.
func onesSum(b []byte, sum uint64) uint64 {
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		sum += v>>32 + v&0xffffffff
		b = b[8:]
	}
	if len(b) >= 4 {
		sum += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	return sum
}

// fold reduces a one's complement sum to 16 bits.
func fold(sum uint64) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

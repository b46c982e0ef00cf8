package capture

import (
	"errors"
	"fmt"
)

// Sentinel errors, matched with errors.Is. Errors returned by a source wrap them.
var (
	// ErrNotCapture means a file is neither pcap nor pcapng (after gzip).
	ErrNotCapture = errors.New("not a pcap or pcapng file")
	// ErrUnsupportedLink means a capture's link-layer type cannot be decoded.
	ErrUnsupportedLink = errors.New("unsupported link type")
	// ErrMalformed means a packet's link, IP or TCP header is inconsistent.
	ErrMalformed = errors.New("malformed packet")
	// ErrHeadersCut means the snap length cut a packet inside its IP or TCP header.
	ErrHeadersCut = errors.New("headers cut by the snap length")
	// ErrTruncatedFile means the file ends in the middle of a record; reading
	// stops with the packets read so far.
	ErrTruncatedFile = errors.New("file ends mid-record")
	// ErrRecordTooLarge means a record claims more bytes than any capture holds.
	ErrRecordTooLarge = errors.New("record too large")
	// ErrCorrupt means the file's record framing is broken beyond this point.
	ErrCorrupt = errors.New("corrupt capture")
)

// PacketError reports a packet or record that a source could not read or decode.
// It names the file (or interface) and the 1-based packet number. After a
// PacketError the source stays usable: the next call to Next goes on with the
// following packet, or returns io.EOF when the file cannot be read past the
// error (truncated or corrupt framing).
type PacketError struct {
	File   string
	Packet uint64
	Err    error
}

func (e *PacketError) Error() string {
	return fmt.Sprintf("%s: packet %d: %v", e.File, e.Packet, e.Err)
}

// Unwrap returns the underlying error.
func (e *PacketError) Unwrap() error { return e.Err }

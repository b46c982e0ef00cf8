// Package reassembly puts TCP segments back into byte order per direction and hands
// the bytes, the gaps and the TCP state (sequence, acknowledgement, window) to one
// Stream per connection. It sits between capture and dissect in the pipeline.
//
// It never hides a loss: a gap that does not fill, or bytes cut by the snap length,
// reach the Stream as Skip calls with the number of bytes missing.
//
// An Assembler keeps, per direction, the next expected sequence number (from
// the SYN, or from the first data segment when the capture started mid-stream).
// In-order bytes go straight from the packet buffer to Stream.Data.
// Retransmitted bytes are trimmed; out-of-order segments are copied into
// pooled buffers until the hole before them fills. A hole is given up (Skip)
// when the peer acknowledged past it (the capture lost bytes the receiver got)
// or more than the receiver's window waits behind it, and Options.AckGrace
// passed without a late copy filling it (a SPAN port delivers one direction
// late); when a buffer cap is exceeded; or when the connection closes or is
// flushed. Everything given up is counted in Stats.
package reassembly

import (
	"net/netip"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/zmtp"
)

// Endpoint is an IP address and TCP port.
type Endpoint = netip.AddrPort

// ConnInfo describes a connection when the reassembler first sees it.
type ConnInfo struct {
	Client, Server Endpoint
	// SawSYN is true when the connection's handshake was captured (its SYN, or
	// the SYN+ACK answering it), so Client is known to be the side that
	// connected. Without it, Client is the sender of the first captured segment
	// and the tracker may reorient the connection.
	SawSYN bool
	// FirstPacket is the number of the packet that opened the connection.
	FirstPacket uint64
	Start       time.Time
	// Serial numbers the connections in the order the assembler opened
	// them (from 1).
	Serial uint64
	// Resumes, when not 0, is the Serial of the connection this one
	// continues: it was evicted (Options.MaxConnections) and its traffic
	// came back on the same 4-tuple, Client and Server as it had. Joined
	// says the traffic continued its sequence numbers, so its bytes follow
	// what that connection's Stream had; otherwise this stream starts where
	// the capture joins it, bytes in between unknown.
	Resumes uint64
	Joined  bool
}

// CloseReason says why a connection ended.
type CloseReason uint8

const (
	CloseFIN     CloseReason = iota + 1 // both sides sent FIN (or one side FIN and the capture ended)
	CloseRST                            // a RST after the handshake
	CloseRefused                        // RST answered the SYN: nothing listened
	CloseIdle                           // flushed after the idle timeout (packet time)
	CloseEnd                            // still open when the capture ended
	CloseReused                         // a new SYN reused the 4-tuple before a close was seen
	CloseEvicted                        // closed to make room (Options.MaxConnections); its traffic may come back (ConnInfo.Resumes)
)

func (r CloseReason) String() string {
	switch r {
	case CloseFIN:
		return "closed"
	case CloseRST:
		return "reset"
	case CloseRefused:
		return "refused"
	case CloseIdle:
		return "idle"
	case CloseEnd:
		return "open"
	case CloseReused:
		return "reused"
	case CloseEvicted:
		return "evicted"
	}
	return "unknown"
}

// Stream receives one TCP connection's bytes and events, in packet order. The
// reassembler calls its methods from one goroutine. Byte slices passed to Data
// alias reassembler or packet buffers and are valid only during the call.
//
// Call order: Segment for every segment of the connection (before any Data it
// releases), Data and Skip in stream order per direction, and Close exactly once.
type Stream interface {
	// Segment reports a TCP segment as captured (seq, ack, window, flags), for
	// backlog estimates. dir is the segment's direction.
	Segment(dir zmtp.Dir, seg *capture.Segment)
	// Data delivers the next in-order bytes of direction dir.
	Data(dir zmtp.Dir, b []byte, ts time.Time)
	// Skip reports n bytes of direction dir that were not captured (a gap that did
	// not fill, or bytes cut by the snap length). The stream position advances by n.
	Skip(dir zmtp.Dir, n int, ts time.Time)
	// Close ends the connection.
	Close(reason CloseReason, ts time.Time)
}

// Factory creates the Stream for a newly seen connection.
type Factory interface {
	New(info ConnInfo) Stream
}

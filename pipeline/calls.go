package pipeline

import (
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/reassembly"
	"github.com/zspy/zspy/zmtp"
)

// A worker (fanout.go) runs a reassembler of its own; what the reassembler
// tells its streams — a new connection, a segment, bytes, a gap, a close —
// is written down as calls in a batch, in order, and done again on the
// tracker by the pipeline's goroutine (replay). The calls of one packet
// follow its callPacket; calls a worker makes on its own (an idle flush, the
// flush at the end) follow a callMark.

type callKind uint8

const (
	// callPacket opens a packet's calls: segs[n] is the packet (Payload
	// nil), raw bytes data[off:off+m] when kept, wire length in ts's place
	// (wire).
	callPacket callKind = iota + 1
	// callMark opens calls a worker made without a packet of its own; key
	// orders it, n is the number of the packet it comes before (0: none).
	callMark
	// callWarn is a warning (warns[n]) in its place in the source's order.
	callWarn
	callNew     // infos[n]
	callSegment // the packet's segment, direction dir
	callData    // data[off:off+n]
	callSkip    // n bytes
	callClose   // reason
)

// opens reports whether a call of kind k starts a group.
func (k callKind) opens() bool { return k <= callMark }

// call is one recorded call.
type call struct {
	kind   callKind
	dir    zmtp.Dir
	reason reassembly.CloseReason
	h      uint32 // the worker's handle of the stream
	key    int64  // group start: where it goes in the merged order
	n, off int
	m      int // callPacket: raw bytes kept
	wire   int // callPacket: length on the wire
	ts     time.Time
}

// batch is a worker's run of calls, handed to the pipeline's goroutine
// whole; batches come back empty to be filled again, so that a worker has a
// fixed number of them and waits when the pipeline falls behind.
type batch struct {
	calls []call
	segs  []capture.Segment
	infos []reassembly.ConnInfo
	warns []string
	data  []byte
	// promise: every call this worker sends after this batch has a key of
	// at least promise.
	promise int64
	// stats are the worker's reassembler's counters after this batch,
	// waits how often it has waited for a batch.
	stats reassembly.Stats
	waits uint64
	// last is the worker's last batch.
	last bool
}

// Limits of a batch: a worker hands it over once a packet's calls take it
// past either (so one packet's calls, bounded by the reassembler's buffer
// caps, may exceed them; a batch that grew past four times batchData is
// cut back when it returns).
const (
	batchCalls = 1024
	batchData  = 256 << 10
	// batchesPerWorker is how many batches a worker owns: while all are
	// with the pipeline, it waits.
	batchesPerWorker = 8
)

func newBatch() *batch {
	return &batch{calls: make([]call, 0, batchCalls+64), segs: make([]capture.Segment, 0, batchCalls/2), data: make([]byte, 0, batchData)}
}

func (b *batch) reset() {
	b.calls = b.calls[:0]
	clear(b.segs) // no addresses kept alive
	b.segs = b.segs[:0]
	clear(b.infos)
	b.infos = b.infos[:0]
	clear(b.warns)
	b.warns = b.warns[:0]
	if cap(b.data) > 4*batchData {
		b.data = make([]byte, 0, batchData)
	}
	b.data = b.data[:0]
	b.promise, b.last = 0, false
}

func (b *batch) full() bool { return len(b.calls) >= batchCalls || len(b.data) >= batchData }

// recorder is a worker's reassembly.Factory: it hands out recording streams
// whose handles index the worker's table.
type recorder struct {
	w       *worker
	streams []*recStream
	free    []uint32
}

func (r *recorder) New(info reassembly.ConnInfo) reassembly.Stream {
	var s *recStream
	if n := len(r.free); n > 0 {
		s = r.streams[r.free[n-1]]
		r.free = r.free[:n-1]
	} else {
		s = &recStream{r: r, h: uint32(len(r.streams))}
		r.streams = append(r.streams, s)
	}
	b := r.w.cur
	b.infos = append(b.infos, info)
	b.calls = append(b.calls, call{kind: callNew, h: s.h, n: len(b.infos) - 1})
	return s
}

// recStream records one connection's calls into its worker's current batch.
type recStream struct {
	r *recorder
	h uint32
}

func (s *recStream) Segment(d zmtp.Dir, _ *capture.Segment) {
	b := s.r.w.cur
	b.calls = append(b.calls, call{kind: callSegment, dir: d, h: s.h})
}

func (s *recStream) Data(d zmtp.Dir, p []byte, ts time.Time) {
	b := s.r.w.cur
	off := len(b.data)
	b.data = append(b.data, p...)
	b.calls = append(b.calls, call{kind: callData, dir: d, h: s.h, off: off, n: len(p), ts: ts})
}

func (s *recStream) Skip(d zmtp.Dir, n int, ts time.Time) {
	b := s.r.w.cur
	b.calls = append(b.calls, call{kind: callSkip, dir: d, h: s.h, n: n, ts: ts})
}

func (s *recStream) Close(reason reassembly.CloseReason, ts time.Time) {
	b := s.r.w.cur
	b.calls = append(b.calls, call{kind: callClose, h: s.h, reason: reason, ts: ts})
	// The handle is free again: the pipeline does the calls in order, so
	// it has closed this stream before it sees the handle's next New.
	s.r.free = append(s.r.free, s.h)
}

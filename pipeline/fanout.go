package pipeline

import (
	"fmt"
	"hash/maphash"
	"math"
	"net/netip"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/reassembly"
)

// Fan-out: decoding spread over cores, the model kept whole.
//
// With Config.Workers above 1 the pipeline runs that many workers, each
// with a reassembler of its own for the connections given to it — by a hash
// of the 4-tuple, the kernel's (PACKET_FANOUT_HASH, one ring per worker) on
// a live capture, the same kind of hash here on a replay — so that every
// connection lives in one worker and its packets keep their order. A worker
// does the per-packet work up to the byte streams (reading its ring,
// decoding headers, checksums, sequence numbers, out-of-order buffering) and
// writes down what its reassembler tells the streams (calls.go). The
// pipeline's goroutine merges the workers' batches back into one order —
// the file's on a replay, packet time on a live capture — and does the calls
// on the one tracker, whose dissectors and cross-connection state (server
// endpoints, IDs, PUB/SUB, refusals, monitor events) stay on one goroutine.
// A replay gives the same report with any number of workers.
//
// Memory is bounded: each worker owns batchesPerWorker batches (and a
// replay's reader as many input batches per worker); when the pipeline
// falls behind, the workers wait, their rings fill and the kernel counts
// the drops, as with one worker.

// MaxWorkers bounds Config.Workers.
const MaxWorkers = 16

// worker is one reassembler and what feeds it.
type worker struct {
	name string // the source, for warnings
	asm  *reassembly.Assembler
	rec  recorder
	cur  *batch
	free chan *batch // empty batches
	out  chan *batch // filled batches, in order
	wake chan struct{}
	// in and inFree carry a replay's packets from its reader.
	in, inFree chan *inBatch
	keepRaw    bool
	promise    int64
	waits      uint64 // times it waited for a batch the pipeline held
}

func newWorker(opts reassembly.Options, wake chan struct{}) *worker {
	w := &worker{free: make(chan *batch, batchesPerWorker), out: make(chan *batch, batchesPerWorker), wake: wake}
	w.rec.w = w
	w.asm = reassembly.New(&w.rec, opts)
	for range batchesPerWorker - 1 {
		w.free <- newBatch()
	}
	w.cur = newBatch()
	return w
}

// send hands the current batch over (it may be empty: its promise and
// counters are news too) and takes an empty one, waiting while the
// pipeline holds them all.
func (w *worker) send(last bool) {
	b := w.cur
	b.promise, b.last = w.promise, last
	b.stats, b.waits = w.asm.Stats(), w.waits
	w.out <- b
	select {
	case w.wake <- struct{}{}:
	default:
	}
	if last {
		w.cur = nil
		return
	}
	select {
	case w.cur = <-w.free:
	default:
		// Every batch is with the pipeline: the model is behind.
		w.waits++
		w.cur = <-w.free
	}
	w.cur.reset()
}

// packet records seg (and, with keepRaw, its raw bytes) and assembles it.
func (w *worker) packet(seg *capture.Segment, key int64, raw []byte, wire int) {
	b := w.cur
	b.segs = append(b.segs, *seg)
	b.segs[len(b.segs)-1].Payload = nil
	c := call{kind: callPacket, key: key, n: len(b.segs) - 1, wire: wire}
	if w.keepRaw && raw != nil {
		c.off, c.m = len(b.data), len(raw)
		b.data = append(b.data, raw...)
	}
	b.calls = append(b.calls, c)
	w.assemble(seg)
}

// assemble feeds seg to the reassembler; a panic becomes a warning in the
// packet's calls, as Pipeline.Packet makes it.
func (w *worker) assemble(seg *capture.Segment) {
	defer func() {
		if r := recover(); r != nil {
			w.warn(fmt.Sprintf("%s: packet %d: internal error (connection %s:%d - %s:%d): %v", w.name, seg.Num, seg.Src, seg.SrcPort, seg.Dst, seg.DstPort, r))
		}
	}()
	w.asm.Assemble(seg)
}

func (w *worker) warn(msg string) {
	b := w.cur
	b.warns = append(b.warns, msg)
	b.calls = append(b.calls, call{kind: callWarn, n: len(b.warns) - 1})
}

// mark opens a group of calls the worker makes on its own, before the
// packet numbered num (0: none).
func (w *worker) mark(key int64, num uint64) {
	w.cur.calls = append(w.cur.calls, call{kind: callMark, key: key, n: int(num)})
}

// finish flushes every connection (the end of the capture) at ts, the last
// packet's time (zero: unknown, each connection's last packet's) and sends
// the last batch. The pipeline does the closes in the order the
// connections opened, across workers, as one reassembler would.
func (w *worker) finish(ts time.Time) {
	w.mark(math.MaxInt64, 0)
	func() {
		defer func() {
			if r := recover(); r != nil {
				w.warn(fmt.Sprintf("%s: internal error at the end of the capture: %v", w.name, r))
			}
		}()
		w.asm.FlushAll(ts)
	}()
	w.promise = math.MaxInt64
	w.send(true)
}

// flowHash is the worker of a 4-tuple, the same both ways.
type flowHash struct{ seed maphash.Seed }

func (f flowHash) of(seg *capture.Segment, n int) int {
	a := netip.AddrPortFrom(seg.Src, seg.SrcPort)
	b := netip.AddrPortFrom(seg.Dst, seg.DstPort)
	if a.Compare(b) > 0 {
		a, b = b, a
	}
	return int(maphash.Comparable(f.seed, [2]netip.AddrPort{a, b}) % uint64(n))
}

// fanout is the pipeline's workers and their merge.
type fanout struct {
	p        *Pipeline
	workers  []*worker
	m        *merger
	wake     chan struct{}
	opts     reassembly.Options // the workers' (MaxConnections each)
	idle     time.Duration      // the idle timeout (0: none)
	maxConns int                // the cap in all (each worker has its share, rounded up)
	sp       *spreader          // a replay's reader (nil until the first file)
	ended    bool
	n        int           // workers
	errs     []error       // live: each worker's ring's failure, read once its last batch came
	lag      time.Duration // live: how late a packet may be read after its timestamp
	quiet    time.Duration // live: how far before a stop a promise may fall and still say the ring was empty after it
}

func newFanout(p *Pipeline, n int, opts reassembly.Options) *fanout {
	maxConns := opts.MaxConnections
	if maxConns <= 0 {
		maxConns = reassembly.DefaultMaxConnections
	}
	idle := opts.IdleTimeout
	if idle == 0 {
		idle = reassembly.DefaultIdleTimeout
	}
	opts.MaxConnections = (maxConns + n - 1) / n
	return &fanout{p: p, n: n, wake: make(chan struct{}, 1), opts: opts, idle: max(idle, 0), maxConns: maxConns}
}

// start makes the workers; a replay's run the idle check for all of them
// (live ones each their own, by their packets' time).
func (f *fanout) start(live bool) {
	opts := f.opts
	if !live {
		opts.IdleTimeout = -1
	}
	f.workers = make([]*worker, f.n)
	for i := range f.workers {
		f.workers[i] = newWorker(opts, f.wake)
	}
	f.m = newMerger(f.p, f.workers, f.wake)
	f.errs = make([]error, f.n)
}

// finish ends the workers (each flushes its connections) and does the
// rest of their calls.
func (f *fanout) finish() {
	if f.m == nil || f.ended {
		return
	}
	f.ended = true
	f.m.finishing = true
	if f.sp != nil {
		f.sp.flushAll(true)
	}
	for {
		if f.m.step() {
			continue
		}
		if f.m.nEnded == len(f.workers) {
			return
		}
		<-f.wake
	}
}

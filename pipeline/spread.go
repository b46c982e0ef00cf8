package pipeline

import (
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"time"

	"github.com/zspy/zspy/capture"
)

// A replay with workers: a reader goroutine reads the source, gives every
// packet a key (its place in the source: the merged order is the file's)
// and spreads the packets by connection over the workers in input batches.
// It also runs the reassembler's idle check for all of them, by the
// source's packet time, so that connections close idle at the same packets
// as with one reassembler.

// inBatch is a run of packets (their payloads in data) for one worker.
type inBatch struct {
	items []inItem
	segs  []capture.Segment
	data  []byte
	// promise: the keys of the reader's later items are at least this.
	promise int64
	// end asks the worker to flush everything and stop, at endTS (the time
	// of the last packet read, as Pipeline.Finish flushes at it).
	end   bool
	endTS time.Time
	// name names the source, for the worker's warnings.
	name string
}

type inItem struct {
	kind inKind
	key  int64
	n    int       // segs[n]
	num  uint64    // inIdle, inTime: the number of the packet they come before
	t    time.Time // flushIdle: connections idle since before t
	warn string
}

type inKind uint8

const (
	inPacket inKind = iota + 1
	inIdle          // FlushOlderThan(t), before the packet of the same sequence number
	inWarn          // a packet the source could not decode
	inTime          // another worker's packet: its time, for the holes waited for
)

const (
	inPerWorker  = 4    // input batches per worker
	inRoundEvery = 1024 // packets read between two rounds of input batches
)

func (b *inBatch) reset() {
	b.items = b.items[:0]
	clear(b.segs)
	b.segs = b.segs[:0]
	if cap(b.data) > 4*batchData {
		b.data = nil
	}
	b.data = b.data[:0]
	b.promise, b.end, b.endTS = 0, false, time.Time{}
}

// spreader is the reader's state, kept across the files of a replay.
type spreader struct {
	workers   []*worker
	cur       []*inBatch
	hash      flowHash
	seq       int64
	idle      time.Duration
	lastCheck time.Time
	sinceSync int
	name      string    // the source being read
	lastTS    time.Time // the time of the last packet read
}

func newSpreader(workers []*worker, idle time.Duration) *spreader {
	s := &spreader{workers: workers, cur: make([]*inBatch, len(workers)), hash: flowHash{seed: maphash.MakeSeed()}, idle: idle}
	for i, w := range workers {
		w.in = make(chan *inBatch, inPerWorker)
		w.inFree = make(chan *inBatch, inPerWorker)
		for range inPerWorker - 1 {
			w.inFree <- &inBatch{}
		}
		s.cur[i] = &inBatch{}
		go w.runReplay()
	}
	return s
}

// read reads src to its end (or until stop is closed) and returns the
// source's error, if it failed; every worker has then been asked to hand
// over what it has (sync), so the merge can finish the file.
func (s *spreader) read(src capture.Source, stop <-chan struct{}) error {
	s.name = sourceName(src)
	var seg capture.Segment
	var err error
	for {
		select {
		case <-stop:
			s.flushAll(false)
			return nil
		default:
		}
		err = src.Next(&seg)
		if err == io.EOF {
			err = nil
			break
		}
		if err != nil {
			var pe *capture.PacketError
			if errors.As(err, &pe) {
				s.seq++
				key := 4 * s.seq
				w := int(s.seq % int64(len(s.workers)))
				s.cur[w].items = append(s.cur[w].items, inItem{kind: inWarn, key: key, warn: err.Error()})
				s.round()
				continue
			}
			break
		}
		s.seq++
		// Keys: 4×seq the packet; before it, as Assemble has them, the
		// idle check (4×seq-2) and the holes' grace (4×seq-1).
		key := 4 * s.seq
		if s.idle > 0 {
			// Assembler.Assemble's idle check, for every worker.
			if s.lastCheck.IsZero() {
				s.lastCheck = seg.TS
			} else if seg.TS.Sub(s.lastCheck) >= s.idle/8 {
				s.lastCheck = seg.TS
				for _, b := range s.cur {
					b.items = append(b.items, inItem{kind: inIdle, key: key - 2, num: seg.Num, t: seg.TS.Add(-s.idle)})
				}
			}
		}
		s.lastTS = seg.TS
		w := s.hash.of(&seg, len(s.workers))
		b := s.cur[w]
		off := len(b.data)
		b.data = append(b.data, seg.Payload...)
		b.segs = append(b.segs, seg)
		b.segs[len(b.segs)-1].Payload = b.data[off:len(b.data):len(b.data)]
		b.items = append(b.items, inItem{kind: inPacket, key: key, n: len(b.segs) - 1})
		if len(s.workers) > 1 {
			for i, o := range s.cur {
				if i != w {
					o.items = append(o.items, inItem{kind: inTime, key: key - 1, num: seg.Num, t: seg.TS})
				}
			}
		}
		if len(b.data) >= batchData {
			s.flushAll(false)
		} else {
			s.round()
		}
	}
	s.flushAll(false)
	return err
}

// round hands every worker its batch, empty or not, every inRoundEvery
// packets (and flushAll when one batch's data is full): the merge waits for
// a worker's promise before it goes past it. Batches go out in rounds,
// never one worker's alone, so that while the reader waits for a worker
// that waits for the merge, every other worker has what comes before: its
// promise lets the merge go on. (A worker sent its full batch alone while
// another starved could stall all three.)
func (s *spreader) round() {
	s.sinceSync++
	if s.sinceSync >= inRoundEvery {
		s.flushAll(false)
	}
}

func (s *spreader) flushAll(end bool) {
	for i := range s.workers {
		s.flush(i, end)
	}
	s.sinceSync = 0
}

// flush sends worker i its input batch. (A segment's payload points into
// the data array it was copied to: an array left behind when data grew is
// no longer written to.)
func (s *spreader) flush(i int, end bool) {
	b := s.cur[i]
	b.promise, b.end, b.endTS, b.name = 4*s.seq+1, end, s.lastTS, s.name
	w := s.workers[i]
	w.in <- b
	if end {
		s.cur[i] = nil
		return
	}
	s.cur[i] = <-w.inFree
	s.cur[i].reset()
}

// runReplay is a replay worker's loop.
func (w *worker) runReplay() {
	for b := range w.in {
		w.name = b.name
		for k := range b.items {
			it := &b.items[k]
			switch it.kind {
			case inPacket:
				seg := &b.segs[it.n]
				w.packet(seg, it.key, nil, 0)
			case inIdle:
				w.mark(it.key, it.num)
				w.flushIdle(it.t)
			case inWarn:
				w.mark(it.key, 0)
				w.warn(it.warn)
			case inTime:
				if w.asm.WaitsDue(it.t) {
					w.mark(it.key, it.num)
					w.checkWaits(it.t)
				}
			}
			if w.cur.full() {
				w.promise = it.key
				w.send(false)
			}
		}
		w.promise = b.promise
		end, endTS := b.end, b.endTS
		b.reset()
		w.inFree <- b
		if end {
			w.finish(endTS)
			return
		}
		// Every input batch gets an answer, empty or not: its promise lets
		// the merge go past this worker.
		w.send(false)
	}
}

// checkWaits gives up the holes whose grace ended by packet time t.
func (w *worker) checkWaits(t time.Time) {
	defer func() {
		if r := recover(); r != nil {
			w.warn(fmt.Sprintf("%s: internal error giving up a hole: %v", w.name, r))
		}
	}()
	w.asm.CheckWaits(t)
}

// flushIdle closes the connections idle since before t.
func (w *worker) flushIdle(t time.Time) {
	defer func() {
		if r := recover(); r != nil {
			w.warn(fmt.Sprintf("%s: internal error in the idle check: %v", w.name, r))
		}
	}()
	w.asm.FlushOlderThan(t)
}

// RunSpread is Run with the pipeline's workers (Config.Workers): src is
// read on a goroutine of its own and its packets spread over the workers by
// connection; their calls are merged back into the source's order and done
// here, admit (when set) seeing each packet first, as a wrapping Source
// sees it in Run. It returns when the file's last packet is in; stop is
// checked between packets. Without workers it is Run.
func (p *Pipeline) RunSpread(src capture.Source, admit func(seg *capture.Segment), stop func() bool) error {
	f := p.fan
	if f == nil {
		return p.Run(admitSource{src, admit}, stop)
	}
	if f.m == nil {
		f.start(false)
		f.sp = newSpreader(f.workers, f.idle)
	}
	p.cur = src
	defer func() {
		p.addStats(src.Stats())
		p.cur = nil
	}()
	f.m.admit = admit
	defer func() { f.m.admit = nil }()
	stopCh := make(chan struct{})
	stopped := false
	done := make(chan error, 1)
	go func() { done <- f.sp.read(src, stopCh) }()
	var (
		readErr error
		read    bool // the reader is done
	)
	for {
		if !stopped && stop != nil && stop() {
			// What was read is done still: the workers' connections close
			// as the tracker's do.
			stopped = true
			close(stopCh)
		}
		if f.m.step() {
			continue
		}
		if read && f.m.caughtUp(4*f.sp.seq+1) {
			break
		}
		select {
		case <-f.wake:
		case readErr = <-done:
			read = true
		}
	}
	if readErr != nil {
		return sourceError(src, readErr)
	}
	return nil
}

// admitSource is a Source whose packets admit sees as they are read.
type admitSource struct {
	capture.Source
	admit func(seg *capture.Segment)
}

func (a admitSource) Next(seg *capture.Segment) error {
	err := a.Source.Next(seg)
	if err == nil && a.admit != nil {
		a.admit(seg)
	}
	return err
}

func (a admitSource) Name() string { return sourceName(a.Source) }

package pipeline

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/zspy/zspy/capture"
)

// A live capture with workers: each worker reads one ring of the kernel's
// fan-out group (capture.LiveSource.Rings), whose packets are its
// connections', and keys its packets by their time; the merge does the
// calls in time order, a packet only once every other ring is known to
// have nothing older (a quiet ring's worker promises, when it finds its
// ring empty, nothing older than now less the ring's block timeout and a
// margin). Connections on different rings are ordered by their packets'
// time, as one ring orders them; packets are numbered in the merged order.

// Ring is one ring's source, as a worker reads it: packets when ready
// (capture.ErrNotReady when none is), Wait until one is (capture.ErrTimeout
// at the read timeout, io.EOF after Close), and the raw bytes of the last.
type Ring interface {
	capture.Source
	NextReady(seg *capture.Segment) error
	Wait() error
	Raw() (data []byte, wireLen int)
}

// settler is a Ring that can tell before which time no packet can still
// come (capture.LiveSource.Settled).
type settler interface {
	Settled() (time.Time, bool)
}

// LiveInput is what the live merge calls for each packet, on the
// pipeline's goroutine: Admit before its calls (the session's intervals,
// counting), Raw (when set) with its raw bytes (capture -w).
type LiveInput struct {
	Admit func(seg *capture.Segment)
	Raw   func(seg *capture.Segment, raw []byte, wire int)
	// Lag is how long after its timestamp a packet may become readable
	// (the rings' block timeout); a margin is added.
	Lag time.Duration
}

// settleSlack is how far before a stop a settled ring's promise may fall
// and still count as found empty after it (capture's settle margin, 5 ms,
// and a little).
const settleSlack = 6 * time.Millisecond

// liveMargin is added to LiveInput.Lag: the scheduling delay allowed
// between a packet becoming readable and its worker reading it.
const liveMargin = 20 * time.Millisecond

// StartLive starts one worker per ring (as many as Config.Workers, which
// must equal len(rings)); from now on StepLive does their calls.
func (p *Pipeline) StartLive(rings []Ring, in LiveInput) error {
	f := p.fan
	if f == nil || len(rings) != f.n {
		return fmt.Errorf("%d rings for %d workers", len(rings), p.Workers())
	}
	f.start(true)
	f.m.admit, f.m.onRaw, f.m.renumber = in.Admit, in.Raw, true
	lag := in.Lag + liveMargin
	f.lag = lag
	// A stopped capture has everything once every ring was found empty
	// after the stop: rings that say what they are still filling promise
	// their time then, less capture's margin; the others now less the lag.
	f.quiet = lag
	for _, r := range rings {
		if _, ok := r.(settler); ok {
			f.quiet = settleSlack
		}
	}
	for i, w := range f.workers {
		w.keepRaw = in.Raw != nil
		w.name = sourceName(rings[i])
		go w.runLive(rings[i], lag, &f.errs[i])
	}
	return nil
}

// LiveWake is ready when a worker sent something (StepLive may go on).
func (p *Pipeline) LiveWake() <-chan struct{} { return p.fan.wake }

// StepLive does the calls of up to max packets (or marks) that can go in
// time order now, and returns how many it did. It stops short of the
// workers' end-of-capture flushes (Finish does those).
func (p *Pipeline) StepLive(max int) int {
	n := 0
	for n < max && p.fan.m.step() {
		n++
	}
	return n
}

// LiveDone reports whether every worker has ended (its ring closed or
// failed) and everything before their end-of-capture flushes is done; err
// is the first ring's failure, if one failed.
func (p *Pipeline) LiveDone() (bool, error) {
	f := p.fan
	if !f.m.atEnd() {
		return false, nil
	}
	for _, err := range f.errs {
		if err != nil {
			return true, err
		}
	}
	return true, nil
}

// runLive is a live worker's loop: read what the ring holds, hand it over
// when the batch is full or the ring empty, wait, until the ring closes.
func (w *worker) runLive(r Ring, lag time.Duration, errp *error) {
	var seg capture.Segment
	for {
		err := r.NextReady(&seg)
		if err == nil {
			key := seg.TS.UnixNano()
			raw, wire := r.Raw()
			w.packet(&seg, key, raw, wire)
			w.promise = max(w.promise, key)
			if w.cur.full() {
				w.send(false)
			}
			continue
		}
		var pe *capture.PacketError
		if errors.As(err, &pe) {
			continue // counted by the ring as malformed, as with one ring
		}
		if errors.Is(err, capture.ErrNotReady) {
			// Nothing older than this will come from this ring: what the
			// ring says (the block it is filling), else now less the lag.
			settled := time.Now().Add(-lag)
			if st, ok := r.(settler); ok {
				if t, ok := st.Settled(); ok {
					settled = t
				}
			}
			w.promise = max(w.promise, settled.UnixNano())
			w.send(false)
			err = r.Wait()
			if err == nil || errors.Is(err, capture.ErrTimeout) {
				continue
			}
		}
		if err != io.EOF {
			*errp = err // read by the pipeline after this worker's last batch
		}
		w.finish(time.Time{})
		return
	}
}

// LiveQuietSince reports whether every ring has been found empty since t
// (so a stopped capture has everything captured before it).
func (p *Pipeline) LiveQuietSince(t time.Time) bool {
	f := p.fan
	want := t.Add(-f.quiet).UnixNano()
	for i := range f.workers {
		if !f.m.ended[i] && f.m.promise[i] < want {
			return false
		}
	}
	return true
}

// DiscardLive leaves out, from now on, the packets the workers read past
// the run's end (a count reached): not given to the model, and taken back
// from the source's counters (Stats), so the report holds the packets the
// run was asked for.
func (p *Pipeline) DiscardLive() {
	if p.fan != nil && p.fan.m != nil {
		p.fan.m.discard = true
	}
}

// WorkerWaits returns how often the workers waited because every batch of
// theirs was still with the model (live: their rings filled meanwhile; a
// replay's workers wait whenever they are ahead, which is no news).
func (p *Pipeline) WorkerWaits() uint64 {
	if p.fan == nil || p.fan.m == nil {
		return 0
	}
	var n uint64
	for _, w := range p.fan.m.waits {
		n += w
	}
	return n
}

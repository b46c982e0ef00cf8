package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/pipeline"
)

// LiveOptions configure a live run.
type LiveOptions struct {
	// Duration stops the run after this long (0: no limit); Count after this
	// many TCP segments (0: no limit).
	Duration time.Duration
	Count    uint64

	// OnSegment, when set, sees every segment before the pipeline does,
	// with the raw packet behind it (raw, wire bytes long on the wire:
	// capture -w writes it to a file). It must not keep seg or raw.
	OnSegment func(seg *capture.Segment, raw []byte, wire int)

	// DrainFor is how long, at most, a stopped run goes on reading what the
	// source already holds (until it reports a read timeout). Zero: stop at
	// once.
	DrainFor time.Duration
}

// LiveStats are the counters of a live run, for periodic status lines.
type LiveStats struct {
	capture.Stats
	Connections   int
	Open          int
	Evicted       uint64 // connections evicted at the cap on tracked ones (reassembly.Stats.Evicted)
	MonitorEvents uint64 // socket-monitor events merged
	// Workers is how many workers read the rings (1: the session itself);
	// WorkerWaits how often one waited for the model, its ring filling
	// meanwhile (pipeline.Pipeline.WorkerWaits).
	Workers     int
	WorkerWaits uint64
	Elapsed     time.Duration
}

// readySource is a live source whose packets can be read without waiting
// (NextReady returns capture.ErrNotReady when none is ready) and whose
// Wait, on another goroutine, waits until one is (capture.ErrTimeout at its
// read timeout, io.EOF after Close): *capture.LiveSource.
type readySource interface {
	NextReady(seg *capture.Segment) error
	Wait() error
}

// rawSource gives the raw packet behind the last segment read.
type rawSource interface {
	Raw() (data []byte, wireLen int)
}

// ringSource is a live source of several rings (capture.LiveSource with
// LiveOptions.Fanout), split for the pipeline's workers.
type ringSource interface {
	Rings() []*capture.LiveSource
	BlockTimeout() time.Duration
}

// liveBurst is how many packets the session reads in a row before it looks
// at its other inputs (monitor events, controls, timers).
const liveBurst = 512

// runLive captures from the live source until ctx is done, the duration or
// count is reached, or the source ends. The packets are read on the
// session's goroutine, straight from the source's ring into the pipeline, a
// burst at a time between looks at the other inputs; when none is ready a
// goroutine of its own waits for the next (parked in Go's network poller).
// When the model falls behind, the kernel's ring fills and the kernel drops
// and counts (Stats.KernelDrops, RingFreezes): nothing is buffered without
// limit. A source without Wait (a file standing in for an interface) is
// read with Next, which never waits long. With the pipeline's workers (a
// source of several rings), each ring is read by a worker of its own and
// this loop does their merged output as it comes instead; a full worker
// waits, and its ring fills the same way. runLive closes the source.
func (s *Session) runLive(ctx context.Context) error {
	src, cfg := s.cfg.Live, s.cfg.LiveOptions
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Duration > 0 {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, cfg.Duration)
		defer c2()
	}
	s.p.SetLive(src)
	var n uint64 // segments let through, against cfg.Count
	// With workers (pipeline.Config.Workers, one per ring) the rings are
	// read on the workers' goroutines; this loop does their merged calls
	// as they come (wake), in place of reading.
	var wake <-chan struct{}
	if s.p.Workers() > 1 {
		rsrc, ok := src.(ringSource)
		if !ok {
			src.Close()
			return fmt.Errorf("%d workers need a source of as many rings", s.p.Workers())
		}
		var rings []pipeline.Ring
		for _, r := range rsrc.Rings() {
			rings = append(rings, r)
		}
		in := pipeline.LiveInput{Lag: rsrc.BlockTimeout(), Admit: func(seg *capture.Segment) { s.before(seg); n++ }}
		if cfg.OnSegment != nil {
			in.Raw = cfg.OnSegment
		}
		if err := s.p.StartLive(rings, in); err != nil {
			src.Close()
			return err
		}
		wake = s.p.LiveWake()
	}
	rs, _ := src.(readySource)
	if wake != nil {
		rs = nil
	}
	// The waiter: one Wait at a time, asked for when the source ran dry.
	waitReq := make(chan struct{})
	waitRes := make(chan error, 1)
	if rs != nil {
		go func() {
			for range waitReq {
				waitRes <- rs.Wait()
			}
		}()
		defer close(waitReq)
	}
	// goOn is ready at once: the select below only looks at the other
	// inputs while packets may be waiting.
	goOn := make(chan error)
	close(goOn)

	start := s.clock.Now()
	var statsTick <-chan time.Time
	if s.cfg.StatsEvery > 0 && s.cfg.OnStats != nil {
		t := time.NewTicker(s.cfg.StatsEvery)
		defer t.Stop()
		statsTick = t.C
	}
	var pushTick <-chan time.Time
	if len(s.listeners) > 0 {
		t := time.NewTicker(s.cfg.UpdateInterval)
		defer t.Stop()
		pushTick = t.C
	}
	idle := time.NewTicker(time.Second)
	defer idle.Stop()
	var hostCh chan hostSample
	if s.host != nil {
		// The host view is sampled on a goroutine of its own, at the
		// metrics interval; it stops (and is waited for) before the run's
		// last sample, taken by finish on this goroutine.
		hostCh = make(chan hostSample)
		s.host.src.Track(nil) // no connection yet: the first sample looks up none
		hctx, hstop := context.WithCancel(ctx)
		hdone := make(chan struct{})
		go func() {
			defer close(hdone)
			runHostSampler(hctx, s.host.src, s.clock, s.metrics.Interval(), s.host.kick, &s.host.busy, hostCh)
		}()
		defer func() { hstop(); <-hdone }()
	}
	mon := s.cfg.Monitor
	end := func(err error) error {
		src.Close()
		if wake != nil {
			// The workers end at their rings' close: do the rest of their
			// calls (their end-of-capture flushes wait for Finish).
			for {
				s.p.StepLive(1 << 30)
				done, werr := s.p.LiveDone()
				if done {
					if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errCount) {
						if werr != nil {
							err = werr
						}
					}
					break
				}
				<-wake
			}
		}
		s.p.EndLive()
		// Monitor events already received go in too.
		for mon != nil {
			select {
			case ev, ok := <-mon:
				if !ok {
					mon = nil
					continue
				}
				s.monitorEvent(&ev)
			default:
				mon = nil
			}
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || err == io.EOF || errors.Is(err, errCount) {
			return nil
		}
		return err
	}
	var (
		seg        capture.Segment
		waiting    bool // a Wait is under way: read nothing until it returns
		done       = ctx.Done()
		drainUntil time.Time // set once stopped: read what the source holds until then
		drainFrom  time.Time // when it stopped
	)
	var wakeCh <-chan struct{}
	for {
		ready := goOn
		wakeCh = nil
		if wake != nil {
			// Workers: do what can go now, a burst at a time.
			burst := liveBurst
			if cfg.Count > 0 {
				burst = int(min(uint64(liveBurst), cfg.Count-n))
			}
			k := s.p.StepLive(burst)
			if cfg.Count > 0 && n >= cfg.Count {
				// What the workers read past the count is left out.
				s.p.DiscardLive()
				return end(errCount)
			}
			if k < burst {
				ready, wakeCh = nil, wake
			}
			if done, err := s.p.LiveDone(); done {
				return end(err)
			}
			if !drainUntil.IsZero() && (time.Now().After(drainUntil) || (s.p.LiveQuietSince(drainFrom) && !holding(src))) {
				return end(ctx.Err())
			}
		} else if !waiting {
			err := s.readBurst(src, rs, &seg, &n)
			switch {
			case err == nil:
			case errors.Is(err, capture.ErrNotReady):
				waiting = true
				waitReq <- struct{}{}
			case errors.Is(err, capture.ErrTimeout):
				if !drainUntil.IsZero() && !holding(src) {
					return end(ctx.Err())
				}
			default:
				return end(err)
			}
			if !drainUntil.IsZero() && time.Now().After(drainUntil) {
				return end(ctx.Err())
			}
		}
		if waiting {
			ready = waitRes
		}
		select {
		case <-wakeCh:
		case err := <-ready:
			if !waiting {
				continue
			}
			waiting = false
			switch {
			case err == nil:
			case errors.Is(err, capture.ErrTimeout):
				// Stopping: the source went quiet, everything it held is
				// in — unless the kernel still fills a block it has not
				// handed over (a wait that began before the stop can time
				// out just before the block is handed over).
				if !drainUntil.IsZero() && !holding(src) {
					return end(ctx.Err())
				}
			default:
				return end(err)
			}
		case <-done:
			// Stopping: take what the kernel already queued (until the
			// source goes quiet, for at most DrainFor), so that the report
			// holds every packet captured before the stop.
			done = nil
			if cfg.DrainFor <= 0 {
				return end(ctx.Err())
			}
			drainFrom = time.Now()
			drainUntil = drainFrom.Add(cfg.DrainFor)
		case ev, ok := <-mon:
			if !ok {
				mon = nil
				continue
			}
			s.monitorEvent(&ev)
		case c := <-s.ctl:
			s.lastTS = s.clock.Now()
			s.apply(c, time.Time{})
		case now := <-idle.C:
			// No packets for a while: end the metrics intervals by the clock.
			if last := s.p.LastTS(); last.IsZero() || now.Sub(last) > 2*time.Second {
				s.tick(now)
			}
			if s.host != nil {
				s.checkNewConns(s.p.Tracker.Snapshot(s.p.LastTS()))
			}
		case hs := <-hostCh:
			s.applyHost(hs, s.p.Tracker.Snapshot(s.p.LastTS()))
		case <-pushTick:
			// Updates take the wall-clock time, so that rates fall to zero
			// when traffic stops.
			s.lastTS = s.clock.Now()
			s.push()
		case <-statsTick:
			st := LiveStats{Stats: s.p.Stats(), Elapsed: s.clock.Now().Sub(start), MonitorEvents: s.p.Tracker.MonitorStats().Events}
			st.Connections, _ = s.p.Tracker.Len()
			asm := s.p.AsmStats()
			st.Open, st.Evicted = asm.Open, asm.Evicted
			st.Workers, st.WorkerWaits = s.p.Workers(), s.p.WorkerWaits()
			s.cfg.OnStats(st)
		}
	}
}

// holding reports whether src holds packets it has not handed over yet
// (capture.LiveSource.Holding: the kernel's ring block being filled); a
// source that cannot tell is taken at its read timeout's word.
func holding(src capture.Source) bool {
	h, ok := src.(interface{ Holding() bool })
	return ok && h.Holding()
}

// readBurst feeds up to liveBurst segments from src into the pipeline; n
// counts them against LiveOptions.Count. It returns nil when it read a whole
// burst (more may be ready), capture.ErrNotReady when rs has nothing ready,
// or the source's error (errCount at the count). A packet the source could
// not decode is counted by the source as malformed, and skipped.
func (s *Session) readBurst(src capture.Source, rs readySource, seg *capture.Segment, n *uint64) error {
	cfg := &s.cfg.LiveOptions
	for range liveBurst {
		var err error
		if rs != nil {
			err = rs.NextReady(seg)
		} else {
			err = src.Next(seg)
		}
		if err != nil {
			var pe *capture.PacketError
			if errors.As(err, &pe) {
				continue
			}
			return err
		}
		if cfg.OnSegment != nil {
			var raw []byte
			wire := 0
			if r, ok := src.(rawSource); ok {
				raw, wire = r.Raw()
			}
			cfg.OnSegment(seg, raw, wire)
		}
		s.before(seg)
		s.p.Packet(seg)
		*n++
		if cfg.Count > 0 && *n >= cfg.Count {
			return errCount
		}
	}
	return nil
}

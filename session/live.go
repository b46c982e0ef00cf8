package session

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/zspy/zspy/capture"
)

// LiveOptions configure a live run.
type LiveOptions struct {
	// Duration stops the run after this long (0: no limit); Count after this
	// many TCP segments (0: no limit).
	Duration time.Duration
	Count    uint64

	// OnSegment, when set, sees every segment before the pipeline does
	// (e.g. to write it to a file). It must not keep seg.
	OnSegment func(seg *capture.Segment)

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
	Elapsed       time.Duration
}

// readySource is a live source whose packets can be read without waiting
// (NextReady returns capture.ErrNotReady when none is ready) and whose
// Wait, on another goroutine, waits until one is (capture.ErrTimeout at its
// read timeout, io.EOF after Close): *capture.LiveSource.
type readySource interface {
	NextReady(seg *capture.Segment) error
	Wait() error
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
// read with Next, which never waits long. runLive closes the source.
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
	rs, _ := src.(readySource)
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
		n          uint64
		waiting    bool // a Wait is under way: read nothing until it returns
		done       = ctx.Done()
		drainUntil time.Time // set once stopped: read what the source holds until then
	)
	for {
		ready := goOn
		if !waiting {
			err := s.readBurst(src, rs, &seg, &n)
			switch {
			case err == nil:
			case errors.Is(err, capture.ErrNotReady):
				waiting = true
				waitReq <- struct{}{}
			case errors.Is(err, capture.ErrTimeout):
				if !drainUntil.IsZero() {
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
		case err := <-ready:
			if !waiting {
				continue
			}
			waiting = false
			switch {
			case err == nil:
			case errors.Is(err, capture.ErrTimeout):
				// Stopping: the source went quiet, everything it held is in.
				if !drainUntil.IsZero() {
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
			drainUntil = time.Now().Add(cfg.DrainFor)
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
			s.cfg.OnStats(st)
		}
	}
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
			cfg.OnSegment(seg)
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

package session

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/zspy/zspy/capture"
)

// LiveOptions configure a live run.
type LiveOptions struct {
	// Batches is how many batches of packets may wait between the capture
	// goroutine and the pipeline (default 64); BatchSegments and BatchBytes
	// bound one batch (defaults 2048 segments, 1 MiB of payload). When every
	// batch is full, packets are dropped and counted (Stats.InternalDrops).
	Batches       int
	BatchSegments int
	BatchBytes    int
	// Linger is the longest a partly filled batch waits before the pipeline
	// gets it (default 50 ms).
	Linger time.Duration

	// Duration stops the run after this long (0: no limit); Count after this
	// many TCP segments (0: no limit).
	Duration time.Duration
	Count    uint64

	// OnSegment, when set, sees every segment on the capture goroutine before
	// it is queued (e.g. to write it to a file). It must not keep seg.
	OnSegment func(seg *capture.Segment)

	// DrainFor is how long, at most, a stopped run goes on reading what the
	// source already holds (until it reports a read timeout). Zero: stop at
	// once.
	DrainFor time.Duration

	// Block makes the capture goroutine wait for a free batch instead of
	// dropping packets: for sources that can wait (files), not for live ones.
	Block bool
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

type batch struct {
	segs []capture.Segment
	data []byte
}

// runLive captures from the live source until ctx is done, the duration or
// count is reached, or the source ends. Packets are read on a goroutine of
// their own and handed over in batches through a bounded queue: when the
// model falls behind, packets are dropped and counted, never buffered without
// limit. Everything else (the model, intervals, monitor events, updates)
// runs on the session's goroutine. runLive closes the source.
func (s *Session) runLive(ctx context.Context) error {
	src, cfg := s.cfg.Live, s.cfg.LiveOptions
	if cfg.Batches <= 0 {
		cfg.Batches = 64
	}
	if cfg.BatchSegments <= 0 {
		cfg.BatchSegments = 2048
	}
	if cfg.BatchBytes <= 0 {
		cfg.BatchBytes = 1 << 20
	}
	if cfg.Linger <= 0 {
		cfg.Linger = 50 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Duration > 0 {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, cfg.Duration)
		defer c2()
	}
	// Batches are made on demand, up to cfg.Batches: memory grows only as far
	// as the model falls behind, and a model that keeps up recycles two or
	// three.
	free := make(chan *batch, cfg.Batches)
	full := make(chan *batch, cfg.Batches)
	var drops atomic.Uint64
	readErr := make(chan error, 1)
	s.p.SetLive(src, &drops)
	go func() {
		readErr <- readLive(ctx, src, cfg, free, full, &drops)
		close(full)
	}()
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
		hctx, hstop := context.WithCancel(ctx)
		hdone := make(chan struct{})
		go func() {
			defer close(hdone)
			runHostSampler(hctx, s.host.src, s.clock, s.metrics.Interval(), s.host.kick, hostCh)
		}()
		defer func() { hstop(); <-hdone }()
	}
	mon := s.cfg.Monitor
	for {
		select {
		case b, ok := <-full:
			if !ok {
				src.Close()
				err := <-readErr
				s.p.EndLive(drops.Load())
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
			for i := range b.segs {
				seg := &b.segs[i]
				s.before(seg.TS)
				s.p.Packet(seg)
			}
			b.segs, b.data = b.segs[:0], b.data[:0]
			free <- b
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
			asm := s.p.Asm.Stats()
			st.Open, st.Evicted = asm.Open, asm.Evicted
			s.cfg.OnStats(st)
		}
	}
}

// readLive is the capture goroutine: it fills batches and queues them.
func readLive(ctx context.Context, src capture.Source, cfg LiveOptions, free, full chan *batch, drops *atomic.Uint64) error {
	var cur *batch
	var opened time.Time
	var n uint64
	var seg capture.Segment
	send := func() {
		if cur != nil && len(cur.segs) > 0 {
			full <- cur
			cur = nil
		}
	}
	var drainUntil time.Time
	made := 0
	for {
		if ctx.Err() != nil {
			// Stopping: take what the kernel already queued (until the source
			// goes quiet, for at most DrainFor), so the report holds every
			// packet captured before the stop.
			if drainUntil.IsZero() {
				drainUntil = time.Now().Add(cfg.DrainFor)
			}
			if cfg.DrainFor <= 0 || time.Now().After(drainUntil) {
				send()
				return ctx.Err()
			}
		}
		err := src.Next(&seg)
		if errors.Is(err, capture.ErrTimeout) {
			send()
			if !drainUntil.IsZero() {
				return ctx.Err()
			}
			continue
		}
		if err == io.EOF {
			send()
			return io.EOF
		}
		if err != nil {
			var pe *capture.PacketError
			if errors.As(err, &pe) {
				continue // counted by the source as malformed
			}
			send()
			return err
		}
		if cfg.OnSegment != nil {
			cfg.OnSegment(&seg)
		}
		if cur != nil && (len(cur.segs) == cap(cur.segs) || len(cur.data)+len(seg.Payload) > cap(cur.data)) {
			send()
		}
		if cur == nil {
			select {
			case cur = <-free:
			default:
				switch {
				case made < cfg.Batches:
					made++
					cur = &batch{segs: make([]capture.Segment, 0, cfg.BatchSegments), data: make([]byte, 0, cfg.BatchBytes)}
				case cfg.Block:
					cur = <-free
				default:
					drops.Add(1) // the pipeline is behind: drop, and say so
					continue
				}
			}
			opened = time.Now()
		}
		off := len(cur.data)
		cur.data = append(cur.data, seg.Payload...)
		s := seg
		s.Payload = cur.data[off:len(cur.data):len(cur.data)]
		cur.segs = append(cur.segs, s)
		n++
		if cfg.Count > 0 && n >= cfg.Count {
			send()
			return errCount
		}
		if time.Since(opened) >= cfg.Linger {
			send()
		}
	}
}

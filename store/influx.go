package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

var _ Sink = (*Influx)(nil)
var _ Stater = (*Influx)(nil)
var _ Warner = (*Influx)(nil)

// Influx is the InfluxDB sink. Write encodes points into line protocol in
// memory and returns; one sender goroutine posts full batches (BatchSize
// lines, gzipped) to /api/v2/write and retries failures with exponential
// backoff. Between them is a buffer of BufferSize points.
//
// When InfluxDB is down (a batch still fails after MaxRetries retries) or
// slow (the buffer passes three quarters full), batches spill to the spool
// directory: the failed batch, or the oldest queued ones (a spiller
// goroutine moves them while the sender waits on the server), and every
// batch after them until the spool has been sent back. The sender resends
// the oldest spooled lines with backoff (at once when Flush is called) and
// deletes each spool file once InfluxDB accepted all of it; spool files left
// by an earlier run are sent the same way. Points are dropped, and counted,
// only beyond SpoolCap bytes of spool or, without a spool directory, when
// the buffer is full. Resending is safe: InfluxDB overwrites a point with
// the same series and timestamp, so a line sent twice is stored once.
//
// The first drop after a success starts a drop episode, said once to the
// function given to SetWarn (at the next Write, on the caller's goroutine),
// and again when points are kept again.
type Influx struct {
	cfg Config
	hw  *httpWriter
	sp  *spool // nil without SpoolDir

	ctx    context.Context // canceled by Close to abort a request in flight
	cancel context.CancelFunc

	mu        sync.Mutex
	cur       *batch   // being filled by Write
	queue     []*batch // full batches, oldest first
	queued    int      // points in cur and queue
	free      []*batch
	closed    bool
	queuedSeq uint64 // sequence number of the last batch queued
	held      int    // points popped by the sender or the spiller, not yet delivered
	spilling  int    // batches the spiller holds

	wake        chan struct{} // a batch was queued
	pressure    chan struct{} // the buffer passed its high-water mark
	flushCh     chan chan struct{}
	stop        chan struct{}
	done        chan struct{} // the sender has finished
	spillerDone chan struct{}

	written, retried, spilled, resent, dropped, rejected, invalid, episodes atomic.Uint64

	epMu      sync.Mutex
	dropping  bool
	epDropped uint64
	notices   []string
	warn      func(string)

	stMu    sync.Mutex
	up      bool
	since   time.Time
	lastErr string
	errAt   time.Time

	// Sender goroutine only.
	backoff time.Duration
	nextTry time.Time
}

type batch struct {
	buf []byte
	n   int
	seq uint64
}

// NewInflux validates cfg, opens the spool directory (sending what an
// earlier run left there) and starts the sender. It does not contact the
// server: InfluxDB may come up later.
func NewInflux(cfg Config) (*Influx, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &Influx{
		cfg:         cfg,
		hw:          newHTTPWriter(&cfg),
		wake:        make(chan struct{}, 1),
		pressure:    make(chan struct{}, 1),
		flushCh:     make(chan chan struct{}),
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
		spillerDone: make(chan struct{}),
		up:          true,
		since:       time.Now(),
	}
	if cfg.SpoolDir != "" {
		sp, err := openSpool(cfg.SpoolDir, cfg.SpoolCap)
		if err != nil {
			w.hw.close()
			return nil, err
		}
		w.sp = sp
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	if w.sp != nil {
		go w.spiller()
	} else {
		close(w.spillerDone)
	}
	go w.run()
	return w, nil
}

// Write encodes the points into the buffer and returns; it never waits on
// the network. Only when the buffer is full (points come faster than the
// spiller moves them to the spool) does it append the oldest batch to the
// spool itself, on local disk. It returns an error (wrapping
// ErrInvalidPoint) naming the first invalid point, which is skipped and
// counted; the others are still written. Points that cannot be kept (no
// spool and a full buffer, or a full spool) are counted in Stats.Dropped,
// not returned as an error: the caller could do nothing about them.
func (w *Influx) Write(points []Point) error {
	var firstErr error
	bad, lost := 0, 0
	signal, pressure := false, false
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	for i := range points {
		if w.queued >= w.cfg.BufferSize {
			if w.sp == nil {
				lost++
				continue
			}
			// Full although the spiller works at three quarters: points
			// come faster than it moves them. Spill the oldest batch here
			// (local disk, never the network) rather than drop points.
			b := w.popLocked()
			if b == nil {
				w.enqueueCur()
				b = w.popLocked()
			}
			w.spilling++
			w.mu.Unlock()
			w.spill(b)
			w.release(b, true)
			w.mu.Lock()
			if w.closed {
				w.mu.Unlock()
				return ErrClosed
			}
		}
		if w.cur == nil {
			w.cur = w.newBatch()
		}
		var err error
		w.cur.buf, err = AppendLine(w.cur.buf, &points[i])
		if err != nil {
			bad++
			if firstErr == nil {
				firstErr = fmt.Errorf("point %d of %d: %w", i, len(points), err)
			}
			continue
		}
		w.cur.n++
		w.queued++
		if w.cur.n >= w.cfg.BatchSize {
			w.enqueueCur()
			signal = true
		}
	}
	pressure = w.sp != nil && w.queued > w.cfg.BufferSize/4*3
	w.mu.Unlock()
	if signal {
		notify(w.wake)
	}
	if pressure {
		notify(w.pressure)
	}
	if bad > 0 {
		w.invalid.Add(uint64(bad))
		w.setErr(firstErr)
	}
	if lost > 0 {
		w.lose(uint64(lost), fmt.Errorf("buffer full (%d points): %d points dropped", w.cfg.BufferSize, lost))
	}
	w.epMu.Lock()
	notices, warn := w.notices, w.warn
	w.notices = nil
	w.epMu.Unlock()
	if warn != nil {
		for _, n := range notices {
			warn(n)
		}
	}
	return firstErr
}

// SetWarn sets the function told when the sink starts dropping points and
// when it keeps them again; it is called from Write. Set it before the first Write.
func (w *Influx) SetWarn(fn func(msg string)) {
	w.epMu.Lock()
	w.warn = fn
	w.epMu.Unlock()
}

// lose counts n points dropped; the first drop after a success starts an episode.
func (w *Influx) lose(n uint64, err error) {
	w.dropped.Add(n)
	w.setErr(err)
	w.epMu.Lock()
	defer w.epMu.Unlock()
	w.epDropped += n
	if !w.dropping {
		w.dropping = true
		w.episodes.Add(1)
		w.notices = append(w.notices, fmt.Sprintf("influxdb: dropping points (each one is counted): %v", err))
	}
}

// kept ends a drop episode once points are sent or spooled again.
func (w *Influx) kept() {
	w.epMu.Lock()
	defer w.epMu.Unlock()
	if w.dropping {
		w.dropping = false
		w.notices = append(w.notices, fmt.Sprintf("influxdb: keeping points again after dropping %d", w.epDropped))
		w.epDropped = 0
	}
}

// enqueueCur moves the batch being filled to the queue; w.mu is held.
func (w *Influx) enqueueCur() {
	if w.cur == nil || w.cur.n == 0 {
		return
	}
	w.queuedSeq++
	w.cur.seq = w.queuedSeq
	w.queue = append(w.queue, w.cur)
	w.cur = nil
}

// newBatch takes a recycled batch or makes one; w.mu is held.
func (w *Influx) newBatch() *batch {
	if n := len(w.free); n > 0 {
		b := w.free[n-1]
		w.free = w.free[:n-1]
		return b
	}
	return &batch{buf: make([]byte, 0, 128*w.cfg.BatchSize)}
}

// notify signals c without blocking (c has room for one signal).
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// pop takes the oldest queued batch; with all it also takes the batch being
// filled. The caller hands the batch to release when it is delivered.
func (w *Influx) pop(all bool) *batch {
	w.mu.Lock()
	defer w.mu.Unlock()
	if all {
		w.enqueueCur()
	}
	return w.popLocked()
}

func (w *Influx) popLocked() *batch {
	if len(w.queue) == 0 {
		return nil
	}
	b := w.queue[0]
	w.queue[0] = nil
	w.queue = w.queue[1:]
	w.queued -= b.n
	w.held += b.n
	return b
}

// release recycles a delivered batch (sent, spilled or counted lost).
func (w *Influx) release(b *batch, spiller bool) {
	w.mu.Lock()
	w.held -= b.n
	if spiller {
		w.spilling--
	}
	b.buf, b.n, b.seq = b.buf[:0], 0, 0
	if len(w.free) < 4 {
		w.free = append(w.free, b)
	}
	w.mu.Unlock()
}

// Flush moves buffered points on and waits until every point written before
// it is in InfluxDB and the spool is empty, or until ctx is done. While it
// waits, spooled points are retried at once and then every RetryInterval.
func (w *Influx) Flush(ctx context.Context) error {
	ch := make(chan struct{})
	select {
	case w.flushCh <- ch:
	case <-w.done:
		return ErrClosed
	case <-ctx.Done():
		return w.pendingErr(ctx.Err())
	}
	select {
	case <-ch:
		return nil
	case <-w.done:
		return ErrClosed
	case <-ctx.Done():
		return w.pendingErr(ctx.Err())
	}
}

func (w *Influx) pendingErr(err error) error {
	st := w.Stats()
	return fmt.Errorf("flush: %d points buffered, %d bytes spooled, last error %q: %w", st.Buffered, st.SpoolBytes, st.LastError, err)
}

// Close flushes (until ctx is done), then moves what is still buffered to
// the spool, stops the sender and closes the client. Its error says how many
// points were lost over the sink's life and what is left in the spool (sent
// on the next start, or with zspy export).
func (w *Influx) Close(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	w.closed = true
	w.mu.Unlock()
	ferr := w.Flush(ctx)
	w.cancel()
	close(w.stop)
	<-w.done
	<-w.spillerDone
	w.hw.close()
	st := w.Stats()
	var errs []error
	if ferr != nil {
		errs = append(errs, ferr)
	}
	if lost := st.Dropped + st.Rejected + st.Invalid; lost > 0 {
		errs = append(errs, fmt.Errorf("influx sink lost %d points (%d dropped in %d episodes, %d rejected by the server, %d invalid); last error: %s",
			lost, st.Dropped, st.DropEpisodes, st.Rejected, st.Invalid, st.LastError))
	}
	if st.SpoolBytes > 0 {
		errs = append(errs, fmt.Errorf("%d bytes of points remain in spool %s (sent on the next start, or with zspy export)", st.SpoolBytes, w.cfg.SpoolDir))
	}
	return errors.Join(errs...)
}

// Ping reports whether the InfluxDB server answers /ping (1.8 and 2.x).
func (w *Influx) Ping(ctx context.Context) error {
	ok, err := w.hw.client.Ping(ctx)
	if err != nil {
		return fmt.Errorf("ping %s: %w", MaskURL(w.cfg.URL), MaskURLError(err))
	}
	if !ok {
		return fmt.Errorf("ping %s: not ok", MaskURL(w.cfg.URL))
	}
	return nil
}

// Stats returns the counters and state.
func (w *Influx) Stats() Stats {
	w.mu.Lock()
	buffered := w.queued + w.held
	w.mu.Unlock()
	st := Stats{
		Written:  w.written.Load(),
		Retried:  w.retried.Load(),
		Spilled:  w.spilled.Load(),
		Resent:   w.resent.Load(),
		Dropped:  w.dropped.Load(),
		Rejected: w.rejected.Load(),
		Invalid:  w.invalid.Load(),
		Buffered: buffered,

		DropEpisodes: w.episodes.Load(),
	}
	if w.sp != nil {
		st.SpoolBytes = w.sp.bytes.Load()
		st.SpoolFiles = int(w.sp.count.Load())
	}
	w.stMu.Lock()
	st.Up, st.Since, st.LastError, st.ErrorAt = w.up, w.since, w.lastErr, w.errAt
	w.stMu.Unlock()
	return st
}

func (w *Influx) setErr(err error) {
	if err == nil {
		return
	}
	w.stMu.Lock()
	w.lastErr, w.errAt = err.Error(), time.Now()
	w.stMu.Unlock()
}

func (w *Influx) setUp(up bool, err error) {
	w.stMu.Lock()
	if w.up != up {
		w.up, w.since = up, time.Now()
	}
	if err != nil {
		w.lastErr, w.errAt = err.Error(), time.Now()
	}
	w.stMu.Unlock()
}

// flushWaiter is a Flush waiting for batches up to seq and an empty spool.
type flushWaiter struct {
	ch  chan struct{}
	seq uint64
}

// run is the sender goroutine: it owns the HTTP writer and the spool.
func (w *Influx) run() {
	defer close(w.done)
	tick := time.NewTicker(w.cfg.FlushInterval)
	defer tick.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	var waiters []flushWaiter
	kick := w.sp != nil && !w.sp.empty() // leftovers of an earlier run: try at once
	for {
		for b := w.pop(false); b != nil; b = w.pop(false) {
			w.deliver(b)
			w.release(b, false)
		}
		if w.sp != nil && !w.sp.empty() && (kick || !time.Now().Before(w.nextTry)) {
			kick = false
			if w.resendOne() {
				continue
			}
		}
		kick = false
		if len(waiters) > 0 {
			waiters = w.releaseWaiters(waiters)
		}
		var retryC <-chan time.Time
		if w.sp != nil && !w.sp.empty() {
			d := time.Until(w.nextTry)
			if len(waiters) > 0 && d > w.cfg.RetryInterval {
				d = w.cfg.RetryInterval
			}
			retry.Reset(max(d, 0))
			retryC = retry.C
		}
		select {
		case <-w.wake:
		case <-tick.C:
			w.mu.Lock()
			w.enqueueCur()
			w.mu.Unlock()
		case <-retryC:
		case ch := <-w.flushCh:
			w.mu.Lock()
			w.enqueueCur()
			seq := w.queuedSeq
			w.mu.Unlock()
			waiters = append(waiters, flushWaiter{ch: ch, seq: seq})
			kick = true
		case <-w.stop:
			w.shutdown()
			return
		}
	}
}

// releaseWaiters lets go the Flush calls whose points are all in InfluxDB:
// no batch up to theirs is queued or held by the spiller, and the spool is
// empty. The sender holds no batch when it calls this.
func (w *Influx) releaseWaiters(waiters []flushWaiter) []flushWaiter {
	w.mu.Lock()
	oldest := uint64(1<<64 - 1)
	if len(w.queue) > 0 {
		oldest = w.queue[0].seq
	}
	spilling := w.spilling
	w.mu.Unlock()
	// Checked after the spiller count: a batch it spilled meanwhile is in the spool.
	if spilling > 0 || (w.sp != nil && !w.sp.empty()) {
		return waiters
	}
	kept := waiters[:0]
	for _, f := range waiters {
		if f.seq < oldest {
			close(f.ch)
		} else {
			kept = append(kept, f)
		}
	}
	return kept
}

// spiller moves the oldest queued batches to the spool when the buffer
// passes three quarters full (InfluxDB is slower than the points come, or
// the sender is waiting to retry), down to half full.
func (w *Influx) spiller() {
	defer close(w.spillerDone)
	for {
		select {
		case <-w.stop:
			return
		case <-w.pressure:
		}
		for {
			w.mu.Lock()
			var b *batch
			if w.queued > w.cfg.BufferSize/2 {
				if b = w.popLocked(); b != nil {
					w.spilling++
				}
			}
			w.mu.Unlock()
			if b == nil {
				break
			}
			w.spill(b)
			w.release(b, true)
		}
		notify(w.wake) // the sender re-checks its flush waiters
	}
}

// deliver sends a batch, or spills it while the spool holds older points.
func (w *Influx) deliver(b *batch) {
	if w.sp != nil && !w.sp.empty() {
		w.spill(b)
		return
	}
	err := w.sendRetrying(b.buf)
	if err == nil {
		w.written.Add(uint64(b.n))
		w.setUp(true, nil)
		w.kept()
		return
	}
	var we *writeError
	if errors.As(err, &we) && !we.retryable {
		rej := we.rejectedOf(b.n)
		// The error first: whoever sees the counts sees why.
		w.setErr(fmt.Errorf("%d of %d points rejected: %w", rej, b.n, err))
		w.written.Add(uint64(b.n - rej))
		w.rejected.Add(uint64(rej))
		return
	}
	w.setUp(false, err)
	w.backoff = w.cfg.RetryInterval
	w.nextTry = time.Now().Add(w.backoff)
	if w.sp == nil {
		w.lose(uint64(b.n), fmt.Errorf("%d points dropped (no spool directory): %w", b.n, err))
		return
	}
	w.spill(b)
}

// spill appends a batch to the spool, or counts it dropped.
func (w *Influx) spill(b *batch) {
	if w.sp == nil {
		w.lose(uint64(b.n), fmt.Errorf("%d points dropped (no spool directory)", b.n))
		return
	}
	if err := w.sp.append(b.buf); err != nil {
		w.lose(uint64(b.n), fmt.Errorf("%d points dropped: %w", b.n, err))
		return
	}
	w.spilled.Add(uint64(b.n))
	w.kept()
}

// sendRetrying posts buf, retrying retryable failures up to MaxRetries times
// with exponential backoff; it gives up early when Close stops the sender.
// Meanwhile the spiller keeps the buffer from filling.
func (w *Influx) sendRetrying(buf []byte) error {
	delay := w.cfg.RetryInterval
	for attempt := 0; ; attempt++ {
		err := w.hw.post(w.ctx, buf)
		if err == nil {
			return nil
		}
		var we *writeError
		if !errors.As(err, &we) || !we.retryable || attempt >= w.cfg.MaxRetries {
			return err
		}
		w.retried.Add(1)
		w.setUp(false, err)
		if we.retryAfter > delay {
			delay = we.retryAfter
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-w.stop:
			t.Stop()
			return err
		}
		delay = min(2*delay, w.cfg.MaxRetryInterval)
	}
}

// resendOne sends the next chunk of the spool; true if the chunk is done with.
func (w *Influx) resendOne() bool {
	chunk, lines, torn, err := w.sp.next(w.cfg.BatchSize)
	if torn > 0 {
		w.lose(1, fmt.Errorf("spool: skipped a torn last line (%d bytes)", torn))
	}
	if err == nil && lines == 0 {
		err = w.sp.commit(len(chunk))
		if err == nil {
			return true
		}
	}
	if err != nil {
		w.setErr(err)
		w.backoff = min(max(2*w.backoff, w.cfg.RetryInterval), w.cfg.MaxRetryInterval)
		w.nextTry = time.Now().Add(w.backoff)
		return false
	}
	err = w.hw.post(w.ctx, chunk)
	var we *writeError
	switch {
	case err == nil:
		w.written.Add(uint64(lines))
		w.resent.Add(uint64(lines))
		w.setUp(true, nil)
		w.kept()
		w.backoff = 0
	case errors.As(err, &we) && !we.retryable:
		rej := we.rejectedOf(lines)
		w.setErr(fmt.Errorf("%d of %d spooled points rejected: %w", rej, lines, err))
		w.written.Add(uint64(lines - rej))
		w.resent.Add(uint64(lines - rej))
		w.rejected.Add(uint64(rej))
	default:
		w.retried.Add(1)
		w.setUp(false, err)
		w.backoff = min(max(2*w.backoff, w.cfg.RetryInterval), w.cfg.MaxRetryInterval)
		if we != nil && we.retryAfter > w.backoff {
			w.backoff = we.retryAfter
		}
		w.nextTry = time.Now().Add(w.backoff)
		return false
	}
	if err := w.sp.commit(len(chunk)); err != nil {
		w.setErr(err)
	}
	return true
}

// shutdown moves everything still in memory to the spool (or counts it
// dropped without one) and closes the spool.
func (w *Influx) shutdown() {
	<-w.spillerDone
	for b := w.pop(true); b != nil; b = w.pop(true) {
		if w.sp != nil {
			w.spill(b)
		} else {
			w.lose(uint64(b.n), fmt.Errorf("closed with %d points unsent (no spool directory)", b.n))
		}
		w.release(b, false)
	}
	if w.sp != nil {
		if err := w.sp.close(); err != nil {
			w.setErr(err)
		}
	}
}

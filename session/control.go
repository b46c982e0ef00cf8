package session

import (
	"context"
	"time"

	"github.com/zspy/zspy/capture"
)

type controlKind uint8

const (
	ctlPause controlKind = iota + 1
	ctlStep
	ctlSpeed
	ctlSelect
)

type control struct {
	kind  controlKind
	d     time.Duration
	speed float64
	id    uint64
}

// send queues a control for the session's goroutine; a control that does not
// fit (keys faster than the run takes them) is counted and dropped.
func (s *Session) send(c control) {
	select {
	case s.ctl <- c:
	default:
		s.ctlLost.Add(1)
	}
}

// TogglePause pauses or resumes a replay. Safe from any goroutine.
func (s *Session) TogglePause() { s.send(control{kind: ctlPause}) }

// Step lets one packet through (d == 0) or d of packet time, and pauses.
// Safe from any goroutine.
func (s *Session) Step(d time.Duration) { s.send(control{kind: ctlStep, d: d}) }

// SetSpeed changes the replay speed (0: as fast as possible). Safe from any
// goroutine.
func (s *Session) SetSpeed(v float64) { s.send(control{kind: ctlSpeed, speed: v}) }

// Select makes id the connection whose recent events and rate series the
// updates carry (Update.Detail); 0 selects none. Safe from any goroutine.
func (s *Session) Select(id uint64) { s.send(control{kind: ctlSelect, id: id}) }

// apply handles one control; pkt is the time of the packet held (zero when
// none is).
func (s *Session) apply(c control, pkt time.Time) {
	switch c.kind {
	case ctlPause:
		if s.live || s.done {
			return
		}
		s.paused = !s.paused
		s.stepN, s.stepUntil = 0, time.Time{}
		if !s.paused {
			s.pacer.Rebase(pkt, s.clock.Now())
		}
	case ctlStep:
		if s.live || s.done {
			return
		}
		s.paused = true
		if c.d <= 0 {
			s.stepN++
		} else {
			// From the time on screen (the last packet processed, or the
			// end of the previous step), not from the held packet, which
			// may be far ahead: N moves the display by exactly d.
			base := s.lastTS
			if base.IsZero() {
				base = pkt
			}
			if s.stepUntil.After(base) {
				base = s.stepUntil
			}
			s.stepUntil = base.Add(c.d)
		}
	case ctlSpeed:
		if s.live || s.done {
			return
		}
		s.pacer.SetSpeed(c.speed)
		s.pacer.Rebase(pkt, s.clock.Now())
	case ctlSelect:
		if c.id != 0 && s.log != nil {
			s.log.Select(c.id)
		}
		s.selected = c.id
	}
	s.push() // show the new state at once
}

// Serve answers controls (a selection, mostly) after the run ended, until
// ctx ends: the dashboard stays up on the finished run. Call it after Run.
func (s *Session) Serve(ctx context.Context) {
	for {
		select {
		case c := <-s.ctl:
			s.apply(c, time.Time{})
		case <-ctx.Done():
			return
		}
	}
}

// hold returns when the packet of time pkt may be processed, or when the run
// is stopped.
func (s *Session) hold(pkt time.Time) {
	for {
		select {
		case c := <-s.ctl:
			s.apply(c, pkt)
			continue
		default:
		}
		if s.stop() {
			return
		}
		if s.paused {
			if s.stepN > 0 {
				s.stepN--
				return
			}
			if pkt.Before(s.stepUntil) {
				return
			}
			if s.stepUntil.After(s.lastTS) {
				// The step ran to its end with no packet there: show its
				// end (idle time passes, zero windows grow).
				s.lastTS = s.stepUntil
				s.sincePush++
			}
			s.stepUntil = time.Time{}
			if s.sincePush > 0 {
				s.push() // a step is over: show where it stopped
			}
			if !s.waitControl(pkt, nil) {
				return
			}
			continue
		}
		w := s.pacer.Wait(pkt, s.clock.Now())
		if w <= 0 {
			return
		}
		if s.clock.Now().Sub(s.lastPush) >= s.cfg.UpdateInterval {
			s.push()
		}
		if !s.waitControl(pkt, s.clock.After(w)) {
			return
		}
	}
}

// waitControl waits for a control (applied) or for timer; it returns false
// when the timer fired or the run was stopped.
func (s *Session) waitControl(pkt time.Time, timer <-chan time.Time) bool {
	select {
	case c := <-s.ctl:
		s.apply(c, pkt)
		return true
	case <-timer:
		return false
	case <-s.stopCh:
		return false
	}
}

// feed is the capture.Source the pipeline reads in a replay: the file, with
// every packet held by pacing, pause and step when the run has listeners,
// and with what comes before a packet (monitor events, intervals) done.
type feed struct {
	capture.Source
	s       *Session
	pending bool
	ts      time.Time
}

// Name names the source read (so that Pipeline.Run names it in errors).
func (f *feed) Name() string {
	if n, ok := f.Source.(interface{ Name() string }); ok {
		return n.Name()
	}
	return ""
}

// Next reads the next segment and holds it until the run lets it go.
func (f *feed) Next(seg *capture.Segment) error {
	f.settle()
	err := f.Source.Next(seg)
	if err != nil {
		return err
	}
	f.admit(seg)
	return nil
}

// settle ends the previous packet (it has been processed by now) and
// pushes an update when one is due, before the next packet is read.
func (f *feed) settle() {
	s := f.s
	if f.pending {
		s.lastTS = f.ts
		f.pending = false
	}
	if len(s.listeners) > 0 {
		// While paused, only the first screen and the end of each step
		// show (hold pushes it once the next packet is read), so a step
		// gives one consistent screen.
		if (!s.paused || s.lastPush.IsZero()) && s.clock.Now().Sub(s.lastPush) >= s.cfg.UpdateInterval {
			s.push()
		}
	}
}

// admit holds seg until the run lets it go (pacing, pause, step), then
// runs what must happen before it.
func (f *feed) admit(seg *capture.Segment) {
	s := f.s
	if len(s.listeners) > 0 {
		s.hold(seg.TS)
		s.sincePush++
		f.pending, f.ts = true, seg.TS
	}
	s.before(seg)
}

// settleAdmit is settle and admit together, for a pipeline whose workers
// read the packets (the packets reach the run in order, after reading).
func (f *feed) settleAdmit(seg *capture.Segment) {
	f.settle()
	f.admit(seg)
}

// RunWith runs the session on a goroutine of its own — Run, then Serve, so
// that a finished run still answers its viewer — while view runs on the
// caller's goroutine with a context that ends with ctx. When view returns the
// run is stopped (and finished, as Run finishes it). RunWith returns view's
// error, else Run's.
func (s *Session) RunWith(ctx context.Context, view func(ctx context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		err := s.Run(ctx)
		s.Serve(ctx)
		done <- err
	}()
	verr := view(ctx)
	cancel()
	rerr := <-done
	if verr != nil {
		return verr
	}
	return rerr
}

package ui

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/tracker"
)

// Hooks let other parts of zspy add to each update. They run on the pipeline
// goroutine, with the snapshot about to be sent; each may be nil.
type Hooks struct {
	// Alerts returns the rules engine's alerts at the snapshot's time.
	Alerts func(s *tracker.Snapshot) []Alert
	// Influx returns the InfluxDB writer's state ("ok", "off", "down: ...").
	Influx func() string
	// Monitor returns socket-monitor events per connection ID.
	Monitor func(s *tracker.Snapshot) map[uint64][]string
}

// latest is a channel of one update where a newer update replaces one not
// yet taken, and the replacement is counted: the sender never blocks.
type latest struct {
	ch      chan *Update
	skipped atomic.Uint64
}

func newLatest() *latest { return &latest{ch: make(chan *Update, 1)} }

// put sends u, replacing an update still waiting. One goroutine sends.
func (l *latest) put(u *Update) {
	for {
		select {
		case l.ch <- u:
			return
		default:
		}
		select {
		case <-l.ch:
			l.skipped.Add(1)
		default:
		}
		u.Skipped = l.skipped.Load()
	}
}

type ctlKind uint8

const (
	ctlPause ctlKind = iota + 1
	ctlStep
	ctlSpeed
)

type ctlMsg struct {
	kind  ctlKind
	d     time.Duration
	speed float64
}

// player runs the pipeline on its goroutine: it wraps each source so that
// every packet is held until the pacer, a pause or a step lets it go, and it
// sends snapshots at a bounded rate. It implements Control for the dashboard
// (those methods only send messages to the pipeline goroutine).
type player struct {
	ctx      context.Context
	p        *pipeline.Pipeline
	clock    Clock
	pacer    *Pacer
	ctl      chan ctlMsg
	out      *latest
	hooks    Hooks
	meter    *RateMeter // may be nil
	interval time.Duration
	live     bool
	source   string

	paused    bool
	stepN     int       // packets still allowed by a one-packet step
	stepUntil time.Time // packet time a time step runs to
	lastPush  time.Time // wall
	lastTS    time.Time // time of the last packet let through
	sincePush int       // packets let through since the last update
	done      bool
	err       string
	ctlLost   atomic.Uint64
}

var _ Control = (*player)(nil)

func (pl *player) send(m ctlMsg) {
	select {
	case pl.ctl <- m:
	default:
		pl.ctlLost.Add(1) // keys faster than the pipeline takes them
	}
}

// TogglePause pauses or resumes the replay.
func (pl *player) TogglePause() { pl.send(ctlMsg{kind: ctlPause}) }

// Step lets one packet through (d == 0) or d of packet time, and pauses.
func (pl *player) Step(d time.Duration) { pl.send(ctlMsg{kind: ctlStep, d: d}) }

// SetSpeed changes the replay speed (0: as fast as possible).
func (pl *player) SetSpeed(s float64) { pl.send(ctlMsg{kind: ctlSpeed, speed: s}) }

// apply handles one control message; pkt is the held packet's time.
func (pl *player) apply(m ctlMsg, pkt time.Time) {
	switch m.kind {
	case ctlPause:
		pl.paused = !pl.paused
		pl.stepN, pl.stepUntil = 0, time.Time{}
		if !pl.paused {
			pl.pacer.Rebase(pkt, pl.clock.Now())
		}
	case ctlStep:
		pl.paused = true
		if m.d <= 0 {
			pl.stepN++
		} else {
			// From the time on screen (the last packet processed, or the
			// end of the previous step), not from the held packet, which
			// may be far ahead: N moves the display by exactly d.
			base := pl.lastTS
			if base.IsZero() {
				base = pkt
			}
			if pl.stepUntil.After(base) {
				base = pl.stepUntil
			}
			pl.stepUntil = base.Add(m.d)
		}
	case ctlSpeed:
		pl.pacer.SetSpeed(m.speed)
		pl.pacer.Rebase(pkt, pl.clock.Now())
	}
	pl.push() // show the new state at once
}

// hold returns when the packet of time pkt may be processed, or when the
// context ends.
func (pl *player) hold(pkt time.Time) {
	for {
		select {
		case m := <-pl.ctl:
			pl.apply(m, pkt)
			continue
		default:
		}
		if pl.ctx.Err() != nil {
			return
		}
		if pl.paused {
			if pl.stepN > 0 {
				pl.stepN--
				return
			}
			if pkt.Before(pl.stepUntil) {
				return
			}
			if pl.stepUntil.After(pl.lastTS) {
				// The step ran to its end with no packet there: show its
				// end (idle time passes, zero windows grow).
				pl.lastTS = pl.stepUntil
				pl.sincePush++
			}
			pl.stepUntil = time.Time{}
			if pl.sincePush > 0 {
				pl.push() // a step is over: show where it stopped
			}
			select {
			case m := <-pl.ctl:
				pl.apply(m, pkt)
			case <-pl.ctx.Done():
				return
			}
			continue
		}
		if pl.live {
			return
		}
		w := pl.pacer.Wait(pkt, pl.clock.Now())
		if w <= 0 {
			return
		}
		if pl.clock.Now().Sub(pl.lastPush) >= pl.interval {
			pl.push()
		}
		select {
		case <-pl.clock.After(w):
			return
		case m := <-pl.ctl:
			pl.apply(m, pkt)
		case <-pl.ctx.Done():
			return
		}
	}
}

// push sends the model as it stands (all packets up to lastTS processed).
func (pl *player) push() {
	now := pl.clock.Now()
	pl.lastPush = now
	pl.sincePush = 0
	snap := pl.p.Tracker.Snapshot(pl.lastTS)
	ws, total := pl.p.Warnings()
	u := &Update{Snapshot: snap, Stats: pl.p.Stats(), Warnings: total,
		Player: PlayerState{Live: pl.live, Source: pl.source, Speed: pl.pacer.Speed(), Paused: pl.paused,
			Done: pl.done, Err: pl.err, Wall: now}}
	if len(ws) > 0 {
		u.LastWarning = ws[len(ws)-1]
	}
	if pl.meter != nil {
		u.Rates = pl.meter.Window(snap)
	}
	if pl.hooks.Alerts != nil {
		u.Alerts = pl.hooks.Alerts(snap)
	}
	if pl.hooks.Influx != nil {
		u.Influx = pl.hooks.Influx()
	}
	if pl.hooks.Monitor != nil {
		u.Monitor = pl.hooks.Monitor(snap)
	}
	u.Skipped = pl.out.skipped.Load()
	pl.out.put(u)
}

// pacedSource is the capture.Source the pipeline reads: the real source, with
// every packet held by the player.
type pacedSource struct {
	capture.Source
	pl      *player
	pending bool
	ts      time.Time
}

// Name names the source read (so that Pipeline.Run names it in errors).
func (s *pacedSource) Name() string {
	if n, ok := s.Source.(interface{ Name() string }); ok {
		return n.Name()
	}
	return ""
}

// Next reads the next segment and holds it until the player lets it go.
func (s *pacedSource) Next(seg *capture.Segment) error {
	pl := s.pl
	if s.pending {
		// The previous packet has been processed by now.
		pl.lastTS = s.ts
		s.pending = false
	}
	if pl.ctx.Err() != nil {
		return pl.ctx.Err()
	}
	// While paused, only the first screen and the end of each step show
	// (hold pushes it once the next packet is read), so a step gives one
	// consistent screen.
	if (!pl.paused || pl.lastPush.IsZero()) && pl.clock.Now().Sub(pl.lastPush) >= pl.interval {
		pl.push()
	}
	err := s.Source.Next(seg)
	if err != nil {
		return err
	}
	pl.hold(seg.TS)
	pl.sincePush++
	s.pending, s.ts = true, seg.TS
	return nil
}

// runReplay feeds every source through the pipeline, then finishes it and
// sends the last update.
func (pl *player) runReplay(srcs []capture.Source) {
	for _, src := range srcs {
		if pl.ctx.Err() != nil {
			break
		}
		ps := &pacedSource{Source: src, pl: pl}
		err := pl.p.Run(ps, func() bool { return pl.ctx.Err() != nil })
		if ps.pending {
			pl.lastTS = ps.ts
		}
		if err != nil && pl.ctx.Err() == nil {
			msg := err.Error() // Pipeline.Run names the file
			pl.err = msg
			pl.p.Warn("%s", msg)
		}
	}
	if pl.ctx.Err() != nil {
		return
	}
	pl.p.Finish()
	pl.done = true
	pl.push()
}

// runLive runs the live pipeline, sending an update every interval of wall
// time from its goroutine (through OnStats); snapshots take the wall-clock
// time, so rates fall to zero when traffic stops.
func (pl *player) runLive(src capture.Source, cfg pipeline.LiveConfig) {
	cfg.StatsEvery = pl.interval
	cfg.OnStats = func(pipeline.LiveStats) {
		pl.lastTS = pl.clock.Now()
		pl.push()
	}
	err := pl.p.RunLive(pl.ctx, src, cfg)
	if pl.ctx.Err() != nil {
		return
	}
	if err != nil {
		pl.err = err.Error()
	}
	pl.p.Finish()
	pl.done = true
	pl.lastTS = pl.clock.Now()
	pl.push()
}

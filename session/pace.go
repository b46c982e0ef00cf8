package session

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Clock is the wall clock as replay pacing and redraw limits see it. Tests
// replace it so that nothing sleeps.
type Clock interface {
	Now() time.Time
	// After returns a channel that delivers once d has passed.
	After(d time.Duration) <-chan time.Time
}

// WallClock is the real clock.
type WallClock struct{}

// Now returns the current time.
func (WallClock) Now() time.Time { return time.Now() }

// After is time.After.
func (WallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Pacer maps packet time to wall time at a speed: at speed s, a packet Δ of
// packet time after the base packet is due Δ/s of wall time after the base
// wall time. Speed 0 means as fast as possible. It is pure: the caller passes
// the times.
type Pacer struct {
	speed             float64
	baseWall, basePkt time.Time
	based             bool
}

// NewPacer returns a pacer at the given speed.
func NewPacer(speed float64) *Pacer { return &Pacer{speed: speed} }

// Speed returns the speed.
func (p *Pacer) Speed() float64 { return p.speed }

// Wait returns how long to wait at wall time now before releasing a packet of
// packet time pkt (0: release it now). The first packet sets the base.
func (p *Pacer) Wait(pkt, now time.Time) time.Duration {
	if p.speed <= 0 {
		return 0
	}
	if !p.based {
		p.Rebase(pkt, now)
		return 0
	}
	d := pkt.Sub(p.basePkt)
	if d <= 0 {
		return 0
	}
	due := p.baseWall.Add(time.Duration(float64(d) / p.speed))
	if w := due.Sub(now); w > 0 {
		return w
	}
	return 0
}

// Rebase makes packet time pkt due at wall time now (after a pause, a step or
// a change of speed).
func (p *Pacer) Rebase(pkt, now time.Time) {
	p.baseWall, p.basePkt, p.based = now, pkt, true
}

// SetSpeed changes the speed; the next Wait rebases on its packet.
func (p *Pacer) SetSpeed(speed float64) {
	p.speed = speed
	p.based = false
}

// ParseSpeed reads a --speed value: "max" (or 0) for as fast as possible, a
// factor such as 1, 10 or 0.5 (an optional trailing "x" is allowed).
func ParseSpeed(s string) (float64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "max" {
		return 0, nil
	}
	t = strings.TrimSuffix(strings.TrimSuffix(t, "x"), "×")
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v != v || v > 1e6 {
		return 0, fmt.Errorf("speed %q: want max or a factor between 0 and 1e6 (1 is real time)", s)
	}
	return v, nil
}

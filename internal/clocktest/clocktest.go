// Package clocktest has a fake wall clock for tests of code that paces or
// waits (the session's replay pacing, the dashboard's redraw limit): it
// advances only when waited on, so nothing sleeps.
package clocktest

import (
	"sync"
	"time"
)

// Fake advances only when waited on: After fires at once and moves the clock
// by d. It records every wait. Safe for concurrent use.
type Fake struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

// New returns a fake clock at t.
func New(t time.Time) *Fake { return &Fake{now: t} }

// Now returns the clock's time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After moves the clock by d and returns a channel that already holds the
// new time.
func (c *Fake) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.waits = append(c.waits, d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// Total returns the sum of every wait so far.
func (c *Fake) Total() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s time.Duration
	for _, w := range c.waits {
		s += w
	}
	return s
}

//go:build !linux

package host

import (
	"errors"
	"time"
)

// Config configures a Source (see the Linux build).
type Config struct {
	Refresh        time.Duration
	TrackedRefresh time.Duration
	MinWalkGap     time.Duration
	Proc           string
}

// Source is the host view; it exists on Linux only.
type Source struct{}

// ErrUnsupported is New's error where the host view does not exist.
var ErrUnsupported = errors.New("host: the host view needs Linux (sock_diag netlink and /proc)")

// New fails: the host view needs Linux.
func New(Config) (*Source, error) { return nil, ErrUnsupported }

// Close does nothing.
func (*Source) Close() {}

// Invalidate does nothing.
func (*Source) Invalidate() {}

// Track does nothing.
func (*Source) Track([]ConnAddrs) {}

// Refresh does nothing.
func (*Source) Refresh() {}

// Stats returns zero counters.
func (*Source) Stats() Stats { return Stats{} }

// Sample fails: the host view needs Linux.
func (*Source) Sample(time.Time) (*Sample, error) { return nil, ErrUnsupported }

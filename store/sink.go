package store

import (
	"context"
	"errors"
	"time"
)

// Sink receives points from the metrics stage.
//
// Call order: Write any number of times; Flush at any time to push what is
// buffered to its destination (it waits until then or until ctx is done);
// Close exactly once at the end, after which Write returns ErrClosed. Write
// never blocks on I/O to a remote server and never keeps the points or their
// slices after it returns, so the caller may reuse them. Implementations are
// safe for concurrent use, though the pipeline writes from one goroutine.
type Sink interface {
	Write(points []Point) error
	Flush(ctx context.Context) error
	Close(ctx context.Context) error
}

// Stater is a sink that reports its counters and state (for the dashboard's status bar).
type Stater interface {
	Stats() Stats
}

// Warner is a sink that says at once when it starts losing points and when
// it stops: the first drop after a success starts an episode (counted in
// Stats.DropEpisodes) and is reported once, not each point. fn is called
// from Write, on the caller's goroutine, never concurrently; set it before
// the first Write.
type Warner interface {
	SetWarn(fn func(msg string))
}

// Stats are a sink's counters (points, unless noted) and state. Every point
// handed to Write ends up in exactly one of Written, Dropped, Rejected,
// Invalid, or is still Buffered or in the spool.
type Stats struct {
	Written  uint64 // accepted by InfluxDB (or stored in a local file), including Resent
	Retried  uint64 // write requests repeated after a failure (requests, not points)
	Spilled  uint64 // written to the spool directory because InfluxDB was down or slow
	Resent   uint64 // sent from the spool and accepted
	Dropped  uint64 // lost: buffer full without a spool, spool full, or spool I/O error
	Rejected uint64 // refused by the server as malformed (HTTP 400/413/422), not retried
	Invalid  uint64 // refused by Write itself (see Point.Validate)

	DropEpisodes uint64 // times the sink started dropping after a success (each said once, see Warner)
	RemovedFiles uint64 // local store: files deleted by retention (age or size)
	RemovedBytes int64  // local store: bytes in those files

	Buffered   int   // points in memory waiting to be sent (or written to a local file)
	SpoolBytes int64 // bytes of line protocol waiting in the spool
	SpoolFiles int   // files in the spool

	Up        bool      // the last write request succeeded (true before the first)
	Since     time.Time // when Up last changed (wall clock)
	LastError string    // the last error, empty if none
	ErrorAt   time.Time // when LastError happened (wall clock)
}

// ErrorCurrent reports whether LastError still holds: the last request
// failed, or points still wait in memory or the spool. Once the sink is up
// again and every point it kept was sent, LastError is history (an outage
// it recovered from), and reports say so instead of showing it as the state.
func (s Stats) ErrorCurrent() bool {
	return s.LastError != "" && (!s.Up || s.Buffered > 0 || s.SpoolBytes > 0)
}

// Sentinel errors of the store; match them with errors.Is.
var (
	// ErrInvalidPoint marks a point that cannot be written (no fields, no time...).
	ErrInvalidPoint = errors.New("invalid point")
	// ErrClosed is returned by Write after Close.
	ErrClosed = errors.New("sink closed")
	// ErrConfig marks an invalid configuration.
	ErrConfig = errors.New("invalid store configuration")
)

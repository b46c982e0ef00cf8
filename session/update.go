package session

import (
	"sync/atomic"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/host"
	"github.com/zspy/zspy/patterns"
	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/tracing"
	"github.com/zspy/zspy/tracker"
)

// Update is what the session publishes to its listeners (the dashboard): an
// immutable picture of the run at one packet time. Nothing in it is changed
// after it is sent, and nothing in it aliases the session's state.
type Update struct {
	// Snapshot is the tracker's model at packet time Snapshot.Time.
	Snapshot *tracker.Snapshot
	// Rates are the connections' rates at Snapshot.Time, indexed like
	// Snapshot.Records (see RateMeter).
	Rates []WindowRate
	// Stats are the capture counters (packets, kernel and internal drops).
	Stats Stats
	// Warnings counts the run's warnings; LastWarning is the latest kept one.
	Warnings    uint64
	LastWarning string
	// Alerts are the rules engine's firing, pending and recent alerts (nil
	// when no rules run).
	Alerts []rules.Alert
	// Host is the latest host view: the processes and kernel socket queues
	// of the connections' ends on this host, by connection ID, and its
	// ipc:// endpoints (nil when the run has none: a replay, or capture
	// without a host source). Host facts sit beside the tracker's records,
	// not in them.
	Host *host.View
	// Stages are the brokers, forwarders and pipeline workers among the
	// host view's processes at its latest sample, stalls marked (nil
	// without a host view).
	Stages []patterns.Stage
	// Tracing is what message tracing found so far (nil when it is off).
	Tracing *tracing.Result
	// Store is the time-series store's state (nil when there is none).
	Store *StoreStatus
	// Monitor holds libzmq socket-monitor events per connection ID, newest
	// last (nil when none were merged).
	Monitor map[uint64][]string
	// Detail is what the session kept of the connection selected with
	// Select: its recent events and per-second message rates.
	Detail *Detail
	// Player is the replay or capture state.
	Player PlayerState
	// Skipped counts updates a listener dropped because a newer one came
	// before it took them (set by the listener's queue; see Latest).
	Skipped uint64
}

// Detail is the selected connection's part of an update.
type Detail struct {
	ID uint64
	// Log holds its recent events (at most ConnLogLen), oldest first.
	Log []LogEntry
	// Seen counts its events since it was selected: the last len(Log) of
	// them are in Log, so a reader that keeps a longer history (the
	// dashboard's stream) appends those beyond what it has and counts the
	// ones that came and went between two updates.
	Seen uint64
	// Rates are its messages per second of packet time per direction (0
	// client→server, 1 server→client), one point per second, at most
	// SeriesLen points, oldest first.
	Rates [2][]float32
}

// PlayerState says where a replay or capture is.
type PlayerState struct {
	Live   bool
	Source string // file or interface names
	// Speed is the replay speed: 1 real time, N for N×, 0 as fast as possible.
	Speed  float64
	Paused bool
	// Done is set once the source is exhausted (replay) or stopped.
	Done bool
	// Err is the source's error, if it failed.
	Err string
	// Wall is the wall-clock time of the update, for "last packet N s ago".
	Wall time.Time
}

// Stats are the capture counters as an update carries them: capture's own
// (one list of counters to keep, not a copy that each new one must join),
// under a name the dashboard reaches through the session.
type Stats = capture.Stats

// Listener receives the session's updates on the session's goroutine. It
// must not block: a dashboard hands the update to its own goroutine (see
// Latest).
type Listener interface {
	SessionUpdate(u *Update)
}

// Latest is a Listener that keeps only the newest update for a reader on
// another goroutine: a newer update replaces one not yet taken, and the
// replacement is counted. The session never blocks on it.
type Latest struct {
	C       chan *Update
	skipped atomic.Uint64
}

// NewLatest returns an empty Latest.
func NewLatest() *Latest { return &Latest{C: make(chan *Update, 1)} }

// SessionUpdate queues u, replacing an update still waiting.
func (l *Latest) SessionUpdate(u *Update) {
	for {
		u.Skipped = l.skipped.Load()
		select {
		case l.C <- u:
			return
		default:
		}
		select {
		case <-l.C:
			l.skipped.Add(1)
		default:
		}
	}
}

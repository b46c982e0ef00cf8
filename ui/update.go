package ui

import (
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/tracker"
)

// Update is what the pipeline side hands the dashboard: an immutable snapshot
// of the model and the counters around it. Nothing in it is changed after it
// is sent.
type Update struct {
	// Snapshot is the tracker's copy of the model at packet time Snapshot.Time.
	Snapshot *tracker.Snapshot
	// Rates are the connections' rates at Snapshot.Time, indexed like
	// Snapshot.Conns (see RateMeter); nil leaves every rate 0.
	Rates []WindowRate
	// Stats are the capture counters (packets, kernel and internal drops).
	Stats capture.Stats
	// Warnings counts pipeline warnings; LastWarning is the latest kept one.
	Warnings    uint64
	LastWarning string
	// Alerts are the rules engine's firing and recent alerts.
	Alerts []Alert
	// Influx is the InfluxDB writer's state as a word or two ("ok", "off",
	// "down: connection refused"); empty when no store is configured.
	Influx string
	// Monitor holds libzmq socket-monitor events per connection ID, newest
	// last; the monitor integration fills it.
	Monitor map[uint64][]string
	// Player is the replay or capture state.
	Player PlayerState
	// Skipped counts updates that were replaced by a newer one before the
	// dashboard took them (set by the sender).
	Skipped uint64
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

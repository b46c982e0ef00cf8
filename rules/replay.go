package rules

import (
	"time"

	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
)

// NewEngine returns an engine for a rule file, or for the built-in rules
// when path is empty.
func NewEngine(path string, outputs ...Output) (*Engine, error) {
	if path == "" {
		return New(Builtins(), outputs...), nil
	}
	f, err := LoadFile(path)
	if err != nil {
		return nil, err
	}
	return New(f.Rules(), outputs...), nil
}

// SetMonitor makes the engine read socket-monitor state from m at every
// evaluation the Hook runs (nil: none).
func (e *Engine) SetMonitor(m *MonitorState) { e.monitor = m }

// Hook returns a function to register with pipeline.AddIntervalHook: it
// evaluates the rules at every interval boundary of packet time (replay) or
// of the live ticker, over the connections and the interval's points.
func (e *Engine) Hook() func(end time.Time, snap *tracker.Snapshot, points []store.Point) {
	return func(end time.Time, snap *tracker.Snapshot, points []store.Point) {
		e.Eval(end, Input{Records: snap.Records, Points: points, Monitor: e.monitor})
	}
}

// Close closes the outputs and returns the first error.
func (e *Engine) Close() error {
	var first error
	for _, o := range e.outputs {
		if err := o.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

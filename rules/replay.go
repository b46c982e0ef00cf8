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

// Hook returns a function to register with pipeline.AddIntervalHook: it
// evaluates the rules at every interval boundary of packet time (replay) or
// of the live ticker, over the snapshot and the interval's points
// (EvalSnapshot). Socket-monitor events reach the rules as the interval's
// zspy_monitor points.
func (e *Engine) Hook() func(end time.Time, snap *tracker.Snapshot, points []store.Point) {
	return func(end time.Time, snap *tracker.Snapshot, points []store.Point) {
		e.EvalSnapshot(end, snap, points)
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

package main

import (
	"errors"
	"io"

	"github.com/spf13/pflag"

	"github.com/zspy/zspy/filter"
	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/tracker"
)

// eventFlags are --events and its display filter, shared by capture and
// replay.
type eventFlags struct {
	on     bool
	filter string
}

func (f *eventFlags) register(fl *pflag.FlagSet, usage string) {
	fl.BoolVar(&f.on, "events", false, usage)
	fl.StringVarP(&f.filter, "display-filter", "Y", "", "with --events: print only the events this `EXPR` selects, e.g. 'command == \"SUBSCRIBE\" and port(5556)' (README: Display filter)")
}

// eventStream is the --events listener and what tells its write error.
type eventStream struct {
	tracker.Listener
	err func() error
}

// open checks the filter (before anything starts) and returns the event
// listener writing to w: text lines, or JSON lines with --json. It returns
// nil without --events.
func (f *eventFlags) open(w io.Writer, json bool, ropt report.Options) (*eventStream, error) {
	var flt *filter.Filter
	if f.filter != "" {
		if !f.on {
			return nil, errors.New("--display-filter selects the events that --events prints: add --events (the report always covers every connection)")
		}
		var err error
		if flt, err = filter.Compile(f.filter); err != nil {
			return nil, err
		}
	}
	if !f.on {
		return nil, nil
	}
	var s eventStream
	if json {
		ew := report.NewEventWriter(w, ropt)
		s = eventStream{ew, func() error { return ew.Err }}
	} else {
		tw := report.NewTextEventWriter(w, ropt)
		s = eventStream{tw, func() error { return tw.Err }}
	}
	if flt != nil {
		s.Listener = filtered{flt, s.Listener}
	}
	return &s, nil
}

// filtered passes on the events its filter selects.
type filtered struct {
	f    *filter.Filter
	next tracker.Listener
}

func (l filtered) TrackerEvent(e *tracker.Event) {
	if l.f.Match(e) {
		l.next.TrackerEvent(e)
	}
}

// Package session owns one run of zspy: it reads the sources (capture files
// in order, or a live interface), paces a replay (speed, pause, step), merges
// socket-monitor events (recorded logs by time, live ones as they come),
// ends the metrics intervals, writes their points to the time-series store,
// evaluates the rules, streams --events, and builds the final report. One
// goroutine — the one that calls Run — owns the model; what leaves it are
// immutable Updates for listeners (the dashboard), which steer the run only
// through controls (TogglePause, Step, SetSpeed, Select). Replay and capture,
// with and without the dashboard, run this same code.
package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/textsafe"
	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/monitor"
	"github.com/zspy/zspy/patterns"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracing"
	"github.com/zspy/zspy/tracker"
)

// DefaultUpdateInterval is the default period of wall time between two
// updates to listeners.
const DefaultUpdateInterval = 200 * time.Millisecond

// Config configures a run. Files or Live names the source; the rest is
// optional.
type Config struct {
	// Pipeline configures the decoding stages (tracker, reassembly, report
	// options, metrics interval and host tag).
	Pipeline pipeline.Config
	// Files are capture files read in order as one capture (replay).
	Files []capture.Source
	// Live is a live source read until the run is stopped (capture), with
	// LiveOptions.
	Live        capture.Source
	LiveOptions LiveOptions
	// Name names the sources for the player state (files or interface).
	Name string

	// Monitor delivers live socket-monitor events (nil: none).
	Monitor <-chan monitor.Event

	// Host, on a live run, is this host's view (a *host.Source): sampled
	// at each metrics interval (wall time; up to 4 intervals in a row are
	// skipped while no packets come), it names the processes that hold each
	// connection's ends and their kernel socket queues, for the updates
	// (Update.Host), the report, the zspy_socket_queue series and the
	// rules. Samples look up the tracked connections' sockets only
	// (HostSource.Track); a connection the tracker created since the last
	// sample asks for a sample at once. Ignored on a replay: host facts are
	// live only.
	Host HostSource
	// HostUnixPaths are path patterns (filepath.Match) of Unix-socket
	// endpoints the host view lists besides those held by processes that
	// hold a tracked connection.
	HostUnixPaths []string
	// Annotate, on a live run with a host view, gets the processes of the
	// connections' ends (host.Attribution's encoding) whenever they change:
	// capture -w writes it into its pcapng files, whose replay (from
	// Files) then names the same processes.
	Annotate func(payload []byte)

	// Trace, when set, traces messages through the stages that forward
	// them (package tracing): the report gets the stages and their per-hop
	// times. Replay and live alike.
	Trace *tracing.Config

	// Sink receives every interval's points; SinkName names it in the
	// updates' store state ("influx", "local /var/lib/zspy").
	Sink     store.Sink
	SinkName string
	// Rules are evaluated at every interval's end.
	Rules *rules.Engine
	// Events receives every decoded event (--events).
	Events tracker.Listener
	// OnInterval, when set, sees every interval's snapshot and points after
	// the store and the rules took them (points are valid only during the
	// call).
	OnInterval func(end time.Time, snap *tracker.Snapshot, points []store.Point)
	// WarnTo, when set, also gets the warnings the session itself raises
	// (a failing store), as they come.
	WarnTo io.Writer

	// Speed paces a replay that has listeners: 1 real time, N for N×, 0 as
	// fast as possible; StartPaused holds it before its first packet.
	// Without listeners a replay runs as fast as possible.
	Speed       float64
	StartPaused bool
	// UpdateInterval bounds how often listeners get an update (wall time;
	// default DefaultUpdateInterval).
	UpdateInterval time.Duration
	// StatsEvery calls OnStats with a live run's counters at this period of
	// wall time (0: never).
	StatsEvery time.Duration
	OnStats    func(LiveStats)
	// Clock paces the replay (default: the wall clock); tests replace it.
	Clock Clock
}

// MonitorLog yields recorded socket-monitor events in time order, as
// `zspy monitor --json` writes them (monitor.LogReader reads such a file);
// ok is false at its end.
type MonitorLog interface {
	Next() (ev monitor.Event, ok bool)
}

// Session is one run. Build it with New, add listeners, then call Run once.
type Session struct {
	cfg     Config
	p       *pipeline.Pipeline
	metrics *metrics.Collector
	// seriesCapped is set once the collector put points in an (other) series.
	seriesCapped bool
	// intervals is set when something consumes the metrics intervals (a
	// store or rules).
	intervals  bool
	monLogs    []*monStream
	monEvents  uint64
	sinkFailed bool
	host       *hostState // nil: no host view
	tracer     *tracing.Tracer
	rec        *recorded // a replay's attributions (nil: none)

	listeners []Listener
	meter     *RateMeter
	log       *MessageLog
	selected  uint64

	clock     Clock
	pacer     *Pacer
	ctl       chan control
	ctlLost   atomic.Uint64
	live      bool
	paused    bool
	stepN     int       // packets still allowed by a one-packet step
	stepUntil time.Time // packet time a time step runs to
	lastPush  time.Time // wall
	lastTS    time.Time // time of the last packet let through (or the live clock)
	sincePush int       // packets let through since the last update
	done      bool
	err       string
	stop      func() bool
	stopCh    <-chan struct{}
}

// New prepares a run.
func New(cfg Config) *Session {
	if cfg.UpdateInterval <= 0 {
		cfg.UpdateInterval = DefaultUpdateInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = WallClock{}
	}
	host := cfg.Pipeline.Host
	if host == "" {
		host, _ = os.Hostname()
	}
	s := &Session{cfg: cfg, p: pipeline.New(cfg.Pipeline), metrics: metrics.New(host, cfg.Pipeline.Interval),
		intervals: cfg.Sink != nil || cfg.Rules != nil || cfg.OnInterval != nil, clock: cfg.Clock, pacer: NewPacer(cfg.Speed),
		ctl: make(chan control, 16), live: cfg.Live != nil}
	if cfg.Host != nil && s.live {
		s.host = &hostState{src: cfg.Host, kick: make(chan struct{}, 1)}
	}
	if w, ok := cfg.Sink.(store.Warner); ok {
		// When the store starts dropping points, and when it stops, the
		// run hears of it at once (from Write, on this goroutine).
		w.SetWarn(func(msg string) { s.warn("time series: %s", msg) })
	}
	return s
}

// AddMonitorLog merges a recorded event log into the run by time (see
// mergeMonitorLogs); call it before Run.
func (s *Session) AddMonitorLog(l MonitorLog) {
	if ev, ok := l.Next(); ok {
		s.monLogs = append(s.monLogs, &monStream{log: l, head: ev})
	}
}

// Subscribe adds a listener of the run's updates; call it before Run. A
// session with listeners also keeps the connections' rates and recent events
// for them, and paces a replay at Config.Speed.
func (s *Session) Subscribe(l Listener) {
	s.listeners = append(s.listeners, l)
}

// Warn records a warning for the report.
func (s *Session) Warn(format string, args ...any) { s.p.Warn(format, args...) }

// Warnings returns the warnings kept so far and how many there were in all.
func (s *Session) Warnings() ([]string, uint64) { return s.p.Warnings() }

// Stats returns the capture counters of the run so far.
func (s *Session) Stats() capture.Stats { return s.p.Stats() }

// Report builds the report of everything seen so far (without the store's
// and the rules' parts, which belong to whoever closes them); a live run
// with a host view adds the processes and socket queues of the connections'
// ends on this host, and its ipc:// endpoints.
func (s *Session) Report() *report.Report {
	r := s.p.Report()
	if s.host != nil {
		report.AttachHost(r, s.host.view)
		report.AttachStages(r, s.host.stages)
	} else if !s.live {
		s.attachRecorded(r)
	}
	if s.tracer != nil {
		report.AttachTracing(r, s.tracer.Result())
	}
	return r
}

// Run reads the sources to their end, or until ctx ends, then finishes the
// run: connections still open are flushed (they stay "open" in the report)
// and the last interval ends. It returns the live source's error; a file
// that fails part-way is a warning, and the next file is read. Run closes a
// live source; files are the caller's to close.
func (s *Session) Run(ctx context.Context) error {
	s.stopCh = ctx.Done()
	s.stop = func() bool { return ctx.Err() != nil }
	s.paused = s.cfg.StartPaused && !s.live && len(s.listeners) > 0
	s.wire()
	defer s.p.Tracker.SetListener(nil)
	var err error
	if s.live {
		err = s.runLive(ctx)
	} else {
		s.runFiles()
	}
	if !s.done {
		s.finish()
	}
	return err
}

// wire attaches the tracker's listeners: --events, and the rates and log the
// updates carry.
func (s *Session) wire() {
	var ls []tracker.Listener
	if s.cfg.Events != nil {
		ls = append(ls, s.cfg.Events)
	}
	if s.cfg.Trace != nil {
		s.tracer = tracing.New(*s.cfg.Trace)
		ls = append(ls, s.tracer)
	}
	if len(s.listeners) > 0 {
		s.log = NewMessageLog()
		s.meter = NewRateMeter(nil)
		ls = append(ls, s.meter, s.log)
	}
	switch len(ls) {
	case 0:
	case 1:
		s.p.Tracker.SetListener(ls[0])
	default:
		s.p.Tracker.SetListener(fanOut(ls))
	}
}

type fanOut []tracker.Listener

func (f fanOut) TrackerEvent(e *tracker.Event) {
	for _, l := range f {
		l.TrackerEvent(e)
	}
}

// runFiles feeds every file through the pipeline.
func (s *Session) runFiles() {
	for _, src := range s.cfg.Files {
		if s.stop() {
			break
		}
		f := &feed{Source: src, s: s}
		var err error
		if s.p.Workers() > 1 {
			err = s.p.RunSpread(src, f.settleAdmit, s.stop)
		} else {
			err = s.p.Run(f, s.stop)
		}
		if f.pending {
			s.lastTS = f.ts
		}
		if err != nil && !s.stop() {
			msg := err.Error() // Pipeline.Run names the file
			s.err = msg
			s.p.Warn("%s", msg)
		}
	}
}

// finish ends the run: the rest of the recorded monitor events, the flush of
// open connections, the last interval, and a last update.
func (s *Session) finish() {
	s.mergeMonitorLogs(time.Time{}, true)
	s.finalHostSample()
	s.p.Finish()
	last := s.p.LastTS()
	if s.intervals && !last.IsZero() {
		s.tick(last.Add(s.metrics.Interval()))
	}
	s.done = true
	if s.live {
		s.lastTS = s.clock.Now()
	}
	s.push()
}

// before runs, ahead of each packet, what must happen before it: the
// recorded monitor events up to its time, and the metrics intervals its time
// ends. A panic here is a warning naming the source, the packet and the
// time, as a packet's is.
func (s *Session) before(seg *capture.Segment) {
	ts := seg.TS
	defer func() {
		if r := recover(); r != nil {
			s.p.Warn("%s: internal error before the packet (at %s): %v", s.p.Where(seg), ts.UTC().Format(time.RFC3339Nano), r)
		}
	}()
	if len(s.monLogs) > 0 {
		s.mergeMonitorLogs(ts, false)
	}
	if s.intervals && s.metrics.Due(ts) {
		s.tick(ts)
	}
}

// Tick ends the metrics intervals that time ts has passed, as the live clock
// does when no packets come: a replay that stopped short can let time pass.
// Call it on the goroutine that ran Run, after it returned.
func (s *Session) Tick(ts time.Time) { s.tick(ts) }

// tick ends the metrics intervals that packet (or, live, wall-clock) time ts
// has passed: for each, a snapshot, its points to the store, the rules, and
// the tracker's next interval.
func (s *Session) tick(ts time.Time) {
	if !s.intervals {
		return
	}
	for n := 0; s.metrics.Due(ts); n++ {
		if n == 2 {
			// A long silence: the intervals in between would all be empty.
			s.metrics.SkipTo(ts)
			if !s.metrics.Due(ts) {
				break
			}
		}
		end := s.metrics.Next()
		snap := s.p.Tracker.Snapshot(end)
		s.metrics.SetHostView(s.hostView(snap))
		pts := s.metrics.Sample(end, snap)
		if s.host != nil {
			s.checkNewConns(snap)
			pts = s.metrics.SampleHost(end, snap, s.host.view)
		}
		if m := s.metrics; (m.GroupsOverflowed > 0 || m.TopicsOverflowed > 0) && !s.seriesCapped {
			s.seriesCapped = true // said once; the tag value (other) marks the rest
			s.warn("time series: more than %d series in a measurement or %d topics: the rest are written as %s (as of %s: %d connection samples, %d topic deliveries)",
				metrics.MaxGroups, metrics.MaxTopics, metrics.OtherClients, end.UTC().Format(time.RFC3339), m.GroupsOverflowed, m.TopicsOverflowed)
		}
		if s.cfg.Sink != nil {
			if err := s.cfg.Sink.Write(pts); err != nil && !s.sinkFailed {
				s.sinkFailed = true // said once; the sink's counters tell the rest
				s.warn("time series: %v", err)
			}
		}
		if s.cfg.Rules != nil {
			s.cfg.Rules.EvalSnapshot(end, snap, pts)
		}
		if s.cfg.OnInterval != nil {
			s.cfg.OnInterval(end, snap, pts)
		}
		s.p.Tracker.EndInterval()
	}
}

// warn records a warning the session raises, and prints it to WarnTo.
func (s *Session) warn(format string, args ...any) {
	if s.cfg.WarnTo != nil {
		// A warning may quote what came off the wire: made safe to print.
		fmt.Fprintln(s.cfg.WarnTo, "zspy: warning:", textsafe.String(fmt.Sprintf(format, args...)))
	}
	s.p.Warn(format, args...)
}

// MonitorEvents returns a MonitorLog of events held in memory, sorted by
// time.
func MonitorEvents(evs []monitor.Event) MonitorLog {
	evs = slices.Clone(evs)
	slices.SortStableFunc(evs, func(a, b monitor.Event) int { return a.Time.Compare(b.Time) })
	return &sliceLog{evs: evs}
}

type sliceLog struct{ evs []monitor.Event }

func (l *sliceLog) Next() (monitor.Event, bool) {
	if len(l.evs) == 0 {
		return monitor.Event{}, false
	}
	ev := l.evs[0]
	l.evs = l.evs[1:]
	return ev, true
}

// monStream is a MonitorLog with its next event read ahead.
type monStream struct {
	log  MonitorLog
	head monitor.Event
}

// mergeMonitorLogs folds the recorded events up to t (all of them with all),
// earliest first across the logs: each event goes in just before the first
// packet at or after its time (an event out of time order in its log, at the
// next packet). Logs are read as the packets go, one event ahead each;
// events of equal time go in the order the logs were given.
func (s *Session) mergeMonitorLogs(t time.Time, all bool) {
	for len(s.monLogs) > 0 {
		bi := 0
		for i, m := range s.monLogs[1:] {
			if m.head.Time.Before(s.monLogs[bi].head.Time) {
				bi = i + 1
			}
		}
		best := s.monLogs[bi]
		if !all && best.head.Time.After(t) {
			return
		}
		ev := best.head
		s.monitorEvent(&ev)
		if next, ok := best.log.Next(); ok {
			best.head = next
		} else {
			s.monLogs = slices.Delete(s.monLogs, bi, bi+1)
		}
	}
}

// monitorEvent folds one socket-monitor event into the model and the
// monitor series (which the rules read).
func (s *Session) monitorEvent(ev *monitor.Event) {
	s.monEvents++
	s.p.Tracker.MonitorEvent(ev)
	if s.intervals {
		s.metrics.MonitorEvent(ev)
	}
}

// push sends the run as it stands (all packets up to lastTS processed) to
// the listeners.
func (s *Session) push() {
	if len(s.listeners) == 0 {
		return
	}
	now := s.clock.Now()
	s.lastPush = now
	s.sincePush = 0
	snap := s.p.Tracker.Snapshot(s.lastTS)
	ws, total := s.p.Warnings()
	u := &Update{Snapshot: snap, Stats: s.p.Stats(), Warnings: total,
		Player: PlayerState{Live: s.live, Source: s.cfg.Name, Speed: s.pacer.Speed(), Paused: s.paused,
			Done: s.done, Err: s.err, Wall: now}}
	if len(ws) > 0 {
		u.LastWarning = ws[len(ws)-1]
	}
	if s.meter != nil {
		u.Rates = s.meter.Window(snap)
	}
	if s.selected != 0 {
		d := &Detail{ID: s.selected, Log: s.log.Recent(s.selected), Seen: s.log.Seen()}
		for dir := range d.Rates {
			d.Rates[dir] = s.meter.Series(s.selected, dir, snap.Time)
		}
		u.Detail = d
	}
	if s.cfg.Rules != nil {
		u.Alerts = s.cfg.Rules.Alerts()
	}
	if s.host != nil {
		u.Host, u.Stages = s.host.view, s.host.stages
	} else if !s.live {
		if v := s.takeRecorded(snap); v != nil {
			u.Host, u.Stages = v, patterns.Find(snap.Records, v)
		}
	}
	if s.tracer != nil {
		u.Tracing = s.tracer.Result()
	}
	if st, ok := s.cfg.Sink.(store.Stater); ok {
		x := st.Stats()
		u.Store = &StoreStatus{Name: s.cfg.SinkName, Up: x.Up, Written: x.Written, Dropped: x.Dropped,
			SpoolBytes: x.SpoolBytes, LastError: x.LastError}
	}
	for _, l := range s.listeners {
		l.SessionUpdate(u)
	}
}

// StoreStatus is the time-series store's state as an update carries it.
type StoreStatus struct {
	Name       string // "influx", "local /var/lib/zspy"
	Up         bool   // the last write reached the store
	Written    uint64
	Dropped    uint64
	SpoolBytes int64
	LastError  string
}

// errCount ends a live run at its packet count.
var errCount = errors.New("packet count reached")

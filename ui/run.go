package ui

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
)

// Default rates: the pipeline sends at most one snapshot per UpdateInterval of
// wall time; the screen redraws at most once per RedrawInterval (5 Hz).
const (
	DefaultUpdateInterval = 200 * time.Millisecond
	DefaultRedrawInterval = 200 * time.Millisecond
)

// Options configure the dashboard runs (Replay, Live, RunReplay). The zero
// value works: a replay as fast as possible (set Speed to 1 for real time).
type Options struct {
	// Speed is the replay speed: 1 real time, N for N×, 0 as fast as possible.
	// Live capture ignores it.
	Speed float64
	// StartPaused holds the replay before its first packet.
	StartPaused bool
	// ShowSecrets shows PLAIN passwords instead of redacting them.
	ShowSecrets bool
	// Pipeline configures the pipeline RunReplay builds (Replay and Live take
	// the caller's).
	Pipeline pipeline.Config
	// Rules, when set, fills the Alerts view with the engine's alerts (firing,
	// pending and recent). The engine must be driven by the same pipeline
	// (p.AddIntervalHook(engine.Hook())): the dashboard reads it on the
	// pipeline goroutine.
	Rules *rules.Engine
	// Sink, when set (and a store.Stater), gives the status bar the state of
	// the time-series store; SinkName names it ("influx", "local").
	Sink     store.Sink
	SinkName string
	// Hooks add to each update (they override Rules and Sink).
	Hooks Hooks
	// UpdateInterval and RedrawInterval bound the update and redraw rates.
	UpdateInterval, RedrawInterval time.Duration
	// Clock paces the replay and limits redraws (default: the wall clock).
	Clock Clock
	// Screen replaces the terminal (tests use tcell's simulation screen).
	Screen tcell.Screen

	// Test hooks: onFrame sees every frame after it is drawn (model
	// goroutine); keyDone receives after every key event; onDashboard sees
	// the dashboard before it runs.
	onFrame     func(f *Frame)
	keyDone     chan struct{}
	onDashboard func(d *Dashboard)
}

func (o *Options) defaults() {
	if o.UpdateInterval <= 0 {
		o.UpdateInterval = DefaultUpdateInterval
	}
	if o.RedrawInterval <= 0 {
		o.RedrawInterval = DefaultRedrawInterval
	}
	if o.Clock == nil {
		o.Clock = WallClock{}
	}
	if o.Hooks.Alerts == nil && o.Rules != nil {
		e := o.Rules
		o.Hooks.Alerts = func(*tracker.Snapshot) []Alert { return FromRules(e.Alerts()) }
	}
	if o.Hooks.Influx == nil && o.Sink != nil {
		if st, ok := o.Sink.(store.Stater); ok {
			name := o.SinkName
			o.Hooks.Influx = func() string { return SinkState(name, st.Stats()) }
		}
	}
}

// FromRules converts the rules engine's alerts for the Alerts view; an alert
// takes the time of its latest state as Since.
func FromRules(as []rules.Alert) []Alert {
	out := make([]Alert, 0, len(as))
	for _, a := range as {
		since := a.PendingAt
		switch a.State {
		case rules.StateFiring:
			since = a.FiredAt
		case rules.StateResolved, rules.StateInactive:
			since = a.ResolvedAt
		}
		st := AlertState(a.State.String())
		if a.State == rules.StateInactive {
			st = StateResolved // cleared before it fired
		}
		out = append(out, Alert{Rule: a.Rule, Severity: Severity(a.Severity), State: st, Client: a.Client,
			Server: a.Server, Message: a.Message, Since: since})
	}
	return out
}

// SinkState describes a time-series store for the status bar: "ok", or
// "down: <error>", with what waits in the spool or was dropped.
func SinkState(name string, st store.Stats) string {
	var b strings.Builder
	if name != "" {
		b.WriteString(name + " ")
	}
	switch {
	case st.Up || (st.LastError == "" && st.Written > 0):
		b.WriteString("ok")
	case st.LastError != "":
		b.WriteString("down: " + st.LastError)
	default:
		b.WriteString("waiting")
	}
	if st.SpoolBytes > 0 {
		fmt.Fprintf(&b, ", spool %sB", fmtSI(float64(st.SpoolBytes)))
	}
	if st.Dropped > 0 {
		fmt.Fprintf(&b, ", %d dropped", st.Dropped)
	}
	return b.String()
}

// RunReplay replays capture files (pcap, pcapng, gzip) on the dashboard with
// a pipeline of its own (opt.Pipeline), until the user quits (the dashboard
// stays up after the last packet) or ctx ends.
func RunReplay(ctx context.Context, files []string, opt Options) error {
	srcs := make([]capture.Source, 0, len(files))
	defer func() {
		for _, s := range srcs {
			s.Close()
		}
	}()
	for _, name := range files {
		s, err := capture.OpenFile(name)
		if err != nil {
			return err
		}
		srcs = append(srcs, s)
	}
	opt.ShowSecrets = opt.ShowSecrets || opt.Pipeline.Report.ShowSecrets
	return Replay(ctx, pipeline.New(opt.Pipeline), srcs, strings.Join(files, " "), opt)
}

// Replay runs the dashboard over a pipeline the caller built (time-series
// sink, monitor logs, rules attached), reading srcs in order at opt.Speed,
// until the user quits or ctx ends. It takes the tracker's listener (for the
// message log and the rates). On return p is finished (Pipeline.Finish has run, whether or
// not the sources were read to their end): its report and sinks may be closed.
func Replay(ctx context.Context, p *pipeline.Pipeline, srcs []capture.Source, name string, opt Options) error {
	return run(ctx, p, name, opt, nil, func(pl *player) { pl.runReplay(srcs) })
}

// Live runs the dashboard over a live capture: p.RunLive(ctx, src, cfg) on a
// goroutine of its own (cfg.StatsEvery and cfg.OnStats are the dashboard's:
// it sends its updates from there), until the user quits or ctx ends.
// Pausing freezes the display while the capture goes on. On return p is
// finished and src closed.
func Live(ctx context.Context, p *pipeline.Pipeline, src capture.Source, cfg pipeline.LiveConfig, opt Options) error {
	name := "live"
	if n, ok := src.(interface{ Name() string }); ok {
		name = n.Name()
	}
	return run(ctx, p, name, opt, &cfg, func(pl *player) { pl.runLive(src, cfg) })
}

func run(ctx context.Context, p *pipeline.Pipeline, name string, opt Options, live *pipeline.LiveConfig, body func(pl *player)) error {
	opt.defaults()
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	log := NewMessageLog()
	meter := NewRateMeter(log)
	p.Tracker.SetListener(meter)
	model := NewModel(report.Options{ShowSecrets: opt.ShowSecrets})
	out := newLatest()
	pl := &player{ctx: ctx, p: p, clock: opt.Clock, pacer: NewPacer(opt.Speed), ctl: make(chan ctlMsg, 16),
		out: out, hooks: opt.Hooks, meter: meter, interval: opt.UpdateInterval, live: live != nil, source: name,
		paused: opt.StartPaused && live == nil}

	dopt := DashboardOptions{Speed: opt.Speed, Log: log, History: model.History, Rates: meter, Screen: opt.Screen}
	if live == nil {
		dopt.Control = pl
	}
	d := NewDashboard(dopt)
	d.keyDone = opt.keyDone

	var wg sync.WaitGroup
	modelDone := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		body(pl)
	}()
	go func() {
		defer close(modelDone)
		for {
			select {
			case <-ctx.Done():
				return
			case u := <-out.ch:
				f := model.Apply(u)
				d.App.QueueUpdateDraw(func() { d.SetFrame(f) })
				if opt.onFrame != nil {
					opt.onFrame(f)
				}
			}
			// Bound the redraw rate: updates arriving meanwhile replace each
			// other in out.
			select {
			case <-ctx.Done():
				return
			case <-opt.Clock.After(opt.RedrawInterval):
			}
		}
	}()
	// Quitting stops the model goroutine first: it may be waiting for the UI
	// goroutine to take an update, which only a running application does.
	var quitOnce sync.Once
	d.quit = func() {
		quitOnce.Do(func() {
			cancel()
			go func() {
				<-modelDone
				d.App.Stop()
			}()
		})
	}
	stopOnCtx := make(chan struct{})
	go func() {
		select {
		case <-parent.Done():
			d.quit()
		case <-stopOnCtx:
		}
	}()
	if opt.onDashboard != nil {
		opt.onDashboard(d)
	}
	err := d.Run()
	close(stopOnCtx)
	cancel()
	wg.Wait()
	p.Tracker.SetListener(nil)
	if !pl.done {
		p.Finish()
	}
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	return nil
}

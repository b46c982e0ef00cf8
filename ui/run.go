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
)

// Default rates: the pipeline sends at most one snapshot per UpdateInterval of
// wall time; the screen redraws at most once per RedrawInterval (5 Hz).
const (
	DefaultUpdateInterval = 200 * time.Millisecond
	DefaultRedrawInterval = 200 * time.Millisecond
)

// Options configure RunReplay and RunLive. The zero value works (replay as
// fast as possible: set Speed to 1 for real time).
type Options struct {
	// Pipeline configures the pipeline (tracker, reassembly, report secrets).
	Pipeline pipeline.Config
	// Speed is the replay speed: 1 real time, N for N×, 0 as fast as possible.
	// Live capture ignores it.
	Speed float64
	// StartPaused holds the replay before its first packet.
	StartPaused bool
	// Hooks add alerts, InfluxDB state and monitor events to each update.
	Hooks Hooks
	// UpdateInterval and RedrawInterval bound the update and redraw rates.
	UpdateInterval, RedrawInterval time.Duration
	// Clock paces the replay and limits redraws (default: the wall clock).
	Clock Clock
	// Screen replaces the terminal (tests use tcell's simulation screen).
	Screen tcell.Screen

	// Test hooks: onFrame sees every frame after it is drawn (model
	// goroutine); keyDone receives after every key event.
	onFrame func(f *Frame)
	keyDone chan struct{}
	// onDashboard sees the dashboard before it runs.
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
}

// RunReplay replays capture files (pcap, pcapng, gzip) on the dashboard, at
// the speed asked, until the user quits (the dashboard stays up after the
// last packet) or ctx ends.
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
	return run(ctx, srcs, strings.Join(files, " "), false, opt)
}

// RunLive shows a live capture source on the dashboard until the user quits
// or ctx ends. Packets are processed as they come; pausing freezes the
// display while the capture goes on.
func RunLive(ctx context.Context, src capture.Source, name string, opt Options) error {
	return run(ctx, []capture.Source{src}, name, true, opt)
}

func run(ctx context.Context, srcs []capture.Source, name string, live bool, opt Options) error {
	opt.defaults()
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	p := pipeline.New(opt.Pipeline)
	log := NewMessageLog()
	p.Tracker.SetListener(log)
	model := NewModel(opt.Pipeline.Report)
	out := newLatest()
	pl := &player{ctx: ctx, p: p, clock: opt.Clock, pacer: NewPacer(opt.Speed), ctl: make(chan ctlMsg, 16),
		out: out, hooks: opt.Hooks, interval: opt.UpdateInterval, live: live, source: name, paused: opt.StartPaused}

	dopt := DashboardOptions{Speed: opt.Speed, Log: log, History: model.History, Screen: opt.Screen}
	if !live {
		dopt.Control = pl
	}
	d := NewDashboard(dopt)
	d.keyDone = opt.keyDone

	var wg sync.WaitGroup
	modelDone := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		pl.run(srcs)
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
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	return nil
}

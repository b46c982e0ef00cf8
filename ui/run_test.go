package ui

import (
	"context"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/session"
)

// runOpts configure a test run: the session (sources, speed, pause, rules,
// update rate) and the dashboard over it (the rest), as zspy replay --ui and
// zspy capture --ui put them together.
type runOpts struct {
	Speed          float64
	StartPaused    bool
	Rules          *rules.Engine
	ShowSecrets    bool
	Clock          session.Clock
	UpdateInterval time.Duration
	Export         Exporter
	exportDone     chan struct{}

	Screen      tcell.Screen
	onFrame     func(f *Frame)
	keyDone     chan struct{}
	onDashboard func(d *Dashboard)
	// onSession sees the session before it runs (to read its report after).
	onSession func(s *session.Session)
}

// run runs a session over cfg's sources with the dashboard as its viewer,
// until the dashboard quits or ctx ends.
func (o runOpts) run(ctx context.Context, cfg session.Config) error {
	cfg.Speed, cfg.StartPaused, cfg.Rules, cfg.Clock, cfg.UpdateInterval = o.Speed, o.StartPaused, o.Rules, o.Clock, o.UpdateInterval
	cfg.Pipeline.Report.ShowSecrets = o.ShowSecrets
	sess := session.New(cfg)
	if o.onSession != nil {
		o.onSession(sess)
	}
	latest := session.NewLatest()
	sess.Subscribe(latest)
	opt := Options{Live: cfg.Live != nil, Speed: o.Speed, ShowSecrets: o.ShowSecrets, Clock: o.Clock, Screen: o.Screen,
		onFrame: o.onFrame, keyDone: o.keyDone, onDashboard: o.onDashboard, Export: o.Export, exportDone: o.exportDone}
	return sess.RunWith(ctx, func(ctx context.Context) error { return Run(ctx, latest.C, sess, opt) })
}

// runReplay replays capture files (as zspy replay --ui FILE...).
func runReplay(ctx context.Context, files []string, o runOpts) error {
	var srcs []capture.Source
	for _, f := range files {
		s, err := capture.OpenFile(f)
		if err != nil {
			return err
		}
		defer s.Close()
		srcs = append(srcs, s)
	}
	return o.run(ctx, session.Config{Files: srcs, Name: strings.Join(files, " ")})
}

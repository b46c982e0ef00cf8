package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/ui"
)

// uiFlags are the terminal dashboard's flags, shared by replay and capture.
type uiFlags struct {
	enabled bool
	speed   string
	paused  bool
}

// addUIFlags registers --ui, --speed and --paused on fl (capture registers
// only --ui: live traffic has no speed).
func addUIFlags(fl *pflag.FlagSet, replay bool) *uiFlags {
	f := &uiFlags{speed: "1"}
	fl.BoolVar(&f.enabled, "ui", false, "show the terminal dashboard while it runs (the report is printed when you quit)")
	if replay {
		fl.StringVar(&f.speed, "speed", "1", "with --ui, replay speed: 1 is real time, 10 is 10×, max is as fast as possible")
		fl.BoolVar(&f.paused, "paused", false, "with --ui, start the replay paused (space resumes, n steps one packet)")
	}
	return f
}

// uiInputs are what the dashboard shows besides the pipeline: whether
// passwords show, the time-series store's state, the rules engine's alerts.
// Any may be zero.
type uiInputs struct {
	showSecrets bool
	sink        store.Sink
	sinkName    string
	rules       *rules.Engine
}

// uiOptions checks the flags that do not go with the dashboard and builds its
// options.
func uiOptions(cmd *cobra.Command, f *uiFlags, in uiInputs) (ui.Options, error) {
	if fl := cmd.Flags().Lookup("events"); fl != nil && fl.Changed {
		return ui.Options{}, errors.New("--ui shows the events in the dashboard: it does not go with --events")
	}
	speed, err := ui.ParseSpeed(f.speed)
	if err != nil {
		return ui.Options{}, err
	}
	return ui.Options{Speed: speed, StartPaused: f.paused, ShowSecrets: in.showSecrets,
		Sink: in.sink, SinkName: in.sinkName, Rules: in.rules}, nil
}

// runReplayUI replays srcs through p on the dashboard (zspy replay --ui) until
// the user quits or ctx ends; p is finished on return.
func runReplayUI(ctx context.Context, cmd *cobra.Command, p *pipeline.Pipeline, srcs []*capture.FileSource, f *uiFlags, in uiInputs) error {
	opt, err := uiOptions(cmd, f, in)
	if err != nil {
		return err
	}
	ss := make([]capture.Source, len(srcs))
	name := ""
	for i, s := range srcs {
		ss[i] = s
		if i > 0 {
			name += " "
		}
		name += s.Name()
	}
	return ui.Replay(ctx, p, ss, name, opt)
}

// runCaptureUI shows a live capture on the dashboard (zspy capture --ui): it
// runs p.RunLive(ctx, src, cfg) until the user quits, ctx ends or cfg's
// duration or count is reached (the dashboard then stays up). The dashboard
// sends its updates through cfg.StatsEvery/OnStats, so --stats-every lines are
// not printed. p is finished and src closed on return.
func runCaptureUI(ctx context.Context, cmd *cobra.Command, p *pipeline.Pipeline, src capture.Source, cfg pipeline.LiveConfig, f *uiFlags, in uiInputs) error {
	opt, err := uiOptions(cmd, f, in)
	if err != nil {
		return err
	}
	return ui.Live(ctx, p, src, cfg, opt)
}

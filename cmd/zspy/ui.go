package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/ui"
)

// uiFlags are the terminal dashboard's flags, shared by replay and capture.
type uiFlags struct {
	enabled bool
	speed   string
	paused  bool
}

// addUIFlags registers --ui, --speed and --paused on fl.
func addUIFlags(fl *pflag.FlagSet) *uiFlags {
	f := &uiFlags{}
	fl.BoolVar(&f.enabled, "ui", false, "show the terminal dashboard instead of printing a report")
	fl.StringVar(&f.speed, "speed", "1", "with --ui, replay speed: 1 is real time, 10 is 10×, max is as fast as possible")
	fl.BoolVar(&f.paused, "paused", false, "with --ui, start the replay paused (space resumes, n steps)")
	return f
}

// uiOptions checks the flags that do not go with the dashboard and builds its
// options.
func uiOptions(cmd *cobra.Command, f *uiFlags, cfg pipeline.Config) (ui.Options, error) {
	for _, name := range []string{"json", "events"} {
		if fl := cmd.Flags().Lookup(name); fl != nil && fl.Changed {
			return ui.Options{}, errors.New("--ui shows the dashboard: it does not go with --" + name)
		}
	}
	speed, err := ui.ParseSpeed(f.speed)
	if err != nil {
		return ui.Options{}, err
	}
	return ui.Options{Pipeline: cfg, Speed: speed, StartPaused: f.paused}, nil
}

// uiContext ends on SIGINT or SIGTERM (in the dashboard, Ctrl-C is a key).
func uiContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// runReplayUI replays files on the dashboard (zspy replay --ui).
func runReplayUI(cmd *cobra.Command, files []string, f *uiFlags, cfg pipeline.Config) error {
	opt, err := uiOptions(cmd, f, cfg)
	if err != nil {
		return err
	}
	ctx, stop := uiContext(cmd)
	defer stop()
	return ui.RunReplay(ctx, files, opt)
}

// runCaptureUI shows a live capture on the dashboard (zspy capture --ui). The
// dashboard reads src until the user quits; the caller closes it.
func runCaptureUI(cmd *cobra.Command, src capture.Source, name string, f *uiFlags, cfg pipeline.Config) error {
	opt, err := uiOptions(cmd, f, cfg)
	if err != nil {
		return err
	}
	ctx, stop := uiContext(cmd)
	defer stop()
	return ui.RunLive(ctx, src, name, opt)
}

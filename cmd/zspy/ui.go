package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/gdamore/tcell/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/session"
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

// check refuses the flags that do not go with the dashboard and reads the
// speed into cfg.
func (f *uiFlags) check(cmd *cobra.Command, cfg *session.Config) error {
	if fl := cmd.Flags().Lookup("events"); fl != nil && fl.Changed {
		return errors.New("--ui shows the events in the dashboard: it does not go with --events")
	}
	if fl := cmd.Flags().Lookup("output"); fl != nil && fl.Value.String() == "lp" {
		return errors.New("--ui draws on the terminal: it does not go with --output lp (line protocol on standard output)")
	}
	speed, err := session.ParseSpeed(f.speed)
	if err != nil {
		return err
	}
	cfg.Speed, cfg.StartPaused = speed, f.paused
	return nil
}

// uiScreen replaces the terminal under the dashboard (nil: the terminal;
// tests use tcell's simulation screen to run replay --ui whole).
var uiScreen tcell.Screen

// runUI runs sess with the dashboard as its viewer (zspy replay --ui, zspy
// capture --ui) until the user quits or ctx ends; the dashboard stays up
// after the run ends. notes (nil: none) carries the warnings of the
// command's other goroutines to the dashboard's Warnings view; export writes
// a connection's packets to a file (the dashboard's e key). The session
// is finished on return.
func runUI(ctx context.Context, sess *session.Session, cfg session.Config, showSecrets bool, notes *ui.Notes, export ui.Exporter) error {
	latest := session.NewLatest()
	sess.Subscribe(latest)
	opt := ui.Options{Live: cfg.Live != nil, Speed: cfg.Speed, ShowSecrets: showSecrets, Notes: notes, Export: export, Screen: uiScreen}
	return sess.RunWith(ctx, func(ctx context.Context) error { return ui.Run(ctx, latest.C, sess, opt) })
}

// printAlertChanges lists every alert instance in its latest state after the
// report, one line each as the console prints a change (replay, and capture
// --ui, whose dashboard took the place of the console).
func printAlertChanges(out io.Writer, eng *rules.Engine) {
	if eng == nil {
		return
	}
	for _, a := range rules.Grouped(eng.Alerts()) {
		fmt.Fprintln(out, "alert:", rules.Line(&a))
	}
	if eng.HistoryDropped > 0 {
		fmt.Fprintf(out, "alert: %d older alerts not kept (%d at most)\n", eng.HistoryDropped, rules.MaxHistory)
	}
}

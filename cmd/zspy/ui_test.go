package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/zspy/zspy/session"
)

func TestUIFlags(t *testing.T) {
	mk := func(args ...string) (*cobra.Command, *uiFlags) {
		cmd := &cobra.Command{Use: "replay", RunE: func(*cobra.Command, []string) error { return nil }}
		cmd.Flags().Bool("events", false, "")
		f := addUIFlags(cmd.Flags(), true)
		if err := cmd.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		return cmd, f
	}
	check := func(cmd *cobra.Command, f *uiFlags) (session.Config, error) {
		var cfg session.Config
		err := f.check(cmd, &cfg)
		return cfg, err
	}
	cmd, f := mk("--ui", "--speed", "10x", "--paused")
	cfg, err := check(cmd, f)
	if err != nil || !f.enabled || cfg.Speed != 10 || !cfg.StartPaused {
		t.Errorf("--ui --speed 10x --paused: %+v %v", cfg, err)
	}
	cmd, f = mk("--ui", "--speed", "max")
	if cfg, err := check(cmd, f); err != nil || cfg.Speed != 0 {
		t.Errorf("--speed max: %v %v", cfg.Speed, err)
	}
	cmd, f = mk("--ui")
	if cfg, err := check(cmd, f); err != nil || cfg.Speed != 1 {
		t.Errorf("default speed %v %v, want real time", cfg.Speed, err)
	}
	cmd, f = mk("--ui", "--speed", "fast")
	if _, err := check(cmd, f); err == nil || !strings.Contains(err.Error(), "speed") {
		t.Errorf("--speed fast: %v", err)
	}
	cmd, f = mk("--ui", "--events")
	if _, err := check(cmd, f); err == nil || !strings.Contains(err.Error(), "--events") {
		t.Errorf("--ui --events: %v", err)
	}
	// Capture has no speed to set.
	live := &cobra.Command{Use: "capture"}
	addUIFlags(live.Flags(), false)
	if live.Flags().Lookup("speed") != nil || live.Flags().Lookup("ui") == nil {
		t.Error("capture flags")
	}
}

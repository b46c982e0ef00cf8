package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
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
	cmd, f := mk("--ui", "--speed", "10x", "--paused")
	opt, err := uiOptions(cmd, f, uiInputs{showSecrets: true})
	if err != nil || !f.enabled || opt.Speed != 10 || !opt.StartPaused || !opt.ShowSecrets {
		t.Errorf("--ui --speed 10x --paused: %+v %v", opt, err)
	}
	cmd, f = mk("--ui", "--speed", "max")
	if opt, err := uiOptions(cmd, f, uiInputs{}); err != nil || opt.Speed != 0 {
		t.Errorf("--speed max: %v %v", opt.Speed, err)
	}
	cmd, f = mk("--ui")
	if opt, err := uiOptions(cmd, f, uiInputs{}); err != nil || opt.Speed != 1 {
		t.Errorf("default speed %v %v, want real time", opt.Speed, err)
	}
	cmd, f = mk("--ui", "--speed", "fast")
	if _, err := uiOptions(cmd, f, uiInputs{}); err == nil || !strings.Contains(err.Error(), "speed") {
		t.Errorf("--speed fast: %v", err)
	}
	cmd, f = mk("--ui", "--events")
	if _, err := uiOptions(cmd, f, uiInputs{}); err == nil || !strings.Contains(err.Error(), "--events") {
		t.Errorf("--ui --events: %v", err)
	}
	// Capture has no speed to set.
	live := &cobra.Command{Use: "capture"}
	addUIFlags(live.Flags(), false)
	if live.Flags().Lookup("speed") != nil || live.Flags().Lookup("ui") == nil {
		t.Error("capture flags")
	}
}

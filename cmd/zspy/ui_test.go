package main

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gdamore/tcell/v2"
	"github.com/go-zeromq/zmq4"
	"github.com/spf13/cobra"
	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/ui"
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

// The alerts listed after the report (replay, and capture --ui, whose
// dashboard took the console's place): every alert instance in its latest
// state, as the console prints a change.
func TestPrintAlertChanges(t *testing.T) {
	eng := rules.New(rules.Builtins())
	src, err := capture.OpenFile(filepath.Join(pcaps, "slow_subscriber", "capture.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sess := session.New(session.Config{Files: []capture.Source{src}, Rules: eng})
	if err := sess.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	printAlertChanges(&b, eng)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	as := eng.Alerts()
	if len(as) == 0 || len(lines) != len(as) {
		t.Fatalf("%d alerts, printed:\n%s", len(as), b.String())
	}
	for i, a := range as {
		if lines[i] != "alert: "+rules.Line(&a) {
			t.Errorf("line %d %q, want the console's %q", i, lines[i], rules.Line(&a))
		}
	}
	b.Reset()
	printAlertChanges(&b, nil)
	if b.Len() != 0 {
		t.Errorf("no rules printed %q", b.String())
	}
}

// capture --ui --monitor: a forwarder's malformed message becomes a note for
// the dashboard's Warnings view (standard error is under the dashboard).
func TestMonitorWarningsGoToTheDashboard(t *testing.T) {
	push, ep := boundPush(t)
	notes := &ui.Notes{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	evs, err := startMonitors(ctx, []string{ep}, "pull", monitorAccess{}, notes.Add)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range [][][]byte{{[]byte("junk"), []byte("junk")}, v1msg(0x4, 250, "tcp://127.0.0.1:5556")} {
		if err := push.Send(zmq4.NewMsgFrom(m...)); err != nil {
			t.Fatal(err)
		}
	}
	<-evs // the event after the junk: the junk was handled first
	list, total := notes.List()
	if total != 1 || !strings.Contains(list[0], "malformed monitor message") {
		t.Errorf("notes %q (%d)", list, total)
	}
}

// endScreen is tcell's simulation screen that closes ended once a frame
// it shows says the replay reached the end of its capture.
type endScreen struct {
	tcell.SimulationScreen
	ended chan struct{}
	once  sync.Once
}

func (s *endScreen) Show() {
	s.SimulationScreen.Show()
	cells, _, _ := s.GetContents()
	var b strings.Builder
	for _, c := range cells {
		b.WriteString(string(c.Runes))
	}
	if strings.Contains(b.String(), "end of capture") {
		s.once.Do(func() { close(s.ended) })
	}
}

// replay --ui ends with the report the plain replay prints: on a real
// tcpdump -s 200 capture its summary line and warnings say the counts are
// lower bounds (the dashboard on tcell's simulation screen, quit with q
// once it shows the end of the capture).
func TestReplayUIReportSaysLowerBounds(t *testing.T) {
	scr := &endScreen{SimulationScreen: tcell.NewSimulationScreen("UTF-8"), ended: make(chan struct{})}
	uiScreen = scr
	t.Cleanup(func() { uiScreen = nil })
	type result struct {
		out []byte
		err error
	}
	res := make(chan result, 1)
	go func() {
		out, err := runZspyStdout(t, "replay", "--ui", "--speed", "max", "testdata/snap200/capture.pcap")
		res <- result{out, err}
	}()
	<-scr.ended
	scr.InjectKey(tcell.KeyRune, 'q', tcell.ModNone)
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	text := string(r.out)
	if !strings.Contains(text, "; counts are lower bounds (frame sync lost") || !strings.Contains(text, "\nwarning: counts are lower bounds: frame sync lost") {
		t.Errorf("replay --ui report does not say the counts are lower bounds:\n%s", text)
	}
}

package ui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/clocktest"
	"github.com/zspy/zspy/internal/pcaptest"
	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/session"
)

// truncatedCase writes the first n bytes of a test capture to a temporary
// file, as `head -c` would, and returns its path.
func truncatedCase(t *testing.T, name string, n int) string {
	t.Helper()
	raw, err := os.ReadFile(pcap(t, name))
	if err != nil {
		t.Skipf("capture %s: %v", name, err)
	}
	p := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(p, raw[:min(n, len(raw))], 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A capture cut short ends with a warning the user can read, not only a
// count, and at 80 columns the status bar still shows the replay's state and
// speed.
func TestTruncatedCaptureShowsWarning(t *testing.T) {
	h := startReplay(t, truncatedCase(t, "dealer_router", 3000), 80, 24, runOpts{})
	h.waitFrame(done)
	h.sync()
	lines := h.lines()
	text := strings.Join(lines, "\n")
	// The warning wraps (a long file name comes first).
	if all := strings.Join(lines, " "); !strings.Contains(all, "warning:") || !strings.Contains(all, "packet 30: file ends mid-record") {
		t.Errorf("the truncation's warning is not on screen:\n%s", text)
	}
	status := lines[len(lines)-2]
	if !strings.Contains(status, "end of capture max") || !strings.Contains(status, "1 warn") {
		t.Errorf("status bar %q: want the end of capture, the speed and the warning count", status)
	}
	h.quit()
}

// The status and hint lines fit the screen: the replay state and help/quit
// are never cut off, and they are laid out again when the terminal is
// resized after the replay has ended (no frame comes to do it).
func TestStatusAndHintsFitNarrowScreens(t *testing.T) {
	h := startReplay(t, "slow_subscriber", 80, 24, runOpts{})
	h.waitFrame(done)
	h.key(tcell.KeyRune, '/')
	h.typeText("a-rather-long-filter-expression|127")
	h.key(tcell.KeyEnter, 0)
	for _, w := range []int{80, 60, 200} {
		h.s.SetSize(w, 24)
		h.sync()
		lines := h.lines()
		status, hints := lines[len(lines)-2], lines[len(lines)-1]
		if !strings.HasSuffix(status, "end of capture max") {
			t.Errorf("%d columns: status %q lacks the replay state and speed", w, status)
		}
		if !strings.HasSuffix(hints, "?:help q:quit") || !strings.Contains(hints, "/a-rather") {
			t.Errorf("%d columns: hints %q lack the filter, help or quit", w, hints)
		}
		// The replay has ended: its keys are no longer offered.
		if strings.Contains(hints, "pause") {
			t.Errorf("%d columns: hints %q offer pause after the end", w, hints)
		}
	}
	h.quit()
}

func TestStatusLineKeepsStateWhenNarrow(t *testing.T) {
	f := &Frame{Time: t0, Rows: rowsOf(1, 2)}
	st := &session.StoreStatus{Name: "influx", LastError: "connection refused", SpoolBytes: 13000}
	f.Status = Status{PacketRate: 1500, Warnings: 3, Store: st, StoreLabel: StoreLabel(st), Skipped: 7,
		Player: session.PlayerState{Paused: true}}
	f.Status.Stats.Packets, f.Status.Stats.KernelDrops, f.Status.Stats.InternalDrops = 123456, 5, 9
	for _, w := range []int{60, 80, 100, 120, 200} {
		s := StatusLine(f, 0.0625, true, false, w, -1)
		plain := stripTags(s)
		if n := utf8.RuneCountInString(plain); n > w {
			t.Errorf("%d columns: status is %d wide: %q", w, n, plain)
		}
		for _, want := range []string{"PAUSED 0.0625×", "drops k5 i9", "influx DOWN, spool 13kB"} {
			if !strings.Contains(plain, want) {
				t.Errorf("%d columns: status %q lacks %q", w, plain, want)
			}
		}
	}
	if s := stripTags(StatusLine(f, 1, true, false, 200, -1)); !strings.Contains(s, "123k pkts") || !strings.Contains(s, "influx DOWN") {
		t.Errorf("wide status %q lost parts", s)
	}
}

func stripTags(s string) string {
	for {
		i := strings.IndexByte(s, '[')
		j := strings.IndexByte(s[max(i, 0):], ']')
		if i < 0 || j < 0 {
			return s
		}
		s = s[:i] + s[i+j+1:]
	}
}

// An empty table says why: no ZeroMQ in a capture that has ended, or a filter
// that hides every connection (and how to clear it).
func TestEmptyViewsSayWhy(t *testing.T) {
	h := startReplay(t, truncatedCase(t, "pubsub", 30), 80, 24, runOpts{})
	h.waitFrame(done)
	h.sync()
	if findLine(h.lines(), "no ZeroMQ connection in 0 packets") < 0 {
		t.Errorf("empty capture:\n%s", strings.Join(h.lines(), "\n"))
	}
	h.quit()

	h = startReplay(t, "pubsub", 80, 24, runOpts{})
	h.waitFrame(done)
	h.key(tcell.KeyRune, '/')
	h.typeText("nothing-like-this")
	h.key(tcell.KeyEnter, 0)
	if findLine(h.lines(), "none of the 3 connections matches /nothing-like-this", "esc clears") < 0 {
		t.Errorf("filtered table:\n%s", strings.Join(h.lines(), "\n"))
	}
	h.key(tcell.KeyRune, '2')
	if findLine(h.lines(), "none of the 3 connections matches") < 0 {
		t.Errorf("filtered topology:\n%s", strings.Join(h.lines(), "\n"))
	}
	h.quit()
}

// A per-direction column shows with its partner or not at all: at 80
// columns the table showed ↑MSGS (0 for a subscriber) without ↓MSGS.
func TestDirectionColumnsComeInPairs(t *testing.T) {
	d, s, _ := caseDash(t, "pubsub", 80, 24, ModelOptions{})
	for w := 60; w <= 200; w += 2 {
		s.SetSize(w, 24)
		hdr := draw(d, s)[1]
		for _, c := range []string{"MSG/S", "B/S", "MSGS", "BYTES"} {
			up, down := strings.Contains(hdr, "↑"+c), strings.Contains(hdr, "↓"+c)
			if up != down {
				t.Errorf("%d columns: header %q has one direction of %s", w, hdr, c)
			}
		}
	}
}

// startRulesReplay is startReplay with the built-in rules on the replay's
// pipeline, so that the Alerts view fills.
func startRulesReplay(t *testing.T, name string, w, h int) *harness {
	t.Helper()
	e := rules.New(rules.Builtins())
	src := openCase(t, name)
	opt := runOpts{Rules: e}
	hs := newHarness(t, w, h, 10000, &opt)
	return hs.start(func(ctx context.Context) error {
		return opt.run(ctx, session.Config{Files: []capture.Source{src}, Name: name})
	})
}

// squeeze drops white space, to compare wrapped text with its source.
func squeeze(s string) string { return strings.Join(strings.Fields(s), "") }

// At 80×24 an alert's whole evidence can be read, in the Alerts view's pane
// (it was cut after four lines) and in the connection's detail (its line was
// cut at the screen's edge).
func TestAlertEvidenceReadableAt80(t *testing.T) {
	h := startRulesReplay(t, "slow_subscriber", 80, 24)
	f := h.waitFrame(done)
	h.sync()
	h.key(tcell.KeyRune, '3')
	for k, a := range f.Alerts {
		if k > 0 {
			h.key(tcell.KeyDown, 0)
		}
		lines := h.lines()
		top := findLine(lines, "┌ evidence")
		if top < 0 {
			t.Fatalf("no evidence pane:\n%s", strings.Join(lines, "\n"))
		}
		var pane []string
		for _, l := range lines[top+1:] {
			if strings.HasPrefix(l, "└") {
				break
			}
			pane = append(pane, strings.Trim(l, "│ "))
		}
		if p := squeeze(strings.Join(pane, "")); !strings.Contains(p, squeeze(a.Message)) {
			t.Errorf("alert %s: evidence pane %q lacks the end of %q", a.Rule, pane, a.Message)
		}
	}
	h.key(tcell.KeyEnter, 0)
	if view, _, _, _, _ := h.state(); view != ViewDetail {
		t.Fatalf("enter on an alert: view %s", view)
	}
	var all []string
	for range 10 { // page through the detail
		all = append(all, h.lines()[1:21]...)
		h.key(tcell.KeyPgDn, 0)
	}
	text := squeeze(strings.Join(all, ""))
	for _, a := range f.Alerts {
		if !strings.Contains(text, squeeze(a.Message)) {
			t.Errorf("detail lacks the whole evidence of %s: %q", a.Rule, a.Message)
		}
	}
	h.quit()
}

// The latency sparkline's peak is in a unit that fits it: replies of tens of
// microseconds read "0.0ms" (or "0.1ms") before.
func TestLatencySparklinePeakUnit(t *testing.T) {
	frames, m, log, _ := replayFrames(t, "reqrep", time.Millisecond/10, ModelOptions{})
	f := frames[len(frames)-1]
	var d *Dashboard
	d, s := newDash(t, 100, 60, DashboardOptions{History: m.History, Select: func(id uint64) { detailInto(d.frame, log, nil, id) }})
	d.SetFrame(f)
	d.openDetail(f.Rows[0].ID)
	lines := draw(d, s)
	k := findLine(lines, "latency ", "max")
	if k < 0 {
		t.Fatalf("no latency sparkline:\n%s", strings.Join(lines, "\n"))
	}
	peak := lines[k][strings.LastIndex(lines[k], "max ")+4:]
	var hi float32
	for _, v := range m.History.Series(f.Rows[0].ID, SeriesLatency) {
		hi = max(hi, v)
	}
	if want := fmtDur(time.Duration(float64(hi) * float64(time.Millisecond))); hi == 0 || peak != want || strings.HasPrefix(peak, "0.") {
		t.Errorf("latency peak %q, want %q (series max %gms)", peak, want, hi)
	}
}

// N steps one second of packet time from the time on screen: twice N from
// the start shows the first packet's time plus two seconds. It stepped from
// the held packet instead, so a step after a quiet spell jumped further.
func TestStepSecondFromShownTime(t *testing.T) {
	first, _, _ := pcaptest.Span(t, pcap(t, "slow_subscriber"))
	h := startReplay(t, "slow_subscriber", 80, 24, runOpts{Speed: 1, StartPaused: true, Clock: clocktest.New(t0)})
	for k := 1; k <= 3; k++ {
		h.key(tcell.KeyRune, 'N')
		want := first.Add(time.Duration(k) * time.Second)
		// A step that stops short sends no more frames: the watchdog turns
		// that into a failure (it does not pace anything).
		var f *Frame
		select {
		case f = <-waitFrameAsync(h, func(f *Frame) bool { return !f.Time.Before(want) || f.Status.Player.Done }):
		case <-time.After(time.Minute):
			t.Fatalf("step %d: no frame reached %v", k, want)
		}
		if f.Status.Player.Done {
			break
		}
		if !f.Time.Equal(want) || !f.Status.Player.Paused {
			t.Fatalf("step %d: frame at %v (paused %v), want %v", k, f.Time, f.Status.Player.Paused, want)
		}
		h.sync()
		if l := h.lines()[22]; !strings.Contains(l, fmtTime(want)) {
			t.Errorf("step %d: status %q, want %s", k, l, fmtTime(want))
		}
	}
	h.quit()
}

// waitFrameAsync is waitFrame on a goroutine of its own.
func waitFrameAsync(h *harness, ok func(f *Frame) bool) <-chan *Frame {
	c := make(chan *Frame, 1)
	go func() {
		for f := range h.frames {
			if ok(f) {
				c <- f
				return
			}
		}
	}()
	return c
}

// The help names the warning line and every sort key.
func TestHelpNamesWarningsAndSortKeys(t *testing.T) {
	d, s := newDash(t, 80, 200, DashboardOptions{})
	d.show(ViewHelp)
	text := strings.Join(draw(d, s), "\n")
	for _, want := range []string{"latest warning", "< > , .  sort"} {
		if !strings.Contains(text, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

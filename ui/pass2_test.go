package ui

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/session"
)

// headerCells returns the table header's column names (sort marks kept).
func headerCells(lines []string) []string { return strings.Fields(lines[1]) }

// Sorted by ID at 80 columns, the ID column stays on screen when the ALERT
// column takes its room (it was dropped: the sort column is always shown).
func TestSortColumnIDStaysAt80(t *testing.T) {
	h := startRulesReplay(t, "slow_subscriber", 80, 24)
	f := h.waitFrame(done)
	if len(f.Alerts) == 0 {
		t.Fatal("no alerts: the ALERT column would not show")
	}
	h.sync()
	if _, col, _, _, _ := h.state(); col != "ID" {
		t.Fatalf("default sort %q, want ID", col)
	}
	for _, desc := range []bool{false, true} {
		if desc {
			h.key(tcell.KeyRune, 'r')
		}
		hdr := headerCells(h.lines())
		want := "ID▲"
		if desc {
			want = "ID▼"
		}
		if !strings.Contains(strings.Join(hdr, " "), "ALERT") || hdr[0] != want {
			t.Errorf("header %q: want %s first and ALERT", hdr, want)
		}
	}
	h.quit()
}

// With a filter on, the status bar says how many connections it shows of
// how many ("1 of 2 conns"); without, the total.
func TestStatusCountsFilteredConnections(t *testing.T) {
	h := startReplay(t, "slow_subscriber", 120, 24, runOpts{})
	f := h.waitFrame(done)
	h.sync()
	status := func() string { l := h.lines(); return l[len(l)-2] }
	if s := status(); !strings.Contains(s, "│ 2 conns") {
		t.Errorf("unfiltered status %q, want 2 conns", s)
	}
	h.key(tcell.KeyRune, '/')
	h.typeText(f.Rows[0].C.Client)
	h.key(tcell.KeyEnter, 0)
	if s := status(); !strings.Contains(s, "1 of 2 conns") {
		t.Errorf("filtered status %q, want 1 of 2 conns", s)
	}
	h.key(tcell.KeyRune, '/')
	h.typeText("nothing-matches-this")
	h.key(tcell.KeyEnter, 0)
	if s := status(); !strings.Contains(s, "0 of 2 conns") {
		t.Errorf("status %q, want 0 of 2 conns", s)
	}
	h.quit()
}

// failingSource is a capture file that fails to read part-way (an I/O
// error, not a bad packet) after n packets.
type failingSource struct {
	*capture.FileSource
	n int
}

var errDisk = errors.New("read: input/output error")

func (s *failingSource) Next(seg *capture.Segment) error {
	if s.n == 0 {
		return errDisk
	}
	s.n--
	return s.FileSource.Next(seg)
}

// A file that fails part-way is named in the error the dashboard records
// (status bar and warning), as plain replay names it.
func TestReplayErrorNamesFile(t *testing.T) {
	src := &failingSource{FileSource: openCase(t, "reqrep"), n: 10}
	name := src.Name()
	var opt runOpts
	hs := newHarness(t, 200, 24, 10000, &opt)
	hs.start(func(ctx context.Context) error {
		return opt.run(ctx, session.Config{Files: []capture.Source{src}, Name: name})
	})
	f := hs.waitFrame(done)
	want := name + ": " + errDisk.Error()
	if f.Status.Player.Err != want {
		t.Errorf("player error %q, want %q", f.Status.Player.Err, want)
	}
	if f.Status.LastWarning != want {
		t.Errorf("warning %q, want %q", f.Status.LastWarning, want)
	}
	hs.sync()
	if text := strings.Join(hs.lines(), " "); !strings.Contains(text, want) {
		t.Errorf("screen lacks %q:\n%s", want, strings.Join(hs.lines(), "\n"))
	}
	hs.quit()
}

package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/zmtp"
)

// startCapped replays a corpus case with the cap on tracked connections
// set to maxConns and that on summaries of evicted ones to maxEvicted (0:
// the default, at least 1,024; negative: none, so no eviction is rejoined).
func startCapped(t *testing.T, name string, maxConns, maxEvicted, w, h int) *harness {
	t.Helper()
	src, err := capture.OpenFile(filepath.Join("..", "testdata", "pcaps", name, "capture.pcap"))
	if err != nil {
		t.Fatalf("capture %s: %v", name, err)
	}
	t.Cleanup(func() { src.Close() })
	var opt runOpts
	hs := newHarness(t, w, h, 10000, &opt)
	return hs.start(func(ctx context.Context) error {
		cfg := session.Config{Files: []capture.Source{src}, Name: name}
		cfg.Pipeline.Reassembly.MaxConnections = maxConns
		cfg.Pipeline.Reassembly.MaxEvicted = maxEvicted
		return opt.run(ctx, cfg)
	})
}

// pubsub (libzmq, a PUB and its SUBs at once) replayed with a cap of one
// tracked connection and no summaries of evicted ones: the connections are
// evicted at the cap and their traffic cannot rejoin them. At every size
// the status bar counts them, an evicted row says "evicted" (state and
// note), and its detail says why.
func TestEvictedAtEverySize(t *testing.T) {
	for _, z := range sizes {
		t.Run(fmt.Sprintf("%dx%d", z.w, z.h), func(t *testing.T) {
			h := startCapped(t, "pubsub", 1, -1, z.w, z.h)
			f := h.waitFrame(done)
			h.sync()
			s := &f.Status
			if s.Evicted+s.Resumed+s.Unjoined == 0 {
				t.Fatalf("no eviction at a cap of 1: %+v", s)
			}
			lines := h.lines()
			status := lines[len(lines)-2]
			if want := fmt.Sprintf("%d evicted", s.Evicted); !strings.Contains(status, want) {
				t.Errorf("status %q lacks %q", status, want)
			}
			k := slices.IndexFunc(f.Rows, func(r *Row) bool { return r.Rec.State == zmtp.StateEvicted })
			if k < 0 {
				t.Skipf("no row held evicted at the end (%d resumed, %d not joined)", s.Resumed, s.Unjoined)
			}
			r := f.Rows[k]
			if r.C.State != "evicted" || !slices.Contains(r.C.Notes, "evicted at the cap") {
				t.Errorf("evicted row: state %q, notes %q", r.C.State, r.C.Notes)
			}
			if findLine(lines, r.C.Client, "evicted") < 0 {
				t.Errorf("the table lacks the evicted row of %s:\n%s", r.C.Client, strings.Join(lines, "\n"))
			}
			h.typeText("/" + r.C.Client)
			h.key(tcell.KeyEnter, 0)
			h.key(tcell.KeyEnter, 0)
			if all := squeeze(strings.Join(h.lines(), "")); !strings.Contains(all, squeeze("evicted at the cap on tracked connections")) {
				t.Errorf("detail lacks the eviction:\n%s", strings.Join(h.lines(), "\n"))
			}
			h.quit()
		})
	}
}

// pubsub with a cap of 2: every connection is evicted and its traffic
// resumes it, as the report says: its row's note counts the times, and the
// status bar counts the resumed ones.
func TestEvictedAndResumedRows(t *testing.T) {
	h := startCapped(t, "pubsub", 2, 0, 120, 40)
	f := h.waitFrame(done)
	h.sync()
	if len(f.Rows) != 3 || f.Status.Resumed == 0 {
		t.Fatalf("%d rows, %d resumed; want the 3 connections, resumed", len(f.Rows), f.Status.Resumed)
	}
	var sum uint64
	for _, r := range f.Rows {
		note := fmt.Sprintf("evicted and resumed %dx", r.Rec.Evictions)
		if r.Rec.Evictions == 0 || !slices.Contains(r.C.Notes, note) {
			t.Errorf("row %d: %d evictions, notes %q", r.ID, r.Rec.Evictions, r.C.Notes)
		}
		sum += uint64(r.Rec.Evictions)
	}
	if sum != f.Status.Resumed {
		t.Errorf("rows resumed %d times, status %d", sum, f.Status.Resumed)
	}
	lines := h.lines()
	if status := lines[len(lines)-2]; !strings.Contains(status, fmt.Sprintf("evicted: %d resumed, 0 not joined", f.Status.Resumed)) {
		t.Errorf("status %q", status)
	}
	h.quit()
}

package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/session"
)

// Topology has a cursor: ⏎ opens the connection it is on (not the table's
// first row), esc comes back to it; f follows that connection's stream, /
// searches it, n N move between matches, at every size.
func TestTopologyCursorDrillsDownToStream(t *testing.T) {
	tr := loadTruth(t, "pubsub")
	var want *struct{ client, server string }
	for _, c := range tr.Connections {
		if endpoint(c.Client) == "127.0.0.1:26022" {
			want = &struct{ client, server string }{endpoint(c.Client), endpoint(c.Server)}
		}
	}
	if want == nil {
		t.Fatal("pubsub has no client 127.0.0.1:26022")
	}
	for _, z := range sizes {
		t.Run(fmt.Sprintf("%dx%d", z.w, z.h), func(t *testing.T) {
			h := startReplay(t, "pubsub", z.w, z.h, runOpts{Speed: 0})
			f := h.waitFrame(done)
			h.sync()
			h.key(tcell.KeyRune, 't')
			// Peers are sorted by client: 26020, 26021, 26022.
			h.key(tcell.KeyRune, 'j')
			h.key(tcell.KeyDown, 0)
			h.key(tcell.KeyEnter, 0)
			view, _, _, _, _ := h.state()
			if view != ViewDetail || findLine(h.lines(), "Connection", want.client+" → "+want.server) < 0 {
				t.Fatalf("⏎ on the third peer: view %s\n%s", view, strings.Join(h.lines(), "\n"))
			}
			h.key(tcell.KeyEscape, 0)
			if view, _, _, _, _ = h.state(); view != ViewTopology {
				t.Errorf("esc from the detail: view %s, want topology", view)
			}
			var id uint64
			for _, r := range f.Rows {
				if r.C.Client == want.client {
					id = r.ID
				}
			}
			// f follows the stream of the connection under the cursor.
			h.key(tcell.KeyRune, 'f')
			h.waitFrame(func(f *Frame) bool { return f.Stream != nil && f.Stream.ID == id })
			h.sync()
			lines := h.lines()
			if findLine(lines, fmt.Sprintf("Stream of connection %d: %s → %s", id, want.client, want.server)) < 0 &&
				findLine(lines, fmt.Sprintf("Stream of connection %d: %s", id, want.client)) < 0 {
				t.Fatalf("stream view:\n%s", strings.Join(lines, "\n"))
			}
			if findLine(lines, `SUBSCRIBE "news"`) < 0 {
				t.Errorf("the stream lacks the subscription:\n%s", strings.Join(lines, "\n"))
			}
			// Search: / finds, n finds no later one.
			h.key(tcell.KeyRune, '/')
			h.typeText("subscribe")
			h.key(tcell.KeyEnter, 0)
			lines = h.lines()
			if findLine(lines, "search", "/subscribe") < 0 || findLine(lines, "no later match") >= 0 {
				t.Errorf("after the search:\n%s", strings.Join(lines, "\n"))
			}
			h.key(tcell.KeyRune, 'n')
			if findLine(h.lines(), "no later match") < 0 {
				t.Errorf("n past the only match:\n%s", strings.Join(h.lines(), "\n"))
			}
			h.key(tcell.KeyRune, 'N')
			if findLine(h.lines(), "no earlier match") < 0 {
				t.Errorf("N before the only match:\n%s", strings.Join(h.lines(), "\n"))
			}
			// The filter is untouched by the search.
			if _, _, _, _, expr := h.state(); expr != "" {
				t.Errorf("the search set the table's filter to %q", expr)
			}
			h.key(tcell.KeyEscape, 0)
			if view, _, _, _, _ = h.state(); view != ViewTopology {
				t.Errorf("esc from the stream: view %s, want topology", view)
			}
			h.quit()
		})
	}
}

// followFrames replays a capture as the session does with connection id
// selected from the start: an update every `every` of packet time carries
// its last ConnLogLen events and how many there were.
func followFrames(t *testing.T, name string, id uint64, every time.Duration) (*Frame, *Model, uint64) {
	t.Helper()
	src := openCase(t, name)
	p := pipeline.New(pipeline.Config{})
	log := session.NewMessageLog()
	p.Tracker.SetListener(log)
	log.Select(id)
	m := NewModel(ModelOptions{})
	update := func(at time.Time) *Frame {
		u := &session.Update{Snapshot: p.Tracker.Snapshot(at), Detail: &session.Detail{ID: id, Log: log.Recent(id), Seen: log.Seen()}}
		return m.Apply(u)
	}
	var seg capture.Segment
	var next, last time.Time
	for src.Next(&seg) == nil {
		if !last.IsZero() && !seg.TS.Before(next) {
			update(last)
		}
		if next.IsZero() || !seg.TS.Before(next) {
			next = seg.TS.Add(every)
		}
		p.Packet(&seg)
		last = seg.TS
	}
	p.Finish()
	return update(last), m, log.Seen()
}

// The stream keeps more than the session's last ConnLogLen events: updates
// that each carry fewer than ConnLogLen new ones add up to the whole stream,
// and one that carried more counts what it missed.
func TestStreamScrollbackBeyondConnLog(t *testing.T) {
	f, _, seen := followFrames(t, "slow_subscriber", 1, 0) // an update per packet
	s := f.Stream
	if s == nil || seen <= session.ConnLogLen {
		t.Fatalf("stream %v after %d events", s, seen)
	}
	if uint64(len(s.Entries)) != seen || s.Missed != 0 || s.Dropped != 0 {
		t.Errorf("stream keeps %d of %d events (missed %d, dropped %d)", len(s.Entries), seen, s.Missed, s.Dropped)
	}
	for i := 1; i < len(s.Entries); i++ {
		if s.Entries[i].Packet < s.Entries[i-1].Packet {
			t.Fatalf("entry %d out of order", i)
		}
	}
	// Updates far apart: what came and went between them is counted.
	f, _, seen = followFrames(t, "slow_subscriber", 1, time.Hour)
	if s := f.Stream; uint64(len(s.Entries))+s.Missed != seen || s.Missed == 0 {
		t.Errorf("one update for %d events: %d kept, %d counted missed", seen, len(s.Entries), s.Missed)
	}
	for _, z := range sizes {
		t.Run(fmt.Sprintf("%dx%d", z.w, z.h), func(t *testing.T) {
			f, m, seen := followFrames(t, "slow_subscriber", 1, 0)
			d, scr := newDash(t, z.w, z.h, DashboardOptions{History: m.History})
			d.SetFrame(f)
			d.openStream(1)
			lines := draw(d, scr)
			if findLine(lines, fmt.Sprintf("%d events", seen)) < 0 || findLine(lines, "following") < 0 {
				t.Fatalf("stream head:\n%s", strings.Join(lines, "\n"))
			}
			last := FormatEntry(&f.Stream.Entries[len(f.Stream.Entries)-1], d.hexBytes())
			if findLine(lines, truncate(last, z.w)) < 0 {
				t.Errorf("following: the newest event %q is not on screen", last)
			}
			// Scroll back to the oldest: beyond the session's 200.
			pressKey(d, tcell.KeyRune, 'g')
			lines = draw(d, scr)
			first := FormatEntry(&f.Stream.Entries[0], d.hexBytes())
			if !strings.HasPrefix(lines[3], strings.TrimSpace(truncate(first, z.w))) {
				t.Errorf("g: first line %q, want the oldest event %q", lines[3], first)
			}
			if findLine(lines, "following") >= 0 {
				t.Error("scrolled to the top, still following")
			}
		})
	}
}

package ui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/zspy/zspy/session"
)

// StreamLen bounds the events the stream view keeps of the connection it
// follows (about 2.2 MB); older ones go first and are counted.
const StreamLen = 10000

// Stream is the followed connection's message stream as a frame holds it:
// its events since it was selected, oldest first, at most StreamLen.
type Stream struct {
	ID      uint64
	Entries []session.LogEntry
	// Dropped counts the oldest events let go to stay within StreamLen;
	// Missed those that came and went between two screen updates (more
	// than the session's ConnLogLen in one update) or preceded the
	// selection by more than it kept.
	Dropped, Missed uint64
}

// streamBuf builds the Stream from successive updates' Detail (the last
// ConnLogLen events and how many there were): it appends the events it has
// not seen yet.
type streamBuf struct {
	id              uint64
	list            []session.LogEntry
	seen            uint64
	dropped, missed uint64
}

func (s *streamBuf) add(d *session.Detail) *Stream {
	if d == nil {
		return nil
	}
	if d.ID != s.id || d.Seen < s.seen {
		*s = streamBuf{id: d.ID}
	}
	n := d.Seen - s.seen
	if n > uint64(len(d.Log)) {
		s.missed += n - uint64(len(d.Log))
		n = uint64(len(d.Log))
	}
	s.list = append(s.list, d.Log[uint64(len(d.Log))-n:]...)
	s.seen = d.Seen
	if len(s.list) > StreamLen {
		drop := len(s.list) - StreamLen*3/4
		s.list = slices.Clone(s.list[drop:])
		s.dropped += uint64(drop)
	}
	return &Stream{ID: s.id, Entries: s.list[:len(s.list):len(s.list)], Dropped: s.dropped, Missed: s.missed}
}

// streamView is the follow-stream view's state: where it shows from, and the
// search.
type streamView struct {
	id     uint64 // the connection followed
	top    int    // first entry shown
	follow bool   // stay at the newest entry (tail -f), until the user scrolls up
	search *Filter
	match  int // entry of the current match (-1: none)
	note   string
}

// openStream follows connection id's message stream.
func (d *Dashboard) openStream(id uint64) {
	if id == 0 {
		return
	}
	if id != d.sv.id {
		d.sv = streamView{id: id, follow: true, match: -1, search: ParseFilter("")}
	}
	d.detailID = id
	if d.selectConn != nil {
		d.selectConn(id)
	}
	d.show(ViewStream)
}

// openStreamHere follows the stream of the connection the current view
// points at.
func (d *Dashboard) openStreamHere() {
	if id := d.cursorConn(); id != 0 {
		d.openStream(id)
	}
}

// streamHeight is how many entries fit the view.
func (d *Dashboard) streamHeight() int {
	_, _, _, h := d.pages.GetRect()
	return max(h-2, 1)
}

func (d *Dashboard) stream() *Stream {
	if d.frame == nil || d.frame.Stream == nil || d.frame.Stream.ID != d.detailID {
		return nil
	}
	return d.frame.Stream
}

// streamMove scrolls the stream by n entries; scrolling to the end follows
// it again.
func (d *Dashboard) streamMove(n int) {
	s := d.stream()
	if s == nil {
		return
	}
	h := d.streamHeight()
	last := max(len(s.Entries)-h, 0)
	if d.sv.follow {
		d.sv.top = last
	}
	d.sv.top = max(0, min(last, d.sv.top+n))
	d.sv.follow = d.sv.top == last && n > 0
	d.refreshStream()
}

func (d *Dashboard) streamEnd(follow bool) {
	d.sv.follow = follow
	if !follow {
		d.sv.top = 0
	}
	d.refreshStream()
}

// streamFind moves to the next (dir 1) or previous (-1) entry the search
// matches, from the current match or the top of the view.
func (d *Dashboard) streamFind(dir int) {
	s := d.stream()
	if s == nil || !d.sv.search.Active() {
		d.sv.note = "no search: / searches the stream"
		d.refreshStream()
		return
	}
	from := d.sv.match
	if from < 0 {
		from = d.sv.top - dir
		if d.sv.follow {
			from = len(s.Entries) - dir
			if dir > 0 {
				from = -1
			}
		}
	}
	hexN := d.hexBytes()
	for i := from + dir; i >= 0 && i < len(s.Entries); i += dir {
		if d.sv.search.MatchText(FormatEntry(&s.Entries[i], hexN)) {
			d.sv.match = i
			d.sv.follow = false
			h := d.streamHeight()
			if i < d.sv.top || i >= d.sv.top+h {
				d.sv.top = max(0, i-h/2)
			}
			d.sv.note = ""
			d.refreshStream()
			return
		}
	}
	if dir > 0 {
		d.sv.note = "no later match (N searches back)"
	} else {
		d.sv.note = "no earlier match"
	}
	d.refreshStream()
}

// setSearch sets the stream's search expression and finds its first match
// from the view's top.
func (d *Dashboard) setSearch(expr string) {
	d.sv.search = ParseFilter(expr)
	d.sv.match = -1
	d.sv.note = ""
	if d.sv.search.Active() {
		d.streamFind(1)
		return
	}
	d.refreshStream()
}

func (d *Dashboard) hexBytes() int {
	switch w := d.width(); {
	case w >= 100:
		return 16
	case w >= 70:
		return 8
	}
	return 0
}

// refreshStream renders the visible part of the followed stream.
func (d *Dashboard) refreshStream() {
	s := d.stream()
	r := d.frame.Row(d.detailID)
	var b strings.Builder
	who := fmt.Sprintf("connection %d", d.detailID)
	if r != nil {
		who += fmt.Sprintf(": %s → %s %s", r.C.Client, r.C.Server, r.C.Sockets)
	}
	if s == nil {
		fmt.Fprintf(&b, "[yellow::b]Stream of %s[-::-]\n[gray]waiting for its events…[-]", esc(who))
		d.streamText.SetText(b.String())
		return
	}
	h := d.streamHeight()
	last := max(len(s.Entries)-h, 0)
	if d.sv.follow {
		d.sv.top = last
	}
	d.sv.top = max(0, min(d.sv.top, last))
	fmt.Fprintf(&b, "[yellow::b]%s[-::-]\n", esc(truncate("Stream of "+who, d.width())))
	// The second line: what is kept, where the view is, the search. Its
	// parts go, last first, when the line is too narrow.
	parts := []linePart{{fmt.Sprintf("%d events", len(s.Entries)), keepAlways}}
	if s.Dropped+s.Missed > 0 {
		parts = append(parts, linePart{fmt.Sprintf("[red]%d not kept[-] (%d past the last %d, %d between updates)",
			s.Dropped+s.Missed, s.Dropped, StreamLen, s.Missed), 5})
	}
	mode := "[aqua]following[-]"
	if !d.sv.follow {
		mode = fmt.Sprintf("[aqua]%d–%d[-]", d.sv.top+1, min(d.sv.top+h, len(s.Entries)))
	}
	parts = append(parts, linePart{mode, keepAlways})
	if d.sv.search.Active() {
		parts = append(parts, linePart{"search [yellow]" + esc(truncate(d.sv.search.String(), 20)) + "[-]", 6})
	}
	if d.sv.note != "" {
		parts = append(parts, linePart{"[red]" + esc(d.sv.note) + "[-]", keepAlways})
	}
	b.WriteString(fitLine(parts, "", " · ", d.width()))
	b.WriteByte('\n')
	hexN := d.hexBytes()
	for i := d.sv.top; i < len(s.Entries) && i < d.sv.top+h; i++ {
		line := esc(truncate(FormatEntry(&s.Entries[i], hexN), d.width()))
		switch {
		case i == d.sv.match:
			line = "[black:yellow]" + line + "[-:-]"
		case d.sv.search.Active() && d.sv.search.MatchText(FormatEntry(&s.Entries[i], hexN)):
			line = "[yellow]" + line + "[-]"
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	// No newline after the last line: the view shows the last lines of
	// its text, and a line more would push the head out.
	d.streamText.SetText(strings.TrimSuffix(b.String(), "\n"))
}

package ui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rivo/tview"

	"github.com/zspy/zspy/session"
)

// updateChrome redraws the header, status bar and hint line text.
func (d *Dashboard) updateChrome() {
	if d.status == nil {
		return
	}
	shown := -1
	if d.filter.Active() {
		shown = len(d.table.rows)
	}
	d.status.SetText(StatusLine(d.frame, d.speed, d.ctl != nil, d.frozen, d.width(), shown))
	d.hints.SetText(d.hintLine())
	// Word-wrapped, up to 3 lines (a long file name comes first), the third
	// cut with '…' when more would follow (the Warnings view has it whole).
	w := WarningLine(d.frame)
	lines := tview.WordWrap(w, d.width())
	if len(lines) > 3 {
		lines = append(lines[:2], cutTagged(strings.Join(lines[2:], ""), d.width()))
		w = strings.Join(lines, "")
	}
	d.warning.SetText(w)
	h := len(lines)
	if w == "" {
		h = 0
	}
	d.root.ResizeItem(d.warning, h, 0)
}

// WarningLine tells the latest pipeline warning (a capture cut short, a
// packet that could not be read...) and how many there were; "" when none.
// The report printed on quit lists them all.
func WarningLine(f *Frame) string {
	if f == nil || f.Status.Warnings == 0 || f.Status.LastWarning == "" {
		return ""
	}
	s := &f.Status
	if s.Warnings == 1 {
		return "[yellow::b] warning:[-::-] " + esc(s.LastWarning)
	}
	return fmt.Sprintf("[yellow::b] %d warnings[-::-] (w: all), latest: %s", s.Warnings, esc(s.LastWarning))
}

// linePart is one piece of the status or hint line. When the line does not
// fit, the parts with the lowest keep go first; a keep of keepAlways or more
// always stays.
type linePart struct {
	text string
	keep int
}

const keepAlways = 9

// fitLine joins parts (first before the first, sep before each other),
// leaving parts out, lowest keep first and right to left within one keep,
// until the line fits width; width <= 0 keeps them all.
func fitLine(parts []linePart, first, sep string, width int) string {
	for {
		var b strings.Builder
		for i, p := range parts {
			if i == 0 {
				b.WriteString(first)
			} else {
				b.WriteString(sep)
			}
			b.WriteString(p.text)
		}
		out := b.String()
		if width <= 0 || tview.TaggedStringWidth(out) <= width {
			return out
		}
		drop := -1
		for i, p := range parts {
			if p.keep < keepAlways && (drop < 0 || p.keep <= parts[drop].keep) {
				drop = i
			}
		}
		if drop < 0 {
			return cutTagged(out, width) // what must stay is too wide: cut, with '…'
		}
		parts = slices.Delete(parts, drop, drop+1)
	}
}

// StatusLine renders the status bar: packet time, packets and their rate,
// connections (and the refused connects, which are not rows), the
// connections evicted at the cap on tracked ones, drops (kernel, internal,
// skipped screen updates), warnings, the store's state and the replay
// state. shown is how many connections the
// filter keeps ("3 of 10 conns"), or negative when no filter is on. It fits
// width: when everything does not, the least useful parts go first (packet
// counts, then connections, warnings, time); the replay state, the drops
// and the store's short label (StoreLabel) always stay.
func StatusLine(f *Frame, speed float64, replay, frozen bool, width, shown int) string {
	if f == nil {
		return " waiting for packets…"
	}
	s := &f.Status
	// Parts in display order; keep is the order they are dropped in (lower
	// goes first).
	var parts []linePart
	add := func(keep int, format string, args ...any) {
		parts = append(parts, linePart{fmt.Sprintf(format, args...), keep})
	}
	add(4, "%s", fmtTime(f.Time))
	add(0, "%s pkts %s/s", fmtSI(float64(s.Stats.Packets)), fmtSI(s.PacketRate))
	conns := countOf(len(f.Rows), "conn", "conns")
	if shown >= 0 {
		conns = fmt.Sprintf("%d of %d conns", shown, len(f.Rows))
	}
	if s.Refused > 0 {
		// Refused connects are not rows: their count, and the start-up
		// lines in the Warnings view.
		conns += fmt.Sprintf(", %d refused", s.Refused)
	}
	add(1, "%s", conns)
	if s.Evicted+s.Resumed+s.Unjoined > 0 {
		// The cap on tracked connections at work: nothing lost silently.
		var e string
		switch {
		case s.Evicted == 0:
			e = fmt.Sprintf("[yellow]evicted: %d resumed, %d not joined[-]", s.Resumed, s.Unjoined)
		case s.Resumed+s.Unjoined > 0:
			e = fmt.Sprintf("[yellow]%d evicted[-] (%d resumed, %d not joined)", s.Evicted, s.Resumed, s.Unjoined)
		default:
			e = fmt.Sprintf("[yellow]%d evicted[-]", s.Evicted)
		}
		add(5, "%s", e)
	}
	drops := s.Stats.KernelDrops + s.Stats.InternalDrops
	tag := "[white]"
	if drops > 0 {
		tag = "[red::b]"
	}
	d := fmt.Sprintf("%sdrops k%d i%d[-::-]", tag, s.Stats.KernelDrops, s.Stats.InternalDrops)
	if s.Skipped > 0 {
		d += fmt.Sprintf(" ui%d", s.Skipped)
	}
	add(9, "%s", d)
	if s.Warnings > 0 {
		add(3, "[yellow]%d warn[-]", s.Warnings)
	}
	if s.StoreLabel != "" {
		// Always shown: an outage must not hide behind a narrow terminal
		// (the whole error is in the Warnings view).
		tag := "[green]"
		switch {
		case s.Store != nil && s.Store.LastError != "" && !s.Store.Up:
			tag = "[red::b]"
		case s.Store != nil && (!s.Store.Up || s.Store.SpoolBytes > 0 || s.Store.Dropped > 0):
			tag = "[yellow]"
		}
		add(keepAlways, "%s%s[-::-]", tag, esc(s.StoreLabel))
	}
	var st string
	p := &s.Player
	switch {
	case frozen:
		st = "[yellow::b]FROZEN[-::-]"
	case p.Err != "":
		// Cut to leave room for the drops and the store (the whole error
		// is in the Warnings view and the report).
		st = "[red]" + esc(truncate(p.Err, max(width/3, 16))) + "[-]"
	case p.Done && !p.Live:
		st = "[green]end of capture[-]"
	case p.Done:
		st = "[yellow]capture stopped[-]"
	case p.Paused:
		st = "[yellow::b]PAUSED[-::-]"
	case p.Live:
		st = "[green]live[-]"
	default:
		st = "▶"
	}
	if replay {
		st += " " + speedText(speed)
	}
	add(10, "%s", st)
	return fitLine(parts, " ", " │ ", width)
}

// StoreLabel is the store's state in a few words, for the status bar:
// "influx ok", "influx DOWN, spool 13kB", "local waiting, 3 dropped". The
// full state, with the last error, is StoreState's (the Warnings view).
func StoreLabel(st *session.StoreStatus) string {
	if st == nil {
		return ""
	}
	name, _, _ := strings.Cut(st.Name, " ") // "local /var/lib/zspy": "local"
	if name == "" {
		name = "store"
	}
	var b strings.Builder
	b.WriteString(name)
	switch {
	case st.Up || (st.LastError == "" && st.Written > 0):
		b.WriteString(" ok")
	case st.LastError != "":
		b.WriteString(" DOWN")
	default:
		b.WriteString(" waiting")
	}
	if st.SpoolBytes > 0 {
		fmt.Fprintf(&b, ", spool %sB", fmtSI(float64(st.SpoolBytes)))
	}
	if st.Dropped > 0 {
		fmt.Fprintf(&b, ", %s dropped", fmtSI(float64(st.Dropped)))
	}
	return b.String()
}

func speedText(s float64) string {
	switch {
	case s == 0:
		return "max"
	case s == 1:
		return "1×"
	case s >= 1:
		return fmt.Sprintf("%g×", s)
	}
	return fmt.Sprintf("%.3g×", s)
}

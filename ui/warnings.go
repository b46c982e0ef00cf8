package ui

import (
	"fmt"
	"slices"
	"strings"
)

// WarningsLen bounds the pipeline warnings the Warnings view keeps (the
// report printed on quit lists all the run kept).
const WarningsLen = 500

// warnLog collects the pipeline's warnings from successive updates: each
// update names its latest, so one that came and went between two updates is
// only counted (Frame.WarningsTotal).
type warnLog struct {
	list  []string
	last  string
	count uint64
}

func (w *warnLog) add(total uint64, last string) []string {
	if total > w.count && last != "" && last != w.last {
		w.list = append(w.list, last)
		w.last = last
		if len(w.list) > WarningsLen {
			w.list = slices.Clone(w.list[len(w.list)-WarningsLen*3/4:])
		}
	}
	w.count = total
	return w.list[:len(w.list):len(w.list)]
}

// RenderWarnings renders the Warnings view: the store's whole state (its
// last error, which the status bar only labels), the start-up episodes (a
// client refused while its server was not listening), the pipeline's warnings,
// and the notes of the monitor forwarders, as tview-tagged lines.
func RenderWarnings(f *Frame, width int) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	section := func(name string) { add("[yellow::b]%s[-::-]", name) }
	wrapped := func(text string) {
		for i, l := range wrapWords(text, width-2, 2) {
			if i > 0 {
				l = "  " + l
			}
			out = append(out, "  "+esc(l))
		}
	}
	if f == nil {
		return []string{"[gray]waiting for the first update…[-]"}
	}
	s := &f.Status
	section("Store")
	if st := s.Store; st == nil {
		add("  [gray]none (time series off: --no-store, or no store configured)[-]")
	} else {
		wrapped(StoreState(st))
		add("  %d points written, %d dropped, %sB waiting in the spool", st.Written, st.Dropped, fmtSI(float64(st.SpoolBytes)))
	}
	if len(f.Refused) > 0 || s.Refused > 0 {
		// A client started before its server: its refused connects,
		// collapsed per client host and server endpoint (not rows).
		section(fmt.Sprintf("Start-up (%d refused connects)", s.Refused))
		for i := range f.Refused {
			wrapped(StartupLine(&f.Refused[i]))
		}
		if s.RefusedDropped > 0 {
			add("  [gray]%d older episodes not kept (their connects are counted)[-]", s.RefusedDropped)
		}
	}
	section(fmt.Sprintf("Warnings (%d)", s.Warnings))
	if len(f.Warnings) == 0 {
		add("  [gray]none[-]")
	}
	for _, w := range f.Warnings {
		wrapped(w)
	}
	if n := s.Warnings - uint64(min(uint64(len(f.Warnings)), s.Warnings)); n > 0 && len(f.Warnings) > 0 {
		add("  [gray]%d more not shown here (the report printed on quit lists the run's warnings)[-]", n)
	}
	if f.Notes != nil || f.NotesTotal > 0 {
		section(fmt.Sprintf("Monitor forwarders (%d)", f.NotesTotal))
		if len(f.Notes) == 0 {
			add("  [gray]none[-]")
		}
		for _, n := range f.Notes {
			wrapped(n)
		}
		if cut := f.NotesTotal - uint64(len(f.Notes)); cut > 0 {
			add("  [gray]%d older ones not kept[-]", cut)
		}
	}
	for i := range out {
		out[i] = cutTagged(out[i], width)
	}
	return out
}

// refreshWarnings renders the Warnings view of the frame on screen.
func (d *Dashboard) refreshWarnings() {
	d.warnView.SetText(strings.Join(RenderWarnings(d.frame, d.width()), "\n"))
}

package ui

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zspy/zspy/zmtp"
)

// Column is one column of the connections table. Arrows name directions: ↑ is
// client→server, ↓ server→client.
type Column struct {
	Name string
	// Width is the column's width; for text columns (Max > Width) the widest
	// cell of the frame decides, between Width and Max.
	Width, Max int
	// Prio decides which columns a narrow terminal keeps (lower stays
	// longer) when the table shows rates; TotalPrio when it shows totals
	// (0: Prio). Rates lead a running capture, totals one that has ended
	// (every rate is then 0), and the user toggles them (CountMode).
	Prio, TotalPrio int
	Right           bool
	// Append appends the cell text of r.
	Append func(dst []byte, r *Row) []byte
	// Cmp orders rows by this column (ties fall back to the connection ID).
	Cmp func(a, b *Row) int
	// textLen, when set, is the cell width for layout without rendering.
	textLen func(r *Row) int
}

// socketNames holds the sockets column's texts, indexed by client and
// server socket type + 1 (SocketUnknown is -1), so that rows share them.
var socketNames = func() (t [zmtp.CHANNEL + 2][zmtp.CHANNEL + 2]string) {
	for c := range t {
		for s := range t[c] {
			t[c][s] = joinSockets(zmtp.SocketType(c-1), zmtp.SocketType(s-1))
		}
	}
	return t
}()

// socketsText is the sockets column's text: "DEALER→ROUTER", "SUB→-", or
// "-" when neither side's type is known.
func socketsText(c, s zmtp.SocketType) string {
	if c >= -1 && c <= zmtp.CHANNEL && s >= -1 && s <= zmtp.CHANNEL {
		return socketNames[c+1][s+1]
	}
	return joinSockets(c, s)
}

func joinSockets(c, s zmtp.SocketType) string {
	if c.String() == "" && s.String() == "" {
		return "-"
	}
	return dash(c.String()) + "→" + dash(s.String())
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func appendMsgs(dst []byte, r *Row, i int) []byte {
	dst = appendSI(dst, float64(r.Msgs[i]))
	if r.Rec.Curve {
		dst = append(dst, '*') // CURVE boxes, not messages
	}
	return dst
}

func appendBacklog(dst []byte, r *Row) []byte {
	d, b, z := r.Backlog()
	if b == 0 && !z {
		return append(dst, '0')
	}
	if d == 0 {
		dst = append(dst, "↑"...)
	} else {
		dst = append(dst, "↓"...)
	}
	if z {
		// A receiver advertising a zero window: how long it has lasted.
		dst = append(dst, "ZW "...)
		return appendDur(dst, r.ZeroFor[d])
	}
	return appendSI(dst, float64(b))
}

// Columns are the connections table's columns, in display order.
var Columns = []*Column{
	{Name: "ID", Width: 3, Max: 7, Prio: 10, Right: true,
		Append:  func(d []byte, r *Row) []byte { return strconv.AppendUint(d, r.ID, 10) },
		Cmp:     func(a, b *Row) int { return 0 },
		textLen: func(r *Row) int { return digits(r.ID) }},
	{Name: "CLIENT", Width: 9, Max: 27, Prio: 1,
		Append:  func(d []byte, r *Row) []byte { return append(d, r.C.Client...) },
		Cmp:     func(a, b *Row) int { return a.Rec.Client.Compare(b.Rec.Client) },
		textLen: func(r *Row) int { return len(r.C.Client) }},
	{Name: "SERVER", Width: 9, Max: 27, Prio: 1,
		Append:  func(d []byte, r *Row) []byte { return append(d, r.C.Server...) },
		Cmp:     func(a, b *Row) int { return a.Rec.Server.Compare(b.Rec.Server) },
		textLen: func(r *Row) int { return len(r.C.Server) }},
	{Name: "SOCKETS", Width: 7, Max: 15, Prio: 2,
		Append:  func(d []byte, r *Row) []byte { return append(d, r.C.Sockets...) },
		Cmp:     func(a, b *Row) int { return cmp.Compare(a.C.Sockets, b.C.Sockets) },
		textLen: func(r *Row) int { return utf8.RuneCountInString(r.C.Sockets) }},
	{Name: "MECH", Width: 5, Prio: 11,
		Append: func(d []byte, r *Row) []byte { return append(d, dash(r.Rec.Mechanism.String())...) },
		Cmp:    func(a, b *Row) int { return cmp.Compare(a.Rec.Mechanism.String(), b.Rec.Mechanism.String()) }},
	{Name: "STATE", Width: 6, Max: 7, Prio: 3,
		Append:  func(d []byte, r *Row) []byte { return append(d, r.C.State...) },
		Cmp:     func(a, b *Row) int { return cmp.Compare(a.C.State, b.C.State) },
		textLen: func(r *Row) int { return len(r.C.State) }},
	{Name: "↑MSG/S", Width: 6, Prio: 4, TotalPrio: 9, Right: true,
		Append: func(d []byte, r *Row) []byte { return appendSI(d, r.MsgRate[0]) },
		Cmp:    func(a, b *Row) int { return cmp.Compare(a.MsgRate[0], b.MsgRate[0]) }},
	{Name: "↓MSG/S", Width: 6, Prio: 4, TotalPrio: 9, Right: true,
		Append: func(d []byte, r *Row) []byte { return appendSI(d, r.MsgRate[1]) },
		Cmp:    func(a, b *Row) int { return cmp.Compare(a.MsgRate[1], b.MsgRate[1]) }},
	{Name: "↑B/S", Width: 5, Prio: 12, TotalPrio: 13, Right: true,
		Append: func(d []byte, r *Row) []byte { return appendSI(d, r.ByteRate[0]) },
		Cmp:    func(a, b *Row) int { return cmp.Compare(a.ByteRate[0], b.ByteRate[0]) }},
	{Name: "↓B/S", Width: 5, Prio: 12, TotalPrio: 13, Right: true,
		Append: func(d []byte, r *Row) []byte { return appendSI(d, r.ByteRate[1]) },
		Cmp:    func(a, b *Row) int { return cmp.Compare(a.ByteRate[1], b.ByteRate[1]) }},
	{Name: "↑MSGS", Width: 6, Prio: 9, TotalPrio: 4, Right: true,
		Append: func(d []byte, r *Row) []byte { return appendMsgs(d, r, 0) },
		Cmp:    func(a, b *Row) int { return cmp.Compare(a.Msgs[0], b.Msgs[0]) }},
	{Name: "↓MSGS", Width: 6, Prio: 9, TotalPrio: 4, Right: true,
		Append: func(d []byte, r *Row) []byte { return appendMsgs(d, r, 1) },
		Cmp:    func(a, b *Row) int { return cmp.Compare(a.Msgs[1], b.Msgs[1]) }},
	{Name: "↑BYTES", Width: 6, Prio: 13, TotalPrio: 12, Right: true,
		Append: func(d []byte, r *Row) []byte { return appendSI(d, float64(r.Rec.Dirs[0].Bytes)) },
		Cmp:    func(a, b *Row) int { return cmp.Compare(a.Rec.Dirs[0].Bytes, b.Rec.Dirs[0].Bytes) }},
	{Name: "↓BYTES", Width: 6, Prio: 13, TotalPrio: 12, Right: true,
		Append: func(d []byte, r *Row) []byte { return appendSI(d, float64(r.Rec.Dirs[1].Bytes)) },
		Cmp:    func(a, b *Row) int { return cmp.Compare(a.Rec.Dirs[1].Bytes, b.Rec.Dirs[1].Bytes) }},
	{Name: "LAT", Width: 6, Prio: 8, Right: true,
		Append: func(d []byte, r *Row) []byte {
			if !r.LatencyOK {
				return append(d, '-')
			}
			return appendDur(d, r.Latency)
		},
		Cmp: func(a, b *Row) int {
			if c := cmp.Compare(boolInt(a.LatencyOK), boolInt(b.LatencyOK)); c != 0 {
				return c
			}
			return cmp.Compare(a.Latency, b.Latency)
		}},
	{Name: "BACKLOG", Width: 7, Max: 10, Prio: 5, Right: true,
		Append: appendBacklog,
		Cmp:    func(a, b *Row) int { return cmp.Compare(a.backlogKey(), b.backlogKey()) },
		textLen: func(r *Row) int {
			var b [32]byte
			return utf8.RuneCount(appendBacklog(b[:0], r))
		}},
	{Name: "ZMTP", Width: 4, Prio: 14,
		Append: func(d []byte, r *Row) []byte { return append(d, dash(r.Rec.Version.String())...) },
		Cmp:    func(a, b *Row) int { return cmp.Compare(a.Rec.Version.String(), b.Rec.Version.String()) }},
	{Name: "SUBS", Width: 4, Max: 24, Prio: 7,
		Append:  func(d []byte, r *Row) []byte { return append(d, r.C.SubsText...) },
		Cmp:     func(a, b *Row) int { return cmp.Compare(a.C.SubsText, b.C.SubsText) },
		textLen: func(r *Row) int { return utf8.RuneCountInString(r.C.SubsText) }},
	{Name: "IDENTITY", Width: 8, Max: 20, Prio: 7,
		Append:  func(d []byte, r *Row) []byte { return append(d, r.C.IdentityText...) },
		Cmp:     func(a, b *Row) int { return cmp.Compare(a.C.IdentityText, b.C.IdentityText) },
		textLen: func(r *Row) int { return utf8.RuneCountInString(r.C.IdentityText) }},
	{Name: "NOTES", Width: 5, Max: 36, Prio: 7,
		Append:  func(d []byte, r *Row) []byte { return append(d, r.C.NotesText...) },
		Cmp:     func(a, b *Row) int { return cmp.Compare(a.C.NotesText, b.C.NotesText) },
		textLen: func(r *Row) int { return utf8.RuneCountInString(r.C.NotesText) }},
	{Name: "ALERT", Width: 5, Max: 24, Prio: 6,
		Append:  func(d []byte, r *Row) []byte { return append(d, r.AlertRule...) },
		Cmp:     func(a, b *Row) int { return cmp.Compare(a.Alert, b.Alert) },
		textLen: func(r *Row) int { return utf8.RuneCountInString(r.AlertRule) }},
}

func digits(v uint64) int {
	n := 1
	for ; v >= 10; v /= 10 {
		n++
	}
	return n
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ColumnIndex returns the index of the column named name, or -1.
func ColumnIndex(name string) int {
	for i, c := range Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// SortRows orders rows by column col (ascending, or descending when desc),
// breaking ties by connection ID (always ascending), so equal rows keep their
// places from one update to the next.
func SortRows(rows []*Row, col int, desc bool) {
	c := Columns[0]
	if col >= 0 && col < len(Columns) {
		c = Columns[col]
	}
	slices.SortFunc(rows, func(a, b *Row) int {
		k := c.Cmp(a, b)
		if desc {
			k = -k
		}
		if k != 0 {
			return k
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// partners holds each column's partner (see partner).
var partners = func() []int {
	p := make([]int, len(Columns))
	for i := range Columns {
		p[i] = partner(i)
	}
	return p
}()

// partner returns the index of the other direction of a per-direction
// column (↑MSGS for ↓MSGS...), or -1.
func partner(i int) int {
	name := Columns[i].Name
	var other string
	switch {
	case strings.HasPrefix(name, "↑"):
		other = "↓" + strings.TrimPrefix(name, "↑")
	case strings.HasPrefix(name, "↓"):
		other = "↑" + strings.TrimPrefix(name, "↓")
	default:
		return -1
	}
	return ColumnIndex(other)
}

// CountMode says whether the table leads with rates or with totals.
type CountMode int

// Count modes.
const (
	// ModeRates shows messages per second first (a running capture).
	ModeRates CountMode = iota
	// ModeTotals shows message and byte counts first (an ended replay,
	// where every rate is 0).
	ModeTotals
)

// String names the mode as the status line and help say it.
func (m CountMode) String() string {
	if m == ModeTotals {
		return "totals"
	}
	return "rates"
}

// prio returns the column's priority in mode m.
func (c *Column) prio(m CountMode) int {
	if m == ModeTotals && c.TotalPrio > 0 {
		return c.TotalPrio
	}
	return c.Prio
}

// Layout is the columns shown at one width, with their widths.
type Layout struct {
	Cols   []int // indices into Columns, in display order
	Widths []int
}

// LayoutColumns chooses the columns that fit width: text columns take the
// width of their widest cell among rows (capped), the endpoints and the sort
// column are always shown, and the other columns are added by priority (of
// mode: rates or totals first) while they fit. When even the endpoints do not fit, they are cut (with '…').
func LayoutColumns(rows []*Row, width, sortCol int, mode CountMode) Layout {
	w := make([]int, len(Columns))
	for i, c := range Columns {
		w[i] = max(c.Width, utf8.RuneCountInString(c.Name))
		if c.Max > c.Width && c.textLen != nil {
			for _, r := range rows {
				if n := c.textLen(r); n > w[i] {
					w[i] = min(n, c.Max)
					if w[i] == c.Max {
						break
					}
				}
			}
		}
	}
	// Columns nothing in the frame fills are left out, unless sorted by.
	for name, has := range map[string]func(r *Row) bool{
		"ALERT":    func(r *Row) bool { return r.AlertRule != "" },
		"LAT":      func(r *Row) bool { return r.LatencyOK },
		"SUBS":     func(r *Row) bool { return r.C.SubsText != "" },
		"IDENTITY": func(r *Row) bool { return r.C.IdentityText != "" },
		"NOTES":    func(r *Row) bool { return r.C.NotesText != "" },
	} {
		i := ColumnIndex(name)
		if i == sortCol || slices.ContainsFunc(rows, has) {
			continue
		}
		w[i] = 0
	}
	if sortCol >= 0 && sortCol < len(Columns) {
		w[sortCol] = max(w[sortCol], utf8.RuneCountInString(Columns[sortCol].Name)+1)
	}
	order := make([]int, len(Columns))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(Columns[a].prio(mode), Columns[b].prio(mode)) })
	keep := make([]bool, len(Columns))
	used := 0
	add := func(i int, force bool) {
		if w[i] == 0 || keep[i] {
			return
		}
		gap := 0
		if used > 0 {
			gap = 1
		}
		if !force && used+gap+w[i] > width {
			// A text column may take what is left, down to its minimum.
			c := Columns[i]
			left := width - used - gap
			if c.Max <= c.Width || left < max(c.Width, utf8.RuneCountInString(c.Name)) {
				return
			}
			w[i] = left
		}
		need := w[i] + gap
		keep[i] = true
		used += need
	}
	for _, i := range order {
		if Columns[i].Prio == 1 || i == sortCol {
			add(i, true)
		}
	}
	for _, i := range order {
		// A ↑ column and its ↓ partner show together or not at all: one
		// direction alone reads as the connection's only traffic.
		if j := partners[i]; j >= 0 && !keep[i] && !keep[j] && w[i] > 0 && w[j] > 0 {
			if used+1+w[i]+1+w[j] > width {
				continue
			}
		}
		add(i, false)
	}
	var l Layout
	for i := range Columns {
		if keep[i] {
			l.Cols = append(l.Cols, i)
			l.Widths = append(l.Widths, w[i])
		}
	}
	// Too narrow for the endpoints: cut them, one character at a time each.
	for used > width {
		cut := false
		for k, i := range l.Cols {
			if Columns[i].Prio == 1 && l.Widths[k] > 4 && used > width {
				l.Widths[k]--
				used--
				cut = true
			}
		}
		if !cut {
			break
		}
	}
	return l
}

// RenderRow returns the cell texts of r for the given columns (the pure
// function behind a table row).
func RenderRow(r *Row, cols []int) []string {
	out := make([]string, len(cols))
	var buf []byte
	for k, i := range cols {
		buf = Columns[i].Append(buf[:0], r)
		out[k] = string(buf)
	}
	return out
}

// Header returns the column names, marking the sort column with ▲ or ▼.
func Header(cols []int, sortCol int, desc bool) []string {
	out := make([]string, len(cols))
	for k, i := range cols {
		out[k] = Columns[i].Name
		if i == sortCol {
			if desc {
				out[k] += "▼"
			} else {
				out[k] += "▲"
			}
		}
	}
	return out
}

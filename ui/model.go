package ui

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/zspy/zspy/host"
	"github.com/zspy/zspy/patterns"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/tracing"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// HistoryLen is how many points a connection's sparklines keep: message
// rates one per second of packet time (RateMeter), latency and backlog one
// per dashboard update that advanced packet time (History).
const HistoryLen = 120

// Series of a connection's history.
const (
	SeriesRateC2S = iota // messages per second of packet time client→server (RateMeter)
	SeriesRateS2C        // messages per second of packet time server→client (RateMeter)
	SeriesLatency        // mean request→reply time over the interval, ms
	SeriesBacklog        // bytes in flight, the larger direction
	numSeries
)

// History keeps the series from SeriesLatency on.
const numHistSeries = numSeries - SeriesLatency

// ModelOptions say what the model shows.
type ModelOptions struct {
	// ShowSecrets shows PLAIN passwords; without it they read Redacted.
	ShowSecrets bool
	// Notes are warnings from outside the session (monitor forwarders),
	// shown in the Warnings view (nil: none).
	Notes *Notes
}

// Redacted stands for a PLAIN password unless secrets were asked for (the
// report's text for it).
const Redacted = "<redacted>"

// Row is one connection as the dashboard shows it: the tracker's record of
// it, the rates the update measured, and what the view derives from the
// record (texts, backlog, latency median). Rows are immutable once a Frame
// holds them.
type Row struct {
	ID uint64
	// Rec is the connection as the tracker recorded it at the frame's time:
	// immutable, and shared with other frames while the connection does not
	// change. Never nil.
	Rec *tracker.Record
	// C holds the row's texts.
	C Cells
	// MsgRate and ByteRate are per second of packet time, per direction (0
	// client→server, 1 server→client), over the last RateWindow of packet
	// time (see RateMeter): the same whatever the replay speed.
	MsgRate, ByteRate [2]float64
	// Msgs counts messages per direction (frames under CURVE).
	Msgs [2]uint64
	// InFlight is bytes sent but not acknowledged, per direction (0 once the
	// connection is closed); ZeroWindow whether the receiver of that
	// direction advertises a zero window now, and ZeroFor for how long
	// (packet time).
	InFlight   [2]uint32
	ZeroWindow [2]bool
	ZeroFor    [2]time.Duration
	// Latency is the request→reply p50 (LatencyOK false when none was seen).
	Latency   time.Duration
	LatencyOK bool
	// Alert is the most urgent level of the connection's pending and firing
	// alerts (see Alert.level) and AlertRule the rules at that level, joined
	// by commas.
	Alert     int
	AlertRule string

	search string // lower-case text the filter matches against
}

// Cells are the texts of a row that the record does not hold as text: made
// once per record, they feed the cells, the filter and the alerts' matching.
type Cells struct {
	// Client and Server are the endpoints as "ip:port", as alerts name them.
	Client, Server string
	// State is the connection state ("open", "closed", ...).
	State string
	// Sockets is the sockets column: "DEALER→ROUTER", "-" when neither is
	// known.
	Sockets string
	// ClientIdentity and ServerIdentity are the sides' identities as
	// printable text.
	ClientIdentity, ServerIdentity string
	// PlainPassword is the PLAIN password as shown: Redacted unless secrets
	// were asked for, "" when the connection carried no PLAIN credentials.
	PlainPassword string
	// Subscriptions are the subscribed topics as printable text; SubsText
	// the SUBS column (quoted, joined by spaces).
	Subscriptions []string
	SubsText      string
	// IdentityText is the IDENTITY column: the client's identity (a
	// DEALER's routing ID), else the server's.
	IdentityText string
	// Notes are RowNotes of the record; NotesText the NOTES column.
	Notes     []string
	NotesText string
}

// cellsOf makes the texts of a record.
func cellsOf(v *tracker.Record, opt ModelOptions) Cells {
	cn, sn := v.Names()
	c := Cells{Client: cn, Server: sn, State: v.State.String(), Sockets: socketsText(v.ClientSocket, v.ServerSocket),
		ClientIdentity: printable(v.Sides[0].Identity), ServerIdentity: printable(v.Sides[1].Identity)}
	if v.PlainPassword != "" || v.PlainUsername != "" {
		c.PlainPassword = Redacted
		if opt.ShowSecrets {
			c.PlainPassword = v.PlainPassword
		}
	}
	if len(v.Subscriptions) > 0 {
		c.Subscriptions = make([]string, len(v.Subscriptions))
		for i, s := range v.Subscriptions {
			c.Subscriptions[i] = tracker.Printable([]byte(s))
		}
		c.SubsText = subsText(c.Subscriptions)
	}
	c.IdentityText = c.ClientIdentity
	if c.IdentityText == "" {
		c.IdentityText = c.ServerIdentity
	}
	c.Notes = RowNotes(v)
	c.NotesText = strings.Join(c.Notes, ", ")
	return c
}

// printable is tracker.Printable, without a call for the empty identities
// most connections have.
func printable(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return tracker.Printable(b)
}

// listed reports whether the dashboard lists a connection: ZMTP ones. A
// refused attempt (SYN answered by RST) is not a connection: the refused
// ones collapse into their start-up episode (Frame.Refused), counted in the
// status bar, as the report collapses them; other flows are counted only.
func listed(v *tracker.Record) bool {
	return v.Detection == zmtp.IsZMTP && v.State != zmtp.StateRefused
}

// errorsOf returns the connection's errors as the detail lists them: those
// the tracker kept, how many it did not, and an incompatible pair of socket
// types (the report's list).
func errorsOf(v *tracker.Record) []string {
	out := slices.Clone(v.Errors)
	if v.ErrorsDropped > 0 {
		out = append(out, fmt.Sprintf("%d more errors not kept", v.ErrorsDropped))
	}
	if !v.Compatible {
		out = append(out, fmt.Sprintf("incompatible socket types %s and %s", v.ClientSocket, v.ServerSocket))
	}
	return out
}

// hasErrors reports whether errorsOf(v) is not empty, without making it.
func hasErrors(v *tracker.Record) bool {
	return len(v.Errors) > 0 || v.ErrorsDropped > 0 || !v.Compatible
}

// Backlog returns the direction with the larger backlog and its bytes in
// flight; a zero window outranks any count.
func (r *Row) Backlog() (dir int, bytes uint32, zero bool) {
	switch {
	case r.ZeroWindow[1] && !r.ZeroWindow[0]:
		return 1, r.InFlight[1], true
	case r.ZeroWindow[0] && !r.ZeroWindow[1]:
		return 0, r.InFlight[0], true
	}
	if r.InFlight[1] >= r.InFlight[0] {
		return 1, r.InFlight[1], r.ZeroWindow[1]
	}
	return 0, r.InFlight[0], r.ZeroWindow[0]
}

// backlogKey orders rows by backlog: zero windows above any byte count,
// longer ones higher.
func (r *Row) backlogKey() uint64 {
	d, b, z := r.Backlog()
	if z {
		return 1<<40 + uint64(r.ZeroFor[d]/time.Microsecond)
	}
	return uint64(b)
}

// Search returns the lower-case text filters match: the row's cells and what
// the detail view shows beyond them (identities, user, subscriptions, alert).
func (r *Row) Search() string { return r.search }

// buildSearch makes the filter's text, in buf (returned for reuse).
func (r *Row) buildSearch(buf []byte) []byte {
	b := buf[:0]
	c, v := &r.C, r.Rec
	for _, s := range [...]string{c.Client, c.Server, c.Sockets, v.Mechanism.String(), c.State} {
		b = appendWord(b, s)
	}
	b = appendLower(append(b, "zmtp"...), v.Version.String())
	b = append(b, ' ')
	for _, s := range [...]string{c.ClientIdentity, c.ServerIdentity, v.PlainUsername, r.AlertRule} {
		b = appendWord(b, s)
	}
	for _, s := range c.Subscriptions {
		b = append(appendLower(b, s), ' ')
	}
	for _, s := range c.Notes {
		b = appendWord(b, s)
	}
	if r.Alert >= 2 {
		b = append(b, "alert "...)
	}
	if hasErrors(v) {
		b = append(b, "error "...)
	}
	if r.ZeroWindow[0] || r.ZeroWindow[1] {
		b = append(b, "zerowindow "...)
	}
	r.search = string(b)
	return b
}

// appendWord appends s in lower case and a space, or nothing when s is
// empty.
func appendWord(b []byte, s string) []byte {
	if s == "" {
		return b
	}
	return append(appendLower(b, s), ' ')
}

// appendLower appends s in lower case, as strings.ToLower would (invalid
// UTF-8 becomes U+FFFD), without making a string.
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		b = utf8.AppendRune(b, unicode.ToLower(r))
		i += n
	}
	return b
}

// Counters are the capture counters the status bar shows.
type Counters struct {
	Packets       uint64 // packets read
	KernelDrops   uint64 // packets the kernel dropped (live)
	InternalDrops uint64 // packets zspy's own queues dropped (live)
}

// Status is the status bar's content.
type Status struct {
	Stats       Counters
	PacketRate  float64 // packets per second of packet time
	Warnings    uint64
	LastWarning string
	// Store is the time-series store's state (nil: none); StoreLabel its
	// short form for the status bar (StoreLabel).
	Store      *session.StoreStatus
	StoreLabel string
	Skipped    uint64 // updates the model did not take in time
	Player     session.PlayerState
	NonZMTP    uint64
	// DroppedClosed counts the closed connections the tracker dropped past
	// --keep-closed (added up in the report's summary).
	DroppedClosed uint64
	// Evicted counts the connections the tracker holds evicted at the
	// --max-connections cap (state evicted), Resumed those evicted whose
	// traffic came back continuing them, Unjoined those whose traffic came
	// back and could not be joined.
	Evicted, Resumed, Unjoined uint64
	// Refused counts the refused connects (SYN answered by RST) of the run,
	// RefusedDropped the start-up episodes not kept (their attempts are in
	// Refused).
	Refused, RefusedDropped uint64
}

// Frame is everything one screen shows, derived from one Update. Rows are in
// tracker order (ascending ID); views sort and filter copies of the slice.
type Frame struct {
	Time    time.Time // packet time
	Rows    []*Row
	Alerts  []Alert
	Monitor map[uint64][]string
	Status  Status
	// Detail is the selected connection's recent events and rate series.
	Detail *session.Detail
	// AlertLog is every alert state change so far, oldest first (at most
	// AlertLogLen; AlertLogCut older ones were not kept).
	AlertLog    []AlertChange
	AlertLogCut uint64
	// Warnings are the pipeline's warnings the updates named (at most
	// WarningsLen); Notes the monitor forwarders' (Options.Notes) and
	// NotesTotal how many there were in all (nil Notes: no forwarders).
	Warnings   []string
	Notes      []string
	NotesTotal uint64
	// Stream is the selected connection's message stream since it was
	// selected (at most StreamLen events; nil before any).
	Stream *Stream
	// Host, Stages and Tracing are the update's host view, stages by
	// process and message tracing (the Stages view draws them).
	Host    *host.View
	Stages  []patterns.Stage
	Tracing *tracing.Result
	// Refused are the start-up episodes (refused connects per client host
	// and server endpoint, and the connection that got through), oldest
	// first: StartupLine tells one.
	Refused []tracker.RefusedAttempts
}

// Row returns the row of connection id, or nil.
func (f *Frame) Row(id uint64) *Row {
	if f == nil {
		return nil
	}
	i := sort.Search(len(f.Rows), func(i int) bool { return f.Rows[i].ID >= id })
	if i < len(f.Rows) && f.Rows[i].ID == id {
		return f.Rows[i]
	}
	return nil
}

// prevConn is what the model remembers of a connection between updates.
type prevConn struct {
	latCount uint64
	latSum   time.Duration
	t        time.Time
	seen     uint64 // generation
	// rec and cells are the last record and its texts: an unchanged
	// connection hands the same record again.
	rec   *tracker.Record
	cells Cells
}

// Model turns Updates into Frames: it takes the rates the RateMeter measured
// (Update.Rates), derives each interval's latency and keeps every
// connection's latency and backlog history. It runs on one goroutine (the
// model goroutine); History is safe to read from the UI.
type Model struct {
	opt      ModelOptions
	prev     map[uint64]*prevConn
	gen      uint64
	prevTime time.Time
	prevPkts uint64
	pktRate  float64
	buf      []byte // scratch for the rows' search texts
	History  *History
	alerts   alertLog
	warns    warnLog
	stream   streamBuf
}

// NewModel returns an empty model; opt says whether PLAIN passwords show.
func NewModel(opt ModelOptions) *Model {
	return &Model{opt: opt, prev: make(map[uint64]*prevConn), History: NewHistory()}
}

// Apply derives the frame of u. Message and byte rates are u.Rates; the
// latency sparkline takes the mean of the replies since the previous update
// (a connection new since then counts from zero).
func (m *Model) Apply(u *session.Update) *Frame {
	f := &Frame{Monitor: u.Monitor, Detail: u.Detail, Host: u.Host, Stages: u.Stages, Tracing: u.Tracing}
	if u.Alerts != nil {
		f.Alerts = FromRules(u.Alerts)
	}
	f.AlertLog = m.alerts.add(u.Alerts)
	f.AlertLogCut = m.alerts.cut
	f.Warnings = m.warns.add(u.Warnings, u.LastWarning)
	f.Stream = m.stream.add(u.Detail)
	if m.opt.Notes != nil {
		f.Notes, f.NotesTotal = m.opt.Notes.List()
		if f.Notes == nil {
			f.Notes = []string{}
		}
	}
	f.Status = Status{Stats: Counters{Packets: u.Stats.Packets, KernelDrops: u.Stats.KernelDrops, InternalDrops: u.Stats.InternalDrops},
		Warnings: u.Warnings, LastWarning: u.LastWarning, Store: u.Store, StoreLabel: StoreLabel(u.Store), Skipped: u.Skipped, Player: u.Player}
	snap := u.Snapshot
	if snap == nil {
		snap = &tracker.Snapshot{}
	}
	f.Time = snap.Time
	f.Status.NonZMTP, f.Status.DroppedClosed = snap.NonZMTP, snap.DroppedClosed
	f.Status.Resumed, f.Status.Unjoined = snap.Resumed, snap.Unjoined
	f.Status.Refused, f.Status.RefusedDropped = snap.RefusedTotal, snap.RefusedDropped
	f.Refused = snap.Refused
	base := m.prevTime // a connection new since the last frame counts from it
	if dt := snap.Time.Sub(m.prevTime).Seconds(); !m.prevTime.IsZero() && dt > 0 {
		m.pktRate = float64(u.Stats.Packets-m.prevPkts) / dt
	}
	if snap.Time.After(m.prevTime) || m.prevTime.IsZero() {
		m.prevTime, m.prevPkts = snap.Time, u.Stats.Packets
	}
	f.Status.PacketRate = m.pktRate

	n := 0
	for _, v := range snap.Records {
		if listed(v) {
			n++
		}
		if v.State == zmtp.StateEvicted {
			f.Status.Evicted++
		}
	}
	rows := make([]Row, n)
	f.Rows = make([]*Row, n)
	m.gen++
	m.History.begin()
	i := 0
	for j, v := range snap.Records {
		if !listed(v) {
			continue
		}
		r := &rows[i]
		f.Rows[i] = r
		i++
		var wr *session.WindowRate
		if j < len(u.Rates) {
			wr = &u.Rates[j]
		}
		m.fill(r, v, wr, snap.Time, base)
	}
	m.History.end(m.gen)
	for id, p := range m.prev {
		if p.seen != m.gen {
			delete(m.prev, id)
		}
	}
	if len(f.Alerts) > 0 {
		var names []string
		for _, r := range f.Rows {
			names = names[:0]
			for k := range f.Alerts {
				a := &f.Alerts[k]
				if !a.matches(r.C.Client, r.C.Server) || a.level() == 0 {
					continue
				}
				switch {
				case a.level() > r.Alert:
					r.Alert = a.level()
					names = append(names[:0], a.Rule)
				case a.level() == r.Alert && !slices.Contains(names, a.Rule):
					names = append(names, a.Rule)
				}
			}
			r.AlertRule = strings.Join(names, ",")
		}
	}
	for _, r := range f.Rows {
		m.buf = r.buildSearch(m.buf)
	}
	return f
}

func (m *Model) fill(r *Row, v *tracker.Record, wr *session.WindowRate, now, base time.Time) {
	*r = Row{ID: v.ID, Rec: v}
	if wr != nil {
		r.MsgRate, r.ByteRate = wr.Msgs, wr.Bytes
	}
	for i := range 2 {
		d := &v.Dirs[i]
		r.Msgs[i] = d.Messages
		if v.Curve {
			r.Msgs[i] = d.Frames
		}
		t := &v.TCP[i]
		if !v.Closed {
			// A closed connection has no queue, whatever its last ACKs said.
			r.InFlight[i] = t.InFlight()
			if r.ZeroWindow[i] = !t.ZeroSince.IsZero(); r.ZeroWindow[i] {
				r.ZeroFor[i] = max(now.Sub(t.ZeroSince), 0)
			}
		}
	}
	if v.Latency.Count > 0 {
		r.Latency, r.LatencyOK = v.Latency.Quantile(0.5), true
	}
	p := m.prev[v.ID]
	if p == nil {
		// New since the last frame: its replies came since the frame (or
		// over its life, on the first frame).
		p = &prevConn{t: base}
		if base.IsZero() || base.After(now) {
			p.t = v.Start
		}
		m.prev[v.ID] = p
	}
	p.seen = m.gen
	if p.rec != v {
		p.rec, p.cells = v, cellsOf(v, m.opt)
	}
	r.C = p.cells
	dt := now.Sub(p.t).Seconds()
	var latMS float32
	if dt > 0 {
		if n := v.Latency.Count - p.latCount; n > 0 && v.Latency.Count >= p.latCount {
			latMS = float32((v.Latency.Sum - p.latSum).Seconds() * 1000 / float64(n))
		}
		p.t = now
		p.latCount, p.latSum = v.Latency.Count, v.Latency.Sum
		_, bl, _ := r.Backlog()
		m.History.add(v.ID, [numHistSeries]float32{latMS, float32(bl)})
	} else {
		m.History.touch(v.ID)
	}
}

// History keeps the last HistoryLen points of every connection's latency
// and backlog series (the rate series are the RateMeter's). The model
// goroutine writes it; the UI reads the selected connection's.
type History struct {
	mu    sync.Mutex
	conns map[uint64]*ring
	gen   uint64
}

type ring struct {
	vals [numHistSeries][HistoryLen]float32
	head int // next slot
	n    int
	seen uint64
}

// NewHistory returns an empty history.
func NewHistory() *History { return &History{conns: make(map[uint64]*ring)} }

func (h *History) begin() { h.mu.Lock(); h.gen++ }

func (h *History) end(gen uint64) {
	for id, r := range h.conns {
		if r.seen != h.gen {
			delete(h.conns, id)
		}
	}
	h.mu.Unlock()
}

// touch keeps a connection's history without adding a point (called under
// begin/end).
func (h *History) touch(id uint64) {
	if r := h.conns[id]; r != nil {
		r.seen = h.gen
	} else {
		h.conns[id] = &ring{seen: h.gen}
	}
}

// add appends one point to each series (called under begin/end).
func (h *History) add(id uint64, p [numHistSeries]float32) {
	r := h.conns[id]
	if r == nil {
		r = &ring{}
		h.conns[id] = r
	}
	r.seen = h.gen
	for s := range p {
		r.vals[s][r.head] = p[s]
	}
	r.head = (r.head + 1) % HistoryLen
	if r.n < HistoryLen {
		r.n++
	}
}

// Series returns a copy of series s of connection id, oldest first (nil for
// the rate series: see RateMeter.Series).
func (h *History) Series(id uint64, s int) []float32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.conns[id]
	if r == nil || s < SeriesLatency || s >= numSeries {
		return nil
	}
	s -= SeriesLatency
	out := make([]float32, 0, r.n)
	start := (r.head - r.n + HistoryLen) % HistoryLen
	for i := range r.n {
		out = append(out, r.vals[s][(start+i)%HistoryLen])
	}
	return out
}

// Len returns how many connections have history.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

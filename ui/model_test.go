package ui

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

func snapAt(at time.Time, conns ...*tracker.Record) *session.Update {
	return &session.Update{Snapshot: &tracker.Snapshot{Time: at, Records: conns}}
}

// The model shows the rates the meter measured (Update.Rates, indexed like
// the snapshot's connections), and none without them.
func TestModelTakesMeterRates(t *testing.T) {
	m := NewModel(ModelOptions{})
	a := handConn(1, "10.0.0.1:40000", "10.0.0.2:5555", zmtp.REQ, zmtp.REP, 10, 10)
	b := handConn(2, "10.0.0.3:40000", "10.0.0.2:5555", zmtp.REQ, zmtp.REP, 3, 0)
	u := snapAt(t0.Add(2*time.Second), a, b)
	u.Rates = []session.WindowRate{{Msgs: [2]float64{5, 4}, Bytes: [2]float64{500, 400}}, {Msgs: [2]float64{3, 0}}}
	f := m.Apply(u)
	if r := f.Row(1); r.MsgRate != [2]float64{5, 4} || r.ByteRate != [2]float64{500, 400} {
		t.Errorf("rates %v %v, want the meter's", r.MsgRate, r.ByteRate)
	}
	if r := f.Row(2); r.MsgRate != [2]float64{3, 0} {
		t.Errorf("second connection's rates %v", r.MsgRate)
	}
	if f := m.Apply(snapAt(t0.Add(3*time.Second), a, b)); f.Row(1).MsgRate != [2]float64{} {
		t.Errorf("rates without a meter %v, want 0", f.Row(1).MsgRate)
	}
	if m.History.Series(1, SeriesRateC2S) != nil {
		t.Error("History keeps rate series (the meter's)")
	}
	// A connection gone from the snapshot loses its history and memory.
	m.Apply(snapAt(t0.Add(5*time.Second), b))
	if m.History.Series(1, SeriesBacklog) != nil || m.prev[1] != nil {
		t.Error("history of an evicted connection kept")
	}
}

func TestHistoryIsBounded(t *testing.T) {
	m := NewModel(ModelOptions{})
	a := handConn(1, "10.0.0.1:40000", "10.0.0.2:5555", zmtp.PUSH, zmtp.PULL, 0, 0)
	a.TCP[0].HaveSeq, a.TCP[0].HaveAck = true, true
	for i := range 3 * HistoryLen {
		a.TCP[0].NextSeq = uint32(i * i)
		m.Apply(snapAt(t0.Add(time.Duration(i+1)*time.Second), a))
	}
	s := m.History.Series(1, SeriesBacklog)
	if len(s) != HistoryLen {
		t.Fatalf("%d points kept, want %d", len(s), HistoryLen)
	}
	// The newest point is the last update's backlog: (n-1)² bytes in flight.
	n := 3 * HistoryLen
	if want := float32((n - 1) * (n - 1)); s[len(s)-1] != want {
		t.Errorf("newest point %v, want %v", s[len(s)-1], want)
	}
}

func TestModelSkipsNonZMTPAndRedactsPassword(t *testing.T) {
	a := handConn(1, "10.0.0.1:40000", "10.0.0.2:5555", zmtp.REQ, zmtp.REP, 1, 1)
	a.Mechanism = zmtp.MechPLAIN
	a.PlainUsername, a.PlainPassword = "admin", "hunter2"
	other := handConn(2, "10.0.0.1:40001", "10.0.0.2:80", zmtp.SocketUnknown, zmtp.SocketUnknown, 0, 0)
	other.Detection = zmtp.NotZMTP
	f := NewModel(ModelOptions{}).Apply(snapAt(t0, a, other))
	if len(f.Rows) != 1 || f.Rows[0].ID != 1 {
		t.Fatalf("rows %v, want only the ZMTP connection", len(f.Rows))
	}
	if f.Rows[0].C.PlainPassword != report.Redacted || strings.Contains(f.Rows[0].Search(), "hunter2") {
		t.Errorf("password not redacted: %q", f.Rows[0].C.PlainPassword)
	}
	f = NewModel(ModelOptions{ShowSecrets: true}).Apply(snapAt(t0, a))
	if f.Rows[0].C.PlainPassword != "hunter2" {
		t.Errorf("--show-secrets: password %q", f.Rows[0].C.PlainPassword)
	}
}

func TestAlertsMarkRows(t *testing.T) {
	a := handConn(1, "10.0.0.1:40000", "10.0.0.2:5555", zmtp.SUB, zmtp.PUB, 0, 9)
	b := handConn(2, "10.0.0.3:40000", "10.0.0.2:5555", zmtp.SUB, zmtp.PUB, 0, 9)
	c := handConn(3, "10.0.0.3:40001", "10.0.0.9:6666", zmtp.SUB, zmtp.PUB, 0, 9)
	u := snapAt(t0, a, b, c)
	u.Alerts = []rules.Alert{
		{Rule: "slow-subscriber", Severity: rules.SevCritical, State: rules.StateFiring, Client: "10.0.0.3:40000", Server: "10.0.0.2:5555"},
		{Rule: "hwm", Severity: rules.SevWarning, State: rules.StatePending, Server: "10.0.0.2:5555"},
	}
	f := NewModel(ModelOptions{}).Apply(u)
	got := []int{f.Row(1).Alert, f.Row(2).Alert, f.Row(3).Alert}
	if !slices.Equal(got, []int{1, 3, 0}) || f.Row(2).AlertRule != "slow-subscriber" || f.Row(1).AlertRule != "hwm" {
		t.Errorf("alert levels %v rules %q %q", got, f.Row(1).AlertRule, f.Row(2).AlertRule)
	}
}

func rowsOf(ids ...uint64) []*Row {
	out := make([]*Row, len(ids))
	for i, id := range ids {
		out[i] = &Row{ID: id, Rec: &tracker.Record{ID: id}}
	}
	return out
}

func TestSortRowsStableByID(t *testing.T) {
	rows := rowsOf(5, 3, 9, 1, 7)
	rate := map[uint64]float64{5: 2, 3: 1, 9: 2, 1: 1, 7: 0}
	for _, r := range rows {
		r.MsgRate[1] = rate[r.ID]
	}
	col := ColumnIndex("↓MSG/S")
	SortRows(rows, col, true)
	// Descending by rate; equal rates keep ascending IDs.
	if got := sortedIDs(rows); !slices.Equal(got, []uint64{5, 9, 1, 3, 7}) {
		t.Errorf("descending: %v", got)
	}
	SortRows(rows, col, false)
	if got := sortedIDs(rows); !slices.Equal(got, []uint64{7, 1, 3, 5, 9}) {
		t.Errorf("ascending: %v", got)
	}
	// Every column sorts without panicking and ties fall back to the ID.
	for i := range Columns {
		SortRows(rows, i, false)
		SortRows(rows, i, true)
	}
	SortRows(rows, ColumnIndex("ID"), true)
	if got := sortedIDs(rows); !slices.Equal(got, []uint64{1, 3, 5, 7, 9}) {
		t.Errorf("ID column sorts by ID ascending whatever the order: %v", got)
	}
}

func sortedIDs(rows []*Row) []uint64 {
	ids := make([]uint64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

func TestRenderRowIsPure(t *testing.T) {
	a := handConn(7, "192.168.1.10:43211", "192.168.1.20:5555", zmtp.DEALER, zmtp.ROUTER, 1200, 34)
	a.Latency.Add(1500 * time.Microsecond)
	a.TCP[1].HaveSeq, a.TCP[1].HaveAck, a.TCP[1].NextSeq, a.TCP[1].Acked = true, true, 5000, 1000
	u := snapAt(t0.Add(4*time.Second), a)
	u.Rates = []session.WindowRate{{Msgs: [2]float64{300, 8.5}}}
	f := NewModel(ModelOptions{}).Apply(u)
	r := f.Rows[0]
	cols := []int{ColumnIndex("ID"), ColumnIndex("CLIENT"), ColumnIndex("SOCKETS"), ColumnIndex("↑MSG/S"),
		ColumnIndex("↑MSGS"), ColumnIndex("LAT"), ColumnIndex("BACKLOG"), ColumnIndex("MECH"), ColumnIndex("ALERT")}
	want := []string{"7", "192.168.1.10:43211", "DEALER→ROUTER", "300", "1.2k", "1.5ms", "↓4.0k", "NULL", ""}
	got := RenderRow(r, cols)
	if !slices.Equal(got, want) {
		t.Errorf("row cells\n got %q\nwant %q", got, want)
	}
	if again := RenderRow(r, cols); !slices.Equal(again, got) {
		t.Error("rendering twice differs")
	}
	// A zero window shows as ZW and how long it has lasted.
	a.TCP[1].Window, a.TCP[1].ZeroSince = 0, t0.Add(2500*time.Millisecond)
	r = NewModel(ModelOptions{}).Apply(snapAt(t0.Add(4*time.Second), a)).Rows[0]
	if got := RenderRow(r, []int{ColumnIndex("BACKLOG")})[0]; got != "↓ZW 1.5s" {
		t.Errorf("zero window backlog %q", got)
	}
}

func TestLayoutFits(t *testing.T) {
	a := handConn(1, "127.0.0.1:26040", "127.0.0.1:16040", zmtp.DEALER, zmtp.ROUTER, 1, 1)
	f := NewModel(ModelOptions{}).Apply(snapAt(t0.Add(time.Second), a))
	for _, w := range []int{40, 60, 80, 100, 200} {
		l := LayoutColumns(f.Rows, w, 0, ModeRates)
		used := len(l.Cols) - 1
		for _, x := range l.Widths {
			used += x
		}
		if used > w {
			t.Errorf("width %d: layout takes %d", w, used)
		}
		names := map[string]bool{}
		for _, i := range l.Cols {
			names[Columns[i].Name] = true
		}
		if !names["CLIENT"] || !names["SERVER"] {
			t.Errorf("width %d: endpoints dropped: %v", w, names)
		}
		if w >= 80 && (!names["STATE"] || !names["↓MSG/S"] || !names["BACKLOG"] || !names["SOCKETS"]) {
			t.Errorf("width %d: essential columns missing: %v", w, names)
		}
		if w == 200 && len(l.Cols) < len(Columns)-5 { // ALERT, LAT, SUBS, IDENTITY, NOTES: nothing fills them
			t.Errorf("width 200 shows only %v", names)
		}
		if !names["ID"] {
			t.Errorf("width %d: the sort column ID dropped: %v", w, names)
		}
		// At 40 only the endpoints and the sort column (ID) fit, and the
		// 4-wide ZMTP fills the room no other column fits in.
		if w < 80 && w > 40 && names["ZMTP"] {
			t.Errorf("width %d shows low-priority ZMTP column", w)
		}
	}
	// Sorting by a column keeps it on screen even when narrow.
	l := LayoutColumns(f.Rows, 60, ColumnIndex("↑BYTES"), ModeRates)
	if !slices.Contains(l.Cols, ColumnIndex("↑BYTES")) {
		t.Error("sort column dropped")
	}
}

func TestFilter(t *testing.T) {
	mk := func(id uint64, client string, state zmtp.ConnState, sub string) *tracker.Record {
		v := handConn(id, client, "10.0.0.2:5555", zmtp.SUB, zmtp.PUB, 0, 0)
		v.State = state
		if sub != "" {
			v.Subscriptions = []string{sub}
		}
		return v
	}
	rows := NewModel(ModelOptions{}).Apply(snapAt(t0, mk(1, "10.0.0.1:1000", zmtp.StateOpen, "weather"),
		mk(2, "10.0.0.1:1001", zmtp.StateClosed, "news"), mk(3, "10.0.0.3:1002", zmtp.StateReset, ""))).Rows
	for _, c := range []struct {
		expr    string
		want    []uint64
		literal bool
	}{
		{"", []uint64{1, 2, 3}, false},
		{"!", []uint64{1, 2, 3}, false},
		{"weather", []uint64{1}, false},
		{"WEATHER", []uint64{1}, false},
		{"!weather", []uint64{2, 3}, false},
		{"100[12]", []uint64{2, 3}, false},
		{"^10\\.0\\.0\\.1:", []uint64{1, 2}, false},
		{"closed|reset", []uint64{2, 3}, false},
		{"!open", []uint64{2, 3}, false},
		{"sub→pub", []uint64{1, 2, 3}, false},
		{"[news", nil, true}, // not a regexp: matched literally, nothing has "[news"
		{"!(oops", []uint64{1, 2, 3}, true},
	} {
		f := ParseFilter(c.expr)
		got := sortedIDs(f.Apply(rows))
		if !slices.Equal(got, c.want) || f.Literal != c.literal {
			t.Errorf("filter %q: %v (literal %v), want %v (literal %v)", c.expr, got, f.Literal, c.want, c.literal)
		}
	}
}

func TestFromRules(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	in := []rules.Alert{
		{Rule: "slow-subscriber", Severity: rules.SevCritical, State: rules.StateFiring, Client: "a:1", Server: "b:2",
			Message: "zero window for 3s", PendingAt: at(1), FiredAt: at(4), Labels: map[string]string{"group": "pub b:2"}},
		{Rule: "hwm", Severity: rules.SevWarning, State: rules.StatePending, Server: "b:2", PendingAt: at(5)},
		{Rule: "stuck", Severity: rules.SevInfo, State: rules.StateInactive, PendingAt: at(1), ResolvedAt: at(2)},
		{Rule: "gone", Severity: rules.SevWarning, State: rules.StateResolved, PendingAt: at(1), FiredAt: at(2), ResolvedAt: at(7),
			Resolution: "connection closed (FIN)", Sender: "c:3", SenderSocket: "PUSH", Receiver: "d:4", ReceiverSocket: "PULL", Group: "g", Root: true},
	}
	got := FromRules(in)
	want := []Alert{
		{Rule: "slow-subscriber", Severity: SevCritical, State: StateFiring, Client: "a:1", Server: "b:2", Message: "zero window for 3s", Since: at(4),
			Labels: map[string]string{"group": "pub b:2"}},
		{Rule: "hwm", Severity: SevWarning, State: StatePending, Server: "b:2", Since: at(5)},
		{Rule: "stuck", Severity: SevInfo, State: StateResolved, Since: at(2)},
		{Rule: "gone", Severity: SevWarning, State: StateResolved, Since: at(7), Resolution: "connection closed (FIN)",
			Sender: "c:3", SenderSocket: "PUSH", Receiver: "d:4", ReceiverSocket: "PULL", Group: "g", Root: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FromRules:\n got %+v\nwant %+v", got, want)
	}
	if lv := []int{got[0].level(), got[1].level(), got[2].level()}; !slices.Equal(lv, []int{3, 1, 0}) {
		t.Errorf("levels %v", lv)
	}
}

func TestStoreState(t *testing.T) {
	for _, c := range []struct {
		st   session.StoreStatus
		want string
	}{
		{session.StoreStatus{Name: "influx", Up: true, Written: 10}, "influx ok"},
		{session.StoreStatus{Name: "influx", LastError: "dial tcp: connection refused", SpoolBytes: 2500000, Dropped: 3}, "influx down: dial tcp: connection refused, spool 2.5MB, 3 dropped"},
		{session.StoreStatus{Name: "influx"}, "influx waiting"},
	} {
		if got := StoreState(&c.st); got != c.want {
			t.Errorf("StoreState(%+v) = %q, want %q", c.st, got, c.want)
		}
	}
}

// The filter's text is lower-cased as strings.ToLower would, without making a
// string per part.
func TestAppendLowerIsToLower(t *testing.T) {
	for _, s := range []string{"", "SUB→PUB", "zmtp3.1", "ÀÉÎ İ ΣΑΣ", "bad \xff\xfe utf-8", "Worker-1 [RED]"} {
		if got, want := string(appendLower([]byte("x "), s)), "x "+strings.ToLower(s); got != want {
			t.Errorf("appendLower(%q) = %q, want %q", s, got, want)
		}
	}
}

package rules

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/store"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func latencyPoint(ts time.Time, client string, p99 float64) store.Point {
	p := store.Point{Measurement: metrics.MeasLatency, Time: ts}
	p.AddTag("client_host", client)
	p.AddTag("host", "h")
	p.AddTag("server", "127.0.0.1:5555")
	p.AddField(store.Int("replies", 10))
	p.AddField(store.Float("p99_ms", p99))
	return p
}

func mustRule(t *testing.T, yml string) []*Rule {
	t.Helper()
	f, err := Parse("t.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return f.Rules()
}

// TestStates steps time by hand through inactive → pending → firing →
// (kept firing) → resolved, and a pending alert that clears before firing.
func TestStates(t *testing.T) {
	rs := mustRule(t, `
builtins: false
groups:
  - name: latency
    rules:
      - alert: slow_replies
        expr: zspy_latency.p99_ms > 100
        for: 2s
        keep_firing_for: 1s
        severity: critical
        labels: {team: rpc}
        annotations:
          message: "{{.Client}} → {{.Server}} p99 {{.Value}} ms"
`)
	var console bytes.Buffer
	e := New(rs, &Console{W: &console})
	slow := func(ts time.Time, p99a, p99b float64) []Alert {
		return e.EvalSnapshot(ts, nil, []store.Point{latencyPoint(ts, "10.0.0.41", p99a), latencyPoint(ts, "10.0.0.42", p99b)})
	}
	steps := []struct {
		at     time.Duration
		a, b   float64
		states string // changes at this step: client port:state
	}{
		{0, 50, 50, ""},
		{1 * time.Second, 150, 150, "0.41:pending 0.42:pending"},
		{2 * time.Second, 150, 20, "0.42:inactive"},
		{3 * time.Second, 150, 20, "0.41:firing"},
		{4 * time.Second, 20, 20, ""}, // kept firing for 1s
		{5 * time.Second, 20, 20, "0.41:resolved"},
		{6 * time.Second, 300, 20, "0.41:pending"}, // a new instance
	}
	for _, s := range steps {
		ch := slow(t0.Add(s.at), s.a, s.b)
		var got []string
		for _, a := range ch {
			got = append(got, a.Client[len(a.Client)-4:]+":"+a.State.String())
		}
		if strings.Join(got, " ") != s.states {
			t.Errorf("at %v: changes %q, want %q", s.at, strings.Join(got, " "), s.states)
		}
	}
	all := e.Alerts()
	if len(all) != 3 {
		t.Fatalf("%d alerts in history, want 3", len(all))
	}
	a := all[0]
	if a.State != StateResolved || !a.PendingAt.Equal(t0.Add(time.Second)) || !a.FiredAt.Equal(t0.Add(3*time.Second)) || !a.ResolvedAt.Equal(t0.Add(5*time.Second)) {
		t.Errorf("first alert %+v", a)
	}
	if a.Message != "10.0.0.41 → 127.0.0.1:5555 p99 150 ms" || a.Labels["team"] != "rpc" || a.Labels["client_host"] != "10.0.0.41" || a.Severity != SevCritical {
		t.Errorf("first alert message %q labels %v", a.Message, a.Labels)
	}
	if all[1].State != StateInactive || !all[1].FiredAt.IsZero() {
		t.Errorf("second alert %+v", all[1])
	}
	if all[2].State != StatePending {
		t.Errorf("third alert %+v", all[2])
	}
	if n := len(e.Active()); n != 1 {
		t.Errorf("%d active", n)
	}
	lines := strings.Split(strings.TrimSpace(console.String()), "\n")
	if len(lines) != 6 || !strings.Contains(lines[3], "firing") || !strings.HasPrefix(lines[3], "2026-11-25T12:00:03.000Z firing   critical slow_replies 10.0.0.41 → 127.0.0.1:5555: 10.0.0.41") {
		t.Errorf("console:\n%s", console.String())
	}
	// The report form.
	b, err := json.Marshal(e.ReportAlerts())
	if err != nil {
		t.Fatal(err)
	}
	var rep []map[string]any
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep[0]["rule"] != "slow_replies" || rep[0]["state"] != "resolved" || rep[0]["fired_at"] != "2026-11-25T12:00:03Z" || rep[0]["client"] != "10.0.0.41" || rep[1]["fired_at"] != nil {
		t.Errorf("report %s", b)
	}
}

// TestForZeroFiresAtOnce: a rule without `for` fires at the first evaluation
// that sees its condition, with the detector's start as pending time.
func TestForZeroFiresAtOnce(t *testing.T) {
	rs := mustRule(t, "builtins: false\ngroups:\n  - name: g\n    rules:\n      - alert: any\n        expr: zspy_latency.p99_ms >= 0\n")
	e := New(rs)
	ch := e.EvalSnapshot(t0, nil, []store.Point{latencyPoint(t0, "127.0.0.1:1", 1)})
	if len(ch) != 1 || ch[0].State != StateFiring || !ch[0].PendingAt.Equal(t0) || !ch[0].FiredAt.Equal(t0) {
		t.Fatalf("changes %+v", ch)
	}
	// Same evaluation again: no change.
	if ch := e.EvalSnapshot(t0.Add(time.Second), nil, []store.Point{latencyPoint(t0, "127.0.0.1:1", 1)}); len(ch) != 0 {
		t.Errorf("changes %+v", ch)
	}
}

func TestExprEval(t *testing.T) {
	conn := func(recv string, window, inflight int64, zero bool) store.Point {
		p := store.Point{Measurement: metrics.MeasConnection, Time: t0}
		p.AddTag("receiver", recv)
		p.AddTag("dir", "s2c")
		p.AddField(store.Int("window_bytes", window))
		p.AddField(store.Int("in_flight_bytes", inflight))
		var zw int64
		if zero {
			zw = 1
		}
		p.AddField(store.Int("zero_windows", zw))
		return p
	}
	cases := []struct {
		expr string
		p    store.Point
		want bool
	}{
		{`zspy_connection.window_bytes == 0`, conn("SUB", 0, 0, true), true},
		{`zspy_connection{receiver="SUB"}.window_bytes == 0`, conn("PULL", 0, 0, true), false},
		{`zspy_connection{receiver!="SUB"}.window_bytes == 0`, conn("PULL", 0, 0, true), true},
		{`zspy_connection{receiver="SUB", dir="s2c"}.zero_windows`, conn("SUB", 0, 0, true), true},
		{`zspy_connection.zero_windows`, conn("SUB", 10, 0, false), false},
		{`not zspy_connection.zero_windows`, conn("SUB", 10, 0, false), true},
		{`zspy_connection.window_bytes < 1e3 and zspy_connection.in_flight_bytes >= 500`, conn("SUB", 999, 500, false), true},
		{`zspy_connection.window_bytes < 1e3 and zspy_connection.in_flight_bytes >= 500`, conn("SUB", 999, 499, false), false},
		{`zspy_connection.window_bytes > 5 or (zspy_connection.in_flight_bytes != 0)`, conn("SUB", 0, 1, false), true},
		{`zspy_connection.msg_size_mean > 0`, conn("SUB", 0, 1, false), false}, // field absent
		{`zspy_latency.p99_ms > 0`, conn("SUB", 0, 1, false), false},           // another measurement
	}
	for _, c := range cases {
		e, err := ParseExpr(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if got, _ := e.match(&c.p); got != c.want {
			t.Errorf("%s: %v, want %v", c.expr, got, c.want)
		}
	}
}

func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{
		`zspy_connection{receiver="SUB"}.window_bytes == 0`,
		`not (zspy_latency.p99_ms > 1.5e2 or zspy_latency.outstanding >= 3) and zspy_latency.replies < -1`,
		`zspy_subscriber.rate_ratio < 0.2`, `((((`, `zspy_topic{topic="a\"b"}.delivered`,
	} {
		f.Add(s)
	}
	p := latencyPoint(t0, "c", 3)
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseExpr(s)
		if err != nil {
			if _, ok := err.(*ExprError); !ok {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		e.match(&p)
	})
}

func BenchmarkEvalExpr(b *testing.B) {
	f, err := Parse("b.yaml", []byte("builtins: false\ngroups:\n  - name: g\n    rules:\n      - alert: a\n        expr: zspy_latency.p99_ms > 100 and zspy_latency.replies > 0\n"))
	if err != nil {
		b.Fatal(err)
	}
	rs := f.Rules()
	pts := make([]store.Point, 1000)
	for i := range pts {
		pts[i] = latencyPoint(t0, "127.0.0.1:"+itoa(int64(10000+i)), float64(i%200))
	}
	e := New(rs)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.EvalSnapshot(t0.Add(time.Duration(i)*time.Second), nil, pts)
	}
	b.ReportMetric(float64(len(pts)), "points/op")
}

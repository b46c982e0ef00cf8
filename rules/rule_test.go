package rules

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestParseErrors: a rule file with mistakes gets exact messages naming the
// line, the column and the field.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, file string
		want       []string // each error, in order
	}{
		{"unknown field of a measurement", `
groups:
  - name: g
    rules:
      - alert: a
        expr: zspy_connection.zero_window_sec > 5
`, []string{`t.yaml:6:31: groups[0].rules[0].expr: unknown field "zero_window_sec" of zspy_connection (known: connections, messages, frames, bytes, commands, msg_rate, byte_rate, msg_size_min, msg_size_max, msg_size_mean, messages_total, frames_total, bytes_total, lost_bytes_total, in_flight_bytes, window_bytes, zero_windows, zero_window_episodes_total, zero_window_ms_total, retransmits, window_full, queue_outbound, queue_inbound)`}},
		{"unknown measurement", `
groups:
  - name: g
    rules:
      - alert: a
        expr: "zspy_conection.window_bytes == 0"
`, []string{`t.yaml:6:16: groups[0].rules[0].expr: unknown measurement "zspy_conection" (known: zspy_connection, zspy_endpoint, zspy_latency, zspy_socket_queue, zspy_subscriber, zspy_topic)`}},
		{"unknown tag", `
groups:
  - name: g
    rules:
      - alert: a
        expr: zspy_connection{socket="SUB"}.window_bytes == 0
`, []string{`t.yaml:6:31: groups[0].rules[0].expr: unknown tag "socket" of zspy_connection (known: host, server, client_host, dir, sender, receiver, mechanism, sender_command, receiver_command)`}},
		{"syntax", `
groups:
  - name: g
    rules:
      - alert: a
        expr: zspy_latency.p99_ms > > 3
`, []string{`t.yaml:6:37: groups[0].rules[0].expr: expected a number after >, got ">"`}},
		{"mixed measurements", `
groups:
  - name: g
    rules:
      - alert: a
        expr: zspy_latency.p99_ms > 3 and zspy_connection.retransmits > 0
`, []string{`t.yaml:6:43: groups[0].rules[0].expr: measurement zspy_connection mixed with zspy_latency: one expression is evaluated per point of one measurement`}},
		{"single equals", `
groups:
  - name: g
    rules:
      - alert: a
        expr: zspy_connection.window_bytes = 0
`, []string{`t.yaml:6:44: groups[0].rules[0].expr: "=" compares nothing: use "=="`}},
		{"bad duration, severity and unknown rule field", `
groups:
  - name: g
    rules:
      - alert: a
        expr: zspy_latency.p99_ms > 100
        for: 5 seconds
        severity: urgent
        lables: {team: x}
`, []string{
			`t.yaml:7:14: groups[0].rules[0].for: want a duration such as 500ms or 2s, got "5 seconds"`,
			`t.yaml:8:19: groups[0].rules[0].severity: severity "urgent": want info, warning or critical`,
			`t.yaml:9:9: groups[0].rules[0].lables: unknown field (known: alert, expr, detector, params, for, keep_firing_for, severity, labels, annotations)`,
		}},
		{"neither expr nor detector, missing name", `
groups:
  - name: g
    rules:
      - severity: info
`, []string{
			`t.yaml:5:9: groups[0].rules[0].alert: missing: every rule needs a name (alert: NAME)`,
			`t.yaml:5:9: groups[0].rules[0]: want either expr or detector`,
		}},
		{"both expr and detector", `
groups:
  - name: g
    rules:
      - alert: a
        expr: zspy_latency.p99_ms > 100
        detector: stuck_request
`, []string{`t.yaml:7:19: groups[0].rules[0].detector: a rule has either expr or detector, not both`}},
		{"unknown detector", `
groups:
  - name: g
    rules:
      - alert: a
        detector: slow_consumer
`, []string{`t.yaml:6:19: groups[0].rules[0].detector: unknown detector "slow_consumer" (known: handshake_failure, heartbeat_timeout, hwm_saturation, incompatible_sockets, pipes_stats_depth, pub_no_subscribers, reconnect_storm, recv_queue_growth, rep_stopped_replying, slow_subscriber, stuck_request)`}},
		{"bad params", `
groups:
  - name: g
    rules:
      - alert: a
        detector: hwm_saturation
        params:
          zero_window: fast
          zero_windw: 1s
      - alert: b
        detector: slow_subscriber
        params: {ratio: "low", min_best_rate: -3}
`, []string{
			`t.yaml:8:24: groups[0].rules[0].params.zero_window: want a duration such as 500ms or 2s, got "fast"`,
			`t.yaml:9:11: groups[0].rules[0].params.zero_windw: unknown field (known: zero_window, in_flight_full)`,
			`t.yaml:12:25: groups[0].rules[1].params.ratio: want a number, got "low"`,
			`t.yaml:12:47: groups[0].rules[1].params.min_best_rate: want a number ≥ 0, got -3`,
		}},
		{"params with expr", `
groups:
  - name: g
    rules:
      - alert: a
        expr: zspy_latency.p99_ms > 100
        params: {timeout: 1s}
`, []string{`t.yaml:7:17: groups[0].rules[0].params: params belong to a detector; this rule has an expr`}},
		{"duplicate names", `
groups:
  - name: g
    rules:
      - alert: a
        expr: zspy_latency.p99_ms > 100
  - name: g
    rules:
      - alert: a
        expr: zspy_latency.p99_ms > 200
`, []string{
			`t.yaml:7:11: groups[1].name: group "g" defined twice`,
			`t.yaml:9:16: groups[1].rules[0].alert: rule "a" already defined at line 5`,
		}},
		{"bad template", `
groups:
  - name: g
    rules:
      - alert: a
        expr: zspy_latency.p99_ms > 100
        annotations:
          message: "{{.Client} slow"
`, []string{`t.yaml:8:20: groups[0].rules[0].annotations.message: bad template: message:1: bad character U+007D '}'`}},
		{"not yaml", "groups:\n  - name: 'g\n", []string{`t.yaml:2:1: not valid YAML: found unexpected end of stream`}},
		{"groups missing", "builtins: false\n", []string{`t.yaml:1:1: groups: missing: want a list of rule groups`}},
		{"groups not a list", "groups: {a: 1}\n", []string{`t.yaml:1:9: groups: want a list of rule groups, got a mapping`}},
		{"builtins not a bool", "builtins: maybe\ngroups: []\n", []string{`t.yaml:1:11: builtins: want true or false, got "maybe"`}},
		{"empty", "", []string{`t.yaml: empty rule file: want a mapping with groups`}},
		{"bad rule name", `
groups:
  - name: g
    rules:
      - alert: "slow sub"
        expr: zspy_latency.p99_ms > 100
`, []string{`t.yaml:5:16: groups[0].rules[0].alert: rule name "slow sub": want letters, digits and _ (not starting with a digit)`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("t.yaml", []byte(tc.file))
			if err == nil {
				t.Fatalf("no error; rules %v", f.Rules())
			}
			if !errors.Is(err, ErrInvalidRules) {
				t.Errorf("error %v is not ErrInvalidRules", err)
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

const goodFile = `
builtins: true
groups:
  - name: backpressure
    rules:
      - alert: sub_window_closed
        expr: zspy_connection{receiver="SUB", dir!="c2s"}.window_bytes == 0 and zspy_connection.in_flight_bytes > 0
        for: 2s
        keep_firing_for: 5s
        severity: critical
        labels: {team: marketdata}
        annotations:
          message: "{{.Labels.receiver}} {{.Client}} window closed ({{.Value}} bytes): {{.Evidence}}"
      - alert: hwm_saturation
        detector: hwm_saturation
        params: {zero_window: 250ms}
  - name: latency
    rules:
      - alert: slow_replies
        expr: zspy_latency.p99_ms > 100 or zspy_latency.oldest_pending_ms >= 2000
`

func TestParseGood(t *testing.T) {
	f, err := Parse("good.yaml", []byte(goodFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Groups) != 2 || !f.Builtins {
		t.Fatalf("groups %d builtins %v", len(f.Groups), f.Builtins)
	}
	r := f.Groups[0].Rules[0]
	if r.Name != "sub_window_closed" || r.For != 2*time.Second || r.KeepFiringFor != 5*time.Second || r.Severity != SevCritical || r.Labels["team"] != "marketdata" {
		t.Errorf("rule %+v", r)
	}
	if r.Expr.Measurement() != "zspy_connection" {
		t.Errorf("measurement %s", r.Expr.Measurement())
	}
	h := f.Groups[0].Rules[1]
	if hp, ok := h.Params.(*HWMParams); !ok || *hp != (HWMParams{ZeroWindow: 250 * time.Millisecond, InFlightFull: time.Second}) {
		t.Errorf("params %#v", h.Params)
	}
	// A clone has parameters of its own.
	c := h.Clone()
	c.Params.(*HWMParams).ZeroWindow = time.Hour
	if h.Params.(*HWMParams).ZeroWindow != 250*time.Millisecond {
		t.Error("a clone shares its parameters with the rule")
	}
	all := f.Rules()
	if again := f.Rules(); again[len(again)-1] == all[len(all)-1] || again[len(again)-1].det == all[len(all)-1].det && all[len(all)-1].det != nil {
		t.Error("Rules returned the same rule twice: two engines would share evaluation state")
	}
	// The file's hwm_saturation replaces the built-in one.
	names := map[string]int{}
	for _, r := range all {
		names[r.Name]++
	}
	if names["hwm_saturation"] != 1 || len(all) != len(Builtins())+2 {
		t.Errorf("rules %v", names)
	}
	for _, r := range all {
		if r.Name == "hwm_saturation" && r.Builtin {
			t.Error("the built-in hwm_saturation was not replaced")
		}
	}
	f2, err := Parse("off.yaml", []byte("builtins: false\ngroups:\n  - name: g\n    rules:\n      - alert: x\n        detector: stuck_request\n"))
	if err != nil {
		t.Fatal(err)
	}
	if rs := f2.Rules(); len(rs) != 1 || rs[0].Condition() != "stuck_request(timeout=1s, hold=5m0s)" {
		t.Errorf("rules %v", rs)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(goodFile))
	f.Add([]byte("groups: [{name: g, rules: [{alert: a, detector: hwm_saturation, params: {zero_window: 1s}}]}]"))
	f.Add([]byte("groups:\n  - name: g\n    rules:\n      - alert: a\n        expr: not (zspy_topic.delivered < 1)\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			var fe FileErrors
			if !errors.As(err, &fe) || len(fe) == 0 {
				t.Fatalf("error %v is not a FileErrors list", err)
			}
			return
		}
		for _, r := range file.Rules() {
			if r.Expr == nil && r.det == nil {
				t.Fatalf("rule %s has no condition", r.Name)
			}
		}
	})
}

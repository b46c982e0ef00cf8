package rules

import (
	"slices"
	"strings"
	"testing"
)

// TestBuiltinOrder holds the order of the built-in rules (alerts raised in
// one evaluation come in this order, and the report lists them so) and checks
// every registration: a unique Order, a doc, parameters with names and docs.
func TestBuiltinOrder(t *testing.T) {
	var names []string
	orders := map[int]string{}
	for _, r := range Builtins() {
		names = append(names, r.Name)
		s := detectors[r.Detector]
		if o, dup := orders[s.order]; dup {
			t.Errorf("%s and %s have Order %d", o, s.name, s.order)
		}
		orders[s.order] = s.name
		if s.doc == "" || r.Severity != s.severity || !validSeverity(s.severity) {
			t.Errorf("%s: doc %q severity %q", s.name, s.doc, s.severity)
		}
		seen := map[string]bool{}
		for _, p := range r.Params.params() {
			if p.name == "" || p.doc == "" || seen[p.name] {
				t.Errorf("%s: parameter %+v", s.name, p)
			}
			seen[p.name] = true
		}
		if doc, params := DetectorDoc(r.Name); doc != s.doc || len(params) != len(seen) {
			t.Errorf("%s: DetectorDoc %q %v", s.name, doc, params)
		}
	}
	want := []string{"hwm_saturation", "pipes_stats_depth", "slow_subscriber", "stuck_request",
		"rep_stopped_replying", "handshake_failure", "incompatible_sockets", "reconnect_storm",
		"pub_no_subscribers", "heartbeat_timeout", "recv_queue_growth"}
	if !slices.Equal(names, want) {
		t.Errorf("built-in rules %v, want %v", names, want)
	}
	if got := Builtins()[0].Condition(); got != "hwm_saturation(zero_window=100ms, in_flight_full=1s)" {
		t.Errorf("condition %q", got)
	}
	if _, params := DetectorDoc("pipes_stats_depth"); len(params) != 2 || !strings.HasPrefix(params[0], "hwm=1000: ") || !strings.HasPrefix(params[1], "fraction=0.8: ") {
		t.Errorf("params %v", params)
	}
}

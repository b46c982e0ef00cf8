package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zspy/zspy/rules"
)

func TestRulesCheck(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("groups:\n  - name: g\n    rules:\n      - alert: a\n        expr: zspy_latency.p99 > 5\n        for: soon\n"), 0o644)
	out, err := runZspy(t, "rules", "check", bad)
	if err == nil || err.Error() != "2 mistake(s) in rule files" {
		t.Errorf("error %v", err)
	}
	want := bad + `:5:28: groups[0].rules[0].expr: unknown field "p99" of zspy_latency (known: connections, replies, p50_ms, p99_ms, max_ms, outstanding, oldest_pending_ms, replies_total)` + "\n" +
		bad + `:6:14: groups[0].rules[0].for: want a duration such as 500ms or 2s, got "soon"` + "\n"
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	out, err = runZspy(t, "rules", "check", "../../rules/testdata/example.yaml")
	if err != nil || out != "../../rules/testdata/example.yaml: ok: 2 group(s), 4 rule(s), built-in rules on, 14 rule(s) active\n" {
		t.Errorf("output %q error %v", out, err)
	}
	if _, err := runZspy(t, "rules", "check", filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("a missing file passed")
	}
}

func TestRulesList(t *testing.T) {
	out, err := runZspy(t, "rules", "list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1+len(rules.Builtins()) || !strings.HasPrefix(lines[0], "RULE") {
		t.Fatalf("output:\n%s", out)
	}
	for _, r := range rules.Builtins() {
		if !strings.Contains(out, r.Name+" ") || !strings.Contains(out, r.Condition()) {
			t.Errorf("list lacks %s", r.Name)
		}
	}
	out, err = runZspy(t, "rules", "list", "-v", "--rules", "../../rules/testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "consumer_window_closed  backpressure  critical  0s   10s   zspy_connection{receiver=\"PULL\"}.zero_window_ms_total > 500") ||
		!strings.Contains(out, "hwm_saturation(zero_window=250ms, in_flight_full=2s)") || !strings.Contains(out, "  grace=1s: how long after connecting") {
		t.Errorf("output:\n%s", out)
	}
}

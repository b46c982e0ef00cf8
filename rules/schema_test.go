package rules_test

import (
	"testing"
	"time"

	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/rules"
)

// TestExprSchema: rule expressions accept every tag and field of the
// per-interval series of metrics.Schema (the collector writes exactly those:
// metrics' TestCollectorWritesSchema), and no other measurement.
func TestExprSchema(t *testing.T) {
	n := 0
	for _, m := range metrics.Schema {
		for _, f := range m.Fields {
			_, err := rules.ParseExpr(m.Name + "." + f.Name + " >= 0")
			if m.Interval && err != nil {
				t.Errorf("%s.%s: %v", m.Name, f.Name, err)
			}
			if !m.Interval && err == nil {
				t.Errorf("%s.%s accepted: %s is not a per-interval series", m.Name, f.Name, m.Name)
			}
			n++
		}
		for _, tag := range m.Tags {
			if _, err := rules.ParseExpr(m.Name + "{" + tag.Name + `="x"}.` + m.Fields[0].Name); m.Interval && err != nil {
				t.Errorf("%s{%s}: %v", m.Name, tag.Name, err)
			}
		}
	}
	for _, bad := range []string{"zspy_connection.nonesuch > 1", `zspy_latency{dir="c2s"}.replies > 1`, "zspy_nonesuch.x > 1"} {
		if _, err := rules.ParseExpr(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if n < 50 {
		t.Errorf("only %d fields in the schema", n)
	}
}

// TestAlertPointsSchema: the alerts points fit metrics.Schema.
func TestAlertPointsSchema(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pts := rules.Points("h", []rules.Alert{
		{Rule: "r", Severity: rules.SevWarning, State: rules.StateFiring, Client: "a:1", Server: "b:2", Value: 1.5, Message: "m", At: at},
		{Rule: "r", Severity: rules.SevCritical, State: rules.StateResolved, Server: "b:2", At: at},
	})
	if len(pts) != 2 {
		t.Fatalf("%d points", len(pts))
	}
	for i := range pts {
		if err := metrics.Schema.Check(&pts[i]); err != nil {
			t.Error(err)
		}
	}
}

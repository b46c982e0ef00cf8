package rules

import (
	"encoding/json"
	"testing"
)

// TestStateText: states print, marshal and parse by name (the report's
// "state"), and number as the alerts series' state_code.
func TestStateText(t *testing.T) {
	for i, name := range []string{"inactive", "pending", "firing", "resolved"} {
		s := State(i)
		if s.String() != name || StateCode(s) != int64(i) {
			t.Errorf("state %d: %q code %d", i, s, StateCode(s))
		}
		b, err := json.Marshal(ReportAlert{State: s})
		if err != nil {
			t.Fatal(err)
		}
		var back struct{ State State }
		if err := json.Unmarshal(b, &back); err != nil || back.State != s {
			t.Errorf("%s: %s → %v (%v)", name, b, back.State, err)
		}
	}
	var s State
	if err := s.UnmarshalText([]byte("burning")); err == nil {
		t.Error("unknown state accepted")
	}
	if State(9).String() != "state(9)" {
		t.Errorf("state 9: %s", State(9))
	}
}

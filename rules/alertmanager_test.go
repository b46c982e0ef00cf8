package rules

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// The fingerprint is Prometheus's: the vector of prometheus/common's
// TestMetricToFingerprint.
func TestFingerprintIsPrometheus(t *testing.T) {
	if got, want := Fingerprint(map[string]string{"name": "garland, briggs", "fear": "love is not enough"}), fmt.Sprintf("%016x", uint64(5799056148416392346)); got != want {
		t.Errorf("fingerprint %s, want %s", got, want)
	}
	if got, want := Fingerprint(nil), fmt.Sprintf("%016x", uint64(14695981039346656037)); got != want {
		t.Errorf("empty: %s, want %s", got, want)
	}
}

// Pending changes are not sent (Alertmanager never hears of them); a
// resolved alert carries endsAt, a firing one the zero time; the alert's own
// labels flow through; common labels are what all share.
func TestAlertmanagerEncoder(t *testing.T) {
	at := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	enc := AlertmanagerEncoder(AlertmanagerOptions{Host: "probe1", ExternalURL: "http://grafana/d/zspy"})
	if b, err := enc([]Alert{{Rule: "stuck_request", State: StatePending, PendingAt: at}}); b != nil || err != nil {
		t.Fatalf("a pending change posted %s, %v", b, err)
	}
	b, err := enc([]Alert{
		{Rule: "stuck_request", Severity: SevWarning, State: StateFiring, Client: "10.0.0.1:40000", Server: "10.0.0.2:5555",
			Labels: map[string]string{"client_type": "REQ", "group": "billing"}, Message: "no reply for 5s", FiredAt: at},
		{Rule: "heartbeat_timeout", Severity: SevCritical, State: StateResolved, Server: "10.0.0.2:5555",
			Labels: map[string]string{"group": "billing"}, Annotations: map[string]string{"message": "silent", "runbook": "x"},
			FiredAt: at, ResolvedAt: at.Add(time.Minute)},
		{Rule: "other", State: StateInactive, PendingAt: at, ResolvedAt: at}, // pending that cleared: never fired
	})
	if err != nil {
		t.Fatal(err)
	}
	var p AlertmanagerPayload
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.Version != "4" || p.Status != "firing" || p.Receiver != "zspy" || len(p.Alerts) != 2 || p.GroupLabels["host"] != "probe1" ||
		p.GroupKey != `{}:{host="probe1"}` || p.ExternalURL != "http://grafana/d/zspy" {
		t.Fatalf("payload %s", b)
	}
	f, r := p.Alerts[0], p.Alerts[1]
	if f.Status != "firing" || f.Labels["alertname"] != "stuck_request" || f.Labels["client_type"] != "REQ" || f.Labels["host"] != "probe1" ||
		f.Labels["client"] != "10.0.0.1:40000" || f.Annotations["message"] != "no reply for 5s" || !f.StartsAt.Equal(at) || !f.EndsAt.IsZero() ||
		f.Fingerprint != Fingerprint(f.Labels) || f.GeneratorURL != "http://grafana/d/zspy" {
		t.Errorf("firing alert %+v", f)
	}
	if r.Status != "resolved" || !r.EndsAt.Equal(at.Add(time.Minute)) || r.Annotations["runbook"] != "x" || r.Labels["severity"] != "critical" {
		t.Errorf("resolved alert %+v", r)
	}
	want := map[string]string{"host": "probe1", "group": "billing", "server": "10.0.0.2:5555"}
	if fmt.Sprint(p.CommonLabels) != fmt.Sprint(want) || len(p.CommonAnnotations) != 0 {
		t.Errorf("common labels %v, annotations %v", p.CommonLabels, p.CommonAnnotations)
	}
}

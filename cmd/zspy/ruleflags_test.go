package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReplayWebhookHangingDrain: a webhook server that never answers holds
// replay's exit for --alert-webhook-drain at most, and the report's warnings
// count the alert changes it did not get.
func TestReplayWebhookHangingDrain(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer srv.Close()
	defer close(stop)
	out, err := runZspy(t, "replay", "--json", "--alert-webhook", srv.URL, "--alert-webhook-drain", "200ms", pcaps+"mismatch/capture.pcap")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var r struct {
		Warnings []string `json:"warnings"`
		Alerts   []any    `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var found string
	for _, w := range r.Warnings {
		if strings.Contains(w, "alert changes not delivered") {
			found = w
		}
	}
	if len(r.Alerts) != 1 || !strings.Contains(found, "abandoned at the 200ms exit deadline") || !strings.Contains(found, "0 of") {
		t.Errorf("alerts %v, warnings %q", r.Alerts, r.Warnings)
	}
}

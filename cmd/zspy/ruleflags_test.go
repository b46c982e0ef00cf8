package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
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

// amPayload is Alertmanager's webhook payload (version 4) as its
// documentation lists the fields, written out here apart from zspy's type so
// that a field zspy misnames or leaves out fails the decoding below.
type amPayload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     time.Time         `json:"startsAt"`
		EndsAt       time.Time         `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
		Fingerprint  string            `json:"fingerprint"`
	} `json:"alerts"`
}

// --alert-webhook-format alertmanager posts Alertmanager's payload: a real
// HTTP server takes it with every documented key and no other, firing and
// resolved alerts with the host label and the alert's labels.
func TestReplayWebhookAlertmanager(t *testing.T) {
	var mu sync.Mutex
	var got []amPayload
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var keys map[string]json.RawMessage
		var p amPayload
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := json.Unmarshal(b, &keys); err != nil || len(keys) != 10 || dec.Decode(&p) != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("not an Alertmanager payload (%d keys): %s", len(keys), b)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
	}))
	defer srv.Close()
	for _, c := range []struct{ pcap, rule, status, label string }{
		{"mismatch", "incompatible_sockets", "firing", "server_type"},
		{"rules_nosub", "pub_no_subscribers", "resolved", "publisher"},
	} {
		got = nil
		out, err := runZspy(t, "replay", "--json", "--host-tag", "probe1", "--alert-webhook", srv.URL, "--alert-webhook-format", "alertmanager",
			"--alert-external-url", "http://grafana.example/d/zspy", pcaps+c.pcap+"/capture.pcap")
		if err != nil || strings.Contains(out, "not delivered") {
			t.Fatalf("%v\n%s", err, out)
		}
		mu.Lock()
		var last *amPayload
		if len(got) > 0 {
			last = &got[len(got)-1]
		}
		mu.Unlock()
		if last == nil || last.Version != "4" || last.Status != c.status || last.GroupLabels["host"] != "probe1" || len(last.Alerts) != 1 {
			t.Fatalf("%s: payloads %+v", c.pcap, got)
		}
		a := last.Alerts[0]
		if a.Status != c.status || a.Labels["alertname"] != c.rule || a.Labels["host"] != "probe1" || a.Labels[c.label] == "" ||
			a.Annotations["message"] == "" || a.StartsAt.IsZero() || (c.status == "resolved") == a.EndsAt.IsZero() ||
			len(a.Fingerprint) != 16 || a.GeneratorURL != "http://grafana.example/d/zspy" {
			t.Errorf("%s: alert %+v", c.pcap, a)
		}
	}
	if _, err := runZspy(t, "replay", "--alert-webhook-format", "prometheus", pcaps+"mismatch/capture.pcap"); err == nil || !strings.Contains(err.Error(), "zspy, alertmanager") {
		t.Errorf("unknown format: %v", err)
	}
}

package rules

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/store"
)

func sampleChanges() []Alert {
	return []Alert{
		{Rule: "hwm_saturation", Severity: SevCritical, State: StateFiring, Client: "127.0.0.1:40001", Server: "127.0.0.1:5555",
			Message: "stalled", Value: 150, PendingAt: t0, FiredAt: t0.Add(time.Second), At: t0.Add(time.Second), Labels: map[string]string{"dir": "s2c"}},
		{Rule: "reconnect_storm", Severity: SevWarning, State: StateResolved, Server: "127.0.0.1:6000",
			Message: "refused", Value: 3, PendingAt: t0, FiredAt: t0, ResolvedAt: t0.Add(2 * time.Second), At: t0.Add(2 * time.Second)},
	}
}

func TestJSONLinesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	j, err := CreateJSONLines(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Send(sampleChanges()); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, m)
	}
	if len(got) != 2 || got[0]["state"] != "firing" || got[0]["fired_at"] != "2026-11-25T12:00:01Z" || got[0]["resolved_at"] != nil ||
		got[1]["client"] != "" || got[1]["resolved_at"] != "2026-11-25T12:00:02Z" || got[1]["at"] != "2026-11-25T12:00:02Z" {
		t.Errorf("lines %v", got)
	}
}

// TestWebhook posts to a real HTTP server on 127.0.0.1.
func TestWebhook(t *testing.T) {
	var mu sync.Mutex
	var bodies []WebhookPayload
	fail := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if fail { // the first attempt fails: the webhook retries
			fail = false
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		var p WebhookPayload
		if err := json.Unmarshal(b, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		bodies = append(bodies, p)
	}))
	defer srv.Close()
	w := NewWebhook(srv.URL, WebhookOptions{Backoff: time.Millisecond})
	if err := w.Send(sampleChanges()); err != nil {
		t.Fatal(err)
	}
	if err := w.Send(sampleChanges()[:1]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil { // Close sends what is queued
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 2 || len(bodies[0].Alerts) != 2 || len(bodies[1].Alerts) != 1 {
		t.Fatalf("bodies %+v", bodies)
	}
	a := bodies[0].Alerts[0]
	if a.Rule != "hwm_saturation" || a.State != StateFiring || a.Client != "127.0.0.1:40001" || a.FiredAt == nil || !a.FiredAt.Equal(t0.Add(time.Second)) {
		t.Errorf("alert %+v", a)
	}
	if s := w.Stats(); s.Sent != 2 || s.Failed != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestWebhookDown: a server that refuses counts as failed, and Close says so.
func TestWebhookDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	w := NewWebhook(url, WebhookOptions{Retries: -1})
	if err := w.Send(sampleChanges()); err != nil {
		t.Fatal(err)
	}
	err := w.Close()
	if err == nil || !strings.Contains(err.Error(), "2 of 2 alert changes not delivered (batches: 0 of 1 sent, 1 failed") {
		t.Errorf("close: %v", err)
	}
	if s := w.Stats(); s.Failed != 1 || s.Sent != 0 || s.AlertsUndelivered != 2 {
		t.Errorf("stats %+v", s)
	}
}

// closeBounded calls w.Close and fails the test if it is still waiting
// after a minute (far beyond any drain deadline the tests set).
func closeBounded(t *testing.T, w *Webhook) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- w.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("Webhook.Close still waiting after a minute: the drain is not bounded")
		return nil
	}
}

// sendBatches sends n batches of two changes each.
func sendBatches(t *testing.T, w *Webhook, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := w.Send(sampleChanges()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWebhookHangingServer: a server that accepts the connection and never
// answers cannot hold the exit past the drain deadline; every alert change
// is counted as not delivered.
func TestWebhookHangingServer(t *testing.T) {
	var mu sync.Mutex
	requests := 0
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		io.Copy(io.Discard, r.Body) // so that the server notices the client going
		select {                    // hang until the client gives up, or the test ends
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer srv.Close()
	defer close(stop)
	// No client timeout: only the drain deadline can end a post.
	w := NewWebhook(srv.URL, WebhookOptions{Client: &http.Client{}, Drain: 100 * time.Millisecond})
	sendBatches(t, w, 50)
	err := closeBounded(t, w)
	st := w.Stats()
	if st.Sent != 0 || st.Abandoned != 50 || st.Failed != 0 || st.AlertsUndelivered != 100 {
		t.Errorf("stats %+v", st)
	}
	if err == nil || !strings.Contains(err.Error(), "100 of 100 alert changes not delivered") || !strings.Contains(err.Error(), "50 abandoned at the 100ms exit deadline") {
		t.Errorf("close: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if requests != 1 {
		t.Errorf("the server saw %d requests; the first one hung, so 1", requests)
	}
}

// TestWebhookSlowServer: a server that answers each post after a second
// delivers what it can before the deadline; the rest are abandoned, and the
// counts add up to every batch.
func TestWebhookSlowServer(t *testing.T) {
	var mu sync.Mutex
	answered := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(time.Second): // the server's slowness, not synchronisation
			mu.Lock()
			answered++
			mu.Unlock()
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	w := NewWebhook(srv.URL, WebhookOptions{Drain: 1500 * time.Millisecond})
	sendBatches(t, w, 50)
	err := closeBounded(t, w)
	st := w.Stats()
	mu.Lock()
	defer mu.Unlock()
	if st.Sent+st.Abandoned != 50 || st.Failed != 0 || st.Abandoned == 0 || st.AlertsSent != 2*st.Sent || st.AlertsUndelivered != 2*st.Abandoned {
		t.Errorf("stats %+v", st)
	}
	// The server may have answered the post the deadline cut off.
	if a := uint64(answered); a < st.Sent || a > st.Sent+1 {
		t.Errorf("the server answered %d posts, the webhook counts %d sent", answered, st.Sent)
	}
	if err == nil || !strings.Contains(err.Error(), "abandoned at the 1.5s exit deadline") {
		t.Errorf("close: %v", err)
	}
}

// TestWebhookFailingServer: a server that answers 500 costs each batch its
// retries, then the batch counts as failed; with a long backoff the drain
// deadline cuts the retries short.
func TestWebhookFailingServer(t *testing.T) {
	var mu sync.Mutex
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		http.Error(w, "down for maintenance", http.StatusInternalServerError)
	}))
	defer srv.Close()

	w := NewWebhook(srv.URL, WebhookOptions{Backoff: time.Millisecond})
	sendBatches(t, w, 5)
	err := closeBounded(t, w)
	if st := w.Stats(); st.Failed != 5 || st.Sent != 0 || st.AlertsUndelivered != 10 || !strings.Contains(st.LastError, "500 Internal Server Error") {
		t.Errorf("stats %+v", st)
	}
	if err == nil || !strings.Contains(err.Error(), "10 of 10 alert changes not delivered (batches: 0 of 5 sent, 5 failed after 2 retries") {
		t.Errorf("close: %v", err)
	}
	mu.Lock()
	if requests != 15 {
		t.Errorf("%d requests, want 5 batches × 3 attempts", requests)
	}
	requests = 0
	mu.Unlock()

	// A backoff of an hour: the deadline ends the wait for the first retry.
	w = NewWebhook(srv.URL, WebhookOptions{Backoff: time.Hour, Drain: 100 * time.Millisecond})
	sendBatches(t, w, 5)
	err = closeBounded(t, w)
	if st := w.Stats(); st.Abandoned != 5 || st.Failed != 0 || st.AlertsUndelivered != 10 {
		t.Errorf("stats with a long backoff %+v", st)
	}
	if err == nil || !strings.Contains(err.Error(), "5 abandoned") {
		t.Errorf("close: %v", err)
	}
}

// TestWebhookMasksURL: a password in the webhook URL never reaches an error.
func TestWebhookMasksURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer srv.Close()
	w := NewWebhook(strings.Replace(srv.URL, "http://", "http://bot:s3cret@", 1), WebhookOptions{Retries: -1})
	sendBatches(t, w, 1)
	err := closeBounded(t, w)
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "bot:***@") {
		t.Errorf("close: %v", err)
	}
}

type memSink struct{ pts []store.Point }

func (m *memSink) Write(p []store.Point) error {
	for i := range p {
		m.pts = append(m.pts, p[i].Clone())
	}
	return nil
}
func (m *memSink) Flush(context.Context) error { return nil }
func (m *memSink) Close(context.Context) error { return nil }

func TestPoints(t *testing.T) {
	sink := &memSink{}
	o := &SinkOutput{Sink: sink, Host: "zspy1"}
	if err := o.Send(sampleChanges()); err != nil {
		t.Fatal(err)
	}
	if len(sink.pts) != 2 {
		t.Fatalf("%d points", len(sink.pts))
	}
	for i := range sink.pts {
		if err := sink.pts[i].Validate(); err != nil {
			t.Error(err)
		}
	}
	p := sink.pts[0]
	rule, _ := p.Tag("rule")
	state, _ := p.Field("state_code")
	firing, _ := p.Field("firing")
	if p.Measurement != metrics.MeasAlert || rule != "hwm_saturation" || state.IntValue() != 2 || !firing.BoolValue() || !p.Time.Equal(t0.Add(time.Second)) {
		t.Errorf("point %+v", p)
	}
	var lp bytes.Buffer
	for _, f := range sink.pts[1].Fields {
		lp.WriteString(f.String() + " ")
	}
	if lp.String() != "state_code=3 firing=false value=3 message=refused " {
		t.Errorf("fields %s", lp.String())
	}
}

// An alert's message quotes what peers and forwarders sent; the console line
// escapes what a terminal would act on (here a monitor source holding a
// set-title sequence and a right-to-left override).
func TestLineEscapesTerminalControls(t *testing.T) {
	a := Alert{Rule: "handshake_failure", Severity: SevCritical, State: StateFiring, Server: "127.0.0.1:5555", At: t0,
		Message: "handshake failed (socket monitor of app\x1b]0;pwned\x07\u202e): HANDSHAKE_FAILED_AUTH \x1b[2J"}
	line := Line(&a)
	if strings.ContainsAny(line, "\x1b\x07\u202e") {
		t.Fatalf("line passes controls through: %q", line)
	}
	if want := `app\x1b]0;pwned\x07\u202e): HANDSHAKE_FAILED_AUTH \x1b[2J`; !strings.HasSuffix(line, want) {
		t.Fatalf("line %q does not end with %q", line, want)
	}
}

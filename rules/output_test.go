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
	if err == nil || !strings.Contains(err.Error(), "1 batch(es) failed") {
		t.Errorf("close: %v", err)
	}
	if s := w.Stats(); s.Failed != 1 || s.Sent != 0 {
		t.Errorf("stats %+v", s)
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

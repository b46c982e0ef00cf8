package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/store"
)

// Output receives alert state changes. The engine calls Send from its
// goroutine after each evaluation that changed something; Send must not keep
// the slice. Close is called once at the end.
type Output interface {
	Send(changes []Alert) error
	Close() error
}

// Line formats one state change for people: time, state, severity, rule,
// connection and message.
func Line(a *Alert) string {
	conn := a.Server
	if a.Client != "" {
		conn = a.Client + " → " + a.Server
	}
	if conn == "" {
		conn = "-"
	}
	return fmt.Sprintf("%s %-8s %-8s %s %s: %s", a.At.UTC().Format("2006-01-02T15:04:05.000Z"), a.State, a.Severity, a.Rule, conn, a.Message)
}

// Console writes one line per state change.
type Console struct {
	W io.Writer
}

var _ Output = (*Console)(nil)

// Send writes the changes.
func (c *Console) Send(changes []Alert) error {
	for i := range changes {
		if _, err := fmt.Fprintln(c.W, Line(&changes[i])); err != nil {
			return fmt.Errorf("console output: %w", err)
		}
	}
	return nil
}

// Close does nothing: the writer belongs to the caller.
func (c *Console) Close() error { return nil }

// JSONAlert is an alert state change as the JSON outputs write it.
type JSONAlert struct {
	ReportAlert
	// At is the time of the change.
	At          time.Time         `json:"at"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

func jsonAlert(a *Alert) JSONAlert {
	return JSONAlert{ReportAlert: a.Report(), At: a.At.UTC(), Annotations: a.Annotations}
}

// JSONLines writes one JSON object per state change and line.
type JSONLines struct {
	w     io.Writer
	close func() error
}

var _ Output = (*JSONLines)(nil)

// NewJSONLines writes to w (which the caller closes).
func NewJSONLines(w io.Writer) *JSONLines { return &JSONLines{w: w} }

// CreateJSONLines appends to the file at path, creating it.
func CreateJSONLines(path string) (*JSONLines, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("alert file: %w", err)
	}
	return &JSONLines{w: f, close: f.Close}, nil
}

// Send writes the changes.
func (j *JSONLines) Send(changes []Alert) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for i := range changes {
		if err := enc.Encode(jsonAlert(&changes[i])); err != nil {
			return fmt.Errorf("alert json: %w", err)
		}
	}
	if _, err := j.w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("alert file: %w", err)
	}
	return nil
}

// Close closes the file when the output opened it.
func (j *JSONLines) Close() error {
	if j.close != nil {
		return j.close()
	}
	return nil
}

// WebhookPayload is the body of a webhook POST.
type WebhookPayload struct {
	Alerts []JSONAlert `json:"alerts"`
}

// Webhook POSTs each batch of changes as JSON (WebhookPayload) to a URL. Send
// never waits on the network: batches go through a bounded queue to one
// sender goroutine; when the queue is full a batch is dropped and counted.
// Failed posts are retried a few times, then counted as failed.
type Webhook struct {
	url     string
	client  *http.Client
	queue   chan []byte
	done    chan struct{}
	retries int
	backoff time.Duration

	mu                    sync.Mutex
	sent, failed, dropped uint64
	lastErr               error
	closeOnce             sync.Once
}

var _ Output = (*Webhook)(nil)

// WebhookOptions configure a Webhook; the zero value works.
type WebhookOptions struct {
	Client  *http.Client  // default: a client with a 5 s timeout
	Queue   int           // batches waiting to be sent (default 64)
	Retries int           // extra attempts after a failure (default 2)
	Backoff time.Duration // wait before a retry (default 500 ms)
}

// NewWebhook starts a webhook output posting to url.
func NewWebhook(url string, opt WebhookOptions) *Webhook {
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: 5 * time.Second}
	}
	if opt.Queue <= 0 {
		opt.Queue = 64
	}
	if opt.Retries < 0 {
		opt.Retries = 0
	} else if opt.Retries == 0 {
		opt.Retries = 2
	}
	if opt.Backoff <= 0 {
		opt.Backoff = 500 * time.Millisecond
	}
	w := &Webhook{url: url, client: opt.Client, queue: make(chan []byte, opt.Queue), done: make(chan struct{}), retries: opt.Retries, backoff: opt.Backoff}
	go w.run()
	return w
}

// Send queues the changes for posting.
func (w *Webhook) Send(changes []Alert) error {
	p := WebhookPayload{Alerts: make([]JSONAlert, len(changes))}
	for i := range changes {
		p.Alerts[i] = jsonAlert(&changes[i])
	}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	select {
	case w.queue <- body:
		return nil
	default:
		w.mu.Lock()
		w.dropped++
		w.mu.Unlock()
		return errors.New("webhook: queue full, alert batch dropped")
	}
}

func (w *Webhook) run() {
	defer close(w.done)
	for body := range w.queue {
		var err error
		for attempt := 0; attempt <= w.retries; attempt++ {
			if attempt > 0 {
				time.Sleep(w.backoff) // retry pacing on the sender goroutine, not synchronisation
			}
			if err = w.post(body); err == nil {
				break
			}
		}
		w.mu.Lock()
		if err != nil {
			w.failed++
			w.lastErr = err
		} else {
			w.sent++
		}
		w.mu.Unlock()
	}
}

func (w *Webhook) post(body []byte) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "zspy-alerts")
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook: %s answered %s", w.url, resp.Status)
	}
	return nil
}

// WebhookStats are a webhook's counters, in batches.
type WebhookStats struct {
	Sent, Failed, Dropped uint64
	LastError             error
}

// Stats returns the webhook's counters.
func (w *Webhook) Stats() WebhookStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return WebhookStats{Sent: w.sent, Failed: w.failed, Dropped: w.dropped, LastError: w.lastErr}
}

// Close sends what is queued, then stops. It returns the last error, if any
// batch failed.
func (w *Webhook) Close() error {
	w.closeOnce.Do(func() { close(w.queue) })
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed > 0 || w.dropped > 0 {
		return fmt.Errorf("webhook: %d batch(es) failed, %d dropped: %w", w.failed, w.dropped, errOr(w.lastErr))
	}
	return nil
}

func errOr(err error) error {
	if err == nil {
		return errors.New("queue full")
	}
	return err
}

// StateCode numbers states for the alerts series: 0 inactive, 1
// pending, 2 firing, 3 resolved.
func StateCode(s State) int64 {
	switch s {
	case StatePending:
		return 1
	case StateFiring:
		return 2
	case StateResolved:
		return 3
	}
	return 0
}

// Points returns one alerts point per state change, stamped with the
// change's time:
//
//	tags:   host, rule, severity, state, client, server
//	fields: state_code (0 inactive, 1 pending, 2 firing, 3 resolved),
//	        firing (bool), value (float), message (string)
func Points(host string, changes []Alert) []store.Point {
	pts := make([]store.Point, 0, len(changes))
	for i := range changes {
		a := &changes[i]
		p := store.Point{Measurement: metrics.MeasAlert, Time: a.At}
		p.AddTag("host", host)
		p.AddTag("rule", a.Rule)
		p.AddTag("severity", string(a.Severity))
		p.AddTag("state", a.State.String())
		p.AddTag("client", a.Client)
		p.AddTag("server", a.Server)
		p.AddField(store.Int("state_code", StateCode(a.State)))
		p.AddField(store.Bool("firing", a.State == StateFiring))
		p.AddField(store.Float("value", finite(a.Value)))
		p.AddField(store.String("message", a.Message))
		pts = append(pts, p)
	}
	return pts
}

func finite(v float64) float64 {
	if v != v || v > 1e300 || v < -1e300 {
		return 0
	}
	return v
}

// SinkOutput writes state changes as alerts points to a store.Sink.
type SinkOutput struct {
	Sink store.Sink
	Host string
}

var _ Output = (*SinkOutput)(nil)

// Send writes the changes' points.
func (s *SinkOutput) Send(changes []Alert) error {
	if err := s.Sink.Write(Points(s.Host, changes)); err != nil {
		return fmt.Errorf("alert series: %w", err)
	}
	return nil
}

// Close does nothing: the sink belongs to the caller, who flushes and closes it.
func (s *SinkOutput) Close() error { return nil }

package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/zspy/zspy/internal/textsafe"
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
// connection and message. The message quotes what peers and forwarders sent
// (a PLAIN user, a monitor source or endpoint): textsafe escapes whatever a
// terminal would act on.
func Line(a *Alert) string {
	conn := a.Server
	if a.Client != "" {
		conn = a.Client + " → " + a.Server
	}
	if conn == "" {
		conn = "-"
	}
	msg := a.Message
	if (a.State == StateResolved || a.State == StateInactive) && a.Resolution != "" {
		msg = a.Resolution + "; it was: " + a.Message
	}
	switch {
	case a.Group != "" && a.Root:
		msg += " [root of " + a.Group + "]"
	case a.Group != "":
		msg += " [in " + a.Group + "]"
	}
	return textsafe.String(fmt.Sprintf("%s %-8s %-8s %s %s: %s", a.At.UTC().Format("2006-01-02T15:04:05.000Z"), a.State, a.Severity, a.Rule, conn, msg))
}

// Grouped returns the alerts with each group's children right after their
// root (in their own order), the rest in the order given: the order a
// report lists them in.
func Grouped(alerts []Alert) []Alert {
	children := map[string][]Alert{}
	hasRoot := map[string]bool{}
	for _, a := range alerts {
		if a.Group != "" && a.Root {
			hasRoot[a.Group] = true
		}
	}
	out := make([]Alert, 0, len(alerts))
	for _, a := range alerts {
		if a.Group != "" && !a.Root && hasRoot[a.Group] {
			children[a.Group] = append(children[a.Group], a)
		}
	}
	for _, a := range alerts {
		switch {
		case a.Group != "" && !a.Root && hasRoot[a.Group]:
			continue
		case a.Group != "" && a.Root:
			out = append(out, a)
			out = append(out, children[a.Group]...)
			delete(children, a.Group)
		default:
			out = append(out, a)
		}
	}
	return out
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
// Failed posts are retried a few times, then counted as failed. Close waits
// at most Drain for the queue to empty, then aborts the post in flight and
// counts it and every batch still queued as abandoned: a hanging, slow or
// failing server delays the exit by Drain at most. Stats and Close's error
// say how many alert changes did not reach the server.
type Webhook struct {
	url     string
	client  *http.Client
	queue   chan webhookBatch
	done    chan struct{}
	ctx     context.Context // canceled when the drain deadline passes
	cancel  context.CancelFunc
	retries int
	backoff time.Duration
	drain   time.Duration
	encode  func([]Alert) ([]byte, error)

	mu        sync.Mutex
	st        WebhookStats
	closed    bool
	closeOnce sync.Once
	closeErr  error
}

type webhookBatch struct {
	body   []byte
	alerts int
}

var _ Output = (*Webhook)(nil)

// DefaultWebhookDrain is how long Close waits by default for queued batches.
const DefaultWebhookDrain = 5 * time.Second

// WebhookOptions configure a Webhook; the zero value works.
type WebhookOptions struct {
	Client  *http.Client  // default: a client with a 5 s timeout
	Queue   int           // batches waiting to be sent (default 64)
	Retries int           // extra attempts after a failure (default 2; negative: none)
	Backoff time.Duration // wait before a retry (default 500 ms)
	Drain   time.Duration // the longest Close waits for queued batches (default 5 s; negative: not at all)
	// Encode makes a batch's body (default: WebhookPayload; see
	// AlertmanagerEncoder); a nil body sends nothing.
	Encode func(changes []Alert) ([]byte, error)
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
	if opt.Drain == 0 {
		opt.Drain = DefaultWebhookDrain
	}
	if opt.Encode == nil {
		opt.Encode = encodeWebhook
	}
	w := &Webhook{url: url, client: opt.Client, queue: make(chan webhookBatch, opt.Queue), done: make(chan struct{}),
		retries: opt.Retries, backoff: opt.Backoff, drain: max(opt.Drain, 0), encode: opt.Encode}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	go w.run()
	return w
}

// encodeWebhook makes zspy's own payload (WebhookPayload).
func encodeWebhook(changes []Alert) ([]byte, error) {
	p := WebhookPayload{Alerts: make([]JSONAlert, len(changes))}
	for i := range changes {
		p.Alerts[i] = jsonAlert(&changes[i])
	}
	return json.Marshal(p)
}

// Send queues the changes for posting.
func (w *Webhook) Send(changes []Alert) error {
	body, err := w.encode(changes)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	if body == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		w.st.Dropped++
		w.st.AlertsUndelivered += uint64(len(changes))
		return errors.New("webhook: closed, alert batch dropped")
	}
	select {
	case w.queue <- webhookBatch{body: body, alerts: len(changes)}: // never blocks
		return nil
	default:
		w.st.Dropped++
		w.st.AlertsUndelivered += uint64(len(changes))
		return errors.New("webhook: queue full, alert batch dropped")
	}
}

func (w *Webhook) run() {
	defer close(w.done)
	for b := range w.queue {
		err := w.deliver(b.body)
		w.mu.Lock()
		switch {
		case err == nil:
			w.st.Sent++
			w.st.AlertsSent += uint64(b.alerts)
		case w.ctx.Err() != nil: // the drain deadline passed: this one and the rest are abandoned
			w.st.Abandoned++
			w.st.AlertsUndelivered += uint64(b.alerts)
			if !errors.Is(err, context.Canceled) { // it had failed before the deadline
				w.st.LastError = err.Error()
			}
		default:
			w.st.Failed++
			w.st.AlertsUndelivered += uint64(b.alerts)
			w.st.LastError = err.Error()
		}
		w.mu.Unlock()
	}
}

// deliver posts body, retrying a failure after Backoff, until the drain
// deadline cancels it.
func (w *Webhook) deliver(body []byte) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	var err error
	for attempt := 0; attempt <= w.retries; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(w.backoff) // retry pacing, not synchronisation
			select {
			case <-t.C:
			case <-w.ctx.Done():
				t.Stop()
				return err
			}
		}
		if err = w.post(body); err == nil || w.ctx.Err() != nil {
			return err
		}
	}
	return err
}

func (w *Webhook) post(body []byte) error {
	req, err := http.NewRequestWithContext(w.ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: %w", store.MaskURLError(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "zspy-alerts")
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", store.MaskURLError(err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook: %s answered %s", store.MaskURL(w.url), resp.Status)
	}
	return nil
}

// WebhookStats count a webhook's batches (one per evaluation that changed
// alerts) and the alert state changes in them. Every batch Send was given
// ends up in exactly one of Sent, Failed, Dropped or Abandoned.
type WebhookStats struct {
	Sent      uint64 `json:"sent"`      // accepted by the server (2xx)
	Failed    uint64 `json:"failed"`    // refused or unanswered after the retries
	Dropped   uint64 `json:"dropped"`   // not queued: the queue was full
	Abandoned uint64 `json:"abandoned"` // in flight or queued when Close's drain deadline passed

	AlertsSent        uint64 `json:"alerts_sent"`        // alert changes in sent batches
	AlertsUndelivered uint64 `json:"alerts_undelivered"` // alert changes in failed, dropped and abandoned batches
	LastError         string `json:"last_error,omitempty"`
}

// Stats returns the webhook's counters.
func (w *Webhook) Stats() WebhookStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st
}

// Close sends what is queued, waiting at most the drain deadline, then
// stops. Its error counts the alert changes that were not delivered.
func (w *Webhook) Close() error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		close(w.queue)
		w.mu.Unlock()
		t := time.NewTimer(w.drain)
		select {
		case <-w.done:
			t.Stop()
		case <-t.C:
			w.cancel() // aborts the post in flight; the rest are counted as abandoned
			<-w.done
		}
		w.cancel()
		w.closeErr = w.undelivered()
	})
	return w.closeErr
}

func (w *Webhook) undelivered() error {
	st := w.Stats()
	if st.Failed+st.Dropped+st.Abandoned == 0 {
		return nil
	}
	batches := st.Sent + st.Failed + st.Dropped + st.Abandoned
	err := fmt.Errorf("webhook %s: %d of %d alert changes not delivered (batches: %d of %d sent, %d failed after %d retries, %d dropped on a full queue, %d abandoned at the %v exit deadline)",
		store.MaskURL(w.url), st.AlertsUndelivered, st.AlertsUndelivered+st.AlertsSent, st.Sent, batches, st.Failed, w.retries, st.Dropped, st.Abandoned, w.drain)
	if st.LastError != "" {
		err = fmt.Errorf("%w; last error: %s", err, st.LastError)
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
//	tags:   host, rule, severity, state, server, client_host ("(none)" when empty)
//	fields: state_code (0 inactive, 1 pending, 2 firing, 3 resolved),
//	        firing (bool), value (float), message (string),
//	        client (string, ip:port, when the alert is of one connection),
//	        resolution (string, when resolved), group (string) and root
//	        (bool, the group's own alert) when the alert has a root cause,
//	        sender and receiver (string, ip:port) when it is of one flow
//
// The client's port is a field, not a tag: a tag would make a new series
// per reconnect.
func Points(host string, changes []Alert) []store.Point {
	pts := make([]store.Point, 0, len(changes))
	for i := range changes {
		a := &changes[i]
		p := store.Point{Measurement: metrics.MeasAlert, Time: a.At}
		p.AddTag("host", host)
		p.AddTag("rule", a.Rule)
		p.AddTag("severity", string(a.Severity))
		p.AddTag("state", a.State.String())
		clientHost := a.Client
		if ap, err := netip.ParseAddrPort(a.Client); err == nil {
			clientHost = ap.Addr().String()
		}
		p.AddTag("client_host", orNone(clientHost))
		p.AddTag("server", orNone(a.Server))
		p.AddField(store.Int("state_code", StateCode(a.State)))
		p.AddField(store.Bool("firing", a.State == StateFiring))
		p.AddField(store.Float("value", finite(a.Value)))
		p.AddField(store.String("message", a.Message))
		if clientHost != a.Client {
			p.AddField(store.String("client", a.Client))
		}
		if a.Resolution != "" {
			p.AddField(store.String("resolution", a.Resolution))
		}
		if a.Group != "" {
			p.AddField(store.String("group", a.Group))
			p.AddField(store.Bool("root", a.Root))
		}
		if a.Sender != "" {
			p.AddField(store.String("sender", a.Sender))
		}
		if a.Receiver != "" {
			p.AddField(store.String("receiver", a.Receiver))
		}
		pts = append(pts, p)
	}
	return pts
}

func orNone(v string) string {
	if v == "" {
		return metrics.None
	}
	return v
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

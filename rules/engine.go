package rules

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// MaxHistory bounds the alert instances an engine keeps for the report; older
// ones that are no longer active are dropped first and counted.
const MaxHistory = 10000

// Engine evaluates a set of rules step by step. It is not safe for concurrent
// use: call Eval from one goroutine (the pipeline's on replay, the live ticker's
// otherwise).
type Engine struct {
	rules   []*Rule
	outputs []Output

	active  []*entry
	byKey   map[string]*entry
	history []*Alert
	// HistoryDropped counts alert instances dropped from the history (MaxHistory).
	HistoryDropped uint64
	// OutputErrors counts failed output sends; LastOutputError is the last one.
	OutputErrors    uint64
	LastOutputError error
	evals           uint64
	// monitor is folded from the zspy_monitor series at every evaluation.
	monitor monitorState
	// window answers the queries of EvalSnapshot's evaluations.
	window Window
	// settle keeps the records each rule settled (EvalSnapshot).
	settle settlement
}

type entry struct {
	key      string
	rule     *Rule
	alert    *Alert
	lastTrue time.Time
	// reason is the detector's account of the cleared condition at the
	// latest evaluation that did not see it (a finding with clear set).
	reason string
	// conn is the ID+1 of the connection the alert is about (0: none).
	conn uint64
	// keepSince is the first evaluation that no longer saw the condition of
	// a firing alert (keep_firing_for).
	keepSince time.Time
}

// New returns an engine for rules (see Builtins and File.Rules).
func New(rules []*Rule, outputs ...Output) *Engine {
	return &Engine{rules: rules, outputs: outputs, byKey: make(map[string]*entry)}
}

// Rules returns the engine's rules.
func (e *Engine) Rules() []*Rule { return e.rules }

// AddOutput adds an output that receives every state change.
func (e *Engine) AddOutput(o Output) { e.outputs = append(e.outputs, o) }

// EvalSnapshot evaluates the rules at the end ts of a metrics interval over
// the tracker's snapshot and the interval's points (see Eval): the run calls
// it once per interval, in time order, after the collector's Sample. The
// engine keeps the snapshot for the next evaluation (its previous records)
// and does not keep points.
func (e *Engine) EvalSnapshot(ts time.Time, snap *tracker.Snapshot, points []store.Point) []Alert {
	e.window.Add(ts, snap, points)
	e.settle.update(e.rules, snap, ts, e.window.prev.time)
	return e.eval(ts, e.window.Query, &e.settle)
}

// Eval evaluates every rule at time ts, reading through query, moves alerts
// through their states, sends the changes to the outputs and returns them
// (copies, in rule order). Call it once per evaluation time, in time order:
// it folds the zspy_monitor events of the interval into the monitor state
// the detectors read. The same answers at the same times give the same
// changes.
func (e *Engine) Eval(ts time.Time, query QueryFunc) []Alert {
	return e.eval(ts, query, nil)
}

// eval is Eval, with the records the rules settled when settle is not nil.
func (e *Engine) eval(ts time.Time, query QueryFunc, settle *settlement) []Alert {
	e.evals++
	for _, p := range query(ts, Query{Measurement: metrics.MeasMonitor}).Points {
		e.monitor.observe(p)
	}
	var changes []Alert
	seen := make(map[*entry]bool)
	for k, r := range e.rules {
		for _, f := range r.findings(ts, settle.query(k, query), &e.monitor) {
			key := r.Name + "\x00" + f.key
			en := e.byKey[key]
			if f.clear {
				// Not a condition: the detector's account of a series whose
				// condition no longer holds, the resolution if it resolves now.
				if en != nil {
					en.reason = f.evidence
				}
				continue
			}
			if en == nil {
				en = e.start(key, r, f, ts)
			}
			seen[en] = true
			en.lastTrue, en.keepSince, en.reason, en.conn = ts, time.Time{}, "", f.conn
			a := en.alert
			r.describe(a, f)
			if a.State == StatePending && !ts.Before(a.PendingAt.Add(r.For)) {
				a.State, a.FiredAt, a.At = StateFiring, ts, ts
				changes = append(changes, a.clone())
			} else if a.At.Equal(ts) && a.State == StatePending {
				changes = append(changes, a.clone())
			}
		}
	}
	kept := e.active[:0]
	for _, en := range e.active {
		a := en.alert
		if seen[en] {
			kept = append(kept, en)
			continue
		}
		switch {
		case a.State == StatePending:
			a.State, a.ResolvedAt, a.At = StateInactive, ts, ts
			a.Resolution = e.resolution(en, ts, query)
		case a.State == StateFiring && en.rule.KeepFiringFor > 0 && (en.keepSince.IsZero() || ts.Sub(en.keepSince) < en.rule.KeepFiringFor):
			// Like Prometheus: keep_firing_for counts from the first
			// evaluation that no longer saw the condition.
			if en.keepSince.IsZero() {
				en.keepSince = ts
			}
			kept = append(kept, en)
			continue
		default:
			a.State, a.ResolvedAt, a.At = StateResolved, ts, ts
			a.Resolution = e.resolution(en, ts, query)
		}
		changes = append(changes, a.clone())
		delete(e.byKey, en.key)
	}
	for i := len(kept); i < len(e.active); i++ {
		e.active[i] = nil
	}
	e.active = kept
	if len(changes) > 0 {
		for _, o := range e.outputs {
			if err := o.Send(changes); err != nil {
				e.OutputErrors++
				e.LastOutputError = err
			}
		}
	}
	return changes
}

func (e *Engine) start(key string, r *Rule, f *finding, ts time.Time) *entry {
	since := f.since
	if since.IsZero() || since.After(ts) {
		since = ts
	}
	a := &Alert{Rule: r.Name, Severity: r.Severity, State: StatePending, PendingAt: since, At: ts}
	en := &entry{key: key, rule: r, alert: a}
	e.active = append(e.active, en)
	e.byKey[key] = en
	if len(e.history) >= MaxHistory {
		e.dropHistory()
	}
	e.history = append(e.history, a)
	return en
}

// dropHistory removes the oldest alert that is no longer active.
func (e *Engine) dropHistory() {
	for i, a := range e.history {
		if a.State == StateResolved || a.State == StateInactive {
			e.history = append(e.history[:i], e.history[i+1:]...)
			e.HistoryDropped++
			return
		}
	}
	e.history = e.history[1:]
	e.HistoryDropped++
}

// Active returns copies of the pending and firing alerts.
func (e *Engine) Active() []Alert {
	out := make([]Alert, 0, len(e.active))
	for _, en := range e.active {
		out = append(out, en.alert.clone())
	}
	return out
}

// Alerts returns copies of every alert instance so far, in the order they
// went pending, each in its latest state.
func (e *Engine) Alerts() []Alert {
	out := make([]Alert, 0, len(e.history))
	for _, a := range e.history {
		out = append(out, a.clone())
	}
	return out
}

// MonitorDropped counts socket-monitor events the engine did not keep
// (MaxPipes, MaxRetries, MaxFailures).
func (e *Engine) MonitorDropped() uint64 { return e.monitor.dropped }

// ReportAlerts returns the alerts in the replay report's form, ready for
// report.Report.Alerts.
func (e *Engine) ReportAlerts() []any {
	out := make([]any, 0, len(e.history))
	for _, a := range e.history {
		out = append(out, a.Report())
	}
	return out
}

// resolution says why an alert's condition no longer holds: the detector's
// own account when it gave one, else what became of its connection.
func (e *Engine) resolution(en *entry, ts time.Time, query QueryFunc) string {
	if en.reason != "" {
		return en.reason
	}
	if rs, ok := en.rule.det.(resolver); ok {
		if why := rs.resolve(en, ts, query); why != "" {
			return why
		}
	}
	if en.conn != 0 {
		for _, c := range query(ts, Query{}).Records {
			if c.ID != en.conn-1 {
				continue
			}
			if c.Closed {
				if ago := ts.Sub(c.Last); ago >= time.Second {
					return closedHow(c) + " " + fmtDur(ago) + " before"
				}
				return closedHow(c)
			}
			if en.keepSince.IsZero() {
				return "condition no longer seen on the open connection"
			}
			return "condition no longer seen on the open connection (kept firing for " + fmtDur(ts.Sub(en.keepSince)) + ")"
		}
		return "connection no longer tracked"
	}
	return "condition no longer seen"
}

// resolver is a detector that says why an alert of its own resolved, with
// the value now: the engine asks it only then.
type resolver interface {
	// resolve returns why en's condition no longer holds at ts, or "" to
	// let the engine say what became of its connection.
	resolve(en *entry, ts time.Time, query QueryFunc) string
}

// closedHow says how a connection ended.
func closedHow(c *tracker.Record) string {
	switch c.State {
	case zmtp.StateReset:
		return "connection reset (RST)"
	case zmtp.StateRefused:
		return "connection refused (RST)"
	}
	return "connection closed (FIN)"
}

// record returns the record of en's connection at ts, or nil.
func (en *entry) record(ts time.Time, query QueryFunc) *tracker.Record {
	if en.conn == 0 {
		return nil
	}
	for _, c := range query(ts, Query{}).Records {
		if c.ID == en.conn-1 {
			return c
		}
	}
	return nil
}

// finding is one series for which a rule's condition holds now, or (clear
// set) one whose condition a detector found no longer holds, with why.
type finding struct {
	key            string
	client, server string
	// sender and receiver are the endpoints of the message flow the
	// finding is about, with their socket types (see Alert).
	sender, receiver             string
	senderSocket, receiverSocket string
	// group and root place the finding under a root cause (see Alert).
	group string
	root  bool
	// conn is the ID+1 of the connection the finding is about (0: none).
	conn uint64
	// clear marks a series whose condition does not hold (any more):
	// evidence then says why, with the current value; it resolves the
	// series' alert if there is one, and is ignored otherwise.
	clear bool
	// since is when the condition started, when the evidence tells (zero:
	// this evaluation).
	since    time.Time
	value    float64
	evidence string
	labels   map[string]string
}

func (r *Rule) findings(ts time.Time, query QueryFunc, mon *monitorState) []*finding {
	if r.det != nil {
		return r.det.detect(ts, query, mon)
	}
	var out []*finding
	seen := map[string]bool{}
	for _, p := range query(ts, Query{Measurement: r.Expr.meas}).Points {
		ok, v := r.Expr.match(p)
		if !ok {
			continue
		}
		f := &finding{value: v, labels: map[string]string{}}
		var kb strings.Builder
		for _, t := range p.Tags {
			f.labels[t.Key] = t.Value
			kb.WriteString(t.Key)
			kb.WriteByte('=')
			kb.WriteString(t.Value)
			kb.WriteByte(',')
		}
		f.key = kb.String()
		if seen[f.key] {
			continue
		}
		seen[f.key] = true
		f.client = f.labels["client_host"]
		f.server = f.labels["server"]
		if ep, ok := f.labels["endpoint"]; ok && f.server == "" {
			f.server = ep
		}
		// A zspy_connection series is one direction: its sender and
		// receiver are the client host and the server, one way or the other.
		switch f.labels["dir"] {
		case "c2s":
			f.sender, f.receiver = f.client, f.server
		case "s2c":
			f.sender, f.receiver = f.server, f.client
		}
		if f.sender != "" {
			f.senderSocket, f.receiverSocket = f.labels["sender"], f.labels["receiver"]
		}
		f.evidence = fmt.Sprintf("%s.%s = %s (%s)", r.Expr.meas, r.Expr.first.field, formatValue(v), r.Expr.src)
		out = append(out, f)
	}
	return out
}

func formatValue(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}

// TemplateData is what annotation templates see.
type TemplateData struct {
	Rule     string
	Severity Severity
	// Client and Server are the connection's endpoints in their roles (the
	// client connected, the server bound).
	Client string
	Server string
	// Sender and Receiver are the endpoints of the message flow (the PUSH
	// and the PULL, the PUB and the SUB, the REQ and the REP), whichever of
	// them bound; SenderSocket and ReceiverSocket their socket types. Empty
	// for alerts about no one flow (a failed handshake, a refused connect).
	Sender, Receiver             string
	SenderSocket, ReceiverSocket string
	// Group is the root cause the alert belongs to and Root whether it is
	// that root's own alert (see Alert).
	Group  string
	Root   bool
	Labels map[string]string
	Value  float64
	// Evidence is the rule's own account of what it saw (a detector's text, or
	// the expression with the field's value).
	Evidence string
}

// describe updates an alert from the latest finding of its condition.
func (r *Rule) describe(a *Alert, f *finding) {
	a.Client, a.Server, a.Value = f.client, f.server, f.value
	a.Sender, a.Receiver, a.SenderSocket, a.ReceiverSocket = f.sender, f.receiver, f.senderSocket, f.receiverSocket
	a.Group, a.Root = f.group, f.root
	n := len(f.labels) + len(r.Labels)
	if f.sender != "" {
		n += 4
	}
	if f.group != "" {
		n += 2
	}
	labels := make(map[string]string, n)
	for k, v := range f.labels {
		labels[k] = v
	}
	setLabel(labels, "sender_endpoint", f.sender)
	setLabel(labels, "receiver_endpoint", f.receiver)
	setLabel(labels, "sender_type", f.senderSocket)
	setLabel(labels, "receiver_type", f.receiverSocket)
	if f.group != "" {
		labels["group"] = f.group
		labels["root"] = strconv.FormatBool(f.root)
	}
	for k, v := range r.Labels {
		labels[k] = v
	}
	a.Labels = labels
	data := TemplateData{Rule: r.Name, Severity: r.Severity, Client: f.client, Server: f.server,
		Sender: f.sender, Receiver: f.receiver, SenderSocket: f.senderSocket, ReceiverSocket: f.receiverSocket,
		Group: f.group, Root: f.root, Labels: labels, Value: f.value, Evidence: f.evidence}
	a.Message = f.evidence
	if len(r.templates) == 0 {
		a.Annotations = nil
		return
	}
	a.Annotations = make(map[string]string, len(r.templates))
	for _, name := range r.annotationNames {
		var b bytes.Buffer
		if err := r.templates[name].Execute(&b, &data); err != nil {
			a.Annotations[name] = fmt.Sprintf("%s (annotation %s: %v)", f.evidence, name, err)
		} else {
			a.Annotations[name] = b.String()
		}
	}
	if m, ok := a.Annotations["message"]; ok {
		a.Message = m
	} else if m, ok := a.Annotations["summary"]; ok {
		a.Message = m
	}
}

func setLabel(labels map[string]string, k, v string) {
	if v != "" {
		labels[k] = v
	}
}

func parseTemplate(name, text string) (*template.Template, error) {
	return template.New(name).Option("missingkey=zero").Parse(text)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

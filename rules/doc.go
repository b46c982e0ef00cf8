// Package rules raises zspy's alerts. It evaluates alerting rules at the end
// of every metrics interval, at a time given as an argument: packet time on
// replay (so the same file gives the same alerts every run) and the clock
// live. Rules read only through a QueryFunc (Prometheus's rules.QueryFunc is
// the model): the connections' immutable tracker records, at the evaluation
// and the one before (for what changed in between), and the interval series
// of metrics.Schema that the collector wrote, socket-monitor events included
// (zspy_monitor). Engine.EvalSnapshot answers those queries from a snapshot
// and the interval's points (a Window); Engine.Eval takes any QueryFunc.
// Rules come in two kinds:
//
//   - built-in detectors (HWM saturation, PIPES_STATS depth, slow subscriber,
//     stuck request, REP stopped replying, handshake failure, incompatible
//     socket types, reconnect storm, PUB with no subscribers, heartbeat
//     timeout), which run with defaults when there is no rule file. Each
//     lives in a file of its own (detect_NAME.go) with a typed parameter
//     struct (HWMParams, ...) and registers itself from init; detector.go
//     holds the registry and what they share;
//   - rules of a YAML rule file: an expression over the metrics
//     (measurement{tag="v"}.field > number, and/or/not) or a detector with
//     parameters, with for, keep_firing_for, labels, severity and annotation
//     templates.
//
// Alerts move inactive → pending → firing → resolved (Prometheus-style);
// one evaluation is one step of that state machine and returns the changes,
// which also go to the outputs: the console, JSON lines, an HTTP webhook and
// alerts points for a store.Sink. The replay report takes
// Engine.ReportAlerts as its alerts array.
//
// The alert model: an alert has one identity per fault (a connection in its
// roles, a server endpoint, or a root cause), whatever mixture of wire and
// socket-monitor evidence shows it; it names the sender and receiver of the
// message flow it is about; alerts with one cause are children of a root
// alert (Alert.Group, Alert.Root, and the labels group and root, for an
// Alertmanager's grouping and inhibition); and a resolved alert says why,
// with the value then (Alert.Resolution: a detector's account through its
// resolve method, or what became of the connection).
//
// The package sits after the tracker and metrics in the pipeline and depends
// on neither the pipeline nor the UI; its Engine is used from one goroutine.
package rules

package rules

import (
	"fmt"
	"sort"
	"time"
)

// Severity orders alerts by how much they matter.
type Severity string

// Severities, from least to most urgent.
const (
	SevInfo     Severity = "info"
	SevWarning  Severity = "warning"
	SevCritical Severity = "critical"
)

func validSeverity(s Severity) bool { return s == SevInfo || s == SevWarning || s == SevCritical }

// State is where an alert is in its life: inactive → pending → firing →
// resolved. A pending alert whose condition clears before its `for` hold
// becomes inactive without ever firing. Its number is the alerts series'
// state_code; its text (String, MarshalText) is the name reports print.
type State uint8

// Alert states.
const (
	StateInactive State = iota
	StatePending
	StateFiring
	StateResolved
)

var stateNames = [...]string{StateInactive: "inactive", StatePending: "pending", StateFiring: "firing", StateResolved: "resolved"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(" + itoa(int64(s)) + ")"
}

// MarshalText writes the state's name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state's name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if string(b) == n {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown alert state %q", b)
}

// Alert is one alert instance: one rule on one series (a connection, an
// endpoint, a monitored socket). Times are packet times on replay and the
// clock live; zero means not (yet) reached.
type Alert struct {
	Rule     string
	Severity Severity
	State    State
	// Client and Server are endpoints ("ip:port") as the report prints them,
	// in the connection's roles (the client connected, the server bound);
	// an empty Client ties the alert to every connection of Server.
	Client string
	Server string
	// Sender and Receiver are the endpoints of the message flow the alert
	// is about (the PUSH and the PULL, the PUB and the SUB, the REQ and the
	// REP), with their socket types; empty when the alert is about no one
	// flow (a failed handshake, a refused connect). Either may be the client
	// or the server: a sink PULL binds, a worker's PULL connects.
	Sender, Receiver             string
	SenderSocket, ReceiverSocket string
	// Group names the root cause an alert belongs to (see Root), empty when
	// it stands alone. Alerts of one group share it: the root alert (Root
	// true) says what failed, its children (Root false) are the connections
	// that suffer from it. Labels carry both ("group", "root") so that an
	// Alertmanager can group by the one and inhibit children by the other.
	Group string
	Root  bool
	// Labels are the series' tags and the rule's labels.
	Labels map[string]string
	// Message is the rendered annotation: what the rule saw.
	Message string
	// Resolution says why a resolved alert resolved, with the value at the
	// time ("now 85% of the best subscriber (threshold 20%)", "connection
	// closed (RST)"); empty until it resolves.
	Resolution string
	// Annotations are all rendered annotations (message included).
	Annotations map[string]string
	// Value is the evidence as a number (the expression's field, or the
	// detector's measure: milliseconds, a ratio, a count).
	Value float64
	// PendingAt is when the condition started, FiredAt when the alert fired,
	// ResolvedAt when it resolved (or, for an inactive one, when it cleared).
	PendingAt, FiredAt, ResolvedAt time.Time
	// At is the time of the evaluation that made the last state change.
	At time.Time
}

// Since returns when the alert entered its current state: the pending,
// fired or resolved time.
func (a *Alert) Since() time.Time {
	switch a.State {
	case StateFiring:
		return a.FiredAt
	case StateResolved, StateInactive:
		return a.ResolvedAt
	}
	return a.PendingAt
}

func (a *Alert) clone() Alert {
	c := *a
	c.Labels = cloneMap(a.Labels)
	c.Annotations = cloneMap(a.Annotations)
	return c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// ReportAlert is an alert as the replay JSON report prints it (the `alerts`
// array): times are RFC 3339 packet times, null when not reached.
type ReportAlert struct {
	Rule           string            `json:"rule"`
	Severity       Severity          `json:"severity"`
	State          State             `json:"state"`
	Client         string            `json:"client"`
	Server         string            `json:"server"`
	Sender         string            `json:"sender,omitempty"`
	SenderSocket   string            `json:"sender_socket,omitempty"`
	Receiver       string            `json:"receiver,omitempty"`
	ReceiverSocket string            `json:"receiver_socket,omitempty"`
	Group          string            `json:"group,omitempty"`
	Root           bool              `json:"root,omitempty"`
	PendingAt      *time.Time        `json:"pending_at"`
	FiredAt        *time.Time        `json:"fired_at"`
	ResolvedAt     *time.Time        `json:"resolved_at"`
	Value          float64           `json:"value"`
	Message        string            `json:"message"`
	Resolution     string            `json:"resolution,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// Report returns the alert in the report's form.
func (a *Alert) Report() ReportAlert {
	return ReportAlert{
		Rule: a.Rule, Severity: a.Severity, State: a.State, Client: a.Client, Server: a.Server,
		Sender: a.Sender, SenderSocket: a.SenderSocket, Receiver: a.Receiver, ReceiverSocket: a.ReceiverSocket,
		Group: a.Group, Root: a.Root,
		PendingAt: timePtr(a.PendingAt), FiredAt: timePtr(a.FiredAt), ResolvedAt: timePtr(a.ResolvedAt),
		Value: a.Value, Message: a.Message, Resolution: a.Resolution, Labels: cloneMap(a.Labels),
	}
}

func sortStrings(s []string) { sort.Strings(s) }

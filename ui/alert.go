package ui

import "time"

// Severity orders alerts by how much they matter.
type Severity string

// Severities, from least to most urgent.
const (
	SevInfo     Severity = "info"
	SevWarning  Severity = "warning"
	SevCritical Severity = "critical"
)

// AlertState is where an alert is in its life (Prometheus-style).
type AlertState string

// Alert states.
const (
	StatePending  AlertState = "pending"
	StateFiring   AlertState = "firing"
	StateResolved AlertState = "resolved"
)

// Alert is one alert as the dashboard shows it. The rules engine fills
// Update.Alerts with these; Client and Server are endpoints ("ip:port") as the
// report prints them and tie the alert to a connection (an empty Client ties it
// to every connection of Server).
type Alert struct {
	Rule     string
	Severity Severity
	State    AlertState
	Client   string
	Server   string
	// Sender and Receiver are the endpoints of the message flow the alert
	// is about, with their socket types (empty when it is about no one
	// flow); either may be the client or the server.
	Sender, Receiver             string
	SenderSocket, ReceiverSocket string
	// Group names the root cause the alert belongs to (empty: it stands
	// alone); Root says it is that cause, not one of its children.
	Group string
	Root  bool
	// Message is the evidence: what the rule saw.
	Message string
	// Resolution says why a resolved alert resolved, with the value then.
	Resolution string
	// Since is the packet time the alert entered its state.
	Since time.Time
	// Labels are the alert's labels (series tags and the rule's): the
	// detail and the evidence pane list them, so that labels the rules add
	// (an alert's group, its root cause) show without a change here.
	Labels map[string]string
}

// level ranks an alert for colouring: 0 resolved or info, 1 pending, 2 firing
// warning, 3 firing critical.
func (a *Alert) level() int {
	switch {
	case a.State == StateResolved:
		return 0
	case a.State == StatePending:
		return 1
	case a.Severity == SevCritical:
		return 3
	case a.Severity == SevWarning:
		return 2
	}
	return 1
}

// matches reports whether the alert concerns the connection client→server.
func (a *Alert) matches(client, server string) bool {
	if a.Server != "" && a.Server != server {
		return false
	}
	if a.Client != "" && a.Client != client {
		return false
	}
	return a.Server != "" || a.Client != ""
}

// child reports whether the alert is one of a group's children.
func (a *Alert) child() bool { return a.Group != "" && !a.Root }

// flow is "PUSH 10.0.0.1:4000 → PULL 10.0.0.2:5000", the alert's sender and
// receiver with their socket types where it has them ("" when it has
// neither endpoint).
func (a *Alert) flow() string {
	if a.Sender == "" && a.Receiver == "" {
		return ""
	}
	side := func(sock, ep string) string {
		if sock != "" {
			return sock + " " + dashStr(ep)
		}
		return dashStr(ep)
	}
	return side(a.SenderSocket, a.Sender) + " → " + side(a.ReceiverSocket, a.Receiver)
}

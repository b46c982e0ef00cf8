package rules

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/zspy/zspy/monitor"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// HandshakeParams are handshake_failure's parameters.
type HandshakeParams struct {
	Hold time.Duration
}

func (p *HandshakeParams) params() []param { return []param{{"hold", holdDoc, &p.Hold}} }

func init() {
	register(detectorDef[HandshakeParams]{
		Name:     "handshake_failure",
		Doc:      "a ZMTP handshake failed: mechanism mismatch, an ERROR command (authentication failure), a close during the handshake, or a monitor's HANDSHAKE_FAILED_* event; one alert per connection, the wire's and the monitors' evidence merged",
		Severity: SevCritical,
		Order:    6,
		Defaults: HandshakeParams{Hold: defaultHold},
		New:      func(p HandshakeParams) detector { return &handshakeDetector{p} },
	})
}

type handshakeDetector struct{ HandshakeParams }

// monitorFailed reports whether a note is a HANDSHAKE_FAILED_* event.
func monitorFailed(n *tracker.MonitorNote) bool {
	return n.Event == evFailedAuth || n.Event == evFailedProtocol || n.Event == evFailedNoDetail
}

// agreedAnyway reports whether a mechanism mismatch is one zspy sees but the
// peers did not: both sent READY (or their handshake's last command), so
// they agreed whatever their greetings named (a mechanism zspy does not know
// on one side). libzmq itself never completes such a handshake.
func agreedAnyway(c *tracker.Record) bool {
	return c.HandshakeError == "mechanism mismatch" && c.HandshakeDone[0] && c.HandshakeDone[1]
}

// settled: a record that is not ZMTP and holds no monitor note; one with no
// failure to tell (no handshake error or ERROR command, or a mismatch the
// peers agreed over anyway, and no HANDSHAKE_FAILED_* note), which no time
// makes one; or a closed one past hold whose monitor failures are past hold
// too (they no longer stand for a monitor's own alert).
func (d *handshakeDetector) settled(c *tracker.Record, ts, _ time.Time, _ bool) bool {
	if c.Detection != zmtp.IsZMTP && len(c.MonitorNotes) == 0 {
		return true
	}
	failed := false
	for i := range c.MonitorNotes {
		if monitorFailed(&c.MonitorNotes[i]) {
			failed = true
			break
		}
	}
	if !failed && (handshakeReason(c) == "" || agreedAnyway(c)) {
		return true
	}
	if !closedTooLong(c, ts, d.Hold) {
		return false
	}
	for i := range c.MonitorNotes {
		if n := &c.MonitorNotes[i]; monitorFailed(n) && ts.Sub(n.Time) < d.Hold {
			return false
		}
	}
	return true
}

// handshakeReason is the wire's account of a failed handshake: the
// tracker's handshake error, else the first ERROR command's reason; "" for
// none, and for the monitor's own (its notes say it, with their source).
func handshakeReason(c *tracker.Record) string {
	reason := c.HandshakeError
	if reason == "" && len(c.ErrorReasons) > 0 {
		reason = "ERROR " + c.ErrorReasons[0]
	}
	if strings.HasPrefix(reason, "monitor: ") {
		return ""
	}
	return reason
}

func (d *handshakeDetector) detect(ts time.Time, query QueryFunc, mon *monitorState) []*finding {
	var out []*finding
	// merged holds the monitor events the tracker attached to a
	// connection: they are that connection's alert's evidence, not alerts
	// of their own.
	merged := map[string]bool{}
	for _, c := range query(ts, Query{Unsettled: true}).Records {
		if c.Detection != zmtp.IsZMTP && len(c.MonitorNotes) == 0 {
			continue
		}
		var notes []string
		for i := range c.MonitorNotes {
			n := &c.MonitorNotes[i]
			if !monitorFailed(n) {
				continue
			}
			merged[n.Source+"|"+n.Event+"|"+n.Time.String()] = true
			s := fmt.Sprintf("socket monitor of %s: %s %s", orDash(n.Source), n.Event, n.Detail)
			if n.Uncertain {
				s += " (uncertain: it may be another connection's)"
			}
			if !contains(notes, s) {
				notes = append(notes, s)
			}
		}
		if closedTooLong(c, ts, d.Hold) {
			continue
		}
		reason := handshakeReason(c)
		if agreedAnyway(c) {
			// Counted as a protocol error of the connection, not a failure.
			continue
		}
		if reason == "" && len(notes) == 0 {
			continue
		}
		f := connFinding(c, "")
		f.since = c.Last
		f.labels["mechanism"] = c.Mechanism.String()
		var ev strings.Builder
		fmt.Fprintf(&ev, "handshake failed between %s and %s (%s)",
			peerName(f.labels["client_type"], "client", clientName(c)), peerName(f.labels["server_type"], "server", serverName(c)), orDash(c.Mechanism.String()))
		if reason != "" {
			ev.WriteString(": " + reason)
			if code, err := strconv.ParseUint(strings.TrimPrefix(reason, "ERROR "), 10, 16); err == nil && strings.HasPrefix(reason, "ERROR ") {
				if t := monitor.ZAPStatusText(code); t != "" {
					ev.WriteString(" (ZAP: " + t + ")")
				}
				f.value = float64(code)
			}
		}
		if c.PlainUsername != "" {
			fmt.Fprintf(&ev, "; PLAIN user %q", c.PlainUsername)
		}
		if len(notes) > 0 {
			ev.WriteString("; " + strings.Join(notes, "; "))
			f.labels["source"] = "wire+monitor"
			if reason == "" {
				f.labels["source"] = "monitor"
			}
		}
		f.evidence = ev.String()
		out = append(out, f)
	}
	// Monitor failures no captured connection holds (the capture missed
	// it, or a v1 event the tracker could not place): one alert per server
	// endpoint and event, whichever sockets (client and server) said it.
	type acc struct {
		f       *finding
		sources []string
		detail  string
	}
	var order []string
	byKey := map[string]*acc{}
	for _, h := range mon.failures {
		if ts.Sub(h.time) >= d.Hold || merged[h.source+"|"+h.event+"|"+h.time.String()] {
			continue
		}
		// A v1 event names one endpoint: for a connecting socket the one it
		// connected to, for a listening one the one it bound; the server's
		// either way. A v2 event names both; the one that listens is the
		// endpoint the other side's ephemeral port connected to.
		server, client := stripEndpoint(h.endpoint), ""
		if h.remote != "" {
			client, server = orderEndpoints(stripEndpoint(h.endpoint), stripEndpoint(h.remote))
		}
		k := server + "|" + client + "|" + h.event
		a := byKey[k]
		if a == nil {
			a = &acc{f: &finding{key: "monitor|" + k, client: client, server: server, since: h.time,
				labels: map[string]string{"event": h.event, "source": "monitor"}}, detail: h.detail}
			byKey[k] = a
			order = append(order, k)
		}
		if !contains(a.sources, h.source) {
			a.sources = append(a.sources, h.source)
		}
	}
	for _, k := range order {
		a := byKey[k]
		srcs := make([]string, len(a.sources))
		for i, s := range a.sources {
			srcs[i] = orDash(s)
		}
		a.f.evidence = fmt.Sprintf("handshake failed with server %s (socket monitor of %s; no captured connection holds it): %s %s",
			a.f.server, strings.Join(srcs, " and "), a.f.labels["event"], a.detail)
		out = append(out, a.f)
	}
	return out
}

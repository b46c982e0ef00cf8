package rules

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/zspy/zspy/monitor"
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
		Doc:      "a ZMTP handshake failed: mechanism mismatch, an ERROR command (authentication failure), a close during the handshake, or a monitor's HANDSHAKE_FAILED_* event",
		Severity: SevCritical,
		Order:    6,
		Defaults: HandshakeParams{Hold: defaultHold},
		New:      func(p HandshakeParams) detector { return &handshakeDetector{p} },
	})
}

type handshakeDetector struct{ HandshakeParams }

func (d *handshakeDetector) detect(ts time.Time, query QueryFunc, mon *monitorState) []*finding {
	var out []*finding
	wire := map[string]bool{}
	for _, c := range query(ts, Query{}).Records {
		if c.Detection != zmtp.IsZMTP || closedTooLong(c, ts, d.Hold) {
			continue
		}
		reason := c.HandshakeError
		if reason == "" && len(c.ErrorReasons) > 0 {
			reason = "ERROR " + c.ErrorReasons[0]
		}
		if reason == "" {
			continue
		}
		wire[clientName(c)+" "+serverName(c)] = true
		f := connFinding(c, "")
		f.since = c.Last
		f.labels["mechanism"] = c.Mechanism.String()
		ev := fmt.Sprintf("handshake failed between %s and %s (%s): %s",
			peerName(f.labels["client_type"], "client", clientName(c)), peerName(f.labels["server_type"], "server", serverName(c)), orDash(c.Mechanism.String()), reason)
		if code, err := strconv.ParseUint(strings.TrimPrefix(reason, "ERROR "), 10, 16); err == nil && strings.HasPrefix(reason, "ERROR ") {
			if t := monitor.ZAPStatusText(code); t != "" {
				ev += " (ZAP: " + t + ")"
			}
			f.value = float64(code)
		}
		if c.PlainUsername != "" {
			ev += fmt.Sprintf("; PLAIN user %q", c.PlainUsername)
		}
		f.evidence = ev
		out = append(out, f)
	}
	{
		for _, h := range mon.failures {
			if ts.Sub(h.time) >= d.Hold {
				continue
			}
			client, server := orderEndpoints(stripEndpoint(h.endpoint), stripEndpoint(h.remote))
			if wire[client+" "+server] {
				continue // the wire already tells
			}
			f := &finding{key: "monitor|" + h.source + "|" + h.endpoint + "|" + h.remote, client: client, server: server, since: h.time,
				labels: map[string]string{"source": h.source, "event": h.event}}
			f.evidence = fmt.Sprintf("handshake failed (socket monitor of %s): %s %s", orDash(h.source), h.event, h.detail)
			out = append(out, f)
		}
	}
	return out
}

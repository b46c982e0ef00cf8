package rules

import (
	"fmt"
	"strings"
	"time"

	"github.com/zspy/zspy/zmtp"
)

// ReconnectParams are reconnect_storm's parameters. late_bind's REQ is
// refused twice before its REP binds: a client that keeps retrying shows the
// same sign from the second refusal.
type ReconnectParams struct {
	Window                 time.Duration
	MinRefused, MinRetries int
}

func (p *ReconnectParams) params() []param {
	return []param{
		{"window", "the window the attempts are counted in", &p.Window},
		{"min_refused", "refused connects (SYN answered by RST) in the window", &p.MinRefused},
		{"min_retries", "monitor CONNECT_RETRIED events per socket and endpoint in the window", &p.MinRetries},
	}
}

func init() {
	register(detectorDef[ReconnectParams]{
		Name:     "reconnect_storm",
		Doc:      "connects to a server endpoint are refused (or a monitor reports CONNECT_RETRIED) repeatedly within a window: the server is not up",
		Severity: SevWarning,
		Order:    8,
		Defaults: ReconnectParams{Window: 10 * time.Second, MinRefused: 2, MinRetries: 3},
		New:      func(p ReconnectParams) detector { return &reconnectDetector{p} },
	})
}

type reconnectDetector struct{ ReconnectParams }

func (d *reconnectDetector) detect(ts time.Time, query QueryFunc, mon *monitorState) []*finding {
	type acc struct {
		n       int
		first   time.Time
		clients []string
	}
	servers := map[string]*acc{}
	var order []string
	for _, c := range query(ts, Query{}).Records {
		if c.State != zmtp.StateRefused || ts.Sub(c.Last) >= d.Window {
			continue
		}
		ep := serverName(c)
		a := servers[ep]
		if a == nil {
			a = &acc{}
			servers[ep] = a
			order = append(order, ep)
		}
		a.n++
		if a.first.IsZero() || c.Start.Before(a.first) {
			a.first = c.Start
		}
		if cl := clientName(c); !contains(a.clients, cl) {
			a.clients = append(a.clients, cl)
		}
	}
	var out []*finding
	for _, ep := range order {
		a := servers[ep]
		if a.n < d.MinRefused || d.MinRefused <= 0 {
			continue
		}
		f := &finding{key: "refused|" + ep, server: ep, since: a.first, value: float64(a.n), labels: map[string]string{}}
		if len(a.clients) == 1 {
			f.client = a.clients[0]
		}
		f.evidence = fmt.Sprintf("reconnect storm: %d connects to %s refused (SYN answered by RST) within %s, from %s: nothing listens there",
			a.n, ep, d.Window, strings.Join(a.clients, ", "))
		out = append(out, f)
	}
	if d.MinRetries > 0 {
		type racc struct {
			source, ep string
			n          int
			first      time.Time
		}
		retries := map[string]*racc{}
		var rorder []string
		for _, r := range mon.retries {
			if ts.Sub(r.time) >= d.Window || r.time.After(ts) {
				continue
			}
			k := r.source + "|" + r.endpoint
			a := retries[k]
			if a == nil {
				a = &racc{source: r.source, ep: r.endpoint, first: r.time}
				retries[k] = a
				rorder = append(rorder, k)
			}
			a.n++
		}
		for _, k := range rorder {
			a := retries[k]
			if a.n < d.MinRetries {
				continue
			}
			ep := stripEndpoint(a.ep)
			f := &finding{key: "retried|" + k, server: ep, since: a.first, value: float64(a.n), labels: map[string]string{"source": a.source}}
			f.evidence = fmt.Sprintf("reconnect storm: socket %s retried connecting to %s %d times within %s (CONNECT_RETRIED)", orDash(a.source), a.ep, a.n, d.Window)
			out = append(out, f)
		}
	}
	return out
}

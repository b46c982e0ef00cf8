package rules

import (
	"fmt"
	"time"

	"github.com/zspy/zspy/zmtp"
)

// NoSubParams are pub_no_subscribers' parameters.
type NoSubParams struct {
	Grace time.Duration
}

func (p *NoSubParams) params() []param {
	return []param{{"grace", "how long after connecting a SUB may go without a subscription", &p.Grace}}
}

func init() {
	register(detectorDef[NoSubParams]{
		Name:     "pub_no_subscribers",
		Doc:      "a SUB connected to a publisher that is publishing has subscribed to nothing: it receives no message",
		Severity: SevWarning,
		Order:    9,
		Defaults: NoSubParams{Grace: time.Second},
		New:      func(p NoSubParams) detector { return &noSubDetector{NoSubParams: p, prev: map[string]uint64{}} },
	})
}

type noSubDetector struct {
	NoSubParams
	prev map[string]uint64 // messages published per publisher endpoint
}

func (d *noSubDetector) detect(ts time.Time, in *Input) []*finding {
	published := map[string]uint64{}
	for _, c := range in.Records {
		if sub, pub := subSides(c); sub >= 0 && c.Detection == zmtp.IsZMTP {
			published[sideEP(c, pub)] += c.Dirs[pub].Messages
		}
	}
	var out []*finding
	for _, c := range in.Records {
		sub, pub := subSides(c)
		if sub < 0 || c.Closed || c.Detection != zmtp.IsZMTP || c.Handshake != zmtp.HandshakeComplete || len(c.Subscriptions) > 0 {
			continue
		}
		if ts.Sub(c.Start) < d.Grace {
			continue
		}
		ep := sideEP(c, pub)
		if published[ep] == d.prev[ep] {
			continue // the publisher is quiet: nothing is missed
		}
		f := connFinding(c, "")
		f.since = c.Start.Add(d.Grace)
		f.value = float64(published[ep] - d.prev[ep])
		f.labels["publisher"] = ep
		state := "never subscribed"
		if len(c.SubHistory) > 0 {
			state = "cancelled every subscription"
		}
		f.evidence = fmt.Sprintf("%s %s connected to %s %s has %s: the publisher sent %d messages to its other subscribers since the last check and none to it",
			sockName(c.Sides[sub].SocketType), sideEP(c, sub), sockName(c.Sides[pub].SocketType), ep, state, published[ep]-d.prev[ep])
		out = append(out, f)
	}
	d.prev = published
	return out
}

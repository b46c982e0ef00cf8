package rules

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// detector is a built-in condition. Each rule has its own instance, which may
// keep state between evaluations; detect runs once per evaluation, in time
// order.
type detector interface {
	detect(ts time.Time, query QueryFunc, mon *monitorState) []*finding
}

// Params are a detector's parameters: a struct of the detector's own (for
// instance HWMParams), filled with its defaults and then with a rule file's
// params.
type Params interface {
	// params lists the parameters, each pointing at its field.
	params() []param
}

// param is one parameter of a detector: its name in rule files, what it
// means, and the field that holds its value (a *time.Duration, *float64 or
// *int).
type param struct {
	name string
	doc  string
	val  any
}

// detectorDef is what a detector's file registers: its name, what it
// detects, the severity of its alerts, its place among the built-in rules
// (Order: the order of alerts raised in one evaluation follows it), the
// defaults of its parameters and how to make one from them.
type detectorDef[P any] struct {
	Name     string
	Doc      string
	Severity Severity
	Order    int
	Defaults P
	New      func(P) detector
}

// detectorSpec is a registered detector with its parameter type erased.
type detectorSpec struct {
	name     string
	doc      string
	severity Severity
	order    int
	defaults func() Params
	clone    func(Params) Params
	build    func(Params) detector
}

// detectors holds the registered detectors by name.
var detectors = map[string]*detectorSpec{}

// register makes a detector known; each detector's file calls it from init.
func register[P any, PP interface {
	*P
	Params
}](d detectorDef[P]) {
	if _, dup := detectors[d.Name]; dup {
		panic("rules: detector " + d.Name + " registered twice")
	}
	detectors[d.Name] = &detectorSpec{
		name: d.Name, doc: d.Doc, severity: d.Severity, order: d.Order,
		defaults: func() Params { p := d.Defaults; return PP(&p) },
		clone:    func(ps Params) Params { p := *ps.(PP); return PP(&p) },
		build:    func(ps Params) detector { return d.New(*ps.(PP)) },
	}
}

func (s *detectorSpec) param(ps Params, name string) *param {
	for _, p := range ps.params() {
		if p.name == name {
			return &p
		}
	}
	return nil
}

// builtinSpecs returns the registered detectors in their Order.
func builtinSpecs() []*detectorSpec {
	out := make([]*detectorSpec, 0, len(detectors))
	for _, s := range detectors {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].order < out[j].order })
	return out
}

// DetectorNames returns the built-in detectors' names.
func DetectorNames() []string {
	names := make([]string, 0, len(detectors))
	for n := range detectors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DetectorDoc returns a detector's description and its parameters with
// defaults and meaning, for `zspy rules list`.
func DetectorDoc(name string) (doc string, params []string) {
	s := detectors[name]
	if s == nil {
		return "", nil
	}
	for _, p := range s.defaults().params() {
		params = append(params, fmt.Sprintf("%s=%s: %s", p.name, formatParam(p.val), p.doc))
	}
	return s.doc, params
}

// Builtins returns fresh built-in rules (one per detector, with defaults),
// the rules zspy runs when no rule file says otherwise.
func Builtins() []*Rule {
	specs := builtinSpecs()
	out := make([]*Rule, 0, len(specs))
	for _, s := range specs {
		r := &Rule{Name: s.name, Group: "builtin", Detector: s.name, Params: s.defaults(), Severity: s.severity, Builtin: true}
		if err := r.compile(); err != nil {
			panic(err)
		}
		out = append(out, r)
	}
	return out
}

// formatParam formats a parameter's value (or a pointer to it).
func formatParam(v any) string {
	switch x := v.(type) {
	case *time.Duration:
		return x.String()
	case *float64:
		return strconv.FormatFloat(*x, 'g', -1, 64)
	case *int:
		return strconv.Itoa(*x)
	}
	return fmt.Sprint(v)
}

// holdDoc is the meaning of the hold parameter several detectors have: how
// long a finished connection's failure (a failed handshake, an abandoned
// request, an incompatible pair) keeps its alert firing after the connection
// closed; live, this lets a fault be seen and then resolve.
const holdDoc = "how long after a connection closed its failure keeps the alert"

const defaultHold = 5 * time.Minute

// Endpoint and socket naming, shared by the detectors.

func sockName(s zmtp.SocketType) string {
	if n := s.String(); n != "" {
		return n
	}
	return "unknown"
}

// clientName and serverName are the connection's endpoints as "ip:port",
// which the tracker makes once per connection.
func clientName(c *tracker.Record) string { n, _ := c.Names(); return n }
func serverName(c *tracker.Record) string { _, n := c.Names(); return n }

// sideEP returns the endpoint of side i (0 the client, 1 the server).
func sideEP(c *tracker.Record, i int) string {
	if i == 0 {
		return clientName(c)
	}
	return serverName(c)
}

func connKey(c *tracker.Record) string {
	return clientName(c) + "-" + serverName(c) + "#" + strconv.FormatUint(c.ID, 10)
}

func connFinding(c *tracker.Record, suffix string) *finding {
	client, server := c.ClientSocket, c.ServerSocket
	return &finding{
		key: connKey(c) + suffix, client: clientName(c), server: serverName(c), conn: c.ID + 1,
		labels: map[string]string{"client_type": sockName(client), "server_type": sockName(server)},
	}
}

// flow sets the finding's sender to side snd of c and its receiver to the
// other side, with their socket types.
func (f *finding) flow(c *tracker.Record, snd int) *finding {
	f.sender, f.receiver = sideEP(c, snd), sideEP(c, 1-snd)
	f.senderSocket, f.receiverSocket = sockName(c.Sides[snd].SocketType), sockName(c.Sides[1-snd].SocketType)
	return f
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.String()
}

func plural(n uint64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.FormatUint(n, 10) + " " + what + "s"
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// closedTooLong reports whether a closed connection's failure is older than hold.
func closedTooLong(c *tracker.Record, ts time.Time, hold time.Duration) bool {
	return c.Closed && ts.Sub(c.Last) >= hold
}

// peerName names a peer by socket type and endpoint, or by role when the
// socket type never crossed the wire.
func peerName(typ, role, ep string) string {
	if typ == "" || typ == "unknown" {
		return role + " " + ep
	}
	return typ + " " + ep
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// orderEndpoints guesses which of two endpoints connected (the client): the
// one with the higher port, ephemeral ports being high.
func orderEndpoints(a, b string) (client, server string) {
	pa, pb := portOf(a), portOf(b)
	if pa >= pb {
		return a, b
	}
	return b, a
}

func portOf(ep string) int {
	i := strings.LastIndexByte(ep, ':')
	if i < 0 {
		return 0
	}
	n, _ := strconv.Atoi(ep[i+1:])
	return n
}

// subSides returns which side subscribes and which publishes, or -1, -1.
func subSides(c *tracker.Record) (sub, pub int) {
	if !c.PubSub {
		return -1, -1
	}
	return int(c.Subscriber), int(c.Subscriber.Other())
}

// requester returns the side that sends requests answered in order, or -1.
// Unlike Record.Requester it counts roles the tracker inferred from a
// request/reply lockstep (ZMTP 1.0, a capture joined mid-stream).
func requester(c *tracker.Record) int {
	types := [2]zmtp.SocketType{c.ClientSocket, c.ServerSocket}
	for i := range types {
		switch types[i] {
		case zmtp.REQ:
			return i
		case zmtp.DEALER:
			if o := types[1-i]; o == zmtp.REP || o == zmtp.ROUTER {
				return i
			}
		}
	}
	return -1
}

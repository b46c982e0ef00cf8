package rules_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/truth"
	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/monitor"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
)

// replayAll replays a capture (and a recorded monitor log, if any) with e
// and returns the alerts, the last snapshot and every interval's points.
func replayAll(t *testing.T, path, monLog string, e *rules.Engine) ([]rules.Alert, *tracker.Snapshot, []store.Point) {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var last *tracker.Snapshot
	var pts []store.Point
	s := session.New(session.Config{Pipeline: pipeline.Config{Host: "test"}, Files: []capture.Source{src}, Rules: e,
		OnInterval: func(_ time.Time, snap *tracker.Snapshot, points []store.Point) {
			last = snap
			for _, p := range points {
				p.Tags, p.Fields = append([]store.Tag(nil), p.Tags...), append([]store.Field(nil), p.Fields...)
				pts = append(pts, p)
			}
		}})
	if monLog != "" {
		f, err := os.Open(monLog)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		s.AddMonitorLog(monitor.NewLogReader(f, monLog, t.Logf))
	}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e.Alerts(), last, pts
}

func caseCapture(t *testing.T, name string) *truth.Truth {
	t.Helper()
	tc, err := truth.Load(filepath.Join(corpus, name))
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

// TestOneAlertPerFault: monitor_merge's libzmq applications, seen on the
// wire and through their socket monitors at once (v1 events, no remote
// endpoint): a mechanism mismatch and a wrong PLAIN password are one alert
// each, in the connection's roles, with the monitors' evidence merged in
// (it was 3 alerts per fault, two of them with the server's address as
// client); the refused DEALER's wire and CONNECT_RETRIED evidence make one
// storm.
func TestOneAlertPerFault(t *testing.T) {
	f, err := rules.Parse("t.yaml", []byte(`
builtins: false
groups:
- name: g
  rules:
  - alert: handshake_failure
    detector: handshake_failure
    severity: critical
  - alert: reconnect_storm
    detector: reconnect_storm
    params: {min_duration: 1ms}
`))
	if err != nil {
		t.Fatal(err)
	}
	d := "../monitor/testdata/merge/"
	alerts, _, _ := replayAll(t, d+"capture.pcap", d+"events.jsonl", rules.New(f.Rules()))
	got := map[string][]rules.Alert{}
	for _, a := range alerts {
		got[a.Rule] = append(got[a.Rule], a)
		t.Logf("%s", rules.Line(&a))
	}
	if n := len(got["handshake_failure"]); n != 2 {
		t.Fatalf("%d handshake_failure alerts, want 2 (one per fault)", n)
	}
	for _, a := range got["handshake_failure"] {
		if a.Client == "" || a.Server == "" || portOf(a.Client) < portOf(a.Server) && a.Server != "127.0.0.1:37005" && a.Server != "127.0.0.1:38639" {
			t.Errorf("endpoints %q → %q", a.Client, a.Server)
		}
		if a.Labels["source"] != "wire+monitor" || !strings.Contains(a.Message, "socket monitor of") {
			t.Errorf("monitor evidence not merged: %s %v", a.Message, a.Labels)
		}
	}
	want := map[string]string{"127.0.0.1:37005": "mechanism mismatch", "127.0.0.1:38639": "HANDSHAKE_FAILED_AUTH"}
	for _, a := range got["handshake_failure"] {
		if w := want[a.Server]; w == "" || !strings.Contains(a.Message, w) {
			t.Errorf("alert for %s: %s", a.Server, a.Message)
		}
	}
	if n := len(got["reconnect_storm"]); n != 1 {
		t.Fatalf("%d reconnect_storm alerts, want 1", n)
	}
	if a := got["reconnect_storm"][0]; a.Server != "127.0.0.1:51707" || a.Labels["source"] != "wire+monitor" {
		t.Errorf("storm %s %v", a.Message, a.Labels)
	}
}

func portOf(ep string) int {
	i := strings.LastIndexByte(ep, ':')
	n := 0
	for _, c := range ep[i+1:] {
		n = n*10 + int(c-'0')
	}
	return n
}

// TestGroupedStall: one sink PULL that stopped reading blocks 3 workers,
// which stop reading from the ventilator: 6 stalled connections are 6
// children of one root alert that names the PULL, in the alerts, their
// labels (for an Alertmanager to group and inhibit), the JSON and the
// alerts points.
func TestGroupedStall(t *testing.T) {
	tc := caseCapture(t, "rules_pipeline_stall")
	alerts, _, _ := replayAll(t, tc.CapturePath(), "", rules.New(rules.Builtins()))
	var root *rules.Alert
	children := 0
	for i := range alerts {
		a := &alerts[i]
		if a.Rule != "hwm_saturation" {
			t.Errorf("unexpected %s", rules.Line(a))
			continue
		}
		if a.Root {
			if root != nil {
				t.Fatalf("two roots")
			}
			root = a
			continue
		}
		children++
	}
	if root == nil || children != 6 {
		t.Fatalf("root %v, %d children; want a root and 6", root, children)
	}
	for _, s := range []string{"PULL 127.0.0.1:16431 stopped reading; 3 senders are blocked behind it", "1 more is upstream of them (PUSH 127.0.0.1:16430", "6 stalled connections"} {
		if !strings.Contains(root.Message, s) {
			t.Errorf("root message %q lacks %q", root.Message, s)
		}
	}
	if root.Receiver != "127.0.0.1:16431" || root.ReceiverSocket != "PULL" || root.Server != "127.0.0.1:16431" || root.Value != 6 {
		t.Errorf("root %+v", root)
	}
	for _, a := range alerts {
		if a.Group != root.Group || a.Labels["group"] != root.Group || a.Labels["root"] != map[bool]string{true: "true", false: "false"}[a.Root] {
			t.Errorf("%s: group %q labels %v, want group %q", rules.Line(&a), a.Group, a.Labels, root.Group)
		}
		if !a.Root && (a.ReceiverSocket != "PULL" || a.SenderSocket != "PUSH") {
			t.Errorf("child flow %s %s → %s %s", a.SenderSocket, a.Sender, a.ReceiverSocket, a.Receiver)
		}
	}
	// The JSON (report, alerts file, webhook) and the points carry it.
	b, _ := json.Marshal(root.Report())
	if !strings.Contains(string(b), `"group":"`+root.Group+`","root":true`) {
		t.Errorf("json %s", b)
	}
	// The alerts file and the webhook write the same JSON objects.
	var lines strings.Builder
	if err := rules.NewJSONLines(&lines).Send(alerts); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(lines.String()), "\n") {
		if strings.Contains(l, `,"group":"`+root.Group+`",`) {
			n++
		}
	}
	if n != 7 {
		t.Errorf("%d of 7 JSON lines carry the group:\n%s", n, lines.String())
	}
	for _, p := range rules.Points("h", alerts) {
		g, _ := p.Field("group")
		if g.StringValue() != root.Group {
			t.Errorf("point %+v lacks the group", p)
		}
	}
	if ordered := rules.Grouped(alerts); !ordered[0].Root {
		t.Errorf("report order starts with %s", rules.Line(&ordered[0]))
	}
}

// TestSubscriberRatioWhilePublishing: rules_slow_drain's sub-slow drains for
// seconds after the PUB stopped. rate_ratio is only written for intervals in
// which the publisher sent to both SUBs (before, it flags sub-slow; after,
// sub-fast is not ratio 0), and lost_estimate ends at what the peers
// themselves counted: what sub-fast got minus what sub-slow got.
func TestSubscriberRatioWhilePublishing(t *testing.T) {
	tc := caseCapture(t, "rules_slow_drain")
	alerts, _, pts := replayAll(t, tc.CapturePath(), "", rules.New(rules.Builtins()))
	fast, slow := tc.Conn("sub-fast"), tc.Conn("sub-slow")
	var ratios []float64
	var lost int64 = -1
	lastDelivered := time.Time{}
	for _, p := range pts {
		if p.Measurement != metrics.MeasSubscriber {
			continue
		}
		d, _ := p.Field("delivered")
		r, hasRatio := p.Field("rate_ratio")
		if hasRatio {
			ratios = append(ratios, r.FloatValue())
		}
		if d.IntValue() > 0 {
			lastDelivered = p.Time
		}
		if l, ok := p.Field("lost_estimate"); ok {
			lost = l.IntValue()
		}
	}
	if len(ratios) == 0 || ratios[len(ratios)-1] == 0 {
		t.Errorf("ratios %v", ratios)
	}
	for _, r := range ratios {
		if r == 0 {
			t.Errorf("a subscriber at ratio 0: %v (the healthy one, after the PUB stopped)", ratios)
		}
	}
	if lastDelivered.IsZero() {
		t.Fatal("nothing delivered")
	}
	if want := int64(*fast.S2C.Messages - *slow.S2C.Messages); lost != want {
		t.Errorf("lost_estimate %d, want %d (sub-fast's %d − sub-slow's %d)", lost, want, *fast.S2C.Messages, *slow.S2C.Messages)
	}
	n := 0
	for _, a := range alerts {
		if a.Rule != "slow_subscriber" {
			continue
		}
		n++
		if a.Client != endpoint(slow.Client) || a.Receiver != a.Client || a.SenderSocket != "PUB" {
			t.Errorf("slow_subscriber names %s (receiver %s), want sub-slow %s", a.Client, a.Receiver, endpoint(slow.Client))
		}
		if !strings.Contains(a.Message, "an estimated") || a.Labels["lost_estimate"] == "" {
			t.Errorf("no loss estimate: %s", a.Message)
		}
		if a.State == rules.StateResolved && (!strings.HasPrefix(a.Resolution, "now ") || !strings.Contains(a.Resolution, "(threshold 20%)")) {
			t.Errorf("resolution %q", a.Resolution)
		}
	}
	if n != 1 {
		t.Errorf("%d slow_subscriber alerts, want 1", n)
	}
}

// TestLoneSubscriber: a SUB that never subscribed, alone with its PUB: the
// record says so (for its row) and pub_no_subscribers fires.
func TestLoneSubscriber(t *testing.T) {
	tc := caseCapture(t, "rules_lone_sub")
	alerts, snap, _ := replayAll(t, tc.CapturePath(), "", rules.New(rules.Builtins()))
	if snap == nil || len(snap.Records) != 1 {
		t.Fatalf("snapshot %+v", snap)
	}
	if r := snap.Records[0]; !r.NoSubscription || !r.NeverSubscribed {
		t.Errorf("record: NoSubscription %v NeverSubscribed %v", r.NoSubscription, r.NeverSubscribed)
	}
	if len(alerts) != 1 || alerts[0].Rule != "pub_no_subscribers" || alerts[0].Receiver != endpoint(tc.Conn("sub-none").Client) {
		t.Fatalf("alerts %+v", alerts)
	}
	if a := alerts[0]; a.State == rules.StateResolved && a.Resolution != "connection closed (FIN)" {
		t.Errorf("resolution %q", a.Resolution)
	}
}

// TestTemplateReceiver: templates name the receiver whichever side bound:
// rules_hwm_stall's PULL connects, rules_pipeline_stall's sink PULL binds.
func TestTemplateReceiver(t *testing.T) {
	f, err := rules.Parse("t.yaml", []byte(`
builtins: false
groups:
- name: g
  rules:
  - alert: stall
    detector: hwm_saturation
    annotations:
      summary: '{{.ReceiverSocket}} {{.Receiver}} is not reading what {{.SenderSocket}} {{.Sender}} sends'
  - alert: window_shut
    expr: zspy_connection{receiver="PULL"}.zero_window_ms_total > 500
    annotations:
      message: '{{.ReceiverSocket}} {{.Receiver}} kept its window shut (sender {{.SenderSocket}} {{.Sender}})'
`))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"rules_hwm_stall":      "PULL 127.0.0.1:26400 is not reading what PUSH 127.0.0.1:16400 sends",
		"rules_pipeline_stall": "PULL 127.0.0.1:16431 is not reading what PUSH 127.0.0.1:26433 sends",
		// The expression rule's series sums a client host's connections.
		"rules_pipeline_stall ": "PULL 127.0.0.1:16431 kept its window shut (sender PUSH 127.0.0.1)",
		"rules_hwm_stall ":      "PULL 127.0.0.1 kept its window shut (sender PUSH 127.0.0.1:16400)",
	} {
		name := strings.TrimSpace(name)
		alerts, _, _ := replayAll(t, caseCapture(t, name).CapturePath(), "", rules.New(f.Rules()))
		found := false
		for _, a := range alerts {
			found = found || a.Message == want
		}
		if !found {
			t.Errorf("%s: no alert says %q", name, want)
			for _, a := range alerts {
				t.Logf("%s", a.Message)
			}
		}
	}
}

// TestOneSidedMechanism: a greeting naming a mechanism zspy does not know on
// one side. libzmq closing on it (no greeting back) is a handshake failure;
// raw peers that exchange READY and requests anyway agreed, whatever their
// greetings said: no alert (there was one, "mechanism mismatch").
func TestOneSidedMechanism(t *testing.T) {
	tc, err := truth.Load("../e2e/testdata/mech_onesided")
	if err != nil {
		t.Fatal(err)
	}
	alerts, snap, _ := replayAll(t, tc.CapturePath(), "", rules.New(rules.Builtins()))
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1: %+v", len(alerts), alerts)
	}
	c := tc.Conn("to-libzmq")
	if a := alerts[0]; a.Rule != "handshake_failure" || a.Client != endpoint(c.Client) || a.Server != endpoint(c.Server) {
		t.Errorf("alert %s, want handshake_failure of to-libzmq", rules.Line(&a))
	}
	// The agreed connection keeps its protocol error: counted, not paged.
	agreed := endpoint(tc.Conn("agreed").Client)
	for _, r := range snap.Records {
		if r.ClientName == agreed && (r.HandshakeError != "mechanism mismatch" || len(r.Errors) == 0) {
			t.Errorf("agreed: handshake error %q, errors %v", r.HandshakeError, r.Errors)
		}
	}
}

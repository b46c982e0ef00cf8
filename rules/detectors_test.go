package rules

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/monitor"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// conn builds a tracker connection as the tracker would leave it after a
// complete ZMTP handshake between a client of type ct and a server of type st.
func conn(id uint64, clientPort uint16, ct, st zmtp.SocketType) *tracker.Record {
	c := &tracker.Record{
		ID:        id,
		Client:    netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), clientPort),
		Server:    netip.MustParseAddrPort("127.0.0.1:5555"),
		Start:     t0,
		Last:      t0,
		State:     zmtp.StateOpen,
		Detection: zmtp.IsZMTP,
	}
	c.Sides[0].SocketType, c.Sides[1].SocketType = ct, st
	c.ClientSocket, c.ServerSocket = ct, st
	c.Compatible = ct == zmtp.SocketUnknown || st == zmtp.SocketUnknown || zmtp.Compatible(ct, st)
	for i, s := range [2]zmtp.SocketType{ct, st} {
		if (s == zmtp.SUB || s == zmtp.XSUB) && !c.PubSub {
			c.PubSub, c.Subscriber = true, zmtp.Role(i)
		}
	}
	c.HandshakeDone = [2]bool{true, true}
	c.Handshake = zmtp.HandshakeComplete
	return c
}

// only keeps the named built-in rule.
func only(name string) []*Rule {
	for _, r := range Builtins() {
		if r.Name == name {
			return []*Rule{r}
		}
	}
	panic(name)
}

type step struct {
	at    time.Duration
	setup func()
	want  string // "state client" of each change, space-separated
}

// input is what one evaluation of a test sees: records (which the test's
// steps change in place) and points.
type input struct {
	records []*tracker.Record
	points  []store.Point
}

// eval evaluates e at ts over in as the run does: a snapshot of the records
// (each a copy, as the tracker makes a new Record when a connection changes)
// and the interval's points.
func eval(e *Engine, ts time.Time, in input) []Alert {
	snap := &tracker.Snapshot{Time: ts}
	for _, r := range in.records {
		c := *r
		// The derived fact the tracker makes with the record.
		c.NoSubscription = c.PubSub && c.Handshake == zmtp.HandshakeComplete && len(c.Subscriptions) == 0
		c.NeverSubscribed = c.NoSubscription && len(c.SubHistory) == 0
		snap.Records = append(snap.Records, &c)
	}
	return e.EvalSnapshot(ts, snap, in.points)
}

func run(t *testing.T, e *Engine, in func() input, steps []step) []Alert {
	t.Helper()
	var last []Alert
	for _, s := range steps {
		if s.setup != nil {
			s.setup()
		}
		ch := eval(e, t0.Add(s.at), in())
		var got []string
		for _, a := range ch {
			got = append(got, a.State.String()+" "+a.Client)
		}
		if g := strings.Join(got, ", "); g != s.want {
			t.Errorf("at %v: changes %q, want %q", s.at, g, s.want)
		}
		last = append(last, ch...)
	}
	return last
}

func TestHWMZeroWindow(t *testing.T) {
	// A PUB server whose SUB client stopped reading: s2c (index 1) window zero.
	sub := conn(1, 40001, zmtp.SUB, zmtp.PUB)
	// A PUSH client whose PULL server stopped reading: c2s (index 0).
	push := conn(2, 40002, zmtp.PUSH, zmtp.PULL)
	e := New(only("hwm_saturation"))
	in := func() input { return input{records: []*tracker.Record{sub, push}} }
	ch := run(t, e, in, []step{
		{0, func() { sub.TCP[1].ZeroSince = t0; sub.TCP[1].ZeroWindows = 1 }, ""},
		{50 * time.Millisecond, nil, ""},
		{150 * time.Millisecond, nil, "firing 127.0.0.1:40001"},
		// The episode ends (the tracker accrues its time); push's receiver has
		// a 200 ms episode entirely between two evaluations.
		{time.Second, func() {
			sub.TCP[1].ZeroSince, sub.TCP[1].ZeroWindowTime = time.Time{}, 900*time.Millisecond
			push.TCP[0].ZeroWindowTime, push.TCP[0].ZeroWindows = 200*time.Millisecond, 1
		}, "firing 127.0.0.1:40002"},
		{2 * time.Second, nil, "resolved 127.0.0.1:40001, resolved 127.0.0.1:40002"},
	})
	if !ch[0].PendingAt.Equal(t0) || ch[0].Value != 150 {
		t.Errorf("pending %v value %v", ch[0].PendingAt, ch[0].Value)
	}
	for _, s := range []string{"SUB 127.0.0.1:40001", "PUB 127.0.0.1:5555 drops the messages for it"} {
		if !strings.Contains(ch[0].Message, s) {
			t.Errorf("message %q lacks %q", ch[0].Message, s)
		}
	}
	for _, s := range []string{"PULL 127.0.0.1:5555", "PUSH 127.0.0.1:40002 blocks"} {
		if !strings.Contains(ch[1].Message, s) {
			t.Errorf("message %q lacks %q", ch[1].Message, s)
		}
	}
	if ch[1].Labels["consumer"] != "127.0.0.1:5555" || ch[1].Labels["consumer_type"] != "PULL" || ch[1].Labels["dir"] != "c2s" {
		t.Errorf("labels %v", ch[1].Labels)
	}
}

func TestHWMInFlightFull(t *testing.T) {
	d := conn(1, 40001, zmtp.DEALER, zmtp.ROUTER)
	d.TCP[1] = tracker.TCPDir{HaveSeq: true, HaveAck: true, NextSeq: 1000 + 65536, Acked: 1000, Window: 65536}
	e := New(only("hwm_saturation"))
	in := func() input { return input{records: []*tracker.Record{d}} }
	ch := run(t, e, in, []step{
		{0, nil, ""},
		{500 * time.Millisecond, nil, ""},
		{time.Second, nil, "firing 127.0.0.1:40001"},
		{1500 * time.Millisecond, func() { d.TCP[1].Acked += 30000 }, "resolved 127.0.0.1:40001"},
	})
	if !strings.Contains(ch[0].Message, "65536 bytes unacknowledged") || !strings.Contains(ch[0].Message, "ROUTER 127.0.0.1:5555 drops the messages for it (or blocks/fails with EHOSTUNREACH under ROUTER_MANDATORY)") {
		t.Errorf("message %q", ch[0].Message)
	}
}

func TestHeartbeatTimeout(t *testing.T) {
	c := conn(1, 40001, zmtp.DEALER, zmtp.ROUTER)
	e := New(only("heartbeat_timeout"))
	in := func() input { return input{records: []*tracker.Record{c}} }
	ch := run(t, e, in, []step{
		// Answered PINGs, then the server stops answering after t0.
		{0, func() { c.Dirs[0].Pings, c.Dirs[1].Pongs, c.Dirs[1].LastPong = 5, 5, t0 }, ""},
		{500 * time.Millisecond, func() { c.Dirs[0].Pings = 8 }, ""},
		{1500 * time.Millisecond, func() { c.Dirs[0].Pings = 12 }, "firing 127.0.0.1:40001"},
		{2 * time.Second, func() { c.Dirs[1].Pongs, c.Dirs[1].LastPong = 12, t0.Add(2*time.Second) }, "resolved 127.0.0.1:40001"},
	})
	if ch[0].Value != 7 || !strings.Contains(ch[0].Message, "7 PINGs from DEALER 127.0.0.1:40001 unanswered by ROUTER 127.0.0.1:5555 for 1.5s") {
		t.Errorf("alert %+v", ch[0])
	}
	if r := ch[1].Resolution; r != "PONGs answer again: 0 PING(s) unanswered now, the last PONG 0s before" {
		t.Errorf("resolution %q", r)
	}
	// One PING in flight when a connection closes is no timeout.
	c2 := conn(2, 40002, zmtp.DEALER, zmtp.ROUTER)
	c2.Dirs[0].Pings, c2.Dirs[1].Pongs, c2.Dirs[1].LastPong = 6, 5, t0
	c2.Closed, c2.State, c2.Last = true, zmtp.StateClosed, t0.Add(3*time.Second)
	if ch := eval(New(only("heartbeat_timeout")), t0.Add(4*time.Second), input{records: []*tracker.Record{c2}}); len(ch) != 0 {
		t.Errorf("changes %+v", ch)
	}
}

func TestPubNoSubscribers(t *testing.T) {
	good := conn(1, 40001, zmtp.SUB, zmtp.PUB)
	good.Subscriptions = []string{"prices"}
	lazy := conn(2, 40002, zmtp.SUB, zmtp.PUB)
	e := New(only("pub_no_subscribers"))
	in := func() input { return input{records: []*tracker.Record{good, lazy}} }
	ch := run(t, e, in, []step{
		{500 * time.Millisecond, func() { good.Dirs[1].Messages = 50 }, ""}, // within grace
		{2 * time.Second, func() { good.Dirs[1].Messages = 100 }, "firing 127.0.0.1:40002"},
		{3 * time.Second, nil, ""}, // the publisher went quiet: the SUB still receives nothing
		{4 * time.Second, func() { good.Dirs[1].Messages = 150 }, ""},
		{5 * time.Second, func() { lazy.Subscriptions = []string{""}; good.Dirs[1].Messages = 200 }, "resolved 127.0.0.1:40002"},
	})
	if !strings.Contains(ch[0].Message, "the publisher sent 50 messages to its other subscribers") {
		t.Errorf("busy publisher: %q", ch[0].Message)
	}
	// A lone SUB that never subscribed (the best-known PUB/SUB mistake): its
	// publisher sends it nothing, and no other subscriber shows the
	// publisher busy; it fires all the same, after the grace.
	lone := conn(3, 40003, zmtp.SUB, zmtp.PUB)
	e = New(only("pub_no_subscribers"))
	ch = run(t, e, func() input { return input{records: []*tracker.Record{lone}} }, []step{
		{500 * time.Millisecond, nil, ""},
		{2 * time.Second, nil, "firing 127.0.0.1:40003"},
	})
	if !strings.Contains(ch[0].Message, "SUB 127.0.0.1:40003 connected to PUB 127.0.0.1:5555 has never subscribed: it can receive nothing") {
		t.Errorf("lone SUB: %q", ch[0].Message)
	}
}

func TestIncompatibleAndHandshake(t *testing.T) {
	bad := conn(1, 40001, zmtp.PUB, zmtp.PUSH)
	auth := conn(2, 40002, zmtp.SocketUnknown, zmtp.SocketUnknown)
	auth.HandshakeDone = [2]bool{}
	auth.Mechanism = zmtp.MechPLAIN
	auth.HandshakeError = "ERROR 400"
	auth.Handshake = zmtp.HandshakeFailed
	auth.PlainUsername = "admin"
	auth.Closed, auth.State, auth.Last = true, zmtp.StateClosed, t0.Add(time.Millisecond)
	e := New(append(only("incompatible_sockets"), only("handshake_failure")...))
	in := func() input { return input{records: []*tracker.Record{bad, auth}} }
	ch := run(t, e, in, []step{
		{time.Second, nil, "firing 127.0.0.1:40001, firing 127.0.0.1:40002"},
		// A closed connection's failure is held for 5 minutes, then resolves.
		{4 * time.Minute, nil, ""},
		{5*time.Minute + time.Millisecond, nil, "resolved 127.0.0.1:40002"},
	})
	if ch[0].Message != "incompatible socket types: PUB 127.0.0.1:40001 connected to PUSH 127.0.0.1:5555; libzmq drops the connection after the handshake and nothing is delivered" {
		t.Errorf("message %q", ch[0].Message)
	}
	if ch[1].Message != `handshake failed between client 127.0.0.1:40002 and server 127.0.0.1:5555 (PLAIN): ERROR 400 (ZAP: authentication failure); PLAIN user "admin"` || ch[1].Value != 400 {
		t.Errorf("message %q value %v", ch[1].Message, ch[1].Value)
	}
}

// TestMonitorRules: socket-monitor events reach the rules as the
// collector's zspy_monitor points of the interval they came in.
func TestMonitorRules(t *testing.T) {
	col := metrics.New("h", time.Second)
	ev := func(at time.Duration, code monitor.EventCode, f func(e *monitor.Event)) {
		e := &monitor.Event{Time: t0.Add(at), Source: "billing/req", Code: code, Name: code.String()}
		f(e)
		col.MonitorEvent(e)
	}
	e := New(append(append(only("pipes_stats_depth"), only("reconnect_storm")...), only("handshake_failure")...))
	in := func() input { return input{points: col.Sample(t0, &tracker.Snapshot{})} }
	ch := run(t, e, in, []step{
		{0, func() {
			ev(0, monitor.EventPipesStats, func(e *monitor.Event) {
				e.Endpoint, e.RemoteEndpoint, e.Outbound, e.Inbound = "tcp://127.0.0.1:5555", "tcp://127.0.0.1:40001", 500, 3
			})
			ev(0, monitor.EventConnectRetried, func(e *monitor.Event) { e.Endpoint = "tcp://127.0.0.1:6000" })
		}, ""},
		{time.Second, func() {
			ev(time.Second, monitor.EventPipesStats, func(e *monitor.Event) {
				e.Endpoint, e.RemoteEndpoint, e.Outbound, e.Inbound = "tcp://127.0.0.1:5555", "tcp://127.0.0.1:40001", 850, 3
			})
			ev(time.Second, monitor.EventConnectRetried, func(e *monitor.Event) { e.Endpoint = "tcp://127.0.0.1:6000" })
			ev(time.Second, monitor.EventConnectRetried, func(e *monitor.Event) { e.Endpoint = "tcp://127.0.0.1:6000" })
			ev(time.Second, monitor.EventHandshakeFailedAuth, func(e *monitor.Event) {
				e.Endpoint, e.RemoteEndpoint, e.Value, e.ZAPStatus, e.ZAPStatusText = "tcp://127.0.0.1:7000", "tcp://127.0.0.1:40100", 400, 400, "authentication failure"
			})
		}, "firing 127.0.0.1:40001, firing 127.0.0.1:40100"},
		{2 * time.Second, func() {
			ev(2*time.Second, monitor.EventPipesStats, func(e *monitor.Event) {
				e.Endpoint, e.RemoteEndpoint, e.Outbound, e.Inbound = "tcp://127.0.0.1:5555", "tcp://127.0.0.1:40001", 10, 0
			})
		}, "resolved 127.0.0.1:40001"},
		// Three retries within a second are a start-up, not a storm.
		{10*time.Second + time.Millisecond, nil, ""},
	})
	if ch[0].Server != "127.0.0.1:5555" || !strings.Contains(ch[0].Message, "850 messages queued outbound (towards the peer), 85% of the high-water mark 1000") {
		t.Errorf("pipes alert %+v", ch[0])
	}
	if r := ch[2].Resolution; r != "queue now 10 messages (threshold 800: 80% of the high-water mark 1000)" {
		t.Errorf("pipes resolution %q", r)
	}
	if ch[1].Server != "127.0.0.1:7000" || ch[1].Client != "127.0.0.1:40100" || !strings.Contains(ch[1].Message, "HANDSHAKE_FAILED_AUTH ZAP status 400 (authentication failure)") {
		t.Errorf("handshake alert %+v", ch[1])
	}
}

// TestReconnectStorm: refused connects and CONNECT_RETRIED events to one
// server endpoint are one storm (one alert), raised only once they have kept
// failing for min_duration, and resolved with why when the client gets
// through; a late bind that gets through sooner raises nothing.
func TestReconnectStorm(t *testing.T) {
	col := metrics.New("h", time.Second)
	var recs []*tracker.Record
	refuse := func(at time.Duration) {
		c := conn(uint64(len(recs)+1), 40001, zmtp.SocketUnknown, zmtp.SocketUnknown)
		c.Detection, c.State, c.Closed = zmtp.Undecided, zmtp.StateRefused, true
		c.Start, c.Last = t0.Add(at), t0.Add(at)
		recs = append(recs, c)
		col.MonitorEvent(&monitor.Event{Time: t0.Add(at), Source: "app/req", Code: monitor.EventConnectRetried,
			Name: monitor.EventConnectRetried.String(), Endpoint: "tcp://127.0.0.1:5555"})
	}
	through := func(at time.Duration) {
		c := conn(uint64(len(recs)+1), 40001, zmtp.REQ, zmtp.REP)
		c.Start, c.Last = t0.Add(at), t0.Add(at)
		recs = append(recs, c)
	}
	e := New(only("reconnect_storm"))
	in := func() input { return input{records: recs, points: col.Sample(t0, &tracker.Snapshot{})} }
	var steps []step
	for s := 0; s <= 7; s++ {
		at := time.Duration(s) * time.Second
		want := ""
		if s == 5 {
			want = "firing 127.0.0.1:40001"
		}
		steps = append(steps, step{at, func() {
			for k := 0; k < 10; k++ {
				refuse(at - time.Second + time.Duration(k)*100*time.Millisecond)
			}
		}, want})
	}
	steps = append(steps, step{8 * time.Second, func() { through(7500 * time.Millisecond) }, "resolved 127.0.0.1:40001"})
	ch := run(t, e, in, steps)
	if len(ch) != 2 {
		t.Fatalf("changes %+v", ch)
	}
	if a := ch[0]; a.Server != "127.0.0.1:5555" || a.Labels["source"] != "wire+monitor" ||
		!strings.Contains(a.Message, "have kept failing for 5.9s") || !strings.Contains(a.Message, "CONNECT_RETRIED") {
		t.Errorf("storm %+v", a)
	}
	if r := ch[1].Resolution; !strings.Contains(r, "client 127.0.0.1:40001 got through at") {
		t.Errorf("resolution %q", r)
	}

	// A late bind: refused for 3 s, then through.
	recs, col = nil, metrics.New("h", time.Second)
	e = New(only("reconnect_storm"))
	run(t, e, in, []step{
		{time.Second, func() { refuse(0); refuse(500 * time.Millisecond) }, ""},
		{2 * time.Second, func() { refuse(1500 * time.Millisecond) }, ""},
		{3 * time.Second, func() { refuse(2500 * time.Millisecond) }, ""},
		{4 * time.Second, func() { through(3 * time.Second) }, ""},
		{12 * time.Second, nil, ""},
	})
}

package tracing_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/patterns"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/tracing"
	"github.com/zspy/zspy/tracker"
)

// appTimes is testdata/pcaps/broker/apptimes.json: the times the apps took
// themselves (time.time_ns(), the capture's clock).
type appTimes struct {
	Clients []struct {
		Client  int
		SendNs  int64 `json:"send_ns"`
		ReplyNs int64 `json:"reply_ns"`
		Body    string
	}
	Workers []struct {
		Worker int
		RecvNs int64 `json:"recv_ns"`
		SendNs int64 `json:"send_ns"`
		Body   string
	}
}

// clientPorts names the broker case's connections by their client port
// (testdata/gen/scenarios/broker.py).
var clientPorts = map[string]string{
	"127.0.0.1:26530": "client0", "127.0.0.1:26531": "client1",
	"127.0.0.1:26532": "worker0", "127.0.0.1:26533": "worker1", "127.0.0.1:26534": "worker2",
}

type names map[uint64]string

func (n names) TrackerEvent(e *tracker.Event) { n[e.ConnID] = clientPorts[e.Client] }

// A plain pcap of the seed's broker (REQ clients → ROUTER|DEALER via
// zmq.proxy → REP workers), replayed: the broker is recognised by the
// messages it forwards, with no process; every request and reply is traced
// through it, and each hop's time agrees with the times the apps took
// themselves: the wire's end-to-end time of each request lies within the
// client's own (send to reply), the worker's own time within the wire's
// (request out of the broker to reply into it), to the capture's 1 µs
// resolution; the medians differ by the apps' hand-off to libzmq's I/O
// threads only.
func TestBrokerTracedOffline(t *testing.T) {
	raw, err := os.ReadFile("../testdata/pcaps/broker/apptimes.json")
	if err != nil {
		t.Fatal(err)
	}
	var app appTimes
	if err := json.Unmarshal(raw, &app); err != nil {
		t.Fatal(err)
	}
	src, err := capture.OpenFile("../testdata/pcaps/broker/capture.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	byConn := map[string][]tracing.Sample{}
	conn := names{}
	cfg := tracing.Config{OnSample: func(s tracing.Sample) {
		byConn[conn[s.Conn]] = append(byConn[conn[s.Conn]], s)
	}}
	s := session.New(session.Config{Files: []capture.Source{src}, Trace: &cfg, Events: conn})
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr := s.Report().Tracing
	if tr == nil || len(tr.Stages) != 1 {
		t.Fatalf("tracing found %+v, want one stage", tr)
	}
	st := tr.Stages[0]
	if st.Kind != string(patterns.Broker) || len(st.Front) != 1 || st.Front[0].Addr != "127.0.0.1:16530" || st.Front[0].Socket != "ROUTER" ||
		len(st.Back) != 1 || st.Back[0].Addr != "127.0.0.1:16531" || st.Back[0].Socket != "DEALER" {
		t.Fatalf("stage %+v, want the broker ROUTER 127.0.0.1:16530 → DEALER 127.0.0.1:16531", st)
	}
	if len(st.Hops) != tracing.NHops {
		t.Fatalf("hops %+v, want all %d", st.Hops, tracing.NHops)
	}
	for _, h := range st.Hops {
		if h.Count != 60 {
			t.Errorf("%s: %d samples, want the 60 requests", h.Name, h.Count)
		}
	}
	if st.NeverLeft != 0 || st.Waiting != 0 || tr.Forwarded != 120 {
		t.Errorf("never left %d, waiting %d, forwarded %d: want 0, 0, 120", st.NeverLeft, st.Waiting, tr.Forwarded)
	}

	const res = time.Microsecond // pcap timestamps
	var appE2E, wireE2E, appWork, wireWork []time.Duration
	for ci := range 2 {
		var wire []tracing.Sample
		for _, s := range byConn[[]string{"client0", "client1"}[ci]] {
			if s.Hop == tracing.HopEndToEnd {
				wire = append(wire, s)
			}
		}
		var mine []int
		for i, c := range app.Clients {
			if c.Client == ci {
				mine = append(mine, i)
			}
		}
		if len(wire) != len(mine) || len(mine) != 30 {
			t.Fatalf("client %d: %d end-to-end samples on the wire, %d requests by the app, want 30", ci, len(wire), len(mine))
		}
		for k, i := range mine {
			c, w := app.Clients[i], wire[k]
			if time.Unix(0, c.SendNs).After(w.Start.Add(res)) || w.End.After(time.Unix(0, c.ReplyNs).Add(res)) {
				t.Errorf("client %d request %d: wire %s..%s not within the app's %s..%s", ci, k,
					w.Start.Format(time.StampMicro), w.End.Format(time.StampMicro),
					time.Unix(0, c.SendNs).Format(time.StampMicro), time.Unix(0, c.ReplyNs).Format(time.StampMicro))
			}
			appE2E = append(appE2E, time.Duration(c.ReplyNs-c.SendNs))
			wireE2E = append(wireE2E, w.End.Sub(w.Start))
		}
	}
	for wi := range 3 {
		var wire []tracing.Sample
		for _, s := range byConn[[]string{"worker0", "worker1", "worker2"}[wi]] {
			if s.Hop == tracing.HopWorker {
				wire = append(wire, s)
			}
		}
		var mine []int
		for i, w := range app.Workers {
			if w.Worker == wi {
				mine = append(mine, i)
			}
		}
		if len(wire) != len(mine) {
			t.Fatalf("worker %d: %d samples on the wire, %d requests served by the app", wi, len(wire), len(mine))
		}
		for k, i := range mine {
			a, w := app.Workers[i], wire[k]
			if w.Start.After(time.Unix(0, a.RecvNs).Add(res)) || time.Unix(0, a.SendNs).After(w.End.Add(res)) {
				t.Errorf("worker %d request %d: the app's %s..%s not within the wire's %s..%s", wi, k,
					time.Unix(0, a.RecvNs).Format(time.StampMicro), time.Unix(0, a.SendNs).Format(time.StampMicro),
					w.Start.Format(time.StampMicro), w.End.Format(time.StampMicro))
			}
			appWork = append(appWork, time.Duration(a.SendNs-a.RecvNs))
			wireWork = append(wireWork, w.End.Sub(w.Start))
		}
	}
	med := func(d []time.Duration) time.Duration { d = slices.Clone(d); slices.Sort(d); return d[(len(d)-1)/2] }
	t.Logf("end to end: app p50 %s, wire p50 %s (report %.0f µs); worker: app p50 %s, wire p50 %s (report %.0f µs)",
		med(appE2E), med(wireE2E), st.Hops[tracing.HopEndToEnd].P50us, med(appWork), med(wireWork), st.Hops[tracing.HopWorker].P50us)
	// The report's medians are the wire's (the 30th of 60), to the histogram's 1%.
	for _, c := range []struct {
		name string
		hop  int
		wire []time.Duration
	}{{"end to end", tracing.HopEndToEnd, wireE2E}, {"worker", tracing.HopWorker, wireWork}} {
		got, want := st.Hops[c.hop].P50us, float64(med(c.wire))/1e3
		if got < want*0.98 || got > want*1.02 {
			t.Errorf("%s: report p50 %.1f µs, the wire's median %.1f µs", c.name, got, want)
		}
	}

}

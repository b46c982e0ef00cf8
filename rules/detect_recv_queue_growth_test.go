package rules

import (
	"testing"
	"time"

	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/store"
)

func queuePoint(at time.Time, side string, recvQ int64) store.Point {
	p := store.Point{Measurement: metrics.MeasSocketQueue, Time: at, Tags: []store.Tag{
		{Key: "client_host", Value: "127.0.0.1"}, {Key: "command", Value: "python3"}, {Key: "host", Value: "h"},
		{Key: "server", Value: "127.0.0.1:5556"}, {Key: "side", Value: side}, {Key: "socket", Value: "SUB"}}}
	p.AddField(store.Int("recv_q_bytes", recvQ))
	p.AddField(store.Int("pid", 1234))
	return p
}

// recv_queue_growth fires once a socket's receive queue grew at two
// evaluations and holds at least min_bytes; a full queue that stops growing
// keeps it firing, one that shrinks resolves it, and one that stays large
// without growing never fires it.
func TestRecvQueueGrowth(t *testing.T) {
	var rules []*Rule
	for _, r := range Builtins() {
		if r.Name == "recv_queue_growth" {
			rules = append(rules, r)
		}
	}
	e := New(rules)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// The client side grows: 0, 40k, 80k (fires), 120k, 120k (full: still
	// firing), 20k (read: resolves); the server side stays at 200k
	// throughout.
	client := []int64{0, 40 << 10, 80 << 10, 120 << 10, 120 << 10, 20 << 10}
	var states []string
	for i, q := range client {
		ts := t0.Add(time.Duration(i) * time.Second)
		pts := []store.Point{queuePoint(ts, "client", q), queuePoint(ts, "server", 200<<10)}
		for _, a := range e.EvalSnapshot(ts, nil, pts) {
			states = append(states, a.State.String()+"@"+ts.Format("05")+" "+a.Labels["side"])
			if a.State == StateFiring && a.Message == "" {
				t.Error("firing without a message")
			}
		}
	}
	want := []string{"firing@02 client", "resolved@05 client"}
	if len(states) != len(want) || states[0] != want[0] || states[1] != want[1] {
		t.Fatalf("changes %v, want %v", states, want)
	}
}

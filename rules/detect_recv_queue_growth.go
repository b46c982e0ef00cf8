package rules

import (
	"fmt"
	"time"

	"github.com/zspy/zspy/metrics"
)

// RecvQueueParams are recv_queue_growth's parameters.
type RecvQueueParams struct {
	Intervals int
	MinBytes  int
}

func (p *RecvQueueParams) params() []param {
	return []param{
		{"intervals", "metrics intervals at which the receive queue must have grown since it last shrank", &p.Intervals},
		{"min_bytes", "the least receive-queue size that counts", &p.MinBytes},
	}
}

func init() {
	register(detectorDef[RecvQueueParams]{
		Name: "recv_queue_growth",
		Doc: "a receiver's kernel receive queue (zspy_socket_queue.recv_q_bytes, live capture with the host view) grew at successive intervals without shrinking in between: " +
			"the application is not reading, and its TCP window will close (or has closed: a full queue keeps the alert until it shrinks)",
		Severity: SevWarning,
		Order:    11,
		Defaults: RecvQueueParams{Intervals: 2, MinBytes: 64 << 10},
		New: func(p RecvQueueParams) detector {
			return &recvQueueDetector{RecvQueueParams: p, seen: map[string]*queueTrend{}}
		},
	})
}

type recvQueueDetector struct {
	RecvQueueParams
	// seen holds, per socket (connection and side), the queue at the last
	// evaluation and how many evaluations in a row it grew.
	seen map[string]*queueTrend
}

type queueTrend struct {
	last   int64
	grown  int
	since  time.Time // the evaluation before the first growth of the run
	lastTS time.Time
}

func (d *recvQueueDetector) detect(ts time.Time, query QueryFunc, _ *monitorState) []*finding {
	var out []*finding
	for _, p := range query(ts, Query{Measurement: metrics.MeasSocketQueue}).Points {
		var client, server, side, sock, cmd string
		for _, t := range p.Tags {
			switch t.Key {
			case "client_host":
				client = t.Value
			case "server":
				server = t.Value
			case "side":
				side = t.Value
			case "socket":
				sock = t.Value
			case "command":
				cmd = t.Value
			}
		}
		f, ok := p.Field("recv_q_bytes")
		if !ok {
			continue
		}
		q := f.IntValue()
		var pid int64
		if pf, ok := p.Field("pid"); ok {
			pid = pf.IntValue()
		}
		key := client + "-" + server + "/" + side + "/" + sock + "/" + cmd
		tr := d.seen[key]
		if tr == nil {
			tr = &queueTrend{last: q, since: ts}
			d.seen[key] = tr
		} else {
			// A queue that stops growing because it is full is still not
			// being read: only a queue that shrinks (the application read)
			// starts the count again.
			switch {
			case q > tr.last:
				if tr.grown == 0 {
					tr.since = tr.lastTS
				}
				tr.grown++
			case q < tr.last:
				tr.grown = 0
			}
			tr.last = q
		}
		tr.lastTS = ts
		if tr.grown < d.Intervals || q < int64(d.MinBytes) {
			continue
		}
		ep := client
		if side == "server" {
			ep = server
		}
		proc := "an unknown process"
		if pid != 0 {
			proc = fmt.Sprintf("%s (pid %d)", cmd, pid)
		}
		fd := &finding{key: key, client: client, server: server, since: tr.since, value: float64(q),
			labels: map[string]string{"side": side, "socket": sock, "command": cmd}}
		fd.evidence = fmt.Sprintf("receiver %s %s of %s: its kernel receive queue grew at %d intervals without shrinking, to %d bytes; the application is not reading, and its TCP window will close",
			sock, ep, proc, tr.grown, q)
		out = append(out, fd)
	}
	// Forget sockets that had no point this evaluation (closed, or gone).
	for k, tr := range d.seen {
		if !tr.lastTS.Equal(ts) {
			delete(d.seen, k)
		}
	}
	return out
}

package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/zspy/zspy/internal/textsafe"
	"github.com/zspy/zspy/tracing"
)

// Tracing is what message tracing found (see package tracing): the stages
// recognised by the messages they forward, with per-hop times, and what
// the tracer saw and could not keep.
type Tracing struct {
	Stages []TracedStage `json:"stages"`
	// Messages were fingerprinted, Untraced were not (CURVE, caps), and
	// Forwarded were matched with the message a stage sent on.
	Messages  uint64 `json:"messages"`
	Untraced  uint64 `json:"untraced,omitempty"`
	Forwarded uint64 `json:"forwarded"`
	// Delivered waited past the age limit at ends that are no stage;
	// Waiting still waited when the capture ended.
	Delivered uint64 `json:"delivered"`
	Waiting   int    `json:"waiting"`
	// What the caps cost (all 0 unless a cap was reached).
	Evicted         uint64 `json:"evicted,omitempty"`
	NotKept         uint64 `json:"not_kept,omitempty"`
	EndsOverflow    uint64 `json:"ends_overflow,omitempty"`
	ConnsOverflow   uint64 `json:"connections_overflow,omitempty"`
	StagesOverflow  uint64 `json:"stages_overflow,omitempty"`
	OutstandingLost uint64 `json:"outstanding_lost,omitempty"`
	MemoryBytes     int    `json:"memory_bytes"`
}

// TracedStage is one stage recognised by forwarding.
type TracedStage struct {
	Kind  string      `json:"kind"`
	Host  string      `json:"host"`
	Front []TracedEnd `json:"front"`
	Back  []TracedEnd `json:"back"`
	Hops  []Hop       `json:"hops"`
	// NeverLeft entered and waited past the age limit; Waiting had not
	// left when the capture ended; Evicted and NotKept went to the caps.
	NeverLeft   uint64 `json:"never_left"`
	Waiting     int    `json:"waiting"`
	Evicted     uint64 `json:"evicted,omitempty"`
	NotKept     uint64 `json:"not_kept,omitempty"`
	MemoryBytes int    `json:"memory_bytes"`
}

// TracedEnd is one end of a traced stage.
type TracedEnd struct {
	Addr   string `json:"addr"`
	Socket string `json:"socket"`
	Listen bool   `json:"listen,omitempty"`
	// Process holds the end's socket ("command[pid]"), when the host view
	// (live, or recorded in a pcapng) named it.
	Process string `json:"process,omitempty"`
}

// Hop is one hop's times in microseconds (p50, p99 within 1%).
type Hop struct {
	Name       string  `json:"name"`
	Count      uint64  `json:"count"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	Maxus      float64 `json:"max_us"`
	OutOfRange uint64  `json:"out_of_range,omitempty"`
}

// AttachTracing adds what tracing found to r; nothing when it found no
// stage and lost nothing.
func AttachTracing(r *Report, res *tracing.Result) {
	c := res.Counters
	if len(res.Stages) == 0 && c.Evicted+c.NotKept+c.EndsOverflow+c.ConnsOverflow+c.StagesOverflow == 0 {
		return
	}
	t := &Tracing{Messages: c.Messages, Untraced: c.Untraced, Forwarded: c.Forwarded, Delivered: c.Delivered,
		Waiting: res.Waiting, Evicted: c.Evicted, NotKept: c.NotKept, EndsOverflow: c.EndsOverflow,
		ConnsOverflow: c.ConnsOverflow, StagesOverflow: c.StagesOverflow, OutstandingLost: c.OutstandingLost,
		MemoryBytes: res.MemoryBytes, Stages: []TracedStage{}}
	procs := endProcesses(r)
	for _, s := range res.Stages {
		ts := TracedStage{Kind: string(s.Kind), Host: s.Host, Front: tracedEnds(s.Front, procs), Back: tracedEnds(s.Back, procs),
			NeverLeft: s.NeverLeft, Waiting: s.Waiting, Evicted: s.Evicted, NotKept: s.NotKept, MemoryBytes: s.MemoryBytes}
		for i, h := range s.Hops {
			if h.Count == 0 {
				continue
			}
			ts.Hops = append(ts.Hops, Hop{Name: tracing.HopNames[i], Count: h.Count, P50us: us(h.P50), P99us: us(h.P99),
				Maxus: us(h.Max), OutOfRange: h.OutOfRange})
		}
		t.Stages = append(t.Stages, ts)
	}
	r.Tracing = t
}

func tracedEnds(es []tracing.End, procs map[string]string) []TracedEnd {
	out := make([]TracedEnd, 0, len(es))
	for _, e := range es {
		out = append(out, TracedEnd{Addr: e.Addr, Socket: sockName(e.Socket.String()), Listen: e.Listen, Process: procs[e.Addr]})
	}
	return out
}

// endProcesses maps the connections' ends ("ip:port") to the processes the
// host view named for them (call after AttachHost).
func endProcesses(r *Report) map[string]string {
	m := map[string]string{}
	for i := range r.Connections {
		c := &r.Connections[i]
		if h := c.ClientHost; h != nil && h.Known {
			m[c.Client] = h.process()
		}
		if h := c.ServerHost; h != nil && h.Known {
			m[c.Server] = h.process()
		}
	}
	return m
}

func us(d time.Duration) float64 { return float64(d.Round(time.Microsecond)) / 1e3 }

// writeTracingText prints one line per traced stage with its hops, then
// the tracer's counters.
func writeTracingText(w io.Writer, t *Tracing) {
	if t == nil {
		return
	}
	for _, s := range t.Stages {
		fmt.Fprintf(w, "traced %s on %s", s.Kind, textsafe.String(s.Host))
		if p := stageProcesses(s); p != "" {
			fmt.Fprintf(w, " %s", textsafe.String(p))
		}
		fmt.Fprintf(w, ": %s → %s", tracedEndsText(s.Front), tracedEndsText(s.Back))
		for _, h := range s.Hops {
			fmt.Fprintf(w, "; %s p50 %s p99 %s (%d)", h.Name, usText(h.P50us), usText(h.P99us), h.Count)
		}
		fmt.Fprintf(w, "; %d never left, %d waiting at the end", s.NeverLeft, s.Waiting)
		if s.Evicted+s.NotKept > 0 {
			fmt.Fprintf(w, ", %d evicted, %d not kept (caps)", s.Evicted, s.NotKept)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "tracing: %d messages, %d forwarded by stages, %d untraced (CURVE, caps)", t.Messages, t.Forwarded, t.Untraced)
	if lost := t.Evicted + t.NotKept + t.EndsOverflow + t.ConnsOverflow + t.StagesOverflow + t.OutstandingLost; lost > 0 {
		fmt.Fprintf(w, "; caps reached: %d evicted, %d not kept, %d ends, %d connections, %d stages over their caps, %d requests untimed",
			t.Evicted, t.NotKept, t.EndsOverflow, t.ConnsOverflow, t.StagesOverflow, t.OutstandingLost)
	}
	fmt.Fprintf(w, "; %d bytes held\n", t.MemoryBytes)
}

func tracedEndsText(es []TracedEnd) string {
	if len(es) == 0 {
		return "-"
	}
	var listen, connecting []string
	for _, e := range es {
		if e.Listen {
			listen = append(listen, e.Addr)
		} else {
			connecting = append(connecting, e.Addr)
		}
	}
	parts := []string{es[0].Socket}
	if len(listen) > 0 {
		parts = append(parts, strings.Join(listen, ","))
	}
	switch {
	case len(connecting) == 1 && len(listen) == 0:
		parts = append(parts, connecting[0]+" (connecting)")
	case len(connecting) > 0:
		parts = append(parts, fmt.Sprintf("+%d connecting", len(connecting)))
	}
	return strings.Join(parts, " ")
}

func usText(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.2fms", v/1000)
	}
	return fmt.Sprintf("%.0fµs", v)
}

// stageProcesses names the processes that hold a traced stage's ends
// ("python3[812]"; several joined by ","), "" when none is known.
func stageProcesses(s TracedStage) string {
	var ps []string
	for _, e := range append(append([]TracedEnd(nil), s.Front...), s.Back...) {
		if e.Process != "" && !slices.Contains(ps, e.Process) {
			ps = append(ps, e.Process)
		}
	}
	return strings.Join(ps, ",")
}

package report

import "fmt"

// NoteLowerBounds says, in the report's warnings and its LowerBounds field
// (the text summary line then says it too), when its counts are lower
// bounds: a frame boundary fell in bytes that were not captured (cut by the
// snap length, dropped, or missing from the file), so the frames and
// messages in the gap went uncounted. Packets cut by the snap length with
// every boundary followed across the cuts are said too, as counts that hold.
// snaplen is the live capture's snap length (0 when unknown, as on replay).
// Call it once, on the finished report.
func (r *Report) NoteLowerBounds(snaplen int) {
	var lost, conns uint64
	for _, c := range r.Connections {
		if k := c.C2S.LostSync + c.S2C.LostSync; k > 0 {
			lost += k
			conns++
		}
	}
	cut := r.Stats.TruncatedPackets
	snap := "the snap length"
	if snaplen > 0 {
		snap = fmt.Sprintf("the snap length (%d bytes)", snaplen)
	}
	var w string
	switch {
	case lost > 0:
		r.LowerBounds = fmt.Sprintf("frame sync lost %s on %s", plural(lost, "time", "times"), plural(conns, "connection", "connections"))
		w = fmt.Sprintf("counts are lower bounds: %s, where a frame header fell in bytes that were not captured", r.LowerBounds)
		if cut > 0 {
			w += fmt.Sprintf(" (%s cut by %s)", plural(cut, "packet", "packets"), snap)
		}
		if d := r.Stats.KernelDrops + r.Stats.InternalDrops; d > 0 {
			w += fmt.Sprintf(" (%s dropped)", plural(d, "packet", "packets"))
		}
		w += "; the frames and messages in those gaps are not counted (the message columns show N+; lost-sync per connection)"
	case cut > 0:
		w = fmt.Sprintf("%s cut by %s: frame sizes were followed across the missing bytes, so the counts hold; contents past the cut were not seen", plural(cut, "packet was", "packets were"), snap)
	default:
		return
	}
	r.Warnings = append([]string{w}, r.Warnings...)
	r.WarningsTotal++
}

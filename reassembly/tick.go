package reassembly

import "time"

// WaitsDue reports whether packet time ts ends the grace of a hole the peer
// acknowledged (Options.AckGrace): Assemble, given a packet of that time,
// would first give it up.
func (a *Assembler) WaitsDue(ts time.Time) bool {
	return len(a.waiting) > 0 && ts.UnixNano() >= a.waitDue
}

// CheckWaits gives up, at packet time ts, the holes whose grace has passed,
// as Assemble does first thing: for an assembler that has only a share of
// a capture's connections (the pipeline's workers), told the time of the
// other packets.
func (a *Assembler) CheckWaits(ts time.Time) {
	if a.WaitsDue(ts) {
		a.checkWaits(ts)
	}
}

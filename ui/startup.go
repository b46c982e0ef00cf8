package ui

import (
	"fmt"

	"github.com/zspy/zspy/tracker"
)

// StartupLine tells one start-up episode in a line, as the report's
// "start-up:" line does: a client started before its server. Its refused
// connects are not rows (they are not connections): "127.0.0.1:5555 not
// listening for 3.2s: 22 connects from 127.0.0.1 refused; connection 23 got
// through", or, while the client is still refused, "not listening for at
// least 3.2s: …; none got through yet".
func StartupLine(e *tracker.RefusedAttempts) string {
	how := "not listening for"
	if e.Connection == 0 {
		how = "not listening for at least"
	}
	s := fmt.Sprintf("%s %s %s: %s from %s refused", e.Server, how, fmtDur(e.NotListening()),
		countOf(e.Count, "connect", "connects"), e.ClientHost)
	if e.Connection == 0 {
		return s + "; none got through yet"
	}
	return s + fmt.Sprintf("; connection %d got through", e.Connection)
}

// countOf is "1 connect", "3 connects".
func countOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

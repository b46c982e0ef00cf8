package tracker

// On a SPAN port or TAP the two directions of a connection reach the capture
// by different paths; when the requester's copies lag by more than a round
// trip, a reply is captured before the request it answers.

// requestLate reports whether a reply captured with no request pending
// answers a request the capture has not shown yet: the replier has
// acknowledged bytes of requester side r beyond any captured (or r's bytes
// were not captured at all), as when r's copies lag. Otherwise the reply's
// request went by before the capture began, and the reply is not counted.
func (c *conn) requestLate(r int) bool {
	t := &c.TCP[r]
	if !t.HaveAck {
		return false
	}
	return !t.HaveSeq || int32(t.Acked-t.NextSeq) > 0
}

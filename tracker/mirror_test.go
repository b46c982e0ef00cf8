package tracker

import "testing"

// TestRequestLate: a reply with no request pending answers a late request
// only when the replier acknowledged requester bytes the capture has not
// shown (or none of them was captured yet).
func TestRequestLate(t *testing.T) {
	for _, c := range []struct {
		name string
		tcp  TCPDir
		want bool
	}{
		{"acked beyond what was captured: the request lags", TCPDir{HaveSeq: true, NextSeq: 1000, HaveAck: true, Acked: 1100}, true},
		{"acked what was captured: its request came before the capture", TCPDir{HaveSeq: true, NextSeq: 1000, HaveAck: true, Acked: 1000}, false},
		{"nothing of the requester captured yet", TCPDir{HaveAck: true, Acked: 5}, true},
		{"no acknowledgement seen", TCPDir{HaveSeq: true, NextSeq: 1000}, false},
		{"across wrap-around", TCPDir{HaveSeq: true, NextSeq: 0xFFFFFFF0, HaveAck: true, Acked: 0x10}, true},
	} {
		conn := &conn{}
		conn.TCP[0] = c.tcp
		if got := conn.requestLate(0); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

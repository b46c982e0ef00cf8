package tracker

import (
	"net/netip"
	"testing"

	"github.com/zspy/zspy/zmtp"
)

func TestOrient(t *testing.T) {
	ap := netip.MustParseAddrPort
	for _, c := range []struct {
		name   string
		in     OrientInput
		swap   bool
		reason string
	}{
		{"server above the range", OrientInput{A: ap("10.0.0.2:61500"), B: ap("10.0.0.1:33001"), PeersA: 1, PeersB: 1}, true, ByEphemeral},
		{"client in the range, already right", OrientInput{A: ap("10.0.0.1:33001"), B: ap("10.0.0.2:61500"), PeersA: 1, PeersB: 1}, false, ByEphemeral},
		{"shared server port inside the range", OrientInput{A: ap("10.0.0.2:40000"), B: ap("10.0.0.1:33010"), PeersA: 3, PeersB: 1}, true, BySharedPort},
		{"shared beats the range", OrientInput{A: ap("10.0.0.1:5555"), B: ap("10.0.0.2:40000"), PeersA: 1, PeersB: 2}, false, BySharedPort},
		{"requester", OrientInput{A: ap("10.0.0.2:50000"), B: ap("10.0.0.1:34000"), PeersA: 1, PeersB: 1, Lockstep: true, Opened: [2]int{0, 12}}, true, ByRequester},
		{"requester needs lockstep", OrientInput{A: ap("10.0.0.2:50000"), B: ap("10.0.0.1:34000"), PeersA: 1, PeersB: 1, Opened: [2]int{0, 12}}, false, ByLowerPort},
		{"no evidence: lower port serves", OrientInput{A: ap("10.0.0.1:7777"), B: ap("10.0.0.2:5555"), PeersA: 1, PeersB: 1}, false, ByLowerPort},
		{"no evidence: swap to the lower port", OrientInput{A: ap("10.0.0.2:5555"), B: ap("10.0.0.1:7777"), PeersA: 1, PeersB: 1}, true, ByLowerPort},
	} {
		in := c.in
		if in.Ephemeral == (PortRange{}) {
			in.Ephemeral = DefaultEphemeral
		}
		swap, by := Orient(in)
		if swap != c.swap || by != c.reason {
			t.Errorf("%s: swap %v by %q, want %v by %q", c.name, swap, by, c.swap, c.reason)
		}
	}
}

func TestCurveRoles(t *testing.T) {
	for _, c := range []struct {
		name  string
		box   [2]boxShape
		first int
		want  [2]zmtp.SocketType
		ok    bool
	}{
		{"req/rep", [2]boxShape{{boxes: 20, bursts: 10, emptyFirst: 10, afterPeer: 19}, {boxes: 20, bursts: 10, emptyFirst: 10, afterPeer: 20}}, 0, [2]zmtp.SocketType{zmtp.REQ, zmtp.REP}, true},
		{"rep bound by the client side", [2]boxShape{{boxes: 20, bursts: 10, emptyFirst: 10, afterPeer: 20}, {boxes: 20, bursts: 10, emptyFirst: 10, afterPeer: 19}}, 1, [2]zmtp.SocketType{zmtp.REP, zmtp.REQ}, true},
		{"dealer/router: bursts open with data", [2]boxShape{{boxes: 20, bursts: 8, emptyFirst: 0, afterPeer: 19}, {boxes: 9, bursts: 8, emptyFirst: 0, afterPeer: 9}}, 0, [2]zmtp.SocketType{}, false},
		{"push/pull", [2]boxShape{{boxes: 20, bursts: 1}, {}}, 0, [2]zmtp.SocketType{zmtp.PUSH, zmtp.PULL}, true},
		{"sub/pub", [2]boxShape{{boxes: 1, bursts: 1}, {boxes: 61, bursts: 1, afterPeer: 61}}, 0, [2]zmtp.SocketType{zmtp.SUB, zmtp.PUB}, true},
		{"re-subscription after data: undecided", [2]boxShape{{boxes: 2, bursts: 2, afterPeer: 1}, {boxes: 61, bursts: 2, afterPeer: 61}}, 0, [2]zmtp.SocketType{}, false},
		{"one box: undecided", [2]boxShape{{boxes: 1, bursts: 1}, {}}, 0, [2]zmtp.SocketType{}, false},
	} {
		got, ok := CurveRoles(c.box, c.first)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("%s: %v %v, want %v %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestParsePortRange(t *testing.T) {
	if r, err := ParsePortRange("32768-60999"); err != nil || r != DefaultEphemeral {
		t.Errorf("got %v, %v", r, err)
	}
	for _, bad := range []string{"", "5", "9-2", "0-10", "1-70000", "a-b"} {
		if _, err := ParsePortRange(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if !DefaultEphemeral.Contains(32768) || DefaultEphemeral.Contains(61000) {
		t.Error("Contains")
	}
}

// TestEndpointsBounded: past maxEndpoints, new endpoints are counted as
// uncounted and seen as unshared.
func TestEndpointsBounded(t *testing.T) {
	var e endpoints
	for i := range maxEndpoints + 10 {
		e.add(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 1))
	}
	if len(e.n) != maxEndpoints || e.uncounted != 10 {
		t.Fatalf("%d endpoints, %d uncounted", len(e.n), e.uncounted)
	}
	if p := e.peers(netip.MustParseAddrPort("10.255.0.0:1")); p != 1 {
		t.Errorf("peers of an uncounted endpoint: %d", p)
	}
}

package host

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// An attribution survives its encoding (with a pcapng block's zero
// padding), and Recorded names both ends of the connection from it.
func TestAttributionRoundTrip(t *testing.T) {
	a, b := netip.MustParseAddrPort("10.0.0.1:5555"), netip.MustParseAddrPort("10.0.0.2:40000")
	p := &Process{PID: 42, Comm: "broker", Cmdline: "broker --x", UID: 1000, User: "zmq", Container: "abc"}
	q := &Process{PID: 7, Comm: "client"}
	v := &View{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Conns: map[uint64]Conn{
		1: {Sides: [2]*TCPSocket{{Local: b, Remote: a, Owners: Owners{Procs: []*Process{q}}}, {Local: a, Remote: b, Owners: Owners{Procs: []*Process{p}}}}},
		2: {Sides: [2]*TCPSocket{nil, {Local: a, Remote: b}}}, // unknown process: not written
	}}
	enc := append(v.Attribution().Encode(), 0, 0, 0)
	var r Recorded
	r.Add(enc)
	r.Add([]byte("another tool's block"))
	r.Add([]byte(AttributionMagic + "{"))
	if r.Blocks != 1 || r.Bad != 1 || !r.Latest.Equal(v.Time) {
		t.Fatalf("recorded %+v", r)
	}
	c, ok := r.Conn("10.0.0.2:40000", "10.0.0.1:5555")
	if !ok || c.Sides[0].First().PID != 7 || c.Sides[1].First().Comm != "broker" || c.Sides[1].First().Container != "abc" {
		t.Fatalf("conn %+v", c)
	}
	if _, ok := r.Conn("10.0.0.9:1", "10.0.0.1:5555"); ok {
		t.Fatal("an end no attribution named was found")
	}
}

// Encode keeps under MaxAttributionBytes, counting what it leaves out.
func TestAttributionCapped(t *testing.T) {
	var a Attribution
	for i := range 5000 {
		a.Ends = append(a.Ends, AttributedEnd{Local: "10.0.0.1:1", Remote: "10.0.0.2:2", PID: i, Comm: "x", Cmdline: strings.Repeat("y", 100)})
	}
	enc := a.Encode()
	got, err := DecodeAttribution(enc)
	if err != nil || len(enc) > MaxAttributionBytes || got.More == 0 || len(got.Ends)+got.More != 5000 {
		t.Fatalf("%d bytes, %d ends + %d more, %v", len(enc), len(got.Ends), got.More, err)
	}
}

func FuzzRecordedAdd(f *testing.F) {
	f.Add([]byte(AttributionMagic + `{"ends":[{"local":"1.2.3.4:5","remote":"1.2.3.4:6","pid":1}]}`))
	f.Add([]byte(AttributionMagic + `{"ends":[{"local":"x","remote":""}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Recorded
		r.Add(b)
		r.Conn("1.2.3.4:5", "1.2.3.4:6")
	})
}

package tracker

import (
	"net/netip"
	"testing"
	"time"

	"github.com/zspy/zspy/reassembly"
)

// With KeepClosed, a tracker that sees connection after connection keeps a
// bounded number of closed ones, drops the oldest first and counts them, and
// never drops an open one.
func TestKeepClosedBoundsMemory(t *testing.T) {
	tr := New(Options{KeepClosed: 3})
	ts := time.Unix(1700000000, 0)
	open := tr.New(reassembly.ConnInfo{Client: netip.MustParseAddrPort("10.0.0.1:1"), Server: netip.MustParseAddrPort("10.0.0.2:5555"), SawSYN: true, Start: ts})
	_ = open
	for i := 0; i < 100; i++ {
		s := tr.New(reassembly.ConnInfo{Client: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(1000+i)),
			Server: netip.MustParseAddrPort("10.0.0.2:5555"), SawSYN: true, Start: ts})
		s.Close(reassembly.CloseFIN, ts)
	}
	if n := len(tr.Conns()); n > 2*3+2 {
		t.Fatalf("%d connections kept", n)
	}
	if tr.Conns()[0].ID != 1 || tr.Conns()[0].Closed {
		t.Fatalf("the open connection was dropped: first is %d", tr.Conns()[0].ID)
	}
	if kept := uint64(len(tr.Conns())); kept+tr.DroppedClosed != 101 {
		t.Fatalf("kept %d + dropped %d != 101", kept, tr.DroppedClosed)
	}
	last := tr.Conns()[len(tr.Conns())-1]
	if last.ID != 101 {
		t.Fatalf("the newest connection is %d", last.ID)
	}
}

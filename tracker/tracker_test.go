package tracker

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/reassembly"
	"github.com/zspy/zspy/zmtp"
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
	if n := len(tr.conns); n > 2*3+2 {
		t.Fatalf("%d connections kept", n)
	}
	if tr.conns[0].ID != 1 || tr.conns[0].Closed {
		t.Fatalf("the open connection was dropped: first is %d", tr.conns[0].ID)
	}
	if kept := uint64(len(tr.conns)); kept+tr.DroppedClosed != 101 {
		t.Fatalf("kept %d + dropped %d != 101", kept, tr.DroppedClosed)
	}
	last := tr.conns[len(tr.conns)-1]
	if last.ID != 101 {
		t.Fatalf("the newest connection is %d", last.ID)
	}
}

// curveBox returns a ZMTP 3 data frame holding a CURVE MESSAGE box with plain
// bytes of plaintext (box = "\x07MESSAGE", 8-byte nonce, 16-byte MAC, flags byte, data).
func curveBox(plain int) []byte {
	body := append([]byte("\x07MESSAGE"), make([]byte, 8+16+1+plain)...)
	if len(body) > 255 {
		h := []byte{2, 0, 0, 0, 0, 0, 0, byte(len(body) >> 8), byte(len(body))}
		return append(h, body...)
	}
	return append([]byte{0, byte(len(body))}, body...)
}

// libzmq encrypts PING and PONG under CURVE into MESSAGE boxes that look like
// data frames (found with real peers using ZMQ_HEARTBEAT_IVL over CURVE: each
// heartbeat was counted as a data frame). A PING-sized box answered by a
// PONG-sized box is counted as commands; a PONG-sized box after an empty
// frame (a REP's delimiter) or too late stays data.
func TestCurveHeartbeatBoxesAreCommands(t *testing.T) {
	tr, s, ts := newConn()
	g := greeting31("CURVE")
	c2s, s2c := zmtp.ClientToServer, zmtp.ServerToClient
	s.Data(c2s, g, ts)
	s.Data(s2c, g, ts)
	at := func(ms int) time.Time { return ts.Add(time.Duration(ms) * time.Millisecond) }
	s.Data(c2s, curveBox(4), at(1))    // data
	s.Data(c2s, curveBox(7), at(100))  // PING
	s.Data(s2c, curveBox(7), at(101))  // PING
	s.Data(s2c, curveBox(5), at(102))  // PONG to the client's PING
	s.Data(c2s, curveBox(5), at(103))  // PONG to the server's PING
	s.Data(c2s, curveBox(7), at(200))  // 7 bytes of data: no PONG follows in time
	s.Data(s2c, curveBox(5), at(1300)) // 5 bytes of data
	s.Data(c2s, curveBox(7), at(1400)) // 7-byte request body...
	s.Data(s2c, curveBox(0), at(1401)) // ...answered by a delimiter
	s.Data(s2c, curveBox(5), at(1402)) // and a 5-byte body
	s.Data(s2c, curveBox(300), at(1403))
	c := tr.conns[0]
	want := [2]DirStats{{Frames: 3, Bytes: 4 + 7 + 7, Commands: 2, Pings: 1, Pongs: 1},
		{Frames: 4, Bytes: 5 + 0 + 5 + 300, Commands: 2, Pings: 1, Pongs: 1}}
	for i, w := range want {
		d := c.Dirs[i]
		if d.Frames != w.Frames || d.Bytes != w.Bytes || d.Commands != w.Commands || d.Pings != w.Pings || d.Pongs != w.Pongs {
			t.Errorf("dir %d: frames %d bytes %d commands %d pings %d pongs %d, want %d %d %d %d %d", i,
				d.Frames, d.Bytes, d.Commands, d.Pings, d.Pongs, w.Frames, w.Bytes, w.Commands, w.Pings, w.Pongs)
		}
	}
}

// A SUBSCRIBE longer than the dissector's command cap keeps the topic's
// prefix, and the connection's errors say that it was cut; a CANCEL of the
// same long topic still removes it.
func TestLongSubscriptionTopicIsReportedCut(t *testing.T) {
	tr, s, ts := newConn()
	g := greeting31("NULL")
	ready := func(sock string) []byte {
		body := append([]byte("\x05READY\x0bSocket-Type\x00\x00\x00"), byte(len(sock)))
		body = append(body, sock...)
		return append([]byte{0x04, byte(len(body))}, body...)
	}
	long := func(name string, topic []byte) []byte {
		body := append([]byte{byte(len(name))}, name...)
		body = append(body, topic...)
		h := []byte{0x06, 0, 0, 0, 0, 0, 0, byte(len(body) >> 8), byte(len(body))}
		return append(h, body...)
	}
	topic := make([]byte, 5000)
	for i := range topic {
		topic[i] = 'a' + byte(i%26)
	}
	c2s, s2c := zmtp.ClientToServer, zmtp.ServerToClient
	s.Data(c2s, append(g, ready("SUB")...), ts)
	s.Data(s2c, append(g, ready("PUB")...), ts)
	s.Data(c2s, long("SUBSCRIBE", topic), ts)
	s.Data(c2s, append([]byte{0x04, 12}, "\x09SUBSCRIBEab"...), ts)
	c := tr.conns[0]
	if len(c.Subscriptions) != 2 || len(c.Subscriptions[0]) == 0 || len(c.Subscriptions[0]) >= len(topic) ||
		c.Subscriptions[0] != string(topic[:len(c.Subscriptions[0])]) || c.Subscriptions[1] != "ab" {
		t.Fatalf("%d subscriptions, lengths %v", len(c.Subscriptions), lens(c.Subscriptions))
	}
	if len(c.Errors) != 1 || !strings.Contains(c.Errors[0], "subscription of a 5010-byte frame: only the topic's first") {
		t.Fatalf("errors %q", c.Errors)
	}
	s.Data(c2s, long("CANCEL", topic), ts)
	if len(c.Subscriptions) != 1 || c.Subscriptions[0] != "ab" {
		t.Fatalf("after the cancel: %d subscriptions, lengths %v", len(c.Subscriptions), lens(c.Subscriptions))
	}
	if len(c.Errors) != 2 || !strings.Contains(c.Errors[1], "unsubscription of a 5007-byte frame") {
		t.Fatalf("errors %q", c.Errors)
	}
}

func lens(ss []string) []int {
	var n []int
	for _, s := range ss {
		n = append(n, len(s))
	}
	return n
}

// newConn starts a tracker with one connection 10.0.0.1:40000 → 10.0.0.2:5555
// whose SYN was seen.
func newConn() (*Tracker, reassembly.Stream, time.Time) {
	tr := New(Options{})
	ts := time.Unix(1700000000, 0)
	s := tr.New(reassembly.ConnInfo{Client: netip.MustParseAddrPort("10.0.0.1:40000"),
		Server: netip.MustParseAddrPort("10.0.0.2:5555"), SawSYN: true, Start: ts})
	return tr, s, ts
}

// greeting31 is a ZMTP 3.1 greeting with the given mechanism.
func greeting31(mech string) []byte {
	g := make([]byte, 64)
	g[0], g[9], g[10], g[11] = 0xFF, 0x7F, 3, 1
	copy(g[12:], mech)
	return g
}

// Refused connects collapse into one episode per client host and server
// endpoint, bounded: past MaxRefusedEpisodes the oldest go, counted, and
// every attempt still counts in RefusedTotal.
func TestRefusedEpisodesBounded(t *testing.T) {
	tr := New(Options{KeepClosed: 10})
	ts := time.Unix(1700000000, 0)
	client := netip.MustParseAddr("10.0.0.1")
	const servers = MaxRefusedEpisodes + 76
	for i := 0; i < servers; i++ {
		srv := netip.AddrPortFrom(netip.MustParseAddr("10.0.1.1"), uint16(1000+i))
		for k := 0; k < 3; k++ {
			at := ts.Add(time.Duration(i*3+k) * time.Millisecond)
			s := tr.New(reassembly.ConnInfo{Client: netip.AddrPortFrom(client, uint16(40000+k)), Server: srv, SawSYN: true, Start: at})
			s.Close(reassembly.CloseRefused, at)
		}
	}
	snap := tr.Snapshot(ts)
	if len(snap.Refused) != MaxRefusedEpisodes || snap.RefusedDropped != 76 || snap.RefusedTotal != 3*servers {
		t.Fatalf("%d episodes, %d dropped, %d attempts", len(snap.Refused), snap.RefusedDropped, snap.RefusedTotal)
	}
	first := snap.Refused[0]
	if first.Server.Port() != 1076 || first.Count != 3 || first.ClientHost != client || first.Connection != 0 ||
		first.NotListening() != 2*time.Millisecond {
		t.Errorf("oldest kept episode %+v (not listening %v)", first, first.NotListening())
	}
	// Closed refused records are bounded by KeepClosed, and added up.
	if n := len(snap.Records); n > 2*10 || snap.Summarised.Refused+uint64(n) != 3*servers || snap.Summarised.Connections != snap.DroppedClosed {
		t.Errorf("%d records kept, summarised %+v, dropped %d", n, snap.Summarised, snap.DroppedClosed)
	}
}

// Records carry the generation of the snapshot they were made for: one that
// did not change keeps its Gen (and is the same *Record), one that changed
// gets the new snapshot's.
func TestSnapshotGen(t *testing.T) {
	tr := New(Options{})
	ts := time.Unix(1700000000, 0)
	a := tr.New(reassembly.ConnInfo{Client: netip.MustParseAddrPort("10.0.0.1:1"), Server: netip.MustParseAddrPort("10.0.0.2:5555"), SawSYN: true, Start: ts})
	tr.New(reassembly.ConnInfo{Client: netip.MustParseAddrPort("10.0.0.1:2"), Server: netip.MustParseAddrPort("10.0.0.2:5555"), SawSYN: true, Start: ts})
	s1 := tr.Snapshot(ts)
	a.Close(reassembly.CloseFIN, ts)
	s2 := tr.Snapshot(ts)
	if s1.Gen != 1 || s2.Gen != 2 || s1.Records[0].Gen != 1 || s2.Records[0].Gen != 2 || s2.Records[1] != s1.Records[1] || s2.Records[1].Gen != 1 {
		t.Errorf("gens %d %d; records %d %d, %d %d", s1.Gen, s2.Gen, s1.Records[0].Gen, s2.Records[0].Gen, s1.Records[1].Gen, s2.Records[1].Gen)
	}
}

// A snapshot makes Records for the connections that changed since the last
// one and shares the others', in connection order, also after KeepClosed
// dropped closed connections between snapshots (the kept ones move up).
func TestSnapshotAfterDrops(t *testing.T) {
	tr := New(Options{KeepClosed: 2})
	ts := time.Unix(1700000000, 0)
	var streams []reassembly.Stream
	for i := range 8 {
		streams = append(streams, tr.New(reassembly.ConnInfo{Client: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(1000+i)),
			Server: netip.MustParseAddrPort("10.0.0.2:5555"), SawSYN: true, Start: ts}))
	}
	s1 := tr.Snapshot(ts)
	// Close 0..5: KeepClosed drops the oldest closed ones as more close.
	for i := range 6 {
		streams[i].Close(reassembly.CloseFIN, ts)
	}
	streams[7].Data(zmtp.ClientToServer, greeting31("NULL"), ts)
	s2 := tr.Snapshot(ts)
	if len(s2.Records) != len(tr.conns) {
		t.Fatalf("%d records for %d connections", len(s2.Records), len(tr.conns))
	}
	byID := map[uint64]*Record{}
	for _, r := range s1.Records {
		byID[r.ID] = r
	}
	for i, r := range s2.Records {
		c := tr.conns[i]
		if r.ID != c.ID || (i > 0 && r.ID <= s2.Records[i-1].ID) {
			t.Fatalf("record %d is connection %d, want %d in ID order", i, r.ID, c.ID)
		}
		changed := c.Closed || c.ID == 8
		if shared := byID[r.ID] == r; shared == changed {
			t.Errorf("connection %d: record shared %v, changed %v", r.ID, shared, changed)
		}
		if r.Closed != c.Closed || (c.ID == 8 && r.Version != zmtp.V31) {
			t.Errorf("connection %d: stale record %+v", r.ID, r)
		}
	}
	if s2.DroppedClosed == 0 || s2.Records[len(s2.Records)-1].ID != 8 {
		t.Errorf("dropped %d, last %d", s2.DroppedClosed, s2.Records[len(s2.Records)-1].ID)
	}
	// Nothing changed: every Record shared, a new slice.
	s3 := tr.Snapshot(ts)
	for i := range s3.Records {
		if s3.Records[i] != s2.Records[i] {
			t.Errorf("record %d made again without a change", i)
		}
	}
	if len(s3.Records) > 0 && &s3.Records[0] == &s2.Records[0] {
		t.Error("two snapshots share their Records slice")
	}
}

package tracker

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/zspy/zspy/reassembly"
	"github.com/zspy/zspy/zmtp"
)

// readyFrame is a ZMTP 3 READY command frame with the given properties.
func readyFrame(props ...[2]string) []byte {
	body := []byte("\x05READY")
	for _, p := range props {
		body = append(body, byte(len(p[0])))
		body = append(body, p[0]...)
		body = binary.BigEndian.AppendUint32(body, uint32(len(p[1])))
		body = append(body, p[1]...)
	}
	if len(body) > 255 {
		return append(binary.BigEndian.AppendUint64([]byte{6}, uint64(len(body))), body...)
	}
	return append([]byte{4, byte(len(body))}, body...)
}

// TestMetadataKept: READY's properties are kept in order, values capped at
// MaxValueLen, an empty value nil, at most MaxMetadata per side across
// READY and INITIATE; the values share one buffer per command without
// overlapping (appending to one cannot reach the next).
func TestMetadataKept(t *testing.T) {
	tr, s, ts := newConn()
	g := greeting31("NULL")
	s.Data(zmtp.ClientToServer, g, ts)
	s.Data(zmtp.ServerToClient, g, ts)
	long := string(bytes.Repeat([]byte("v"), MaxValueLen+10))
	props := [][2]string{{"Socket-Type", "DEALER"}, {"Identity", "abc"}, {"Empty", ""}, {"Long", long}}
	for i := 0; len(props) < MaxMetadata+3; i++ {
		props = append(props, [2]string{fmt.Sprintf("X-%d", i), fmt.Sprint(i)})
	}
	s.Data(zmtp.ClientToServer, readyFrame(props...), ts)
	md := tr.conns[0].Sides[0].Metadata
	if len(md) != MaxMetadata {
		t.Fatalf("%d properties kept, want %d", len(md), MaxMetadata)
	}
	for k, p := range md {
		want := props[k][1]
		if len(want) > MaxValueLen {
			want = want[:MaxValueLen]
		}
		if p.Name != props[k][0] || string(p.Value) != want || cap(p.Value) != len(p.Value) {
			t.Errorf("property %d: %q=%q (cap %d), want %q=%q", k, p.Name, p.Value, cap(p.Value), props[k][0], want)
		}
	}
	if md[2].Value != nil {
		t.Errorf("empty value %#v, want nil", md[2].Value)
	}
	if side := tr.conns[0].Sides[0]; side.SocketType != zmtp.DEALER || string(side.Identity) != "abc" || !side.HasIdent {
		t.Errorf("side %+v", side)
	}
	// A second command adds nothing past the cap.
	s.Data(zmtp.ClientToServer, readyFrame([2]string{"More", "x"}), ts)
	if n := len(tr.conns[0].Sides[0].Metadata); n != MaxMetadata {
		t.Errorf("%d properties after a second READY", n)
	}
}

// TestEngineReused: a connection closed for good hands its engine to the
// next; an evicted one keeps it (its traffic may resume it), and a new
// connection's engine starts from zero whatever the last one decoded.
func TestEngineReused(t *testing.T) {
	tr := New(Options{})
	ts := time.Unix(1700000000, 0)
	open := func(port uint16) reassembly.Stream {
		return tr.New(reassembly.ConnInfo{Client: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port),
			Server: netip.MustParseAddrPort("10.0.0.2:5555"), SawSYN: true, Start: ts})
	}
	g := greeting31("NULL")
	a := open(1)
	a.Data(zmtp.ClientToServer, g, ts)
	a.Data(zmtp.ClientToServer, []byte{1, 3, 'a'}, ts) // a frame with MORE, 2 of its 3 bytes to come
	eng := tr.conns[0].eng
	a.Close(reassembly.CloseFIN, ts)
	if tr.conns[0].eng != nil || len(tr.spare) != 1 {
		t.Fatalf("closed connection keeps its engine (%d spare)", len(tr.spare))
	}
	b := open(2)
	if tr.conns[1].eng != eng || len(tr.spare) != 0 {
		t.Fatal("the new connection did not take the spare engine")
	}
	// The reused engine starts afresh: a greeting, then a whole message.
	b.Data(zmtp.ClientToServer, g, ts)
	b.Data(zmtp.ClientToServer, []byte{0, 2, 'h', 'i'}, ts)
	if d := tr.conns[1].Dirs[0]; d.Messages != 1 || d.Frames != 1 || d.Bytes != 2 || d.Partial != 0 {
		t.Errorf("reused engine: %+v", d)
	}
	b.Close(reassembly.CloseEvicted, ts)
	if tr.conns[1].eng == nil {
		t.Error("an evicted connection gave up its engine")
	}
}

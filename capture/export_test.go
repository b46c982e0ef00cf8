package capture

import (
	"errors"
	"io"
	"net/netip"
	"path/filepath"
	"testing"
	"time"
)

// segments reads every TCP segment of a capture file, as (endpoints, time,
// payload length).
func segments(t *testing.T, path string) []Segment {
	t.Helper()
	s, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []Segment
	for {
		var seg Segment
		err := s.Next(&seg)
		if errors.Is(err, io.EOF) {
			return out
		}
		var pe *PacketError
		if errors.As(err, &pe) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		seg.Payload = nil
		out = append(out, seg)
	}
}

// ExportConn writes exactly the connection's packets, both directions, in
// order, re-readable as a capture whose segments equal the input's.
func TestExportConnWritesBothDirections(t *testing.T) {
	in := filepath.Join("..", "testdata", "pcaps", "pubsub", "capture.pcap")
	f := &ConnFilter{A: netip.MustParseAddrPort("127.0.0.1:16020"), B: netip.MustParseAddrPort("127.0.0.1:26022")}
	var want []Segment
	for _, s := range segments(t, in) {
		if f.Match(&s, s.TS) {
			want = append(want, s)
		}
	}
	if len(want) < 10 {
		t.Fatalf("the connection has %d segments in the input", len(want))
	}
	out := filepath.Join(t.TempDir(), "conn.pcap")
	w, err := NewWriter(WriterOptions{Path: out})
	if err != nil {
		t.Fatal(err)
	}
	src, err := OpenFile(in)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ExportConn(src, f, w)
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := segments(t, out)
	if st.Written != uint64(len(want)) || len(got) != len(want) {
		t.Fatalf("wrote %d, read back %d, want %d", st.Written, len(got), len(want))
	}
	dirs := map[uint16]int{}
	for i := range got {
		g, x := got[i], want[i]
		if g.Src != x.Src || g.SrcPort != x.SrcPort || g.Dst != x.Dst || g.DstPort != x.DstPort || g.Seq != x.Seq ||
			g.PayloadLen != x.PayloadLen || !g.TS.Equal(x.TS) || g.Flags != x.Flags {
			t.Fatalf("segment %d: %+v, want %+v", i, g, x)
		}
		dirs[g.SrcPort]++
	}
	if dirs[16020] == 0 || dirs[26022] == 0 {
		t.Errorf("directions exported: %v", dirs)
	}
	// A time window leaves the connection's packets outside it out.
	f.From = want[len(want)/2].TS
	w2, _ := NewWriter(WriterOptions{Path: filepath.Join(t.TempDir(), "half.pcap")})
	src, _ = OpenFile(in)
	st, _ = ExportConn(src, f, w2)
	src.Close()
	w2.Close()
	if st.Written == 0 || st.Written >= uint64(len(want)) {
		t.Errorf("from %v: wrote %d of %d", f.From.Format(time.RFC3339Nano), st.Written, len(want))
	}
}

package capture

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readMerged reads src to its end: its segments (payloads copied), the name
// of the source of each, and the warnings.
func readMerged(t *testing.T, src Source) (segs []Segment, names []string, warns []error) {
	t.Helper()
	for i := 0; ; i++ {
		if i > 1e6 {
			t.Fatal("no end")
		}
		var seg Segment
		err := src.Next(&seg)
		if err == io.EOF {
			return
		}
		if err != nil {
			var pe *PacketError
			if !errors.As(err, &pe) {
				t.Fatalf("Next: %v (not a packet warning: the merge stopped)", err)
			}
			warns = append(warns, err)
			continue
		}
		seg.Payload = append([]byte(nil), seg.Payload...)
		segs = append(segs, seg)
		if n, ok := src.(interface{ Name() string }); ok {
			names = append(names, n.Name())
		}
	}
}

func openT(t *testing.T, path string) *FileSource {
	t.Helper()
	s, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func key(s *Segment) string {
	return fmt.Sprintf("%d %v %d %x", s.Num, s.TS.UnixNano(), s.Seq, s.Payload)
}

// Two real captures merged: every segment of each, unchanged (its payload
// too, though the sources reuse their buffers), in time order, each named
// by its file.
func TestMergeOrder(t *testing.T) {
	a, b := "../testdata/pcaps/reqrep/capture.pcap", "../testdata/pcaps/pubsub/capture.pcap"
	alone := map[string]map[string]bool{}
	total := 0
	for _, p := range []string{a, b} {
		segs, _, _ := readMerged(t, openT(t, p))
		alone[p] = map[string]bool{}
		for i := range segs {
			alone[p][key(&segs[i])] = true
		}
		total += len(segs)
	}
	m := NewMergeSource([]Source{openT(t, a), openT(t, b)}, 0)
	defer m.Close()
	segs, names, warns := readMerged(t, m)
	if len(warns) > 0 || len(segs) != total {
		t.Fatalf("%d segments, %v warnings; want %d and none", len(segs), warns, total)
	}
	seen := map[string]int{}
	for i := range segs {
		if i > 0 && segs[i].TS.Before(segs[i-1].TS) {
			t.Fatalf("segment %d (%s) at %v before the one given ahead of it (%v)", i, names[i], segs[i].TS, segs[i-1].TS)
		}
		if !alone[names[i]][key(&segs[i])] {
			t.Fatalf("segment %d named %s: not one of that file's", i, names[i])
		}
		seen[names[i]]++
	}
	if seen[a] == 0 || seen[b] == 0 {
		t.Fatalf("segments per file %v", seen)
	}
	if st := m.Stats(); st.Duplicates != 0 || st.TCP != uint64(total) {
		t.Errorf("stats %+v, want %d TCP and no duplicates", st, total)
	}
}

// Every corpus capture merged with itself: each segment comes once, its
// copy counted as a duplicate (retransmissions too: each copy matches one);
// without duplicate detection both come, ties in file order.
func TestMergeSameCaptureTwice(t *testing.T) {
	paths, _ := filepath.Glob("../testdata/pcaps/*/capture.pcap")
	if len(paths) < 30 {
		t.Fatalf("%d corpus captures", len(paths))
	}
	for _, p := range paths {
		want, _, _ := readMerged(t, openT(t, p))
		m := NewMergeSource([]Source{openT(t, p), openT(t, p)}, 0)
		segs, _, _ := readMerged(t, m)
		if len(segs) != len(want) || m.Stats().Duplicates != uint64(len(want)) {
			t.Errorf("%s: %d segments and %d duplicates, want %d of each", p, len(segs), m.Stats().Duplicates, len(want))
		}
		for i := range segs {
			if i < len(want) && key(&segs[i]) != key(&want[i]) {
				t.Errorf("%s: segment %d differs from the file's", p, i)
				break
			}
		}
		m.Close()
		// The names are the same: tell the files apart by a wrapper.
		m = NewMergeSource([]Source{named{openT(t, p), "first"}, named{openT(t, p), "second"}}, -1)
		segs, names, _ := readMerged(t, m)
		if len(segs) != 2*len(want) || m.Stats().Duplicates != 0 {
			t.Errorf("%s without duplicate detection: %d segments, %d duplicates; want %d and none", p, len(segs), m.Stats().Duplicates, 2*len(want))
		}
		for i := 0; i+1 < len(segs); i++ {
			if segs[i].TS.Equal(segs[i+1].TS) && names[i] == "second" && names[i+1] == "first" {
				t.Errorf("%s: segments %d, %d at the same time from second, first; want ties in file order", p, i, i+1)
				break
			}
		}
		m.Close()
	}
}

type named struct {
	Source
	name string
}

func (n named) Name() string { return n.name }

// A capture that fails in the middle (a gzip stream damaged mid-way) is
// named in a warning, and the merge goes on with the other to its end.
func TestMergeFailingCapture(t *testing.T) {
	raw, err := os.ReadFile("../testdata/pcaps/curve_heartbeat/capture.pcap")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	bad := gz.Bytes()
	for i := len(bad) / 2; i < len(bad)/2+64; i++ {
		bad[i] ^= 0x5a
	}
	path := filepath.Join(t.TempDir(), "damaged.pcap.gz")
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	other := "../testdata/pcaps/reqrep/capture.pcap"
	want, _, _ := readMerged(t, openT(t, other))
	m := NewMergeSource([]Source{openT(t, path), openT(t, other)}, 0)
	defer m.Close()
	segs, names, warns := readMerged(t, m)
	n := 0
	for _, name := range names {
		if name == other {
			n++
		}
	}
	if n != len(want) {
		t.Errorf("%d segments of %s after the other failed, want all %d", n, other, len(want))
	}
	if len(segs) == n {
		t.Errorf("no segment of the damaged capture before it failed")
	}
	found := false
	for _, w := range warns {
		var pe *PacketError
		if errors.As(w, &pe) && pe.File == path {
			found = true
		}
	}
	if !found {
		t.Errorf("warnings %v: none names %s", warns, path)
	}
	t.Logf("warnings: %v", warns)
}

// failing is a source that fails (not a packet: the source itself, as a
// live interface that goes away) after n segments of a real capture.
type failing struct {
	Source
	n int
}

func (f *failing) Next(seg *Segment) error {
	if f.n == 0 {
		return errors.New("read: network is down")
	}
	f.n--
	return f.Source.Next(seg)
}

func (f *failing) Name() string { return "eth9" }

// A source that fails outright is named in one warning, read no more, and
// the merge goes on with the others.
func TestMergeFailingSource(t *testing.T) {
	other := "../testdata/pcaps/reqrep/capture.pcap"
	want, _, _ := readMerged(t, openT(t, other))
	m := NewMergeSource([]Source{&failing{openT(t, "../testdata/pcaps/broker/capture.pcap"), 5}, openT(t, other)}, 0)
	defer m.Close()
	segs, names, warns := readMerged(t, m)
	if len(segs) != len(want)+5 {
		t.Errorf("%d segments, want the other's %d and 5", len(segs), len(want))
	}
	if len(warns) != 1 || strings.Count(warns[0].Error(), "eth9") != 1 || !strings.HasPrefix(warns[0].Error(), "eth9: ") || !strings.Contains(warns[0].Error(), "network is down") {
		t.Errorf("warnings %v, want one naming eth9 and its error", warns)
	}
	n := 0
	for _, name := range names {
		if name == "eth9" {
			n++
		}
	}
	if n != 5 {
		t.Errorf("%d segments named eth9, want 5", n)
	}
}

// More packets within one window than the duplicate detection keeps: the
// ones it forgot are counted and said in a warning at the end, and its
// memory stays at its cap.
func TestMergeDuplicateCap(t *testing.T) {
	p := "../testdata/pcaps/reqrep/capture.pcap"
	m := NewMergeSource([]Source{openT(t, p), openT(t, p)}, 0)
	defer m.Close()
	t0 := time.Unix(1, 0)
	for i := 0; i < 3*maxDupEntries; i++ {
		m.heads[0].seg = Segment{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Seq: uint32(i), TS: t0}
		if m.duplicate(0) {
			t.Fatalf("segment %d: a duplicate of its own file's", i)
		}
	}
	if len(m.dups) != maxDupEntries || len(m.order) != maxDupEntries || m.evicted != 2*maxDupEntries {
		t.Fatalf("%d remembered, %d in the ring, %d forgotten; want %d, %d, %d", len(m.dups), len(m.order), m.evicted, maxDupEntries, maxDupEntries, 2*maxDupEntries)
	}
	m.inited = true
	var seg Segment
	err := m.Next(&seg)
	var pe *PacketError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "131072 segments forgotten") {
		t.Fatalf("Next at the end: %v, want a warning of the forgotten segments", err)
	}
	if err := m.Next(&seg); err != io.EOF {
		t.Fatalf("Next after the warning: %v, want io.EOF", err)
	}
}

package capture

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// Annotations written between packets come back from the reader after the
// packets before them (padding included, since a custom block's data has no
// length of its own), every rotated file starts with the latest one, and
// the packets read as before. A pcap file has no room: nothing is written,
// and the writer counts it.
func TestAnnotationsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(WriterOptions{Path: filepath.Join(dir, "a.pcapng"), RotateSize: 600, FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if i%10 == 3 {
			w.Annotate([]byte(fmt.Sprintf("note %d", i))) // 6-7 bytes: padded
		}
		w.WritePacket(t0.Add(time.Duration(i)*time.Millisecond), rawSegment(i), 0)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files := w.Files()
	if len(files) < 4 {
		t.Fatalf("%d files", len(files))
	}
	var got []string
	latest := ""
	packets := 0
	for fi, f := range files {
		s, err := OpenFile(f)
		if err != nil {
			t.Fatal(err)
		}
		segs, perrs := readAll(t, s)
		anns := s.TakeAnnotations()
		s.Close()
		if len(perrs) != 0 {
			t.Fatalf("%s: %v", f, perrs)
		}
		packets += len(segs)
		if fi > 0 && latest != "" && (len(anns) == 0 || anns[0].Packet != 0 || string(trimNUL(anns[0].Payload)) != latest) {
			t.Fatalf("%s does not start with the latest annotation %q: %+v", f, latest, anns)
		}
		for _, a := range anns {
			p := string(trimNUL(a.Payload))
			if a.Packet > 0 {
				got = append(got, p)
			}
			latest = p
		}
	}
	if packets != 30 {
		t.Fatalf("%d packets read back", packets)
	}
	want := []string{"note 3", "note 13", "note 23"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("annotations read back %q, want %q", got, want)
	}

	pw, err := NewWriter(WriterOptions{Path: filepath.Join(dir, "a.pcap")})
	if err != nil {
		t.Fatal(err)
	}
	pw.Annotate([]byte("x"))
	pw.WritePacket(t0, rawSegment(0), 0)
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if pw.AnnotationsLost() != 1 {
		t.Fatalf("pcap: %d annotations counted lost, want 1", pw.AnnotationsLost())
	}
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

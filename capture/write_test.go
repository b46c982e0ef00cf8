package capture

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// rawSegment is an IPv4 TCP packet from the IP header on (what a live
// source's Raw gives) carrying payload n.
func rawSegment(n int) []byte {
	return ipv4Bytes(ip4A, ip4B, 6, 0, nil, tcpBytes(tcpSpec{sport: 4000, dport: 5555, seq: uint32(n), flags: FlagACK,
		payload: []byte(fmt.Sprintf("packet %04d", n))}))
}

// readFiles replays files in order and returns the payloads of their
// segments, and the packet errors.
func readFiles(t *testing.T, files []string) (payloads []string, perrs []*PacketError) {
	t.Helper()
	for _, f := range files {
		s, err := OpenFile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		segs, pe := readAll(t, s)
		s.Close()
		for _, seg := range segs {
			payloads = append(payloads, string(seg.Payload))
		}
		perrs = append(perrs, pe...)
	}
	return payloads, perrs
}

// TestWriterFlushesOnTimer writes packets and, without closing the writer,
// waits for the flush timer to put them in the file: what a crash leaves.
func TestWriterFlushesOnTimer(t *testing.T) {
	for _, ext := range []string{".pcap", ".pcapng"} {
		path := filepath.Join(t.TempDir(), "live"+ext)
		w, err := NewWriter(WriterOptions{Path: path, FlushEvery: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		// The header is on disk before any packet: the file opens.
		if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
			t.Fatalf("%s: header not written at once: %v %v", ext, fi, err)
		}
		for i := range 50 {
			w.WritePacket(t0.Add(time.Duration(i)*time.Millisecond), rawSegment(i), 0)
		}
		deadline := time.Now().Add(10 * time.Second)
		var got []string
		for {
			got, _ = readFiles(t, []string{path})
			if len(got) == 50 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the file holds %d of 50 packets 10 s after they were written", ext, len(got))
			}
			time.Sleep(10 * time.Millisecond) // polls the file; the deadline fails the test
		}
		for i, p := range got {
			if p != fmt.Sprintf("packet %04d", i) {
				t.Fatalf("%s: packet %d is %q", ext, i, p)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWriterRotates rotates by size and by packet time: every packet is in
// exactly one file, in order, and every file but the current one is
// complete as soon as the next one starts.
func TestWriterRotates(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts WriterOptions
	}{
		{"size", WriterOptions{RotateSize: 1000}},
		{"every", WriterOptions{RotateEvery: 10 * time.Millisecond}},
	} {
		dir := t.TempDir()
		tc.opts.Path = filepath.Join(dir, "rot.pcapng")
		tc.opts.FlushEvery = time.Hour // only rotations and Close flush
		w, err := NewWriter(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			w.WritePacket(t0.Add(time.Duration(i)*time.Millisecond), rawSegment(i), 0)
		}
		files := w.Files()
		if len(files) < 5 {
			t.Fatalf("%s: %d files", tc.name, len(files))
		}
		// Before Close: the closed files hold everything up to the last one.
		done, perrs := readFiles(t, files[:len(files)-1])
		if len(perrs) != 0 || len(done) == 0 {
			t.Fatalf("%s: rotated files read %d packets, errors %v", tc.name, len(done), perrs)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got, perrs := readFiles(t, files)
		if len(perrs) != 0 || len(got) != 100 || w.Packets() != 100 {
			t.Fatalf("%s: %d packets read back (%d written), errors %v", tc.name, len(got), w.Packets(), perrs)
		}
		for i, p := range got {
			if p != fmt.Sprintf("packet %04d", i) {
				t.Fatalf("%s: packet %d is %q", tc.name, i, p)
			}
		}
		if tc.opts.RotateSize > 0 {
			for _, f := range files {
				if fi, _ := os.Stat(f); fi.Size() > tc.opts.RotateSize {
					t.Errorf("%s: %s is %d bytes", tc.name, f, fi.Size())
				}
			}
		}
	}
}

// TestWriterError: a file that cannot be written stops the writing, not the
// caller, and Close says so.
func TestWriterError(t *testing.T) {
	if _, err := NewWriter(WriterOptions{Path: filepath.Join(t.TempDir(), "no", "such", "dir.pcap")}); err == nil {
		t.Fatal("no error for a file in a missing directory")
	}
	path := filepath.Join(t.TempDir(), "full.pcap")
	w, err := NewWriter(WriterOptions{Path: path, RotateSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	// The next file cannot be created: its name is a directory.
	if err := os.Mkdir(filepath.Join(filepath.Dir(path), "full-0002.pcap"), 0o755); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		w.WritePacket(t0, bytes.Repeat([]byte{0x45}, 100), 100)
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close: no error after the rotation failed")
	}
}

// FuzzWriterRoundTrip writes packets of any bytes, length and time with the
// Writer and reads them back with ReadPacket: the same bytes, wire length
// and nanoseconds, in both formats.
func FuzzWriterRoundTrip(f *testing.F) {
	f.Add([]byte("packet"), 100, int64(1764982923456789123), false)
	f.Add([]byte{}, 0, int64(0), true)
	f.Add(bytes.Repeat([]byte{0x45}, 1501), 1501, int64(1<<62), true)
	f.Fuzz(func(t *testing.T, data []byte, wire int, ns int64, ng bool) {
		if ns < 0 || ns >= 1<<32*1e9 || wire < 0 || wire > 1<<20 || len(data) > MaxRecordLen {
			return // pcap's seconds are 32 bits; wire lengths past 1 MiB are read as corrupt
		}
		path := filepath.Join(t.TempDir(), "rt.pcap")
		if ng {
			path += "ng"
		}
		w, err := NewWriter(WriterOptions{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		ts := time.Unix(0, ns).UTC()
		w.WritePacket(ts, data, wire)
		w.WritePacket(ts, data[:len(data)/2], len(data))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		s, err := OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for i, want := range [][]byte{data, data[:len(data)/2]} {
			got, info, err := s.ReadPacket()
			if err != nil {
				t.Fatalf("packet %d: %v", i, err)
			}
			wantWire := max(wire, len(data))
			if i == 1 {
				wantWire = len(data)
			}
			if !bytes.Equal(got, want) || info.WireLen != wantWire || !info.TS.Equal(ts) || info.Link != LinkRaw {
				t.Fatalf("packet %d: %d bytes, %+v; wrote %d bytes, wire %d, at %v", i, len(got), info, len(want), wantWire, ts)
			}
		}
		if _, _, err := s.ReadPacket(); err != io.EOF {
			t.Fatalf("after two packets: %v", err)
		}
	})
}

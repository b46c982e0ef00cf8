package truth

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

const root = "../../testdata/pcaps"

var socketTypes = map[string]bool{
	"REQ": true, "REP": true, "PUB": true, "SUB": true, "XPUB": true, "XSUB": true,
	"PUSH": true, "PULL": true, "DEALER": true, "ROUTER": true, "PAIR": true,
}

// TestCorpus loads every case's truth.json and checks it is consistent with
// itself and with the case folder.
func TestCorpus(t *testing.T) {
	all, err := LoadAll(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 5 {
		t.Fatalf("found %d cases under %s, want at least 5", len(all), root)
	}
	for _, tr := range all {
		t.Run(tr.Case, func(t *testing.T) {
			if tr.Case != filepath.Base(tr.Dir) {
				t.Errorf("case %q in folder %q", tr.Case, filepath.Base(tr.Dir))
			}
			st, err := os.Stat(tr.CapturePath())
			if err != nil {
				t.Fatalf("capture file: %v", err)
			}
			if st.Size() < 24 {
				t.Errorf("capture %s has %d bytes", tr.Capture, st.Size())
			}
			checkCaptureHeader(t, tr)
			if len(tr.Connections) == 0 {
				t.Fatal("no connections")
			}
			seen := map[string]string{}
			for _, c := range tr.Connections {
				checkConn(t, tr, c, seen)
			}
		})
	}
}

var linkTypes = map[string]uint32{"EN10MB": 1, "LINUX_SLL2": 276}

// checkCaptureHeader checks that the capture file is in the format its name
// says (pcap, pcapng, or gzip-compressed pcap) with the declared link type.
func checkCaptureHeader(t *testing.T, tr *Truth) {
	t.Helper()
	want, ok := linkTypes[tr.LinkType]
	if !ok {
		t.Errorf("link type %q", tr.LinkType)
		return
	}
	f, err := os.Open(tr.CapturePath())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if filepath.Ext(tr.Capture) == ".gz" {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", tr.Capture, err)
		}
		r = zr
	}
	hdr := make([]byte, 32)
	if _, err := io.ReadFull(r, hdr); err != nil {
		t.Fatalf("%s header: %v", tr.Capture, err)
	}
	switch {
	case bytes.Equal(hdr[:4], []byte{0xd4, 0xc3, 0xb2, 0xa1}):
		if filepath.Ext(tr.Capture) == ".pcapng" {
			t.Errorf("%s is classic pcap", tr.Capture)
		}
		if lt := binary.LittleEndian.Uint32(hdr[20:24]); lt != want {
			t.Errorf("%s link type %d, want %d (%s)", tr.Capture, lt, want, tr.LinkType)
		}
	case bytes.Equal(hdr[:4], []byte{0x0a, 0x0d, 0x0d, 0x0a}):
		if filepath.Ext(tr.Capture) != ".pcapng" {
			t.Errorf("%s is pcapng", tr.Capture)
		}
	default:
		t.Errorf("%s: unknown capture format % x", tr.Capture, hdr[:4])
	}
}

func checkConn(t *testing.T, tr *Truth, c Conn, seen map[string]string) {
	t.Helper()
	if c.ID == "" {
		t.Error("connection without id")
	}
	var key string
	switch c.IdentifyBy {
	case "", "client_port":
		if c.Client.Port <= 0 || c.Client.Port > 65535 {
			t.Errorf("%s: client port %d", c.ID, c.Client.Port)
		}
		key = fmt.Sprintf("%d-%d", c.Client.Port, c.Server.Port)
	case "server_port":
		key = fmt.Sprintf("*-%d", c.Server.Port)
	default:
		t.Errorf("%s: identify_by %q", c.ID, c.IdentifyBy)
	}
	// Refused attempts may reuse the ports of the connection that follows
	// them (late_bind); established connections may not share ports.
	if c.State != "refused" {
		if prev, dup := seen[key]; dup {
			t.Errorf("%s and %s share ports %s", prev, c.ID, key)
		}
		seen[key] = c.ID
	}
	if c.Server.Port <= 0 || c.Server.Port > 65535 {
		t.Errorf("%s: server port %d", c.ID, c.Server.Port)
	}
	for _, p := range []Peer{c.Client, c.Server} {
		if p.SocketType != "" && !socketTypes[p.SocketType] {
			t.Errorf("%s: socket type %q", c.ID, p.SocketType)
		}
		if p.Addr == "" {
			t.Errorf("%s: empty address", c.ID)
		}
	}
	switch c.Mechanism {
	case "NULL", "PLAIN", "CURVE":
	default:
		t.Errorf("%s: mechanism %q", c.ID, c.Mechanism)
	}
	switch c.State {
	case "closed", "refused", "reset", "open", "dropped":
	default:
		t.Errorf("%s: state %q", c.ID, c.State)
	}
	for name, d := range map[string]Direction{"c2s": c.C2S, "s2c": c.S2C} {
		if d.Frames < 0 || d.Bytes < 0 {
			t.Errorf("%s %s: negative counts", c.ID, name)
		}
		if c.Mechanism == "CURVE" {
			if d.Messages != nil {
				t.Errorf("%s %s: CURVE messages must be null", c.ID, name)
			}
			continue
		}
		if d.Messages == nil {
			t.Errorf("%s %s: messages missing", c.ID, name)
			continue
		}
		if *d.Messages > d.Frames {
			t.Errorf("%s %s: %d messages in %d frames", c.ID, name, *d.Messages, d.Frames)
		}
		if d.Frames == 0 && d.Bytes != 0 {
			t.Errorf("%s %s: %d bytes in no frames", c.ID, name, d.Bytes)
		}
	}
	if c.Mechanism == "PLAIN" && c.PlainUsername == "" {
		t.Errorf("%s: PLAIN without username", c.ID)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("Load of a folder without truth.json succeeded")
	}
	d := t.TempDir()
	if err := os.WriteFile(filepath.Join(d, FileName), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(d); err == nil {
		t.Error("Load of broken JSON succeeded")
	}
}

func TestLookup(t *testing.T) {
	tr, err := Load(filepath.Join(root, "reqrep"))
	if err != nil {
		t.Fatal(err)
	}
	c := tr.ByPorts(26010, 16010)
	if c == nil || c.Client.SocketType != "REQ" || c.Server.SocketType != "REP" {
		t.Fatalf("ByPorts(26010, 16010) = %+v", c)
	}
	if tr.Conn(c.ID) != c {
		t.Error("Conn(id) did not return the same connection")
	}
	if *c.C2S.Messages != 20 || *c.S2C.Messages != 20 {
		t.Errorf("reqrep messages c2s %d s2c %d, want 20/20", *c.C2S.Messages, *c.S2C.Messages)
	}
	if got := c.C2S.Commands; len(got) != 1 || got[0] != "READY" {
		t.Errorf("reqrep c2s commands %q, want [READY]", got)
	}
	if tr.ByPorts(1, 2) != nil {
		t.Error("ByPorts of unknown ports found a connection")
	}
}

func TestCommandsNilVersusEmpty(t *testing.T) {
	mid, err := Load(filepath.Join(root, "midstream"))
	if err != nil {
		t.Fatal(err)
	}
	if c := mid.Connections[0].C2S.Commands; c == nil || len(c) != 0 {
		t.Errorf("midstream c2s commands %#v, want empty non-nil", c)
	}
	hb, err := Load(filepath.Join(root, "heartbeat"))
	if err != nil {
		t.Fatal(err)
	}
	if c := hb.Connections[0].C2S.Commands; c != nil {
		t.Errorf("heartbeat c2s commands %#v, want nil (not recorded)", c)
	}
}

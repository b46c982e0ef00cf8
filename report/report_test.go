package report

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// What peers sent reaches the text report escaped: no ESC, BEL, C1 control,
// bidirectional override, tab or newline of theirs gets to the terminal, so
// none can set its title, clear it, reorder a line or forge one.
func TestWriteTextEscapesPeerStrings(t *testing.T) {
	r := &Report{
		Connections: []Connection{{Client: "127.0.0.1:1", Server: "127.0.0.1:2", State: "closed",
			PlainUsername: "\x1b]0;pwned\x07\x1b[2J", ClientIdentity: "id\u202eexe", Compatible: true}},
		Warnings: []string{"c2s: ERROR \"\u009b2J\"\nwarning: forged line"},
	}
	var b bytes.Buffer
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if i := strings.IndexAny(out, "\x1b\x07\u009b\u202e\t"); i >= 0 {
		t.Fatalf("control at byte %d:\n%q", i, out)
	}
	for _, want := range []string{`user=\x1b]0;pwned\x07\x1b[2J`, `id=id\u202eexe`, `warning: c2s: ERROR "\u009b2J"\x0awarning: forged line`} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %s:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\nwarning:"); n != 1 {
		t.Errorf("%d warning lines, want 1:\n%s", n, out)
	}

	b.Reset()
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	if i := strings.IndexAny(b.String(), "\u009b\u202e"); i >= 0 {
		t.Fatalf("JSON passes a control through at byte %d", i)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.Connections[0].ClientIdentity != r.Connections[0].ClientIdentity || back.Warnings[0] != r.Warnings[0] {
		t.Fatalf("JSON does not decode to the same strings: %v %+v", err, back)
	}
}

// BenchmarkEventLines compares the text and JSON event lines per event.
func BenchmarkEventLines(b *testing.B) {
	e := &tracker.Event{Type: tracker.EvMessage, TS: time.Unix(1700000000, 0), Client: "10.0.0.1:40000", Server: "10.0.0.2:5556",
		Dir: zmtp.ServerToClient, ClientSocket: zmtp.SUB, ServerSocket: zmtp.PUB, Frames: 2, Sizes: []uint64{10, 90}, MsgBytes: 100,
		Preview: []byte("prices.eur|1.0842")}
	for _, w := range []struct {
		name string
		l    tracker.Listener
	}{{"text", NewTextEventWriter(io.Discard, Options{})}, {"json", NewEventWriter(io.Discard, Options{})}} {
		b.Run(w.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w.l.TrackerEvent(e)
			}
		})
	}
}

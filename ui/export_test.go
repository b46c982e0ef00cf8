package ui

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/tracker"
)

// e exports the connection the view points at (here the topology's cursor,
// not the table's first row) and the hint line says what was written.
func TestExportKeyAtEverySize(t *testing.T) {
	for _, z := range sizes {
		t.Run(fmt.Sprintf("%dx%d", z.w, z.h), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "conn.pcap")
			var got *tracker.Record
			export := func(r *tracker.Record) (string, error) {
				got = r
				w, err := capture.NewWriter(capture.WriterOptions{Path: out})
				if err != nil {
					return "", err
				}
				src, err := capture.OpenFile(pcap(t, "pubsub"))
				if err != nil {
					return "", err
				}
				defer src.Close()
				st, err := capture.ExportConn(src, &capture.ConnFilter{A: r.Client, B: r.Server}, w)
				if cerr := w.Close(); err == nil {
					err = cerr
				}
				return fmt.Sprintf("wrote %d packets of connection %d to %s", st.Written, r.ID, out), err
			}
			doneExport := make(chan struct{}, 1)
			h := startReplay(t, "pubsub", z.w, z.h, runOpts{Speed: 0, Export: export, exportDone: doneExport})
			h.waitFrame(done)
			h.sync()
			h.key(tcell.KeyRune, 't')
			h.key(tcell.KeyRune, 'j') // the second peer, 127.0.0.1:26021
			h.key(tcell.KeyRune, 'e')
			<-doneExport
			h.sync()
			if got == nil || got.Client != netip.MustParseAddrPort("127.0.0.1:26021") {
				t.Fatalf("exported %v, want the cursor's connection (client 127.0.0.1:26021)", got)
			}
			hint := h.lines()[z.h-1]
			if !strings.Contains(hint, "wrote ") || !strings.Contains(hint, "packets of connection") {
				t.Errorf("hint line after the export: %q", hint)
			}
			if n := len(segmentsOf(t, out)); n < 10 {
				t.Errorf("the export holds %d segments", n)
			}
			// The next key clears the message.
			h.key(tcell.KeyRune, 'j')
			if strings.Contains(h.lines()[z.h-1], "wrote ") {
				t.Error("the export's message outlived the next key")
			}
			h.quit()
		})
	}
}

func segmentsOf(t *testing.T, path string) []capture.Segment {
	t.Helper()
	s, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []capture.Segment
	var seg capture.Segment
	for s.Next(&seg) == nil {
		out = append(out, seg)
	}
	return out
}

package pipeline

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/tracker"
)

// panicOnce panics on the first tracker event it sees.
type panicOnce struct{ done bool }

func (l *panicOnce) TrackerEvent(*tracker.Event) {
	if !l.done {
		l.done = true
		panic("listener broke")
	}
}

// A panic in a stage (here an event listener, called from the tracker
// inside the reassembler) is a warning that names the file, the packet and
// the connection, it is counted, and the run reads on to the end.
func TestPanicWarningNamesFilePacketConnection(t *testing.T) {
	path := filepath.Join(corpus, "reqrep", "capture.pcap")
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	p := New(Config{})
	p.Tracker.SetListener(&panicOnce{})
	if err := p.Run(src, nil); err != nil {
		t.Fatal(err)
	}
	ws, total := p.Warnings()
	if total != 1 || len(ws) != 1 || p.panics != 1 {
		t.Fatalf("%d warnings (%d panics): %q", total, p.panics, ws)
	}
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(path) + `: packet [1-9][0-9]*: internal error \(connection 127\.0\.0\.1:[0-9]+ - 127\.0\.0\.1:[0-9]+\): listener broke$`)
	if !re.MatchString(ws[0]) {
		t.Errorf("warning %q does not name file, packet and connection", ws[0])
	}
	if st := src.Stats(); p.Packets() != st.TCP {
		t.Errorf("the run stopped at the panic: %d of %d segments fed", p.Packets(), st.TCP)
	}
}

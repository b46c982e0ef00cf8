package session

import (
	"context"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
)

// A panic in what runs before a packet (here the first interval's
// observer) is a warning naming the file, the packet and the time, and the
// replay goes on.
func TestBeforePanicWarningNamesFileAndPacket(t *testing.T) {
	path := filepath.Join(corpus, "slow_subscriber", "capture.pcap")
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	panicked := false
	intervals := 0
	s := New(Config{Files: []capture.Source{src}, OnInterval: func(time.Time, *tracker.Snapshot, []store.Point) {
		intervals++
		if !panicked {
			panicked = true
			panic("observer broke")
		}
	}})
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ws, _ := s.Warnings()
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(path) + `: packet [1-9][0-9]*: internal error before the packet \(at [0-9T:.-]+Z\): observer broke$`)
	found := false
	for _, w := range ws {
		found = found || re.MatchString(w)
	}
	if !found {
		t.Errorf("no warning naming file and packet: %q", ws)
	}
	if intervals < 2 {
		t.Errorf("%d intervals: the run did not go on after the panic", intervals)
	}
}

package session

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/tracker"
)

// corpus is the capture corpus; ZSPY_CORPUS points the tests at another one.
var corpus = func() string {
	if d := os.Getenv("ZSPY_CORPUS"); d != "" {
		return d
	}
	return "../testdata/pcaps"
}()

// replayFile runs one capture file through a session of its own, as plain
// `zspy replay` does, and returns its report.
func replayFile(t testing.TB, path string) *report.Report {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s := New(Config{Files: []capture.Source{src}})
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s.Report()
}

func jsonOf(t *testing.T, r *report.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := report.WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// eventOf fills e's connection part from r, as the tracker does.
func eventOf(r *tracker.Record, e tracker.Event) *tracker.Event {
	e.ConnID, e.Client, e.Server = r.ID, r.ClientName, r.ServerName
	for i := range r.Dirs {
		e.Msgs[i] = r.Dirs[i].Messages
		if r.Curve {
			e.Msgs[i] = r.Dirs[i].Frames
		}
		e.Bytes[i] = r.Dirs[i].Bytes
	}
	return &e
}

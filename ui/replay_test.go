package ui

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/session"
)

// pcap returns the path of a test case's capture, skipping when it is not
// there.
func pcap(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join("..", "testdata", "pcaps", name, "capture.pcap")
	if _, err := filepath.Glob(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func openCase(t testing.TB, name string) *capture.FileSource {
	t.Helper()
	s, err := capture.OpenFile(pcap(t, name))
	if err != nil {
		t.Skipf("capture %s: %v", name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// replayFrames replays a capture through the real pipeline and the model,
// taking a snapshot every `every` of packet time and once at the end, and
// returns the frames, the message log and the rate meter.
func replayFrames(t testing.TB, name string, every time.Duration, opt ModelOptions) ([]*Frame, *Model, *session.MessageLog, *session.RateMeter) {
	t.Helper()
	src := openCase(t, name)
	p := pipeline.New(pipeline.Config{})
	log := session.NewMessageLog()
	rm := session.NewRateMeter(log)
	p.Tracker.SetListener(rm)
	update := func(at time.Time) *session.Update {
		snap := p.Tracker.Snapshot(at)
		return &session.Update{Snapshot: snap, Rates: rm.Window(snap), Stats: session.Stats{Packets: src.Stats().Packets}}
	}
	m := NewModel(opt)
	var frames []*Frame
	var seg capture.Segment
	var next, last time.Time
	for {
		err := src.Next(&seg)
		if err != nil {
			break
		}
		if every > 0 && !last.IsZero() && !seg.TS.Before(next) {
			frames = append(frames, m.Apply(update(last)))
		}
		if next.IsZero() || !seg.TS.Before(next) {
			next = seg.TS.Add(every)
		}
		p.Packet(&seg)
		last = seg.TS
	}
	p.Finish()
	u := update(last)
	u.Player = session.PlayerState{Done: true}
	frames = append(frames, m.Apply(u))
	return frames, m, log, rm
}

// detailInto does in a test what the session does for a selected
// connection: f carries id's recent events (and rates, when rm is set).
func detailInto(f *Frame, log *session.MessageLog, rm *session.RateMeter, id uint64) {
	log.Select(id)
	dt := &session.Detail{ID: id, Log: log.Recent(id)}
	if rm != nil {
		for dir := range dt.Rates {
			dt.Rates[dir] = rm.Series(id, dir, f.Time)
		}
	}
	f.Detail = dt
}

package pipeline

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/report"
)

func jsonOf(t *testing.T, r *report.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := report.WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The live runner, fed by a capture file through its batching queue, gives the
// same report as a replay: batching neither loses nor reorders packets.
func TestRunLiveMatchesReplay(t *testing.T) {
	for _, name := range []string{"dealer_router", "slow_subscriber", "late_bind"} {
		path := filepath.Join(corpus, name, "capture.pcap")
		want := replayFile(t, path)
		src, err := capture.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p := New(Config{})
		// Small batches, so that many of them cross the queue.
		err = p.RunLive(context.Background(), src, LiveConfig{Batches: 2, BatchSegments: 7, BatchBytes: 64 << 10, Block: true})
		if err != nil {
			t.Fatal(err)
		}
		p.Finish()
		got := p.Report()
		if jsonOf(t, got) != jsonOf(t, want) {
			t.Errorf("%s: live report differs from replay", name)
		}
	}
}

// Count stops the run after that many segments.
func TestRunLiveCount(t *testing.T) {
	src, err := capture.OpenFile(filepath.Join(corpus, "reqrep", "capture.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	p := New(Config{})
	if err := p.RunLive(context.Background(), src, LiveConfig{Count: 10}); err != nil {
		t.Fatal(err)
	}
	if p.packets != 10 {
		t.Fatalf("pipeline saw %d segments, want 10", p.packets)
	}
}

// Without Block, a source that outruns the pipeline loses packets, and every
// one of them is counted: what the pipeline saw plus the drops is all there was.
func TestRunLiveCountsDrops(t *testing.T) {
	path := filepath.Join(corpus, "slow_subscriber", "capture.pcap")
	want := replayFile(t, path)
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := New(Config{})
	if err := p.RunLive(context.Background(), src, LiveConfig{Batches: 1, BatchSegments: 1}); err != nil {
		t.Fatal(err)
	}
	p.Finish()
	got := p.Report()
	if p.packets+got.Stats.InternalDrops != want.Stats.TCPPackets {
		t.Fatalf("pipeline saw %d segments and dropped %d, the file has %d", p.packets, got.Stats.InternalDrops, want.Stats.TCPPackets)
	}
}

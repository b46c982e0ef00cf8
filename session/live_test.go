package session

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/zspy/zspy/capture"
)

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
		// Small batches, so that many of them cross the queue.
		p := New(Config{Live: src, LiveOptions: LiveOptions{Batches: 2, BatchSegments: 7, BatchBytes: 64 << 10, Block: true}})
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
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
	p := New(Config{Live: src, LiveOptions: LiveOptions{Count: 10}})
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := p.p.Packets(); n != 10 {
		t.Fatalf("pipeline saw %d segments, want 10", n)
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
	p := New(Config{Live: src, LiveOptions: LiveOptions{Batches: 1, BatchSegments: 1}})
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := p.Report()
	if n := p.p.Packets(); n+got.Stats.InternalDrops != want.Stats.TCPPackets {
		t.Fatalf("pipeline saw %d segments and dropped %d, the file has %d", n, got.Stats.InternalDrops, want.Stats.TCPPackets)
	}
}

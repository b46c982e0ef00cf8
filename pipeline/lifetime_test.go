package pipeline

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/reassembly"
	"github.com/zspy/zspy/report"
)

// Eviction loses nothing when the traffic comes back: real captures whose
// connections overlap, replayed with room for one connection at a time, so
// that every connection is evicted by the next one's packets and resumed by
// its own (joined: the sequence numbers continue), give the same
// connections with the same counts, socket types, subscriptions, roles and
// latencies as with room for all; only the evictions are counted.
func TestEvictionResumesRealConnections(t *testing.T) {
	for _, name := range []string{"pubsub", "pushpull", "dealer_router", "slow_subscriber", "late_bind"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(corpus, name, "capture.pcap")
			want := replayFile(t, path)
			src, err := capture.OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			p := New(Config{Reassembly: reassembly.Options{MaxConnections: 1, MaxEvicted: 100}})
			if err := p.Run(src, nil); err != nil {
				t.Fatal(err)
			}
			p.Finish()
			got := p.Report()
			st := p.Asm.Stats()
			if len(want.Connections) > 1 && st.Evicted == 0 {
				t.Fatalf("no eviction with room for one of %d connections", len(want.Connections))
			}
			if st.Unjoined != 0 || st.Resumed == 0 && st.Evicted > st.ForgotClosed+uint64(len(want.Connections)) {
				t.Errorf("stats %+v: traffic that came back was not joined", st)
			}
			evictions := 0
			for i := range got.Connections {
				evictions += got.Connections[i].Evictions
				got.Connections[i].Evictions = 0
			}
			if uint64(evictions) != st.Resumed {
				t.Errorf("records say %d evictions resumed, the assembler %d", evictions, st.Resumed)
			}
			if a, b := connsJSON(t, got.Connections), connsJSON(t, want.Connections); a != b {
				t.Errorf("connections differ with evictions:\n%s\nwant\n%s", a, b)
			}
			if got.Stats.Lifetime == nil || got.Stats.Lifetime.Evicted != st.Evicted || got.Stats.Lifetime.MaxConnections != 1 {
				t.Errorf("report lifetime %+v, assembler %+v", got.Stats.Lifetime, st)
			}
		})
	}
}

func connsJSON(t *testing.T, cs []report.Connection) string {
	b, err := json.MarshalIndent(cs, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

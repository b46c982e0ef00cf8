package session

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
)

// The per-interval points of a replay add up to the report's totals, and are
// stamped with the capture's own (packet) times.
func TestMetricsAddUpToReport(t *testing.T) {
	for _, name := range []string{"pubsub", "dealer_router", "reqrep", "longframe", "slow_subscriber"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(corpus, name, "capture.pcap")
			src, err := capture.OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			cfg := Config{Pipeline: pipeline.Config{Host: "test", Interval: 100 * time.Millisecond}, Files: []capture.Source{src}}
			sums := map[string]int64{}
			var first, last time.Time
			var intervals int
			cfg.OnInterval = func(end time.Time, _ *tracker.Snapshot, pts []store.Point) {
				intervals++
				for i := range pts {
					pt := &pts[i]
					if err := pt.Validate(); err != nil {
						t.Fatal(err)
					}
					if pt.Measurement != metrics.MeasConnection {
						continue
					}
					if !pt.Time.Equal(end) {
						t.Fatalf("point at %v in interval ending %v", pt.Time, end)
					}
					cl, _ := pt.Tag("client_host")
					sv, _ := pt.Tag("server")
					dir, _ := pt.Tag("dir")
					f, _ := pt.Field("messages")
					sums[cl+" "+sv+" "+dir+" messages"] += f.IntValue()
					f, _ = pt.Field("bytes")
					sums[cl+" "+sv+" "+dir+" bytes"] += f.IntValue()
				}
				if first.IsZero() {
					first = end
				}
				last = end
			}
			p := New(cfg)
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			r := p.Report()
			if intervals == 0 {
				t.Fatal("no interval ended")
			}
			// A series sums the connections of one client host: so do the
			// report's connections.
			want := map[string]int64{}
			for _, c := range r.Connections {
				if c.State == "refused" || c.C2S.Messages == nil {
					continue
				}
				for _, d := range []struct {
					dir   string
					msgs  uint64
					bytes uint64
				}{{"c2s", *c.C2S.Messages, c.C2S.Bytes}, {"s2c", *c.S2C.Messages, c.S2C.Bytes}} {
					k := netip.MustParseAddrPort(c.Client).Addr().String() + " " + c.Server + " " + d.dir
					want[k+" messages"] += int64(d.msgs)
					want[k+" bytes"] += int64(d.bytes)
				}
				if c.Start.Before(first.Add(-time.Second)) || c.End.After(last) {
					t.Errorf("connection %v..%v outside the intervals %v..%v", c.Start, c.End, first, last)
				}
			}
			for k, n := range want {
				if sums[k] != n {
					t.Errorf("%s: points sum to %d, report says %d", k, sums[k], n)
				}
			}
			if len(want) == 0 || len(sums) != len(want) {
				t.Errorf("points have %d sums, the report %d", len(sums), len(want))
			}
		})
	}
}

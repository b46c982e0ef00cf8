package metrics_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
)

// seriesKey is what InfluxDB names a series by: the measurement and its tags.
func seriesKey(p *store.Point) string {
	var b strings.Builder
	b.WriteString(p.Measurement)
	for _, t := range p.Tags {
		fmt.Fprintf(&b, ",%s=%s", t.Key, t.Value)
	}
	return b.String()
}

// TestReconnectStormSeries replays a real capture of 1,000 REQ connections,
// each from its own ephemeral port (libzmq peers on lo recorded with
// tcpdump: testdata/gen/scenarios/reconnect_storm.py), and counts the series
// the points make: they must not grow with the connections. Before the
// schema of issue 17 (client tag ip:port) this capture made 3,005 series.
func TestReconnectStormSeries(t *testing.T) {
	src, err := capture.OpenFile("testdata/reconnect_storm.pcap.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	series := map[string]bool{}
	var conns, seriesAt50, points int
	s := session.New(session.Config{Pipeline: pipeline.Config{Host: "h"}, Files: []capture.Source{src},
		OnInterval: func(_ time.Time, snap *tracker.Snapshot, pts []store.Point) {
			for i := range pts {
				if err := metrics.Schema.Check(&pts[i]); err != nil {
					t.Error(err)
				}
				series[seriesKey(&pts[i])] = true
			}
			points += len(pts)
			conns = max(conns, int(snap.Records[len(snap.Records)-1].ID))
			if conns >= 50 && seriesAt50 == 0 {
				seriesAt50 = len(series)
			}
		}})
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := s.Report()
	if len(r.Connections) != 1000 {
		t.Fatalf("the capture holds %d connections, want 1000", len(r.Connections))
	}
	t.Logf("1000 connections: %d points, %d series (%d after the first 50 connections)", points, len(series), seriesAt50)
	// zspy_connection c2s and s2c, each with the socket types known and not
	// yet known (a connection sampled before its READY), zspy_latency and
	// zspy_endpoint.
	if len(series) != 6 || seriesAt50 != len(series) {
		var keys []string
		for k := range series {
			keys = append(keys, k)
		}
		t.Errorf("%d series after 50 connections, %d after 1000; want 6 both times: %v", seriesAt50, len(series), keys[:min(len(keys), 10)])
	}
}

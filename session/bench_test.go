package session

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/influxtest"
	"github.com/zspy/zspy/internal/pcaptest"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
)

// BenchmarkReplaySinks measures what time series cost a replay of real
// small-message traffic: no metrics at all, metrics computed but not stored,
// metrics written to the local store, and written to a real InfluxDB 1.8.
// packets/s and points/s are end to end (with the final flush, so for InfluxDB
// they include waiting for the server to ingest everything);
// replay-packets/s is the pipeline's own pace, which Write never slows by
// waiting. The traffic is the corpus multiplied with new addresses, so every
// copy's connections are new series: a worst case for InfluxDB's series index
// and for the points per packet.
func BenchmarkReplaySinks(b *testing.B) {
	pcap, packets, _ := pcaptest.Big(b, corpus, []string{"reqrep", "pubsub", "pushpull", "dealer_router", "pair", "xpub_xsub", "many_conns", "heartbeat"}, 300, func(string) int { return 0 })
	benchSinks(b, pcap, packets)
}

func benchSinks(b *testing.B, pcap []byte, packets int) {
	for _, mode := range []string{"off", "metrics", "local", "influxdb"} {
		b.Run(mode, func(b *testing.B) {
			var sink store.Sink
			switch mode {
			case "local":
				cfg := store.LocalConfig{DataDir: b.TempDir()}
				if err := cfg.Validate(); err != nil {
					b.Fatal(err)
				}
				l, err := store.NewLocal(cfg)
				if err != nil {
					b.Fatal(err)
				}
				sink = l
			case "influxdb":
				srv := influxtest.Start(b)
				cfg := store.Config{URL: srv.URL, Bucket: srv.DB + "/autogen", SpoolDir: b.TempDir()}
				if err := cfg.Validate(); err != nil {
					b.Fatal(err)
				}
				s, err := store.NewInflux(cfg)
				if err != nil {
					b.Fatal(err)
				}
				sink = s
			}
			b.SetBytes(int64(len(pcap)))
			b.ReportAllocs()
			b.ResetTimer()
			points := 0
			var replayTime time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				src, err := capture.NewReader(bytes.NewReader(pcap), "bench.pcap")
				if err != nil {
					b.Fatal(err)
				}
				cfg := Config{Pipeline: pipeline.Config{Host: fmt.Sprintf("bench-%d", i)}, Files: []capture.Source{src}}
				if mode != "off" {
					cfg.OnInterval = func(_ time.Time, _ *tracker.Snapshot, pts []store.Point) {
						points += len(pts)
						if sink != nil {
							if err := sink.Write(pts); err != nil {
								b.Fatal(err)
							}
						}
					}
				}
				if err := New(cfg).Run(context.Background()); err != nil {
					b.Fatal(err)
				}
				replayTime += time.Since(t0)
				if sink != nil {
					if err := sink.Flush(context.Background()); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(packets)*float64(b.N)/sec, "packets/s")
			b.ReportMetric(float64(points)/sec, "points/s")
			// The replay's own pace: Write never waits for the store, so this is
			// what a capture sees; the time above adds waiting for InfluxDB to
			// take everything (the final flush).
			b.ReportMetric(float64(packets)*float64(b.N)/replayTime.Seconds(), "replay-packets/s")
			if sink != nil {
				if st, ok := sink.(store.Stater); ok {
					s := st.Stats()
					if s.Dropped+s.Rejected+s.Invalid > 0 {
						b.Fatalf("sink lost points: %+v", s)
					}
				}
				sink.Close(context.Background())
			}
		})
	}
}

// BenchmarkReplaySinksSteady: the sinks' cost on long-lived traffic (100
// DEALER/ROUTER connections exchanging small messages for 60 s of packet time).
func BenchmarkReplaySinksSteady(b *testing.B) {
	pcap, packets := pcaptest.Steady(b, 100, 10000, time.Minute)
	benchSinks(b, pcap, packets)
}

package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/influxtest"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
)

// bigCapture builds an in-memory pcap from real captures in the corpus,
// repeated copies times with each copy's addresses moved to 10.a.b.1 and its
// timestamps shifted, so every copy's connections are distinct: the traffic is
// real libzmq traffic, multiplied.
func bigCapture(b *testing.B, cases []string, copies int) (pcap []byte, packets, conns int) {
	b.Helper()
	type rec struct {
		data []byte
		ci   gopacket.CaptureInfo
	}
	var recs []rec
	var base time.Time
	for _, name := range cases {
		data, cis, link := readPackets(&testing.T{}, filepath.Join(corpus, name, "capture.pcap"))
		if link != layers.LinkTypeEthernet || len(data) == 0 {
			b.Fatalf("%s: link %v, %d packets", name, link, len(data))
		}
		off := time.Duration(0)
		if !base.IsZero() {
			off = base.Sub(cis[0].Timestamp)
		} else {
			base = cis[0].Timestamp
		}
		for i := range data {
			ci := cis[i]
			ci.Timestamp = ci.Timestamp.Add(off)
			recs = append(recs, rec{data[i], ci})
		}
		r := replayFileB(b, filepath.Join(corpus, name, "capture.pcap"))
		conns += len(r)
	}
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
		b.Fatal(err)
	}
	span := recs[len(recs)-1].ci.Timestamp.Sub(recs[0].ci.Timestamp) + time.Millisecond
	tmp := make([]byte, 0, 1<<20)
	for k := 0; k < copies; k++ {
		for _, r := range recs {
			d := append(tmp[:0], r.data...)
			if len(d) >= 34 && d[12] == 0x08 && d[13] == 0x00 {
				ip := [4]byte{10, byte(k >> 8), byte(k), 1}
				copy(d[26:30], ip[:])
				copy(d[30:34], ip[:])
			}
			ci := r.ci
			ci.Timestamp = ci.Timestamp.Add(time.Duration(k) * span)
			if err := w.WritePacket(ci, d); err != nil {
				b.Fatal(err)
			}
		}
	}
	return buf.Bytes(), len(recs) * copies, conns * copies
}

func replayFileB(b *testing.B, path string) []int {
	src, err := capture.OpenFile(path)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	p := New(Config{})
	if err := p.Run(src, nil); err != nil {
		b.Fatal(err)
	}
	p.Finish()
	return make([]int, len(p.Report().Connections))
}

func benchReplay(b *testing.B, cases []string, copies int) {
	pcap, packets, conns := bigCapture(b, cases, copies)
	b.SetBytes(int64(len(pcap)))
	b.ReportAllocs()
	b.ResetTimer()
	var got int
	for i := 0; i < b.N; i++ {
		src, err := capture.NewReader(bytes.NewReader(pcap), "bench.pcap")
		if err != nil {
			b.Fatal(err)
		}
		p := New(Config{})
		if err := p.Run(src, nil); err != nil {
			b.Fatal(err)
		}
		p.Finish()
		got = len(p.Tracker.Conns())
	}
	b.StopTimer()
	if got < conns {
		b.Fatalf("tracked %d connections, want at least %d", got, conns)
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(packets)*float64(b.N)/sec, "packets/s")
	b.ReportMetric(float64(packets), "packets/op")
	b.ReportMetric(float64(got), "conns/op")
	b.ReportMetric(float64(len(pcap))/1e6, "MB/op")
}

// BenchmarkReplaySmallMessages: real small-message traffic of every pattern,
// multiplied to tens of thousands of connections.
func BenchmarkReplaySmallMessages(b *testing.B) {
	benchReplay(b, []string{"reqrep", "pubsub", "pushpull", "dealer_router", "pair", "xpub_xsub", "many_conns", "heartbeat"}, 2000)
}

// BenchmarkReplayBulk: real large-frame traffic (300 B to 500 KB frames).
func BenchmarkReplayBulk(b *testing.B) {
	benchReplay(b, []string{"longframe"}, 200)
}

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
	pcap, packets, _ := bigCapture(b, []string{"reqrep", "pubsub", "pushpull", "dealer_router", "pair", "xpub_xsub", "many_conns", "heartbeat"}, 300)
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
				p := New(Config{Host: fmt.Sprintf("bench-%d", i)})
				if mode != "off" {
					p.AddIntervalHook(func(_ time.Time, _ []*tracker.Conn, pts []store.Point) {
						points += len(pts)
						if sink != nil {
							if err := sink.Write(pts); err != nil {
								b.Fatal(err)
							}
						}
					})
				}
				if err := p.Run(src, nil); err != nil {
					b.Fatal(err)
				}
				p.Finish()
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

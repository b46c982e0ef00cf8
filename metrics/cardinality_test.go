package metrics_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
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

// TestSeriesCaps: past MaxGroups series in a measurement, and past MaxTopics
// topic values, new ones go to one (other) series, counted; nothing they
// carried is lost.
func TestSeriesCaps(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	server := netip.MustParseAddrPort("10.0.0.1:5555")
	var recs []*tracker.Record
	const hosts = metrics.MaxGroups + 50
	for i := 0; i < hosts; i++ {
		r := &tracker.Record{ID: uint64(i + 1), Detection: zmtp.IsZMTP,
			Client: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 40000), Server: server}
		r.Dirs[0].Messages, r.Dirs[0].Frames = 1, 1
		recs = append(recs, r)
	}
	sub := &tracker.Record{ID: hosts + 1, Detection: zmtp.IsZMTP, PubSub: true, Subscriber: zmtp.Client,
		Client: netip.MustParseAddrPort("10.2.0.1:40000"), Server: server, TopicDelivered: map[string]uint64{}}
	for i := 0; i < metrics.MaxTopics+100; i++ {
		sub.TopicDelivered[fmt.Sprintf("topic-%04d", i)] = 1
	}
	sub.Dirs[1].Messages, sub.Dirs[1].Frames = metrics.MaxTopics+100, metrics.MaxTopics+100
	recs = append(recs, sub)
	c := metrics.New("h", time.Second)
	pts := c.Sample(at, &tracker.Snapshot{Time: at, Records: recs})
	series := map[string]bool{}
	var msgs, delivered int64
	topics := map[string]bool{}
	for i := range pts {
		p := &pts[i]
		if err := metrics.Schema.Check(p); err != nil {
			t.Fatal(err)
		}
		series[seriesKey(p)] = true
		if p.Measurement == metrics.MeasConnection {
			if d, _ := p.Tag("dir"); d == "c2s" {
				f, _ := p.Field("messages")
				msgs += f.IntValue()
			}
		}
		if p.Measurement == metrics.MeasTopic {
			f, _ := p.Field("delivered")
			delivered += f.IntValue()
			tp, _ := p.Tag("topic")
			topics[tp] = true
		}
	}
	if c.GroupsOverflowed == 0 || c.TopicsOverflowed != 100 {
		t.Errorf("overflow counters: %d series, %d topics", c.GroupsOverflowed, c.TopicsOverflowed)
	}
	if msgs != hosts || delivered != metrics.MaxTopics+100 {
		t.Errorf("points carry %d messages of %d, %d deliveries of %d", msgs, hosts, delivered, metrics.MaxTopics+100)
	}
	if len(topics) != metrics.MaxTopics+1 || !topics[metrics.OtherTopics] {
		t.Errorf("%d topic values", len(topics))
	}
	// Per measurement at most MaxGroups series and the (other) ones (one per
	// direction): zspy_connection, zspy_subscriber, zspy_topic, zspy_endpoint.
	if n := len(series); n > 2*metrics.MaxGroups+2+1+metrics.MaxTopics+1+1 {
		t.Errorf("%d series", n)
	}
	other := 0
	for k := range series {
		if strings.Contains(k, "client_host="+metrics.OtherClients) {
			other++
		}
	}
	if other == 0 {
		t.Error("no (other) series")
	}
}

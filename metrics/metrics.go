// Package metrics turns the tracker's model into time series: once per interval
// of packet time it samples every connection and emits store.Points (rates,
// message sizes, request/reply latency, subscriptions, TCP backlog, endpoint
// totals). It runs on the pipeline goroutine, between the tracker and the
// store; it writes the schema of schema.go (Schema), which README.md shows.
package metrics

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/zspy/zspy/monitor"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// Collector samples the tracker at interval boundaries of packet time.
type Collector struct {
	host     string
	interval time.Duration
	next     time.Time
	live     []*series
	slab     []series // series are allocated in blocks
	lastID   uint64
	pts      []store.Point
	monPts   []store.Point

	fans      map[string]*fan
	endpoints map[string]*endpointAcc
	// MonitorDropped counts monitor points that did not fit the queue.
	MonitorDropped uint64
}

// MonitorEvent queues a point of the zspy_monitor series for a socket-monitor
// event; it goes out with the next interval's points, stamped with the event's
// own time.
func (c *Collector) MonitorEvent(ev *monitor.Event) {
	if len(c.monPts) >= maxMonitorPoints {
		c.MonitorDropped++
		return
	}
	pt := store.Point{Measurement: MeasMonitor, Time: ev.Time}
	pt.AddTag(tagHost.Name, c.host)
	pt.AddTag(tagEvent.Name, ev.Name)
	if ev.Source != "" {
		pt.AddTag(tagSource.Name, ev.Source)
	}
	if ev.Endpoint != "" {
		pt.AddTag(tagMonEndpoint.Name, ev.Endpoint)
	}
	if ev.RemoteEndpoint != "" {
		pt.AddTag(tagRemoteEndpoint.Name, ev.RemoteEndpoint)
	}
	pt.AddField(fieldValue.Int(int64(ev.Value)))
	switch {
	case ev.Code == monitor.EventPipesStats:
		pt.AddField(fieldOutbound.Int(int64(ev.Outbound)))
		pt.AddField(fieldInbound.Int(int64(ev.Inbound)))
	case ev.ProtocolError != "":
		pt.AddField(fieldProtocolError.Str(ev.ProtocolError))
	case ev.ZAPStatusText != "":
		pt.AddField(fieldZAPStatus.Int(ev.ZAPStatus))
	case ev.ErrnoName != "":
		pt.AddField(fieldErrno.Str(ev.ErrnoName))
	case ev.ReconnectInterval > 0:
		pt.AddField(fieldReconnectInterval.Float(ms(ev.ReconnectInterval)))
	}
	if pt.Time.IsZero() {
		return
	}
	c.monPts = append(c.monPts, pt)
}

// maxMonitorPoints bounds the monitor points waiting for the next interval.
const maxMonitorPoints = 10000

type prev struct {
	dirs   [2]tracker.DirStats
	tcp    [2]tracker.TCPDir
	topics map[string]uint64
}

// New returns a collector that stamps points with host and samples every
// interval (default 1 s) of packet time.
func New(host string, interval time.Duration) *Collector {
	if interval <= 0 {
		interval = time.Second
	}
	return &Collector{host: host, interval: interval}
}

// Interval returns the sampling interval.
func (c *Collector) Interval() time.Duration { return c.interval }

// Due reports whether packet time ts has passed the end of the current
// interval; the first call starts the first interval.
func (c *Collector) Due(ts time.Time) bool {
	if c.next.IsZero() {
		c.next = ts.Truncate(c.interval).Add(c.interval)
		return false
	}
	return !ts.Before(c.next)
}

// SkipTo moves the current interval forward to the one that ends after ts,
// leaving out the empty intervals in between.
func (c *Collector) SkipTo(ts time.Time) {
	if next := ts.Truncate(c.interval); next.After(c.next) {
		c.next = next
	}
}

// Next ends the current interval: it returns its end and starts the next one.
// Call Sample with that end.
func (c *Collector) Next() time.Time {
	end := c.next
	c.next = c.next.Add(c.interval)
	return end
}

// series is what the collector keeps of one connection it follows.
type series struct {
	rec            *tracker.Record
	prev           prev
	client, server string
}

// point appends a point to c.pts, reusing the tag and field slices of the
// points an earlier interval left there.
func (c *Collector) point(meas string, end time.Time) *store.Point {
	if len(c.pts) < cap(c.pts) {
		c.pts = c.pts[:len(c.pts)+1]
	} else {
		c.pts = append(c.pts, store.Point{})
	}
	pt := &c.pts[len(c.pts)-1]
	pt.Measurement, pt.Time = meas, end
	pt.Tags, pt.Fields = pt.Tags[:0], pt.Fields[:0]
	return pt
}

// follow brings the series up to the snapshot's records: each followed
// connection takes its new Record (one that left the tracker keeps its last),
// and the connections the tracker created since the last sample are added.
// Both lists are in ID order, and IDs only grow.
func (c *Collector) follow(recs []*tracker.Record) {
	j := 0
	for _, sr := range c.live {
		for j < len(recs) && recs[j].ID < sr.rec.ID {
			j++
		}
		if j < len(recs) && recs[j].ID == sr.rec.ID {
			sr.rec = recs[j]
		}
	}
	i := len(recs)
	for i > 0 && recs[i-1].ID > c.lastID {
		i--
	}
	for _, r := range recs[i:] {
		if len(c.slab) == 0 {
			c.slab = make([]series, 256)
		}
		sr := &c.slab[0]
		c.slab = c.slab[1:]
		*sr = series{rec: r}
		sr.client, sr.server = r.Names()
		c.live = append(c.live, sr)
	}
	if len(recs) > 0 {
		c.lastID = max(c.lastID, recs[len(recs)-1].ID)
	}
}

// Sample emits one interval's points for the snapshot taken at the interval's
// end. Past following the snapshot's records, its cost is proportional to the
// connections still open or active in the interval, not to all the
// connections the tracker keeps. The caller then starts the tracker's next
// interval (Tracker.EndInterval).
func (c *Collector) Sample(end time.Time, snap *tracker.Snapshot) []store.Point {
	c.pts = c.pts[:0]
	for i := range c.monPts {
		pt := c.point(c.monPts[i].Measurement, c.monPts[i].Time)
		pt.Tags = append(pt.Tags, c.monPts[i].Tags...)
		pt.Fields = append(pt.Fields, c.monPts[i].Fields...)
	}
	c.monPts = c.monPts[:0]
	secs := c.interval.Seconds()
	if c.fans == nil {
		c.fans = map[string]*fan{}
		c.endpoints = map[string]*endpointAcc{}
	}
	clear(c.fans)
	clear(c.endpoints)
	c.follow(snap.Records)
	kept := c.live[:0]
	for _, sr := range c.live {
		conn := sr.rec
		switch conn.Detection {
		case zmtp.NotZMTP:
			continue // never ZMTP: stop following it
		case zmtp.Undecided:
			if conn.Closed {
				continue
			}
			kept = append(kept, sr)
			continue
		}
		p := &sr.prev
		active := false
		for i := range conn.Dirs {
			if conn.Dirs[i].Frames != p.dirs[i].Frames || conn.Dirs[i].Commands != p.dirs[i].Commands {
				active = true
			}
		}
		if !active && conn.Closed {
			continue // its final interval was emitted: forget it
		}
		kept = append(kept, sr)
		c.sampleConn(sr, end, secs)
	}
	for i := len(kept); i < len(c.live); i++ {
		c.live[i] = nil
	}
	c.live = kept
	for _, f := range c.fans {
		for _, k := range f.subs {
			pt := &c.pts[k]
			r, _ := pt.Field(fieldDeliveredRate.Name)
			ratio := 1.0
			if f.best > 0 {
				ratio = r.FloatValue() / f.best
			}
			pt.AddField(fieldBestRate.Float(f.best))
			pt.AddField(fieldRateRatio.Float(ratio))
		}
	}
	// Map order is random: emit in a fixed order so that a replay gives the
	// same points every time.
	for _, ep := range slices.Sorted(maps.Keys(c.endpoints)) {
		acc := c.endpoints[ep]
		pt := c.point(MeasEndpoint, end)
		pt.Tags = append(pt.Tags, tagEndpoint.Of(ep), tagHost.Of(c.host), tagRole.Of(acc.role))
		pt.AddField(fieldConnections.Int(int64(acc.conns)))
		pt.AddField(fieldMsgsIn.Int(int64(acc.in)))
		pt.AddField(fieldMsgsOut.Int(int64(acc.out)))
		pt.AddField(fieldMsgRateIn.Float(float64(acc.in) / secs))
		pt.AddField(fieldMsgRateOut.Float(float64(acc.out) / secs))
	}
	return c.pts
}

type fan struct {
	subs []int // indexes into c.pts of zspy_subscriber points
	best float64
}

// sampleConn emits one connection's points for the interval ending at end.
func (c *Collector) sampleConn(sr *series, end time.Time, secs float64) {
	conn, p := sr.rec, &sr.prev
	base := func(pt *store.Point) {
		// Tags sorted by key.
		pt.Tags = append(pt.Tags, tagClient.Of(sr.client), tagHost.Of(c.host), tagServer.Of(sr.server))
	}
	for i := range conn.Dirs {
		d, pd := &conn.Dirs[i], &p.dirs[i]
		t, pt := &conn.TCP[i], &p.tcp[i]
		pt0 := c.point(MeasConnection, end)
		pt0.Tags = append(pt0.Tags,
			tagClient.Of(sr.client),
			tagDir.Of(zmtp.Dir(i).String()),
			tagHost.Of(c.host),
			tagMechanism.Of(conn.Mechanism.String()),
			tagReceiver.Of(sockName(conn.Sides[1-i].SocketType)),
			tagSender.Of(sockName(conn.Sides[i].SocketType)),
			tagServer.Of(sr.server))
		msgs := d.Messages - pd.Messages
		bytes := d.Bytes - pd.Bytes
		pt0.AddField(fieldMessages.Int(int64(msgs)))
		pt0.AddField(fieldFrames.Int(int64(d.Frames - pd.Frames)))
		pt0.AddField(fieldBytes.Int(int64(bytes)))
		pt0.AddField(fieldCommands.Int(int64(d.Commands - pd.Commands)))
		pt0.AddField(fieldMsgRate.Float(float64(msgs) / secs))
		pt0.AddField(fieldByteRate.Float(float64(bytes) / secs))
		if d.Interval.Messages > 0 {
			pt0.AddField(fieldMsgSizeMin.Int(int64(d.Interval.MinSize)))
			pt0.AddField(fieldMsgSizeMax.Int(int64(d.Interval.MaxSize)))
			pt0.AddField(fieldMsgSizeMean.Float(float64(bytes) / float64(max(msgs, 1))))
		}
		pt0.AddField(fieldMsgsTotal.Int(int64(d.Messages)))
		pt0.AddField(fieldFramesTotal.Int(int64(d.Frames)))
		pt0.AddField(fieldBytesTotal.Int(int64(d.Bytes)))
		pt0.AddField(fieldLostTotal.Int(int64(d.Lost)))
		pt0.AddField(fieldInFlight.Int(int64(t.InFlight())))
		pt0.AddField(fieldWindow.Int(int64(t.Window)))
		zwTime := t.ZeroWindowTime
		if !t.ZeroSince.IsZero() {
			zwTime += end.Sub(t.ZeroSince)
		}
		pt0.AddField(fieldZeroWindow.Bool(!t.ZeroSince.IsZero()))
		pt0.AddField(fieldZWEpisodes.Int(int64(t.ZeroWindows)))
		pt0.AddField(fieldZWMs.Float(float64(zwTime.Microseconds()) / 1000))
		pt0.AddField(fieldRetransmits.Int(int64(t.Retransmits - pt.Retransmits)))
		pt0.AddField(fieldWindowFull.Int(int64(t.WindowFull - pt.WindowFull)))
		if conn.HasPipes[i] {
			// libzmq's own queue depths for the sending socket (PIPES_STATS).
			pt0.AddField(fieldQueueOut.Int(int64(conn.Pipes[i].Outbound)))
			pt0.AddField(fieldQueueIn.Int(int64(conn.Pipes[i].Inbound)))
		}
		acc := c.endpoints[sr.server]
		if acc == nil {
			acc = &endpointAcc{role: sockName(conn.Sides[1].SocketType)}
			c.endpoints[sr.server] = acc
		}
		if i == 0 {
			acc.in += msgs
			if !conn.Closed {
				acc.conns++
			}
		} else {
			acc.out += msgs
		}
	}
	// Request/reply latency.
	if conn.Latency.Count > 0 || conn.Outstanding > 0 {
		lp := c.point(MeasLatency, end)
		base(lp)
		il := &conn.IntervalLatency
		lp.AddField(fieldReplies.Int(int64(il.Count)))
		if il.Count > 0 {
			lp.AddField(fieldP50.Float(ms(il.Quantile(0.5))))
			lp.AddField(fieldP99.Float(ms(il.Quantile(0.99))))
			lp.AddField(fieldMax.Float(ms(il.Max)))
		}
		lp.AddField(fieldOutstanding.Int(int64(conn.Outstanding)))
		if conn.Outstanding > 0 {
			lp.AddField(fieldOldestMs.Float(ms(end.Sub(conn.OldestRequest))))
		}
		lp.AddField(fieldRepliesTotal.Int(int64(conn.Latency.Count)))
	}
	// Subscriptions and fan-out: the SUB side is whichever side subscribed.
	if conn.PubSub {
		pub := int(conn.Subscriber.Other())
		delivered := conn.Dirs[pub].Messages - p.dirs[pub].Messages
		pubEP := sr.server
		if pub == 0 {
			pubEP = sr.client
		}
		sp := c.point(MeasSubscriber, end)
		sp.Tags = append(sp.Tags, tagClient.Of(sr.client), tagHost.Of(c.host),
			tagPublisher.Of(pubEP), tagServer.Of(sr.server))
		sp.AddField(fieldSubscriptions.Int(int64(len(conn.Subscriptions))))
		sp.AddField(fieldDelivered.Int(int64(delivered)))
		rate := float64(delivered) / secs
		sp.AddField(fieldDeliveredRate.Float(rate))
		// Compare a subscriber with the publisher's others that subscribed
		// to the same topics: those should receive the same messages.
		subs := slices.Clone(conn.Subscriptions)
		slices.Sort(subs)
		fk := pubEP + "|" + strings.Join(subs, "\x00")
		f := c.fans[fk]
		if f == nil {
			f = &fan{}
			c.fans[fk] = f
		}
		f.subs = append(f.subs, len(c.pts)-1)
		if rate > f.best {
			f.best = rate
		}
		for _, topic := range slices.Sorted(maps.Keys(conn.TopicDelivered)) {
			n := conn.TopicDelivered[topic]
			if p.topics == nil {
				p.topics = make(map[string]uint64)
			}
			if n == p.topics[topic] && !conn.Closed {
				continue // nothing delivered on this topic in the interval
			}
			tp := c.point(MeasTopic, end)
			base(tp)
			tp.AddTag(tagTopic.Name, tracker.Printable([]byte(topic)))
			tp.AddField(fieldTopicDelivered.Int(int64(n - p.topics[topic])))
			tp.AddField(fieldTopicDeliveredTotal.Int(int64(n)))
			p.topics[topic] = n
		}
	}
	p.dirs = conn.Dirs
	p.tcp = conn.TCP
}

type endpointAcc struct {
	role    string
	conns   int
	in, out uint64
}

func sockName(s zmtp.SocketType) string {
	if n := s.String(); n != "" {
		return n
	}
	return "unknown"
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// Package metrics turns the tracker's model into time series: once per interval
// of packet time it samples every connection and emits store.Points (rates,
// message sizes, request/reply latency, subscriptions, TCP backlog, endpoint
// totals). It runs on the pipeline goroutine, between the tracker and the
// store; it writes the schema of schema.go (Schema), which README.md shows.
package metrics

import (
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zspy/zspy/host"
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
	groups    *groups
	// view is the host view the connections' commands come from (nil:
	// none, every command unknown).
	view     *host.View
	subConns []subConn
	topics   map[string]string // subscription → its topic tag, at most MaxTopics
	// knownEndpoints are the endpoint tags written so far, at most MaxGroups.
	knownEndpoints map[string]struct{}
	// MonitorDropped counts monitor points that did not fit the queue.
	MonitorDropped uint64
	// GroupsOverflowed counts connection samples added to an "(other)"
	// series because a measurement had MaxGroups series already, and
	// TopicsOverflowed topic deliveries tagged OtherTopics because MaxTopics
	// topics had a tag already.
	GroupsOverflowed, TopicsOverflowed uint64
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
	pt.AddTag(tagEvent.Name, orNone(ev.Name))
	pt.AddTag(tagSource.Name, orNone(ev.Source))
	pt.AddTag(tagMonEndpoint.Name, orNone(ev.Endpoint))
	pt.AddField(fieldValue.Int(int64(ev.Value)))
	if ev.RemoteEndpoint != "" {
		pt.AddField(fieldRemoteEndpoint.Str(ev.RemoteEndpoint))
	}
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
	dirs    [2]tracker.DirStats
	tcp     [2]tracker.TCPDir
	zwTime  [2]time.Duration // zero-window time, the current episode included
	replies uint64
	topics  map[string]uint64
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

// series is what the collector keeps of one connection it follows: its
// latest record, what it had at the last sample, and the names of the
// series it adds to.
type series struct {
	rec            *tracker.Record
	prev           prev
	client, server string      // ip:port
	clientHost     string      // ip
	groups         [2]*connAgg // the zspy_connection series it added to last, per direction
	// sampled is true once the connection was sampled at an interval's end.
	sampled bool
	// lostEst estimates the messages a subscriber lost at its publisher's
	// HWM (see fan.ref); hasLost once it has one.
	lostEst int64
	hasLost bool
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
// Both lists are in ID order, and IDs only grow. The tracker keeps many
// more connections than the collector follows (closed ones it already
// emitted): each followed one is found by galloping from the last one
// found, so that following k of n records loads O(k log(n/k)) of them,
// not n.
func (c *Collector) follow(recs []*tracker.Record) {
	j := 0
	for _, sr := range c.live {
		id := sr.rec.ID
		// Every record before lo has a lower ID; the one at hi (if any) not.
		lo, hi, step := j, j, 1
		for hi < len(recs) && recs[hi].ID < id {
			lo, hi, step = hi+1, hi+1+step, step*2
		}
		hi = min(hi, len(recs))
		j = lo + sort.Search(hi-lo, func(k int) bool { return recs[lo+k].ID >= id })
		if j < len(recs) && recs[j].ID == id {
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
		sr.clientHost = r.Client.Addr().String()
		c.live = append(c.live, sr)
	}
	if len(recs) > 0 {
		c.lastID = max(c.lastID, recs[len(recs)-1].ID)
	}
}

// Sample emits one interval's points for the snapshot taken at the interval's
// end. Each point is one series of metrics.Schema: the connections that share
// its tags (server, client host, direction, socket types...) are summed into
// it, so the number of series follows the servers and client hosts, never the
// number of connections or reconnects. Past following the snapshot's records,
// its cost is proportional to the connections still open or active in the
// interval, not to all the connections the tracker keeps. The caller then
// starts the tracker's next interval (Tracker.EndInterval).
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
		c.groups = newGroups()
	}
	clear(c.fans)
	clear(c.endpoints)
	c.groups.start()
	c.subConns = c.subConns[:0]
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
		c.sampleConn(sr, end)
	}
	for i := len(kept); i < len(c.live); i++ {
		c.live[i] = nil
	}
	c.live = kept
	c.emit(end, secs)
	// Map order is random: emit in a fixed order so that a replay gives the
	// same points every time.
	for _, ep := range slices.Sorted(maps.Keys(c.endpoints)) {
		acc := c.endpoints[ep]
		pt := c.point(MeasEndpoint, end)
		pt.Tags = append(pt.Tags, tagEndpoint.Of(ep), tagHost.Of(c.host), tagRole.Of(acc.role))
		pt.AddField(fieldOpenConns.Int(int64(acc.conns)))
		pt.AddField(fieldMsgsIn.Int(int64(acc.in)))
		pt.AddField(fieldMsgsOut.Int(int64(acc.out)))
		pt.AddField(fieldMsgRateIn.Float(float64(acc.in) / secs))
		pt.AddField(fieldMsgRateOut.Float(float64(acc.out) / secs))
	}
	return c.pts
}

// fan is a publisher's subscribers with the same subscriptions in one
// interval: they should all receive the same messages.
type fan struct {
	best float64
	// idle is set when the publisher sent nothing to one of them in the
	// interval (no message, no byte waiting for its window): it was not
	// publishing, whatever the others drained, and they are not compared.
	idle bool
	// ref is the member with the most messages delivered so far, the
	// reference of the others' loss estimates, and refDelta what it got in
	// the interval.
	ref      *series
	refDelta uint64
	refKnown bool
}

// subConn is one SUB connection's part in this interval, for rate_ratio
// and lost_estimate.
type subConn struct {
	g     *subAgg
	rate  float64
	fan   *fan
	sr    *series
	delta uint64
	// known is true when the connection was sampled at the last interval
	// too (its delta covers the whole interval). The loss estimate compares
	// two connections' deltas only when both were, or both are new: a
	// subscriber that joined late is not short of what was published
	// before it came.
	known bool
}

// sampleConn adds one connection's interval, ending at end, to its series.
func (c *Collector) sampleConn(sr *series, end time.Time) {
	conn, p := sr.rec, &sr.prev
	mech := orNone(conn.Mechanism.String())
	cmds := c.commands(conn.ID)
	for i := range conn.Dirs {
		d, pd := &conn.Dirs[i], &p.dirs[i]
		t, pt := &conn.TCP[i], &p.tcp[i]
		g := c.groups.conn(connKey{server: sr.server, client: sr.clientHost, dir: uint8(i),
			sender: sockName(conn.Sides[i].SocketType), receiver: sockName(conn.Sides[1-i].SocketType), mech: mech,
			senderCmd: cmds[i], receiverCmd: cmds[1-i]}, sr.groups[i], &c.GroupsOverflowed)
		sr.groups[i] = g
		msgs := d.Messages - pd.Messages
		g.conns++
		g.msgs += msgs
		g.frames += d.Frames - pd.Frames
		g.bytes += d.Bytes - pd.Bytes
		g.cmds += d.Commands - pd.Commands
		if d.Interval.Messages > 0 {
			if g.sizeMsgs == 0 || d.Interval.MinSize < g.minSize {
				g.minSize = d.Interval.MinSize
			}
			g.maxSize = max(g.maxSize, d.Interval.MaxSize)
			g.sizeMsgs += msgs
			g.sizeBytes += d.Bytes - pd.Bytes
		}
		g.msgsTotal += msgs
		g.framesTotal += d.Frames - pd.Frames
		g.bytesTotal += d.Bytes - pd.Bytes
		g.lostTotal += d.Lost - pd.Lost
		g.inFlight += uint64(t.InFlight())
		if g.conns == 1 || uint64(t.Window) < g.window {
			g.window = uint64(t.Window)
		}
		zwTime := t.ZeroWindowTime
		if !t.ZeroSince.IsZero() {
			zwTime += end.Sub(t.ZeroSince)
			g.zeroWindows++
		}
		g.zwEpisodesTotal += t.ZeroWindows - pt.ZeroWindows
		g.zwTotal += zwTime - p.zwTime[i]
		p.zwTime[i] = zwTime
		g.retransmits += t.Retransmits - pt.Retransmits
		g.windowFull += t.WindowFull - pt.WindowFull
		if conn.HasPipes[i] {
			// libzmq's own queue depths for the sending socket (PIPES_STATS).
			g.hasPipes = true
			g.queueOut += uint64(conn.Pipes[i].Outbound)
			g.queueIn += uint64(conn.Pipes[i].Inbound)
		}
		ep := c.endpointTag(sr.server)
		acc := c.endpoints[ep]
		if acc == nil {
			acc = &endpointAcc{role: sockName(conn.Sides[1].SocketType)}
			if ep == OtherClients {
				acc.role = OtherClients
			}
			c.endpoints[ep] = acc
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
		g := c.groups.latency(pairKey{server: sr.server, client: sr.clientHost}, &c.GroupsOverflowed)
		il := &conn.IntervalLatency
		g.conns++
		g.replies += il.Count
		if il.Count > 0 {
			g.p50 = max(g.p50, il.Quantile(0.5))
			g.p99 = max(g.p99, il.Quantile(0.99))
			g.max = max(g.max, il.Max)
		}
		g.outstanding += uint64(conn.Outstanding)
		if conn.Outstanding > 0 {
			g.hasOldest = true
			g.oldest = max(g.oldest, end.Sub(conn.OldestRequest))
		}
		g.repliesTotal += conn.Latency.Count - p.replies
		p.replies = conn.Latency.Count
	}
	// Subscriptions and fan-out: the SUB side is whichever side subscribed.
	if conn.PubSub {
		pub := int(conn.Subscriber.Other())
		delivered := conn.Dirs[pub].Messages - p.dirs[pub].Messages
		pubEP, side := sr.server, "server"
		if pub == 0 {
			pubEP, side = sr.client, "client"
		}
		g := c.groups.sub(subKey{server: sr.server, client: sr.clientHost, side: side}, &c.GroupsOverflowed)
		g.conns++
		g.subscriptions += uint64(len(conn.Subscriptions))
		g.delivered += delivered
		rate := float64(delivered) / c.interval.Seconds()
		// Compare a subscriber with the publisher's others that subscribed
		// to the same topics: those should receive the same messages.
		subs := slices.Clone(conn.Subscriptions)
		slices.Sort(subs)
		fk := pubEP + "|" + strconv.Itoa(len(subs)) + "|" + strings.Join(subs, "\x00")
		f := c.fans[fk]
		if f == nil {
			f = &fan{}
			c.fans[fk] = f
		}
		if len(subs) == 0 {
			// It asked for nothing: it is compared with no one (the
			// record's NoSubscription and pub_no_subscribers say it).
			f.idle = true
		}
		if rate > f.best {
			f.best = rate
		}
		t := &conn.TCP[pub]
		if delivered == 0 && t.ZeroSince.IsZero() && t.InFlight() == 0 && t.ZeroWindowTime == p.tcp[pub].ZeroWindowTime {
			f.idle = true
		}
		if total := conn.Dirs[pub].Messages; f.ref == nil || total > f.ref.rec.Dirs[int(f.ref.rec.Subscriber.Other())].Messages {
			f.ref, f.refDelta, f.refKnown = sr, delivered, sr.sampled
		}
		c.subConns = append(c.subConns, subConn{g: g, rate: rate, fan: f, sr: sr, delta: delivered, known: sr.sampled})
		for _, topic := range slices.Sorted(maps.Keys(conn.TopicDelivered)) {
			n := conn.TopicDelivered[topic]
			if p.topics == nil {
				p.topics = make(map[string]uint64)
			}
			if n == p.topics[topic] && !conn.Closed {
				continue // nothing delivered on this topic in the interval
			}
			tg := c.groups.topic(pairKey{server: sr.server, client: sr.clientHost}, c.topicTag(topic), &c.GroupsOverflowed)
			tg.delivered += n - p.topics[topic]
			tg.total += n - p.topics[topic]
			p.topics[topic] = n
		}
	}
	p.dirs = conn.Dirs
	p.tcp = conn.TCP
	sr.sampled = true
}

// endpointTag returns the endpoint tag of a server: itself, or OtherClients
// past MaxGroups distinct ones (counted in GroupsOverflowed).
func (c *Collector) endpointTag(server string) string {
	if _, ok := c.knownEndpoints[server]; ok {
		return server
	}
	if len(c.knownEndpoints) >= MaxGroups {
		c.GroupsOverflowed++
		return OtherClients
	}
	if c.knownEndpoints == nil {
		c.knownEndpoints = make(map[string]struct{})
	}
	c.knownEndpoints[server] = struct{}{}
	return server
}

// topicTag returns the topic tag of a subscription: printable, AllTopics for
// the empty one, and OtherTopics past MaxTopics distinct ones.
func (c *Collector) topicTag(topic string) string {
	if topic == "" {
		return AllTopics
	}
	if tag, ok := c.topics[topic]; ok {
		return tag
	}
	if len(c.topics) >= MaxTopics {
		c.TopicsOverflowed++
		return OtherTopics
	}
	if c.topics == nil {
		c.topics = make(map[string]string)
	}
	tag := tracker.Printable([]byte(topic))
	c.topics[topic] = tag
	return tag
}

// emit appends the points of the series the interval's connections added to,
// in the order they were first added to.
func (c *Collector) emit(end time.Time, secs float64) {
	gs := c.groups
	for _, g := range gs.connOrder {
		pt := c.point(MeasConnection, end)
		k := &g.key
		// Tags sorted by key.
		pt.Tags = append(pt.Tags,
			tagClientHost.Of(k.client),
			tagDir.Of(zmtp.Dir(k.dir).String()),
			tagHost.Of(c.host),
			tagMechanism.Of(k.mech),
			tagReceiver.Of(k.receiver),
			tagReceiverCmd.Of(k.receiverCmd),
			tagSender.Of(k.sender),
			tagSenderCmd.Of(k.senderCmd),
			tagServer.Of(k.server))
		pt.AddField(fieldConns.Int(int64(g.conns)))
		pt.AddField(fieldMessages.Int(int64(g.msgs)))
		pt.AddField(fieldFrames.Int(int64(g.frames)))
		pt.AddField(fieldBytes.Int(int64(g.bytes)))
		pt.AddField(fieldCommands.Int(int64(g.cmds)))
		pt.AddField(fieldMsgRate.Float(float64(g.msgs) / secs))
		pt.AddField(fieldByteRate.Float(float64(g.bytes) / secs))
		if g.sizeMsgs > 0 {
			pt.AddField(fieldMsgSizeMin.Int(int64(g.minSize)))
			pt.AddField(fieldMsgSizeMax.Int(int64(g.maxSize)))
			pt.AddField(fieldMsgSizeMean.Float(float64(g.sizeBytes) / float64(g.sizeMsgs)))
		}
		pt.AddField(fieldMsgsTotal.Int(int64(g.msgsTotal)))
		pt.AddField(fieldFramesTotal.Int(int64(g.framesTotal)))
		pt.AddField(fieldBytesTotal.Int(int64(g.bytesTotal)))
		pt.AddField(fieldLostTotal.Int(int64(g.lostTotal)))
		pt.AddField(fieldInFlight.Int(int64(g.inFlight)))
		pt.AddField(fieldWindow.Int(int64(g.window)))
		pt.AddField(fieldZeroWindows.Int(int64(g.zeroWindows)))
		pt.AddField(fieldZWEpisodes.Int(int64(g.zwEpisodesTotal)))
		pt.AddField(fieldZWMs.Float(float64(g.zwTotal.Microseconds()) / 1000))
		pt.AddField(fieldRetransmits.Int(int64(g.retransmits)))
		pt.AddField(fieldWindowFull.Int(int64(g.windowFull)))
		if g.hasPipes {
			pt.AddField(fieldQueueOut.Int(int64(g.queueOut)))
			pt.AddField(fieldQueueIn.Int(int64(g.queueIn)))
		}
	}
	for _, g := range gs.latOrder {
		lp := c.point(MeasLatency, end)
		lp.Tags = append(lp.Tags, tagClientHost.Of(g.key.client), tagHost.Of(c.host), tagServer.Of(g.key.server))
		lp.AddField(fieldConns.Int(int64(g.conns)))
		lp.AddField(fieldReplies.Int(int64(g.replies)))
		if g.replies > 0 {
			lp.AddField(fieldP50.Float(ms(g.p50)))
			lp.AddField(fieldP99.Float(ms(g.p99)))
			lp.AddField(fieldMax.Float(ms(g.max)))
		}
		lp.AddField(fieldOutstanding.Int(int64(g.outstanding)))
		if g.hasOldest {
			lp.AddField(fieldOldestMs.Float(ms(g.oldest)))
		}
		lp.AddField(fieldRepliesTotal.Int(int64(g.repliesTotal)))
	}
	for _, sc := range c.subConns {
		if sc.fan.ref != sc.sr && sc.known == sc.fan.refKnown {
			sc.sr.lostEst += int64(sc.fan.refDelta) - int64(sc.delta)
			sc.sr.hasLost = true
		}
		if sc.sr.hasLost {
			sc.g.hasLost = true
			sc.g.lostEst += uint64(max(sc.sr.lostEst, 0))
		}
		if sc.fan.idle {
			continue // the publisher was not sending to all of them
		}
		ratio := 1.0
		if sc.fan.best > 0 {
			ratio = sc.rate / sc.fan.best
		}
		if g := sc.g; !g.hasRatio || ratio < g.ratio {
			g.hasRatio, g.ratio, g.best = true, ratio, sc.fan.best
		}
	}
	for _, g := range gs.subOrder {
		sp := c.point(MeasSubscriber, end)
		sp.Tags = append(sp.Tags, tagClientHost.Of(g.key.client), tagHost.Of(c.host),
			tagPubSide.Of(g.key.side), tagServer.Of(g.key.server))
		sp.AddField(fieldConns.Int(int64(g.conns)))
		sp.AddField(fieldSubscriptions.Int(int64(g.subscriptions)))
		sp.AddField(fieldDelivered.Int(int64(g.delivered)))
		sp.AddField(fieldDeliveredRate.Float(float64(g.delivered) / secs))
		if g.hasRatio {
			sp.AddField(fieldBestRate.Float(g.best))
			sp.AddField(fieldRateRatio.Float(g.ratio))
		}
		if g.hasLost {
			sp.AddField(fieldLostEstimate.Int(int64(g.lostEst)))
		}
	}
	for _, g := range gs.topicOrder {
		tp := c.point(MeasTopic, end)
		tp.Tags = append(tp.Tags, tagClientHost.Of(g.key.client), tagHost.Of(c.host), tagServer.Of(g.key.server), tagTopic.Of(g.topic))
		tp.AddField(fieldTopicDelivered.Int(int64(g.delivered)))
		tp.AddField(fieldTopicDeliveredTotal.Int(int64(g.total)))
	}
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

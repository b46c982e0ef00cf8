package metrics

import "time"

// The collector sums the connections that share a series' tags into one
// point per series and interval: InfluxDB keeps one point per series and
// timestamp (a second one overwrites the first), and tags must not carry the
// client's ephemeral port, or every reconnect would make new series. A
// series' running totals ("so far") live here for as long as the collector,
// so they only grow; at most MaxGroups series per measurement are kept, and
// past them connections are added to one "(other)" series, counted.

// connKey names a zspy_connection series (the host tag is the collector's).
type connKey struct {
	server, client         string // client: the client host
	sender, receiver, mech string
	// senderCmd, receiverCmd: the ends' commands from the host view
	// ("unknown" without one).
	senderCmd, receiverCmd string
	dir                    uint8
}

// pairKey names a series of a server and a client host.
type pairKey struct{ server, client string }

// subKey names a zspy_subscriber series.
type subKey struct{ server, client, side string }

// topicKey names a zspy_topic series.
type topicKey struct {
	pairKey
	topic string
}

// connAgg is one zspy_connection series: this interval's sums, and totals.
type connAgg struct {
	key     connKey
	touched bool // added to in this interval

	conns                         int
	msgs, frames, bytes, cmds     uint64
	minSize, maxSize              uint64
	sizeMsgs, sizeBytes           uint64 // of the connections with message sizes
	inFlight, window, zeroWindows uint64
	retransmits, windowFull       uint64
	hasPipes                      bool
	queueOut, queueIn             uint64
	msgsTotal, framesTotal        uint64
	bytesTotal, lostTotal         uint64
	zwEpisodesTotal               uint64
	zwTotal                       time.Duration
}

func (g *connAgg) reset() {
	g.conns, g.msgs, g.frames, g.bytes, g.cmds = 0, 0, 0, 0, 0
	g.minSize, g.maxSize, g.sizeMsgs, g.sizeBytes = 0, 0, 0, 0
	g.inFlight, g.window, g.zeroWindows, g.retransmits, g.windowFull = 0, 0, 0, 0, 0
	g.hasPipes, g.queueOut, g.queueIn = false, 0, 0
}

// latAgg is one zspy_latency series.
type latAgg struct {
	key     pairKey
	touched bool

	conns                 int
	replies, outstanding  uint64
	p50, p99, max, oldest time.Duration
	hasOldest             bool
	repliesTotal          uint64
}

func (g *latAgg) reset() {
	g.conns, g.replies, g.outstanding = 0, 0, 0
	g.p50, g.p99, g.max, g.oldest, g.hasOldest = 0, 0, 0, 0, false
}

// subAgg is one zspy_subscriber series.
type subAgg struct {
	key     subKey
	touched bool

	conns                    int
	subscriptions, delivered uint64
	hasRatio                 bool
	ratio, best              float64
	hasLost                  bool
	lostEst                  uint64
}

func (g *subAgg) reset() {
	g.conns, g.subscriptions, g.delivered = 0, 0, 0
	g.hasRatio, g.ratio, g.best = false, 0, 0
	g.hasLost, g.lostEst = false, 0
}

// topicAgg is one zspy_topic series.
type topicAgg struct {
	key     pairKey
	topic   string
	touched bool

	delivered, total uint64
}

// groups holds every series the collector has written, per measurement, and
// the ones added to in the current interval in the order they were first
// added to (the connections' ID order), which is the order of the points.
type groups struct {
	conns  map[connKey]*connAgg
	lats   map[pairKey]*latAgg
	subs   map[subKey]*subAgg
	topics map[topicKey]*topicAgg

	connOrder  []*connAgg
	latOrder   []*latAgg
	subOrder   []*subAgg
	topicOrder []*topicAgg
}

func newGroups() *groups {
	return &groups{conns: map[connKey]*connAgg{}, lats: map[pairKey]*latAgg{},
		subs: map[subKey]*subAgg{}, topics: map[topicKey]*topicAgg{}}
}

// start begins an interval.
func (gs *groups) start() {
	for _, g := range gs.connOrder {
		g.touched = false
		g.reset()
	}
	for _, g := range gs.latOrder {
		g.touched = false
		g.reset()
	}
	for _, g := range gs.subOrder {
		g.touched = false
		g.reset()
	}
	for _, g := range gs.topicOrder {
		g.touched, g.delivered = false, 0
	}
	gs.connOrder, gs.latOrder = gs.connOrder[:0], gs.latOrder[:0]
	gs.subOrder, gs.topicOrder = gs.subOrder[:0], gs.topicOrder[:0]
}

// lookup finds or makes the series of key k in m, putting it in the
// interval's order the first time it is added to. A new series past
// MaxGroups becomes the series other instead, and *overflowed counts it.
func lookup[K comparable, G any](m map[K]*G, k, other K, order *[]*G, overflowed *uint64,
	mk func(K) *G, touched func(*G) *bool) *G {
	g := m[k]
	if g == nil {
		if len(m) >= MaxGroups {
			*overflowed++
			k = other
			g = m[k]
		}
		if g == nil {
			g = mk(k)
			m[k] = g
		}
	}
	if t := touched(g); !*t {
		*t = true
		*order = append(*order, g)
	}
	return g
}

// conn returns the zspy_connection series of key k; cached is the series
// the connection added to last time (nil at first), taken again while its
// key is k, which saves hashing the key.
func (gs *groups) conn(k connKey, cached *connAgg, overflowed *uint64) *connAgg {
	if cached != nil && cached.key == k {
		if !cached.touched {
			cached.touched = true
			gs.connOrder = append(gs.connOrder, cached)
		}
		return cached
	}
	other := connKey{server: OtherClients, client: OtherClients, sender: OtherClients, receiver: OtherClients, mech: OtherClients,
		senderCmd: OtherClients, receiverCmd: OtherClients, dir: k.dir}
	return lookup(gs.conns, k, other, &gs.connOrder, overflowed,
		func(k connKey) *connAgg { return &connAgg{key: k} }, func(g *connAgg) *bool { return &g.touched })
}

func (gs *groups) latency(k pairKey, overflowed *uint64) *latAgg {
	return lookup(gs.lats, k, pairKey{OtherClients, OtherClients}, &gs.latOrder, overflowed,
		func(k pairKey) *latAgg { return &latAgg{key: k} }, func(g *latAgg) *bool { return &g.touched })
}

func (gs *groups) sub(k subKey, overflowed *uint64) *subAgg {
	return lookup(gs.subs, k, subKey{OtherClients, OtherClients, k.side}, &gs.subOrder, overflowed,
		func(k subKey) *subAgg { return &subAgg{key: k} }, func(g *subAgg) *bool { return &g.touched })
}

func (gs *groups) topic(k pairKey, topic string, overflowed *uint64) *topicAgg {
	return lookup(gs.topics, topicKey{k, topic}, topicKey{pairKey{OtherClients, OtherClients}, OtherTopics}, &gs.topicOrder, overflowed,
		func(k topicKey) *topicAgg { return &topicAgg{key: k.pairKey, topic: k.topic} }, func(g *topicAgg) *bool { return &g.touched })
}

package pipeline

import (
	"cmp"
	"slices"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/reassembly"
)

// merger puts the workers' batches back into one order and does their
// calls on the tracker, on the pipeline's goroutine.
type merger struct {
	p       *Pipeline
	workers []*worker
	wake    chan struct{}
	heads   []*batch // the batch being read, per worker (nil: none)
	pos     []int
	promise []int64
	ended   []bool
	nEnded  int
	streams [][]stream
	stats   []reassembly.Stats
	waits   []uint64
	runs    []run
	seg     capture.Segment // the packet whose calls are being done
	// admit, when set, sees each packet before its calls are done; onRaw,
	// with the workers keeping raw bytes, gets them.
	admit func(seg *capture.Segment)
	onRaw func(seg *capture.Segment, raw []byte, wire int)
	// renumber gives packets the merged order's numbers (live: each ring
	// counts its own).
	renumber bool
	num      uint64
	// gotLast: the worker's last batch came. finishing lets the workers'
	// end-of-capture flushes be done (Pipeline.Finish).
	gotLast   []bool
	finishing bool
	// discard: the run stopped at its count of packets; the packets the
	// workers read past it are counted here and left out (their
	// connections' closes happen as the end's would).
	discard   bool
	discarded struct{ packets, bytes uint64 }
}

// stream is the tracker's stream behind a worker's handle.
type stream struct {
	s     reassembly.Stream
	first uint64 // the number of the packet that opened it
}

func newMerger(p *Pipeline, workers []*worker, wake chan struct{}) *merger {
	n := len(workers)
	return &merger{p: p, workers: workers, wake: wake, heads: make([]*batch, n), pos: make([]int, n),
		promise: make([]int64, n), ended: make([]bool, n), gotLast: make([]bool, n), streams: make([][]stream, n), stats: make([]reassembly.Stats, n), waits: make([]uint64, n)}
}

// head returns worker i's next call, taking its next batch if it has one
// ready; ok is false when none is at hand.
func (m *merger) head(i int) (*call, bool) {
	for {
		if b := m.heads[i]; b != nil {
			if m.pos[i] < len(b.calls) {
				return &b.calls[m.pos[i]], true
			}
			m.promise[i], m.stats[i], m.waits[i] = b.promise, b.stats, b.waits
			if b.last {
				m.ended[i] = true
				m.nEnded++
			} else {
				m.workers[i].free <- b
			}
			m.heads[i] = nil
		}
		if m.ended[i] {
			return nil, false
		}
		select {
		case b := <-m.workers[i].out:
			m.heads[i], m.pos[i] = b, 0
			m.gotLast[i] = b.last
		default:
			return nil, false
		}
	}
}

// step does the next group of calls in the merged order. It reports false
// when it cannot tell which goes next until a worker sends more (or all
// have ended).
func (m *merger) step() bool {
	best, bestKey := -1, int64(0)
	for i := range m.workers {
		c, ok := m.head(i)
		if !ok {
			continue
		}
		if best < 0 || c.key < bestKey {
			best, bestKey = i, c.key
		}
	}
	if best < 0 || (bestKey == maxKey && !m.finishing) {
		return false
	}
	// A worker without calls at hand may still send a group that goes
	// first: only its promise says it will not.
	for i := range m.workers {
		if m.heads[i] == nil && !m.ended[i] && m.promise[i] <= bestKey {
			return false
		}
	}
	m.group(best)
	return true
}

// group does worker i's next group of calls: a packet's, or a mark's.
func (m *merger) group(i int) {
	b := m.heads[i]
	start := &b.calls[m.pos[i]]
	if start.kind == callMark {
		m.marks(start.key, uint64(start.n))
		return
	}
	calls := m.take(i)
	if m.discard && start.kind == callPacket {
		m.discarded.packets++
		m.discarded.bytes += uint64(start.wire)
		m.leaveOut(i, b, calls)
		return
	}
	var seg *capture.Segment
	if start.kind == callPacket {
		m.seg = b.segs[start.n]
		seg = &m.seg
		if m.renumber {
			m.num++
			seg.Num = m.num
		}
		if m.onRaw != nil {
			m.onRaw(seg, b.data[start.off:start.off+start.m], start.wire)
		}
		if m.admit != nil {
			m.admit(seg)
		}
	}
	m.do(i, b, calls, seg, time.Time{})
}

// take returns the calls of worker i's head group, after its opening call,
// and moves past them.
func (m *merger) take(i int) []call {
	b := m.heads[i]
	m.pos[i]++
	end := m.pos[i]
	for end < len(b.calls) && !b.calls[end].kind.opens() {
		end++
	}
	calls := b.calls[m.pos[i]:end]
	m.pos[i] = end
	return calls
}

// run is one connection's calls in a mark's group (those that end in its
// Close), with the number of the packet that opened it.
type run struct {
	w     int
	b     *batch
	calls []call
	first uint64
}

// marks does the groups every worker opened with a mark of this key — the
// idle check or the holes' grace every worker ran at the same packet, or
// the end of the capture — one connection after the other in the order
// they opened, as one reassembler closes them. A live worker's end has no
// capture's last packet time: its closes happen at it at the earliest, as
// Assembler.FlushAll has them.
func (m *merger) marks(key int64, num uint64) {
	if num != 0 {
		m.p.Tracker.Packet = num
	}
	m.runs = m.runs[:0]
	for j := range m.workers {
		c, ok := m.head(j)
		if !ok || c.kind != callMark || c.key != key {
			continue
		}
		b := m.heads[j]
		calls := m.take(j)
		for len(calls) > 0 {
			n := 0
			for n < len(calls) && calls[n].kind != callClose {
				n++
			}
			n = min(n+1, len(calls))
			r := run{w: j, b: b, calls: calls[:n]}
			if h := calls[n-1].h; calls[n-1].kind == callClose && int(h) < len(m.streams[j]) {
				r.first = m.streams[j][h].first
			}
			m.runs = append(m.runs, r)
			calls = calls[n:]
		}
	}
	slices.SortStableFunc(m.runs, func(x, y run) int { return cmp.Compare(x.first, y.first) })
	var atLeast time.Time
	if key == maxKey && m.renumber {
		atLeast = m.p.lastTS
	}
	for _, r := range m.runs {
		m.do(r.w, r.b, r.calls, nil, atLeast)
	}
	clear(m.runs)
}

const maxKey = int64(^uint64(0) >> 1)

// do the calls of one group; a panic is a warning naming the packet and
// connection, as Pipeline.Packet makes it, and the rest of the group is
// left out.
func (m *merger) do(i int, b *batch, calls []call, seg *capture.Segment, atLeast time.Time) {
	p := m.p
	if seg != nil {
		p.packets++
		p.Tracker.Packet = seg.Num
	}
	defer func() {
		if r := recover(); r != nil {
			p.panics++
			if seg != nil {
				p.Warn("%s: internal error (connection %s:%d - %s:%d): %v", p.Where(seg), seg.Src, seg.SrcPort, seg.Dst, seg.DstPort, r)
			} else {
				p.Warn("internal error: %v", r)
			}
		}
		if seg != nil {
			p.lastTS = seg.TS
		}
	}()
	tab := m.streams[i]
	for k := range calls {
		c := &calls[k]
		if c.kind == callClose && atLeast.After(c.ts) {
			c.ts = atLeast
		}
		switch c.kind {
		case callWarn:
			p.Warn("%s", b.warns[c.n])
		case callNew:
			info := b.infos[c.n]
			info.Serial = m.serial(i, info.Serial)
			if info.Resumes != 0 {
				info.Resumes = m.serial(i, info.Resumes)
			}
			if seg != nil {
				info.FirstPacket = seg.Num
			}
			tab = m.setStream(i, c.h, stream{s: p.Tracker.New(info), first: info.FirstPacket})
		case callSegment:
			if s := tab[c.h].s; s != nil {
				s.Segment(c.dir, seg)
			}
		case callData:
			if s := tab[c.h].s; s != nil {
				s.Data(c.dir, b.data[c.off:c.off+c.n], c.ts)
			}
		case callSkip:
			if s := tab[c.h].s; s != nil {
				s.Skip(c.dir, c.n, c.ts)
			}
		case callClose:
			if s := tab[c.h].s; s != nil {
				tab[c.h].s = nil
				s.Close(c.reason, c.ts)
			}
		}
	}
}

// leaveOut passes over a discarded packet's calls: a connection it opened
// is not made (its later calls are left out too), one it closed is closed
// as the end of the capture closes what is open.
func (m *merger) leaveOut(i int, b *batch, calls []call) {
	tab := m.streams[i]
	for k := range calls {
		c := &calls[k]
		switch c.kind {
		case callNew:
			tab = m.setStream(i, c.h, stream{})
		case callClose:
			if s := tab[c.h].s; s != nil {
				tab[c.h].s = nil
				ts := c.ts
				if m.p.lastTS.After(ts) {
					ts = m.p.lastTS
				}
				s.Close(reassembly.CloseEnd, ts)
			}
		}
	}
}

// setStream puts st behind worker i's handle h (the table grows to it) and
// returns the table.
func (m *merger) setStream(i int, h uint32, st stream) []stream {
	tab := m.streams[i]
	for int(h) >= len(tab) {
		tab = append(tab, stream{})
	}
	tab[h] = st
	m.streams[i] = tab
	return tab
}

// serial makes worker i's connection serial number unique across workers.
func (m *merger) serial(i int, s uint64) uint64 {
	return (s-1)*uint64(len(m.workers)) + uint64(i) + 1
}

// asmStats sums the workers' reassembler counters.
func (m *merger) asmStats() reassembly.Stats {
	var s reassembly.Stats
	for _, w := range m.stats {
		s.Add(w)
	}
	return s
}

// caughtUp reports whether every call with a key below key is done: every
// worker has promised no more and has none at hand.
func (m *merger) caughtUp(key int64) bool {
	for i := range m.workers {
		if m.ended[i] {
			continue
		}
		if _, ok := m.head(i); ok || m.promise[i] < key {
			return false
		}
	}
	return true
}

// atEnd reports whether every worker has sent its last batch and all its
// calls before its end-of-capture flush are done.
func (m *merger) atEnd() bool {
	for i := range m.workers {
		if m.ended[i] {
			continue
		}
		c, ok := m.head(i)
		if !m.gotLast[i] || !ok || c.kind != callMark || c.key != maxKey {
			return false
		}
	}
	return true
}

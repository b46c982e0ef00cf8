package capture

import (
	"container/heap"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"
)

// DefaultDuplicateWindow is how far apart in time two copies of one packet,
// seen in two of the merged captures, may be and still be counted as one.
const DefaultDuplicateWindow = time.Second

// maxDupEntries caps the packets a MergeSource remembers to find copies of:
// the memory the duplicate detection costs, whatever the captures hold.
const maxDupEntries = 1 << 16

var _ Source = (*MergeSource)(nil)

// MergeSource reads several captures at once and yields their TCP segments
// in timestamp order (mergecap's merge): a k-way merge over the next segment
// of each source, ties going to the source given first. Captures taken on
// two hosts both hold the packets of a connection between those hosts: a
// segment that another source already gave within the duplicate window (same
// addresses and ports, sequence and acknowledgement numbers, flags and
// payload length) is counted in Stats.Duplicates and not given again.
//
// A source that fails is named in a warning (a *PacketError) and the merge
// goes on with the others. It is not safe for concurrent use.
type MergeSource struct {
	srcs   []Source
	heads  []mergeHead
	h      mergeHeap
	cur    int   // the source of the segment given last, -1 before
	need   []int // the sources whose head is to be read next (at most all of them)
	inited bool
	window time.Duration

	dups        map[dupKey]dupEntry
	order       []dupKey // the remembered keys, oldest first (a ring of maxDupEntries)
	first       int      // order's oldest entry
	seq         uint64   // entries added so far: tells a live entry from a reused key
	dupN        uint64
	evicted     uint64 // entries forgotten before the window passed (cap reached)
	saidEvicted bool
}

type mergeHead struct {
	seg Segment
	buf []byte
}

type dupKey struct {
	src, dst         netip.Addr
	srcPort, dstPort uint16
	seq, ack         uint32
	flags            uint8
	payloadLen       int
}

type dupEntry struct {
	ts   time.Time
	file int
	n    uint64 // the entry's sequence number (ring slot owner)
}

// NewMergeSource merges srcs; window is the duplicate window (0: the default,
// negative: no duplicate detection). It takes ownership: Close closes them all.
func NewMergeSource(srcs []Source, window time.Duration) *MergeSource {
	if window == 0 {
		window = DefaultDuplicateWindow
	}
	m := &MergeSource{srcs: srcs, heads: make([]mergeHead, len(srcs)), cur: -1, window: window}
	if window > 0 {
		m.dups = make(map[dupKey]dupEntry)
	}
	return m
}

// Name names the source of the segment given last (so a warning about it
// names its file), or all the sources before the first.
func (m *MergeSource) Name() string {
	if m.cur >= 0 {
		return sourceName(m.srcs[m.cur], m.cur)
	}
	names := make([]string, len(m.srcs))
	for i, s := range m.srcs {
		names[i] = sourceName(s, i)
	}
	return strings.Join(names, " + ")
}

func sourceName(s Source, i int) string {
	if n, ok := s.(interface{ Name() string }); ok && n.Name() != "" {
		return n.Name()
	}
	return fmt.Sprintf("source %d", i+1)
}

// Next fills seg with the earliest segment of all the sources; see Source.
func (m *MergeSource) Next(seg *Segment) error {
	if !m.inited {
		m.inited = true
		for i := range m.srcs {
			m.need = append(m.need, i)
		}
	}
	for {
		// The sources without a head read theirs first; a warning is
		// returned as it comes (one held at a time, whatever a file holds).
		for len(m.need) > 0 {
			if err := m.fill(m.need[0]); err != nil {
				return err
			}
		}
		if len(m.h) == 0 {
			if m.evicted > 0 && !m.saidEvicted {
				m.saidEvicted = true
				m.cur = -1
				return &PacketError{File: m.Name(), Packet: m.Stats().Packets, Err: fmt.Errorf(
					"merge: %d segments forgotten by the duplicate detection within their %s window (more than %d in one window): a copy of one of them counts twice",
					m.evicted, m.window, maxDupEntries)}
			}
			return io.EOF
		}
		i := heap.Pop(&m.h).(int)
		// The head's payload stays valid until the next call, which reads
		// the source's next segment over it.
		m.need = append(m.need, i)
		if m.duplicate(i) {
			continue
		}
		*seg = m.heads[i].seg
		m.cur = i
		return nil
	}
}

// fill reads source need[0]'s next segment into its head and pushes it on
// the heap, or finds the source's end. It returns a packet warning of the
// source, after which need[0] is read again; a source that fails is said in
// a warning and left.
func (m *MergeSource) fill(i int) error {
	hd := &m.heads[i]
	err := m.srcs[i].Next(&hd.seg)
	if err == nil {
		// The source's payload is valid only until its next call: keep a
		// copy (bounded by the record cap, as the source's own buffer).
		hd.buf = append(hd.buf[:0], hd.seg.Payload...)
		hd.seg.Payload = hd.buf
		heap.Push(&m.h, mergeItem{m, i})
		m.need = m.need[1:]
		return nil
	}
	var pe *PacketError
	if errors.As(err, &pe) {
		return err
	}
	m.need = m.need[1:]
	if err == io.EOF {
		return nil
	}
	name := sourceName(m.srcs[i], i)
	// The warning names the source; the error need not name it again.
	cause := err
	if msg := err.Error(); strings.HasPrefix(msg, name+": ") {
		cause = errors.New(strings.TrimPrefix(msg, name+": "))
	}
	return &PacketError{File: name, Packet: m.srcs[i].Stats().Packets + 1,
		Err: fmt.Errorf("capture failed, the merge goes on without the rest of it: %w", cause)}
}

// duplicate reports whether source i's head is a copy of a segment another
// source gave within the window, and remembers it otherwise.
func (m *MergeSource) duplicate(i int) bool {
	if m.dups == nil || len(m.srcs) < 2 {
		return false
	}
	s := &m.heads[i].seg
	k := dupKey{src: s.Src, dst: s.Dst, srcPort: s.SrcPort, dstPort: s.DstPort, seq: s.Seq, ack: s.Ack, flags: s.Flags, payloadLen: s.PayloadLen}
	if e, ok := m.dups[k]; ok && e.file != i && s.TS.Sub(e.ts) <= m.window {
		// One copy each: the entry is used up, so that a retransmission,
		// seen in both captures too, counts once again.
		delete(m.dups, k)
		m.dupN++
		return true
	}
	if len(m.order) < maxDupEntries {
		m.order = append(m.order, k)
	} else {
		old := m.order[m.first]
		if e, ok := m.dups[old]; ok && e.n == m.seq-uint64(maxDupEntries) {
			if s.TS.Sub(e.ts) <= m.window {
				m.evicted++
			}
			delete(m.dups, old)
		}
		m.order[m.first] = k
		m.first = (m.first + 1) % maxDupEntries
	}
	m.dups[k] = dupEntry{ts: s.TS, file: i, n: m.seq}
	m.seq++
	return false
}

// DuplicatesForgotten counts segments the duplicate detection forgot before
// their window passed (more than it keeps within one window): a copy of one
// of them would be given twice.
func (m *MergeSource) DuplicatesForgotten() uint64 { return m.evicted }

// Stats returns the sum of the sources' counters, with the copies found in
// Duplicates.
func (m *MergeSource) Stats() Stats {
	var st Stats
	for _, s := range m.srcs {
		st.Add(s.Stats())
	}
	st.Duplicates += m.dupN
	return st
}

// Close closes every source.
func (m *MergeSource) Close() error {
	var errs []error
	for _, s := range m.srcs {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// TakeAnnotations returns the zspy custom blocks the merged files carried
// (see FileSource.TakeAnnotations).
func (m *MergeSource) TakeAnnotations() []Annotation {
	var out []Annotation
	for _, s := range m.srcs {
		if a, ok := s.(interface{ TakeAnnotations() []Annotation }); ok {
			out = append(out, a.TakeAnnotations()...)
		}
	}
	return out
}

// AnnotationsDropped sums the sources' dropped annotations.
func (m *MergeSource) AnnotationsDropped() uint64 {
	var n uint64
	for _, s := range m.srcs {
		if a, ok := s.(interface{ AnnotationsDropped() uint64 }); ok {
			n += a.AnnotationsDropped()
		}
	}
	return n
}

// mergeHeap holds the sources with a head, earliest head first.
type mergeHeap []mergeItem

type mergeItem struct {
	m *MergeSource
	i int
}

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(a, b int) bool {
	ta, tb := h[a].m.heads[h[a].i].seg.TS, h[b].m.heads[h[b].i].seg.TS
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return h[a].i < h[b].i
}
func (h mergeHeap) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(mergeItem)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x.i
}

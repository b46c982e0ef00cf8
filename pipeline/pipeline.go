// Package pipeline wires zspy's stages together for one run: a capture source
// feeds the reassembler, whose streams are the tracker's connections (each with
// its ZMTP dissector). Replay and live capture run the same code; only the
// source differs. Everything runs on the caller's goroutine, in packet order,
// so a replayed file gives the same result every time.
package pipeline

import (
	"errors"
	"fmt"
	"io"
	"time"

	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/monitor"
	"github.com/zspy/zspy/reassembly"
	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
)

// Config configures a pipeline. The zero value works.
type Config struct {
	Tracker    tracker.Options
	Reassembly reassembly.Options
	// MaxWarnings is how many warnings are kept for the report (default 100);
	// all are counted.
	MaxWarnings int
	// IdleTimeout flushes connections silent for this long in packet time
	// (default: the reassembler's).
	IdleTimeout time.Duration
	// Report options (secrets).
	Report report.Options
	// Interval is the metrics interval in packet time (default 1 s), and Host
	// the host tag of the points (default: the machine's host name).
	Interval time.Duration
	Host     string
}

// IntervalHook receives, at each interval boundary of packet time, the
// connections and the points of the interval that just ended. It runs on the
// pipeline goroutine; points are valid only during the call, and conns is live
// state (copy, or take a Snapshot, to keep anything).
type IntervalHook func(end time.Time, conns []*tracker.Conn, points []store.Point)

// Pipeline is one run of the pipeline.
type Pipeline struct {
	cfg     Config
	Tracker *tracker.Tracker
	Asm     *reassembly.Assembler

	seg     capture.Segment
	packets uint64
	stats   capture.Stats // summed over finished sources
	cur     capture.Source
	lastTS  time.Time

	warnings      []string
	warningsTotal uint64
	panics        uint64

	metrics *metrics.Collector
	hooks   []IntervalHook

	monLogs []*monStream // recorded monitor event logs not merged to their end

	liveDrops *atomic.Uint64 // packets dropped between capture and pipeline
	monHooks  []func(*monitor.Event)
}

// New returns a pipeline with a fresh tracker and reassembler.
func New(cfg Config) *Pipeline {
	if cfg.MaxWarnings <= 0 {
		cfg.MaxWarnings = 100
	}
	cfg.Tracker.Intervals = true
	p := &Pipeline{cfg: cfg, Tracker: tracker.New(cfg.Tracker)}
	host := cfg.Host
	if host == "" {
		host, _ = os.Hostname()
	}
	p.metrics = metrics.New(host, cfg.Interval)
	if cfg.IdleTimeout > 0 {
		cfg.Reassembly.IdleTimeout = cfg.IdleTimeout
	}
	// The reassembler flushes idle connections by packet time as it goes.
	p.Asm = reassembly.New(p.Tracker, cfg.Reassembly)
	return p
}

// Warn records a warning for the report.
func (p *Pipeline) Warn(format string, args ...any) {
	p.warningsTotal++
	if len(p.warnings) < p.cfg.MaxWarnings {
		p.warnings = append(p.warnings, fmt.Sprintf(format, args...))
	}
}

// Warnings returns the warnings kept so far and how many there were in all.
func (p *Pipeline) Warnings() ([]string, uint64) { return p.warnings, p.warningsTotal }

// Run reads src to its end (or until stop returns true, checked between
// packets when non-nil), feeding every TCP segment through the pipeline.
// Packet errors become warnings and the run goes on; Run returns an error only
// when the source itself fails.
func (p *Pipeline) Run(src capture.Source, stop func() bool) error {
	p.cur = src
	defer func() {
		p.addStats(src.Stats())
		p.cur = nil
	}()
	for {
		if stop != nil && stop() {
			return nil
		}
		err := src.Next(&p.seg)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *capture.PacketError
			if errors.As(err, &pe) {
				p.Warn("%v", err)
				continue
			}
			return sourceError(src, err)
		}
		p.Packet(&p.seg)
	}
}

// sourceError names src (its file or interface) in err, unless err names it
// already.
func sourceError(src capture.Source, err error) error {
	if n, ok := src.(interface{ Name() string }); ok && n.Name() != "" && !strings.HasPrefix(err.Error(), n.Name()+":") {
		return fmt.Errorf("%s: %w", n.Name(), err)
	}
	return err
}

// Packet feeds one TCP segment through the pipeline. A panic in a stage is
// turned into a warning naming the packet, counted, and the run goes on.
func (p *Pipeline) Packet(seg *capture.Segment) {
	defer func() {
		if r := recover(); r != nil {
			p.panics++
			p.Warn("packet %d: internal error (connection %s:%d - %s:%d): %v", seg.Num, seg.Src, seg.SrcPort, seg.Dst, seg.DstPort, r)
		}
	}()
	p.packets++
	if len(p.monLogs) > 0 {
		p.mergeMonitorLogs(seg.TS, false)
	}
	if len(p.hooks) > 0 && p.metrics.Due(seg.TS) {
		p.Tick(seg.TS)
	}
	p.Tracker.Packet = seg.Num
	p.Asm.Assemble(seg)
	p.lastTS = seg.TS
}

// MonitorLog yields recorded socket-monitor events in time order, as
// `zspy monitor --json` writes them (monitor.LogReader reads such a file);
// ok is false at its end.
type MonitorLog interface {
	Next() (ev monitor.Event, ok bool)
}

// monStream is a MonitorLog with its next event read ahead.
type monStream struct {
	log  MonitorLog
	head monitor.Event
}

// AddMonitorLog merges a recorded event log into the run by time: each event
// is folded into the model just before the first packet at or after its time
// (an event out of time order in its log is folded at the next packet). Logs
// are read as the packets go, one event ahead each, so their size costs no
// memory; events of equal time go in the order the logs were added.
func (p *Pipeline) AddMonitorLog(l MonitorLog) {
	if ev, ok := l.Next(); ok {
		p.monLogs = append(p.monLogs, &monStream{log: l, head: ev})
	}
}

// MergeMonitorLog merges recorded events held in memory (sorted by time here)
// into the run, as AddMonitorLog does.
func (p *Pipeline) MergeMonitorLog(evs []monitor.Event) {
	evs = slices.Clone(evs)
	slices.SortStableFunc(evs, func(a, b monitor.Event) int { return a.Time.Compare(b.Time) })
	p.AddMonitorLog(&sliceLog{evs: evs})
}

type sliceLog struct{ evs []monitor.Event }

func (s *sliceLog) Next() (monitor.Event, bool) {
	if len(s.evs) == 0 {
		return monitor.Event{}, false
	}
	ev := s.evs[0]
	s.evs = s.evs[1:]
	return ev, true
}

// mergeMonitorLogs folds the recorded events up to t (all of them with all),
// earliest first across the logs.
func (p *Pipeline) mergeMonitorLogs(t time.Time, all bool) {
	for len(p.monLogs) > 0 {
		bi := 0
		for i, s := range p.monLogs[1:] {
			if s.head.Time.Before(p.monLogs[bi].head.Time) {
				bi = i + 1
			}
		}
		best := p.monLogs[bi]
		if !all && best.head.Time.After(t) {
			return
		}
		ev := best.head
		p.MonitorEvent(&ev)
		if next, ok := best.log.Next(); ok {
			best.head = next
		} else {
			p.monLogs = slices.Delete(p.monLogs, bi, bi+1)
		}
	}
}

// MonitorEvent folds one live socket-monitor event into the model.
func (p *Pipeline) MonitorEvent(ev *monitor.Event) {
	p.Tracker.MonitorEvent(ev)
	if len(p.hooks) > 0 {
		p.metrics.MonitorEvent(ev)
	}
	for _, h := range p.monHooks {
		h(ev)
	}
}

// AddMonitorHook registers h to see every socket-monitor event, on the
// pipeline goroutine, after the tracker folded it in.
func (p *Pipeline) AddMonitorHook(h func(*monitor.Event)) { p.monHooks = append(p.monHooks, h) }

// AddIntervalHook registers h to run at every interval boundary.
func (p *Pipeline) AddIntervalHook(h IntervalHook) { p.hooks = append(p.hooks, h) }

// Tick ends the metrics intervals that packet (or, live, wall-clock) time ts
// has passed, and runs the interval hooks for each.
func (p *Pipeline) Tick(ts time.Time) {
	if len(p.hooks) == 0 {
		return
	}
	for n := 0; p.metrics.Due(ts); n++ {
		if n == 2 {
			// A long silence: the intervals in between would all be empty.
			p.metrics.SkipTo(ts)
			if !p.metrics.Due(ts) {
				break
			}
		}
		end := p.metrics.Next()
		pts := p.metrics.Sample(end, p.Tracker.Conns())
		for _, h := range p.hooks {
			h(end, p.Tracker.Conns(), pts)
		}
	}
}

// Finish flushes the connections still open (they stay "open" in the report)
// and ends the last metrics interval.
func (p *Pipeline) Finish() {
	p.mergeMonitorLogs(time.Time{}, true)
	p.Asm.FlushAll(p.lastTS)
	if len(p.hooks) > 0 && !p.lastTS.IsZero() {
		p.Tick(p.lastTS.Add(p.metrics.Interval()))
	}
}

func (p *Pipeline) addStats(s capture.Stats) {
	p.stats.Packets += s.Packets
	p.stats.Bytes += s.Bytes
	p.stats.TCP += s.TCP
	p.stats.NonTCP += s.NonTCP
	p.stats.Truncated += s.Truncated
	p.stats.Malformed += s.Malformed
	p.stats.KernelDrops += s.KernelDrops
	p.stats.Duplicates += s.Duplicates
	p.stats.InternalDrops += s.InternalDrops
	p.stats.Fragments += s.Fragments
	p.stats.Corrupt += s.Corrupt
	p.stats.Filtered += s.Filtered
	p.stats.RingFreezes += s.RingFreezes
	p.stats.BadChecksums += s.BadChecksums
}

// Stats returns the capture counters of all sources so far.
func (p *Pipeline) Stats() capture.Stats {
	s := p.stats
	if p.cur != nil {
		c := p.cur.Stats()
		s.Packets += c.Packets
		s.Bytes += c.Bytes
		s.TCP += c.TCP
		s.NonTCP += c.NonTCP
		s.Truncated += c.Truncated
		s.Malformed += c.Malformed
		s.KernelDrops += c.KernelDrops
		s.Duplicates += c.Duplicates
		s.InternalDrops += c.InternalDrops
		s.Fragments += c.Fragments
		s.Corrupt += c.Corrupt
		s.Filtered += c.Filtered
		s.RingFreezes += c.RingFreezes
		s.BadChecksums += c.BadChecksums
	}
	if p.liveDrops != nil {
		s.InternalDrops += p.liveDrops.Load()
	}
	return s
}

// Report builds the report of everything seen so far.
func (p *Pipeline) Report() *report.Report {
	st := p.Stats()
	r := &report.Report{
		Packets:       st.Packets,
		Connections:   report.Build(p.Tracker.Conns(), p.cfg.Report),
		NonZMTPFlows:  p.Tracker.NonZMTP,
		Warnings:      append([]string(nil), p.warnings...),
		WarningsTotal: p.warningsTotal,
		MonitorPeers:  report.Peers(p.Tracker.MonitorPeers()),
		Stats: report.Stats{
			Bytes:            st.Bytes,
			TCPPackets:       st.TCP,
			NonTCPPackets:    st.NonTCP,
			TruncatedPackets: st.Truncated,
			MalformedPackets: st.Malformed,
			KernelDrops:      st.KernelDrops,
			InternalDrops:    st.InternalDrops,
			Duplicates:       st.Duplicates,
			Fragments:        st.Fragments,
			Corrupt:          st.Corrupt,
			Filtered:         st.Filtered,
			RingFreezes:      st.RingFreezes,
			BadChecksums:     st.BadChecksums,
			ConnectionsTotal: uint64(len(p.Tracker.Conns())) + p.Tracker.DroppedClosed,
			EvictedClosed:    p.Tracker.DroppedClosed,
		},
	}
	return r
}

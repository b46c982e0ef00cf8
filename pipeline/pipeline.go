// Package pipeline wires zspy's decoding stages together: a capture source
// feeds the reassembler, whose streams are the tracker's connections (each with
// its ZMTP dissector). It counts what the sources delivered, turns bad packets
// into warnings, and builds the report of the model. It has no loop of its own
// beyond Run, which reads one source to its end: the session (package
// session) owns a run — pacing, monitor events, intervals, listeners. The
// dissectors and the tracker run on the caller's goroutine, in packet order,
// so a replayed file gives the same result every time; with Config.Workers
// the reading and reassembly before them run on workers of their own, their
// output merged back into that order (fanout.go).
package pipeline

import (
	"errors"
	"fmt"
	"io"
	"time"

	"strings"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/reassembly"
	"github.com/zspy/zspy/report"
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
	// the host tag of the points (default: the machine's host name); the
	// session's metrics collector reads them.
	Interval time.Duration
	Host     string
	// Workers, above 1, spreads the per-packet work up to the byte streams
	// over this many workers, each with a reassembler of its own for its
	// share of the connections (fanout.go): a replay read with RunSpread,
	// a live capture's rings with StartLive. The report is the same.
	// Reassembly.MaxConnections is shared among them.
	Workers int
}

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

	fan *fanout // with Config.Workers above 1; Asm is nil then
}

// New returns a pipeline with a fresh tracker and reassembler.
func New(cfg Config) *Pipeline {
	if cfg.MaxWarnings <= 0 {
		cfg.MaxWarnings = 100
	}
	cfg.Tracker.Intervals = true
	p := &Pipeline{cfg: cfg, Tracker: tracker.New(cfg.Tracker)}
	if cfg.IdleTimeout > 0 {
		cfg.Reassembly.IdleTimeout = cfg.IdleTimeout
	}
	if cfg.Workers > 1 {
		p.fan = newFanout(p, min(cfg.Workers, MaxWorkers), cfg.Reassembly)
		return p
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
	if p.fan != nil {
		return p.RunSpread(src, nil, stop)
	}
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
	if n := sourceName(src); n != "" && !strings.HasPrefix(err.Error(), n+":") {
		return fmt.Errorf("%s: %w", n, err)
	}
	return err
}

// sourceName is src's file or interface name, if it has one.
func sourceName(src capture.Source) string {
	if n, ok := src.(interface{ Name() string }); ok {
		return n.Name()
	}
	return ""
}

// Packet feeds one TCP segment through the pipeline. A panic in a stage is
// turned into a warning naming the source, the packet and its connection,
// counted, and the run goes on.
func (p *Pipeline) Packet(seg *capture.Segment) {
	defer func() {
		if r := recover(); r != nil {
			p.panics++
			p.Warn("%s: internal error (connection %s:%d - %s:%d): %v", p.Where(seg), seg.Src, seg.SrcPort, seg.Dst, seg.DstPort, r)
		}
	}()
	p.packets++
	p.Tracker.Packet = seg.Num
	p.Asm.Assemble(seg)
	p.lastTS = seg.TS
}

// Where names seg's place for a warning: the source being read (its file or
// interface) and the packet's number in it.
func (p *Pipeline) Where(seg *capture.Segment) string {
	if n, ok := p.cur.(interface{ Name() string }); ok && n.Name() != "" {
		return fmt.Sprintf("%s: packet %d", n.Name(), seg.Num)
	}
	return fmt.Sprintf("packet %d", seg.Num)
}

// Packets returns how many segments were fed.
func (p *Pipeline) Packets() uint64 { return p.packets }

// LastTS returns the time of the last packet fed.
func (p *Pipeline) LastTS() time.Time { return p.lastTS }

// SetLive makes src the source being read by a live run; Stats includes its
// counters until EndLive.
func (p *Pipeline) SetLive(src capture.Source) { p.cur = src }

// EndLive ends a live source: its counters join the totals.
func (p *Pipeline) EndLive() {
	st := p.cur.Stats()
	p.cur = nil
	p.addStats(st)
}

// Finish flushes the connections still open (they stay "open" in the
// report).
func (p *Pipeline) Finish() {
	if p.fan != nil {
		p.fan.finish()
		return
	}
	p.Asm.FlushAll(p.lastTS)
}

// AsmStats returns the reassembly counters (summed over the workers).
func (p *Pipeline) AsmStats() reassembly.Stats {
	if p.fan != nil {
		if p.fan.m == nil {
			return reassembly.Stats{}
		}
		return p.fan.m.asmStats()
	}
	return p.Asm.Stats()
}

// MaxConnections is the cap on connections tracked at once, in all.
func (p *Pipeline) MaxConnections() int {
	if p.fan != nil {
		return p.fan.maxConns
	}
	return p.Asm.MaxConnections()
}

// Workers returns how many workers share the reassembly (1: none, all on
// the caller's goroutine).
func (p *Pipeline) Workers() int {
	if p.fan != nil {
		return p.fan.n
	}
	return 1
}

func (p *Pipeline) addStats(s capture.Stats) { p.stats.Add(s) }

// Stats returns the capture counters of all sources so far.
func (p *Pipeline) Stats() capture.Stats {
	s := p.stats
	if p.cur != nil {
		s.Add(p.cur.Stats())
	}
	if f := p.fan; f != nil && f.m != nil && f.m.discarded.packets > 0 {
		// Read by the workers past the count the run stopped at.
		d := f.m.discarded
		s.Packets -= min(s.Packets, d.packets)
		s.TCP -= min(s.TCP, d.packets)
		s.Bytes -= min(s.Bytes, d.bytes)
	}
	return s
}

// Report builds the report of everything seen so far.
func (p *Pipeline) Report() *report.Report {
	st := p.Stats()
	snap := p.Tracker.Snapshot(p.lastTS)
	asm := p.AsmStats()
	r := &report.Report{
		Packets:       st.Packets,
		Connections:   report.Build(snap.Records, p.cfg.Report),
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
			ConnectionsTotal: uint64(len(snap.Records)) + p.Tracker.DroppedClosed,
			EvictedClosed:    p.Tracker.DroppedClosed,
		},
	}
	r.Refused = report.Refused(snap, r.Connections)
	if asm.Evicted+asm.ForgotClosed+asm.ClosedIdle+p.Tracker.DroppedClosed+snap.RefusedTotal > 0 {
		r.Stats.Lifetime = &report.Lifetime{MaxConnections: p.MaxConnections(), Evicted: asm.Evicted, ForgotClosed: asm.ForgotClosed,
			Resumed: asm.Resumed, Unjoined: asm.Unjoined, EvictedForgotten: asm.EvictedForgotten, IdleClosed: asm.ClosedIdle,
			Summarised: report.SummarisedOf(snap.Summarised), RefusedTotal: snap.RefusedTotal, RefusedEpisodesDropped: snap.RefusedDropped}
	}
	return r
}

package session

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/zspy/zspy/host"
	"github.com/zspy/zspy/patterns"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// HostSource is the live host view the session samples (a *host.Source).
// Sample is called by one goroutine at a time; Invalidate from any.
type HostSource interface {
	Sample(now time.Time) (*host.Sample, error)
	Track(conns []host.ConnAddrs)
	Invalidate()
	Refresh()
	Stats() host.Stats
}

var _ HostSource = (*host.Source)(nil)

// hostState is the session's part of the host view: the latest View and
// what it needs to build the next.
type hostState struct {
	src    HostSource
	view   *host.View
	lastID uint64        // the highest connection ID seen by the last check for new ones
	kick   chan struct{} // asks the sampler for a sample now (a new connection)
	// busy says packets came since the sampler's last sample: without
	// them the tracked sockets' queues stay as they were, and the sampler
	// skips up to maxIdleSkips intervals.
	busy        atomic.Bool
	lastPackets uint64
	tracked     []host.ConnAddrs
	warned      bool
	// stages are the brokers, forwarders and workers at the latest sample,
	// their stalls marked against the sample before.
	stages []patterns.Stage
	// annotated are the ends of the attribution last handed to
	// Config.Annotate.
	annotated []host.AttributedEnd
}

// hostSample is one sample as the sampler hands it to the session.
type hostSample struct {
	at  time.Time
	smp *host.Sample
	err error
}

// maxIdleSkips is how many intervals in a row the sampler skips while no
// packets come: an idle host view is still sampled every maxIdleSkips+1.
const maxIdleSkips = 4

// runHostSampler takes a sample of the host's sockets every period of wall
// time (skipping up to maxIdleSkips while busy says no packets came), and
// at once when kicked (a new connection), off the session's goroutine: a
// sample looks up the tracked connections' sockets (some 0.1 ms for 10)
// and, when one is new, walks /proc (some 25 ms at 1,000 connections); not
// on the packets' path. It hands each to out and stops when ctx ends.
func runHostSampler(ctx context.Context, src HostSource, clock Clock, period time.Duration, kick <-chan struct{}, busy *atomic.Bool, out chan<- hostSample) {
	t := time.NewTicker(period)
	defer t.Stop()
	skipped := 0
	for {
		at := clock.Now()
		smp, err := src.Sample(at)
		select {
		case out <- hostSample{at: at, smp: smp, err: err}:
		case <-ctx.Done():
			return
		}
	wait:
		select {
		case <-t.C:
			if !busy.Swap(false) && skipped < maxIdleSkips {
				skipped++
				goto wait
			}
		case <-kick:
		case <-ctx.Done():
			return
		}
		skipped = 0
	}
}

// checkNewConns hands the sampler the connections to look up, and asks for
// a sample at once when the tracker created connections since the last
// check (their processes are not in the cached map yet: the sample walks
// /proc). It is called at every interval.
func (s *Session) checkNewConns(snap *tracker.Snapshot) {
	h := s.host
	if p := s.p.Packets(); p != h.lastPackets {
		h.lastPackets = p
		h.busy.Store(true)
	}
	s.track(snap)
	if n := len(snap.Records); n > 0 && snap.Records[n-1].ID > h.lastID {
		h.lastID = snap.Records[n-1].ID
		h.src.Invalidate()
		select {
		case h.kick <- struct{}{}:
		default: // one is asked for already
		}
	}
}

// track hands the source the connections whose sockets samples look up:
// the open ones, and the closed ones no sample has attributed yet. (A
// closed connection keeps the sockets it was seen with; see applyHost.)
func (s *Session) track(snap *tracker.Snapshot) {
	h := s.host
	var attributed map[uint64]host.Conn
	if h.view != nil {
		attributed = h.view.Conns
	}
	conns := h.tracked[:0]
	for _, r := range snap.Records {
		if r.Detection == zmtp.NotZMTP {
			continue
		}
		if _, had := attributed[r.ID]; r.Closed && had {
			continue
		}
		conns = append(conns, host.ConnAddrs{Client: r.Client, Server: r.Server})
	}
	h.tracked = conns
	h.src.Track(conns)
}

// applyHost attributes the snapshot's connections from a sample, into a new
// View (the session's goroutine).
func (s *Session) applyHost(hs hostSample, snap *tracker.Snapshot) {
	h := s.host
	now, smp := hs.at, hs.smp
	v := &host.View{Time: now, Stats: h.src.Stats(), Conns: make(map[uint64]host.Conn, len(snap.Records))}
	if hs.err != nil {
		if !h.warned {
			h.warned = true // said once; the view carries the latest error
			s.warn("host view: %v", hs.err)
		}
		v.Err = hs.err.Error()
	}
	var old map[uint64]host.Conn
	if h.view != nil {
		old = h.view.Conns
	}
	pids := map[int]bool{}
	for _, r := range snap.Records {
		if r.Detection == zmtp.NotZMTP {
			continue
		}
		c, had := old[r.ID]
		// A closed connection keeps the sockets it was seen with: a new
		// connection that reuses its ports must not be taken for it.
		if smp != nil && !(r.Closed && had) {
			fresh := host.Conn{Seen: now}
			fresh.Sides[0] = smp.TCPConn(r.Client, r.Server)
			fresh.Sides[1] = smp.TCPConn(r.Server, r.Client)
			if fresh.Sides[0] != nil || fresh.Sides[1] != nil {
				c, had = fresh, true
			}
		}
		if !had {
			continue
		}
		v.Conns[r.ID] = c
		for _, sd := range c.Sides {
			if sd != nil {
				for _, p := range sd.Procs {
					pids[p.PID] = true
				}
			}
		}
	}
	if smp != nil {
		keep := unixPathsOf(smp, pids)
		v.Unix = smp.UnixEndpoints(func(path string) bool { return keep[path] || s.unixAsked(path) })
	} else if h.view != nil {
		v.Unix = h.view.Unix
	}
	h.view = v
	s.annotate()
	if smp != nil {
		stages := patterns.Find(snap.Records, v)
		patterns.MarkStalls(stages, h.stages)
		h.stages = stages
	}
}

// unixPathsOf returns the bound Unix-socket paths that a process holding a
// tracked connection listens on, was accepted on, or connects to.
func unixPathsOf(smp *host.Sample, pids map[int]bool) map[string]bool {
	keep := map[string]bool{}
	if len(pids) == 0 {
		return keep
	}
	for i := range smp.Unix {
		u := &smp.Unix[i]
		if !holds(u.Owners, pids) {
			continue
		}
		if u.Path != "" {
			keep[u.Path] = true
		} else if p := smp.UnixSocket(u.Peer); p != nil && p.Path != "" {
			keep[p.Path] = true
		}
	}
	return keep
}

// unixAsked reports whether path matches Config.HostUnixPaths.
func (s *Session) unixAsked(path string) bool {
	for _, pat := range s.cfg.HostUnixPaths {
		if ok, _ := filepath.Match(pat, path); ok {
			return true
		}
	}
	return false
}

func holds(o host.Owners, pids map[int]bool) bool {
	for _, p := range o.Procs {
		if pids[p.PID] {
			return true
		}
	}
	return false
}

// finalHostSample takes one last sample when a live run ends (the sampler
// has stopped), so that the report names the processes of connections
// younger than the last sample.
func (s *Session) finalHostSample() {
	if s.host == nil {
		return
	}
	snap := s.p.Tracker.Snapshot(s.p.LastTS())
	s.track(snap)
	s.host.src.Refresh()
	at := s.clock.Now()
	smp, err := s.host.src.Sample(at)
	s.applyHost(hostSample{at: at, smp: smp, err: err}, snap)
}

// HostView returns the latest host view (nil without a host source, or
// before its first sample). Call it on the goroutine that ran Run, after it
// returned.
func (s *Session) HostView() *host.View {
	if s.host == nil {
		return nil
	}
	return s.host.view
}

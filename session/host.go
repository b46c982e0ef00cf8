package session

import (
	"path/filepath"
	"time"

	"github.com/zspy/zspy/host"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// HostSource is the live host view the session samples (a *host.Source).
type HostSource interface {
	Sample(now time.Time) (*host.Sample, error)
	Invalidate()
	Stats() host.Stats
}

var _ HostSource = (*host.Source)(nil)

// hostState is the session's part of the host view: the latest View and
// what it needs to build the next.
type hostState struct {
	src    HostSource
	view   *host.View
	lastID uint64 // the highest connection ID the last sample looked for
	warned bool
}

// sampleHost takes a sample of the host's sockets at wall time now and
// attributes the snapshot's connections from it, into a new View. A
// connection the tracker created since the last sample asks for a fresh
// walk of /proc first (Invalidate); the source limits how often that walks.
func (s *Session) sampleHost(now time.Time, snap *tracker.Snapshot) {
	h := s.host
	if h == nil {
		return
	}
	if n := len(snap.Records); n > 0 && snap.Records[n-1].ID > h.lastID {
		h.src.Invalidate()
		h.lastID = snap.Records[n-1].ID
	}
	smp, err := h.src.Sample(now)
	v := &host.View{Time: now, Stats: h.src.Stats(), Conns: make(map[uint64]host.Conn, len(snap.Records))}
	if err != nil {
		if !h.warned {
			h.warned = true // said once; the view carries the latest error
			s.warn("host view: %v", err)
		}
		v.Err = err.Error()
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
		if smp != nil {
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
	}
	h.view = v
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

// hostDue samples the host when no sample was taken for a metrics interval
// of wall time (a run whose intervals nobody consumes, or no packets).
func (s *Session) hostDue(now time.Time) {
	if s.host == nil {
		return
	}
	if v := s.host.view; v == nil || now.Sub(v.Time) >= s.metrics.Interval() {
		s.sampleHost(now, s.p.Tracker.Snapshot(s.lastTS))
	}
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

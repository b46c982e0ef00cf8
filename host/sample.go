package host

import (
	"cmp"
	"net/netip"
	"slices"
	"time"
)

// Sample is one look at the host's sockets: everything in it is immutable
// and may be shared across goroutines.
type Sample struct {
	Time time.Time
	TCP  []TCPSocket
	Unix []UnixSocket
	// Partial is set when the kernel interrupted a dump (sockets changed
	// during it): some sockets may be missing.
	Partial bool

	tcpBy  map[tcpKey]int32
	unixBy map[uint32]int32
}

type tcpKey struct{ local, remote netip.AddrPort }

// NewSample returns a sample of the given sockets, indexed for lookups.
// Source.Sample makes the real ones; this is for callers that hold socket
// facts from elsewhere (tests of what consumes samples).
func NewSample(at time.Time, tcp []TCPSocket, unix []UnixSocket) *Sample {
	s := &Sample{Time: at, TCP: tcp, Unix: unix}
	s.index()
	return s
}

// index builds the sample's lookups; call once, before it is shared.
func (s *Sample) index() {
	s.tcpBy = make(map[tcpKey]int32, len(s.TCP))
	for i := range s.TCP {
		t := &s.TCP[i]
		if t.State == 10 { // a listener is not a connection's end
			continue
		}
		k := tcpKey{t.Local, t.Remote}
		if j, ok := s.tcpBy[k]; ok && s.TCP[j].Inode != 0 && t.Inode == 0 {
			continue // a socket still held wins over a TIME_WAIT of the same ports
		}
		s.tcpBy[k] = int32(i)
	}
	s.unixBy = make(map[uint32]int32, len(s.Unix))
	for i := range s.Unix {
		s.unixBy[s.Unix[i].Inode] = int32(i)
	}
}

// TCPConn returns this host's socket of a TCP connection whose local end is
// local and remote end is remote, or nil when this host holds none.
func (s *Sample) TCPConn(local, remote netip.AddrPort) *TCPSocket {
	if s == nil {
		return nil
	}
	i, ok := s.tcpBy[tcpKey{unmap(local), unmap(remote)}]
	if !ok {
		return nil
	}
	return &s.TCP[i]
}

// UnixSocket returns the Unix socket of an inode, nil when it is not in the
// sample.
func (s *Sample) UnixSocket(inode uint32) *UnixSocket {
	if s == nil {
		return nil
	}
	i, ok := s.unixBy[inode]
	if !ok {
		return nil
	}
	return &s.Unix[i]
}

// UnixEndpoints groups the bound Unix sockets by path, in path order: each
// path's listener and the connections accepted on it with their clients.
// keep, when not nil, chooses the paths.
func (s *Sample) UnixEndpoints(keep func(path string) bool) []UnixEndpoint {
	if s == nil {
		return nil
	}
	by := map[string]*UnixEndpoint{}
	for i := range s.Unix {
		u := &s.Unix[i]
		if u.Path == "" || (keep != nil && !keep(u.Path)) {
			continue
		}
		e := by[u.Path]
		if e == nil {
			e = &UnixEndpoint{Path: u.Path}
			by[u.Path] = e
		}
		if u.Listen {
			e.Listener = u
			continue
		}
		e.Conns = append(e.Conns, UnixConn{Server: u, Client: s.UnixSocket(u.Peer)})
	}
	out := make([]UnixEndpoint, 0, len(by))
	for _, e := range by {
		slices.SortFunc(e.Conns, func(a, b UnixConn) int { return cmp.Compare(a.Server.Inode, b.Server.Inode) })
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b UnixEndpoint) int { return cmp.Compare(a.Path, b.Path) })
	return out
}

func unmap(a netip.AddrPort) netip.AddrPort {
	if a.Addr().Is4In6() {
		return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	}
	return a
}

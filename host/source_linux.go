package host

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Config configures a Source. The zero value is ready to use.
type Config struct {
	// Refresh is how often the process map is rebuilt by a walk of /proc
	// while every socket is dumped (default DefaultRefresh); while tracking
	// (Source.Track), how often the Unix sockets are dumped.
	Refresh time.Duration
	// TrackedRefresh is how often the process map is rebuilt while
	// tracking when no tracked socket asks for it (default
	// DefaultTrackedRefresh): a tracked socket whose inode the map does not
	// know, or whose process has exited, asks for a walk at once (at most
	// every MinWalkGap); this catches a socket handed to another process.
	TrackedRefresh time.Duration
	// MinWalkGap is the least time between two walks that Invalidate asks
	// for (default DefaultMinWalkGap).
	MinWalkGap time.Duration
	// Proc is the procfs root (default "/proc").
	Proc string
}

// Defaults of Config.
const (
	DefaultRefresh        = 5 * time.Second
	DefaultTrackedRefresh = 10 * time.Minute
	DefaultMinWalkGap     = time.Second
)

// Source takes Samples of this host's sockets. Sample is for one goroutine
// at a time; Invalidate and Stats may be called from any.
type Source struct {
	cfg    Config
	nl     *netlink.Handle
	w      *walker
	procs  *procMap
	walked time.Time   // time of the last walk (the caller's clock)
	stale  atomic.Bool // Invalidate was called since the last walk
	force  atomic.Bool // Refresh was called since the last walk

	// While tracking: single-socket lookups, the inodes the last walk did
	// not find (they do not ask for another), and the last Unix dump.
	diag     *diagConn
	unfound  map[uint32]bool
	unixRaw  []UnixSocket // the last Unix dump, unattributed
	unix     []UnixSocket // unixRaw attributed from the current map
	unixAt   time.Time
	unixPart bool

	mu      sync.Mutex
	stats   Stats
	tracked []ConnAddrs // nil: dump every socket
	trackOn bool
}

// New opens a netlink socket-diagnostics handle in the current network
// namespace. Dumping sockets needs no privilege; reading other users'
// /proc/PID/fd needs root (or CAP_SYS_PTRACE), else their sockets show as
// unknown and are counted in Stats.Denied.
func New(cfg Config) (*Source, error) {
	if cfg.Refresh <= 0 {
		cfg.Refresh = DefaultRefresh
	}
	if cfg.TrackedRefresh <= 0 {
		cfg.TrackedRefresh = DefaultTrackedRefresh
	}
	if cfg.MinWalkGap <= 0 {
		cfg.MinWalkGap = DefaultMinWalkGap
	}
	if cfg.Proc == "" {
		cfg.Proc = "/proc"
	}
	h, err := netlink.NewHandle(unix.NETLINK_INET_DIAG)
	if err != nil {
		return nil, fmt.Errorf("host: socket diagnostics: %w", err)
	}
	d, err := openDiag()
	if err != nil {
		h.Close()
		return nil, err
	}
	return &Source{cfg: cfg, nl: h, diag: d, w: newWalker(cfg.Proc)}, nil
}

// Close releases the netlink sockets.
func (s *Source) Close() {
	if s.nl != nil {
		s.nl.Close()
	}
	if s.diag != nil {
		s.diag.close()
	}
}

// Track makes the following samples look up the TCP sockets of these
// connections only (both ends, those on this host), instead of dumping
// every TCP socket on the machine: a sample's cost follows what the caller
// tracks. Unix sockets are dumped every Refresh. The process map is then
// rebuilt when a sample finds a socket whose inode is not in it (a new
// connection) or a tracked one whose process has exited, at most every
// MinWalkGap, and otherwise every TrackedRefresh. Until Track is called,
// samples dump every socket.
func (s *Source) Track(conns []ConnAddrs) {
	c := slices.Clone(conns)
	s.mu.Lock()
	s.tracked, s.trackOn = c, true
	s.mu.Unlock()
}

// Invalidate says the process map may miss a socket (a new connection
// appeared): the next Sample walks /proc unless one walked less than
// MinWalkGap ago.
func (s *Source) Invalidate() { s.stale.Store(true) }

// Refresh makes the next Sample walk /proc whenever the last walk was (a
// last sample at the end of a run, which must not leave a young connection
// unknown); while tracking, only if a socket found is not attributable.
func (s *Source) Refresh() { s.force.Store(true) }

// Stats returns the source's counters.
func (s *Source) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Sample dumps the host's TCP and Unix sockets and attributes them to
// processes, walking /proc first when the map is older than Refresh, or
// stale and older than MinWalkGap. now is the caller's clock. A failed dump
// is an error (the sample is nil); an interrupted one gives a Partial
// sample.
func (s *Source) Sample(now time.Time) (smp *Sample, err error) {
	defer func() {
		if r := recover(); r != nil { // a netlink message the library could not take
			smp, err = nil, fmt.Errorf("host: socket dump: %v", r)
		}
	}()
	s.mu.Lock()
	tracked, on := s.tracked, s.trackOn
	s.mu.Unlock()
	if on {
		return s.sampleTracked(now, tracked)
	}
	age := now.Sub(s.walked)
	if s.procs == nil || age >= s.cfg.Refresh || age < 0 || (s.stale.Load() && age >= s.cfg.MinWalkGap) || s.force.Load() {
		s.walk(now)
	}
	smp = &Sample{Time: now}
	var errs []error
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		res, err := s.nl.SocketDiagTCPInfo(fam)
		if err != nil {
			if !errors.Is(err, netlink.ErrDumpInterrupted) {
				errs = append(errs, fmt.Errorf("host: tcp socket dump: %w", err))
				continue
			}
			smp.Partial = true
		}
		for _, r := range res {
			smp.TCP = append(smp.TCP, s.tcpSocket(r))
		}
	}
	ures, err := s.nl.UnixSocketDiagInfo()
	if err != nil {
		if errors.Is(err, netlink.ErrDumpInterrupted) {
			smp.Partial = true
		} else {
			errs = append(errs, fmt.Errorf("host: unix socket dump: %w", err))
		}
	}
	for _, r := range ures {
		if u, ok := s.unixSocket(r); ok {
			smp.Unix = append(smp.Unix, u)
		}
	}
	return s.finish(smp, errs)
}

// sampleTracked is Sample while tracking: a lookup per tracked socket, the
// Unix dump every Refresh, and a walk of /proc only when a socket found is
// not attributable (a new connection, a process that exited), at most every
// MinWalkGap (Refresh lifts that limit), or when the map is older than
// TrackedRefresh. Nothing to attribute walks nothing.
func (s *Source) sampleTracked(now time.Time, tracked []ConnAddrs) (*Sample, error) {
	pairs := make([][2]netip.AddrPort, 0, 2*len(tracked))
	for _, c := range tracked {
		pairs = append(pairs, [2]netip.AddrPort{c.Client, c.Server}, [2]netip.AddrPort{c.Server, c.Client})
	}
	var msgs []diagMsg
	var errs []error
	if err := s.diag.lookup(pairs, func(m diagMsg) { msgs = append(msgs, m) }); err != nil {
		errs = append(errs, err)
	}
	dumped := false
	if s.unixRaw == nil || now.Sub(s.unixAt) >= s.cfg.Refresh || now.Before(s.unixAt) {
		u, partial, err := s.dumpUnix()
		if err != nil {
			errs = append(errs, err)
		} else {
			s.unixRaw, s.unixAt, s.unixPart, dumped = u, now, partial, true
		}
	}
	inodes := make([]uint32, 0, len(msgs)+len(s.unixRaw))
	for i := range msgs {
		if msgs[i].ino != 0 {
			inodes = append(inodes, msgs[i].ino)
		}
	}
	ntcp := len(inodes)
	for i := range s.unixRaw {
		inodes = append(inodes, s.unixRaw[i].Inode)
	}
	age := now.Sub(s.walked)
	force := s.force.Swap(false)
	walked := false
	if len(inodes) > 0 && (s.procs == nil || age >= s.cfg.TrackedRefresh || age < 0 ||
		((force || age >= s.cfg.MinWalkGap) && s.miss(inodes, ntcp))) {
		s.walk(now)
		walked = true
		s.unfound = map[uint32]bool{}
		for _, ino := range inodes {
			if !s.procs.byInode[ino].Known() {
				s.unfound[ino] = true
			}
		}
	}
	if s.procs == nil {
		s.procs = &procMap{}
	}
	smp := &Sample{Time: now, TCP: make([]TCPSocket, 0, len(msgs))}
	for i := range msgs {
		smp.TCP = append(smp.TCP, s.tcpSocketOf(&msgs[i]))
	}
	if walked || dumped {
		s.unix = make([]UnixSocket, len(s.unixRaw))
		for i, u := range s.unixRaw {
			u.Owners = s.procs.byInode[u.Inode]
			s.unix[i] = u
		}
	}
	smp.Unix, smp.Partial = s.unix, dumped && s.unixPart
	return s.finish(smp, errs)
}

// finish indexes a sample and counts it (and its dump errors, or a partial
// dump), for Sample and sampleTracked alike.
func (s *Source) finish(smp *Sample, errs []error) (*Sample, error) {
	smp.index()
	s.mu.Lock()
	s.stats.Samples++
	if len(errs) > 0 || smp.Partial {
		s.stats.DumpErrors++
	}
	s.mu.Unlock()
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return smp, nil
}

// miss reports whether a socket the map should attribute is not in it (and
// was not missing at the last walk already), or a process the map names for
// one of the first ntcp (the tracked TCP sockets) has exited: the socket
// lives on in another holder.
func (s *Source) miss(inodes []uint32, ntcp int) bool {
	checked := map[int]bool{}
	for i, ino := range inodes {
		if s.unfound[ino] {
			continue
		}
		o := s.procs.byInode[ino]
		if !o.Known() {
			return true
		}
		if i >= ntcp {
			continue
		}
		for _, p := range o.Procs {
			if !checked[p.PID] {
				checked[p.PID] = true
				if !s.w.alive(p) {
					return true
				}
			}
		}
	}
	return false
}

// dumpUnix dumps the Unix stream sockets, unattributed.
func (s *Source) dumpUnix() (out []UnixSocket, partial bool, err error) {
	ures, err := s.nl.UnixSocketDiagInfo()
	if err != nil {
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return nil, false, fmt.Errorf("host: unix socket dump: %w", err)
		}
		partial = true
	}
	out = []UnixSocket{}
	for _, r := range ures {
		if u, ok := unixSocketOf(r); ok {
			out = append(out, u)
		}
	}
	return out, partial, nil
}

func (s *Source) tcpSocketOf(m *diagMsg) TCPSocket {
	t := TCPSocket{Local: m.local, Remote: m.remote, State: TCPState(m.state), Inode: m.ino, UID: m.uid, RecvQ: m.rqueue, SendQ: m.wqueue}
	if i := m.info; i != nil {
		t.RTT = time.Duration(i.Rtt) * time.Microsecond
		t.Cwnd, t.Unacked, t.NotSent = i.Snd_cwnd, i.Unacked, i.Notsent_bytes
	}
	if t.Inode != 0 {
		t.Owners = s.procs.byInode[t.Inode]
	}
	return t
}

// walk rebuilds the process map; a failed walk keeps the previous map.
func (s *Source) walk(now time.Time) {
	s.walked = now
	s.stale.Store(false)
	s.force.Store(false)
	m, err := s.w.walk()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Walks++
	s.stats.LastWalk = now
	if err != nil {
		if s.procs == nil {
			s.procs = &procMap{}
		}
		return
	}
	s.procs = m
	s.stats.Denied, s.stats.Processes, s.stats.Inodes = m.denied, m.procs, len(m.byInode)
}

func (s *Source) tcpSocket(r *netlink.InetDiagTCPInfoResp) TCPSocket {
	m := r.InetDiagMsg
	t := TCPSocket{
		Local:  unmap(addrPort(m.ID.Source, m.ID.SourcePort)),
		Remote: unmap(addrPort(m.ID.Destination, m.ID.DestinationPort)),
		State:  TCPState(m.State), Inode: m.INode, UID: m.UID, RecvQ: m.RQueue, SendQ: m.WQueue,
	}
	if i := r.TCPInfo; i != nil {
		t.RTT = time.Duration(i.Rtt) * time.Microsecond
		t.Cwnd, t.Unacked, t.NotSent = i.Snd_cwnd, i.Unacked, i.Notsent_bytes
	}
	if t.Inode != 0 {
		t.Owners = s.procs.byInode[t.Inode]
	}
	return t
}

func (s *Source) unixSocket(r *netlink.UnixDiagInfoResp) (UnixSocket, bool) {
	u, ok := unixSocketOf(r)
	u.Owners = s.procs.byInode[u.Inode]
	return u, ok
}

// unixSocketOf reads one Unix socket of a dump, without its owners.
func unixSocketOf(r *netlink.UnixDiagInfoResp) (UnixSocket, bool) {
	m := r.DiagMsg
	if m.Type != unix.SOCK_STREAM && m.Type != unix.SOCK_SEQPACKET {
		return UnixSocket{}, false // ZeroMQ's ipc:// is a stream
	}
	u := UnixSocket{Inode: m.INode, Listen: m.State == 10}
	if r.Name != nil {
		u.Path = unixPath(*r.Name)
	}
	if r.Peer != nil {
		u.Peer = *r.Peer
	}
	if r.Queue != nil {
		u.RecvQ, u.SendQ = r.Queue.RQueue, r.Queue.WQueue
	}
	return u, true
}

// unixPath turns a bound name as the library hands it over into a path:
// an abstract name (leading NUL) as "@name", as ss and libzmq's
// "ipc://@name" write it. netlink v1.3.1 slices UNIX_DIAG_NAME by the
// attribute's length, header included, so the name comes with the 4 bytes
// that follow it; they are cut here, and so is a path's NUL terminator.
func unixPath(n string) string {
	if len(n) < 4 {
		return ""
	}
	n = n[:len(n)-4]
	if len(n) > 0 && n[0] == 0 {
		return "@" + strings.TrimRight(n[1:], "\x00")
	}
	if i := strings.IndexByte(n, 0); i >= 0 {
		n = n[:i]
	}
	return n
}

func addrPort(ip net.IP, port uint16) netip.AddrPort {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a, port)
}

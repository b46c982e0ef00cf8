package host

import "time"

// View is what the host source said of the tracked connections at one
// sample: for each connection (by the tracker's connection ID), the sockets
// of its ends that live on this host. The session builds one per sample; it
// is immutable once built.
type View struct {
	// Time is the sample's time (the wall clock).
	Time time.Time
	// Conns holds the connections with at least one end on this host. A
	// connection keeps the sockets of the last sample that found them after
	// they are gone (Conn.Seen tells when), so a closed connection's report
	// still names its processes.
	Conns map[uint64]Conn
	// Unix are the Unix-socket (ipc://) endpoints held by processes that
	// also hold a tracked connection, or whose path was asked for.
	Unix []UnixEndpoint
	// Stats are the source's counters at the sample.
	Stats Stats
	// Err is the last sample's error ("" when it succeeded).
	Err string
}

// Conn is one connection's ends on this host: Sides[0] is the client's
// (connecting) socket, Sides[1] the server's; nil when that end is not on
// this host (or was never seen in a sample).
type Conn struct {
	Sides [2]*TCPSocket
	// Seen is the time of the sample that found the sockets.
	Seen time.Time
}

// Conn returns connection id's ends, if any is on this host.
func (v *View) Conn(id uint64) (Conn, bool) {
	if v == nil {
		return Conn{}, false
	}
	c, ok := v.Conns[id]
	return c, ok
}

// Fresh reports whether c was found by the view's own sample (its queues are
// current) rather than kept from an earlier one.
func (v *View) Fresh(c Conn) bool { return v != nil && c.Seen.Equal(v.Time) }

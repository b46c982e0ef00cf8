package host

import "net/netip"

// ConnAddrs is one TCP connection by its two ends, as a tracker saw it on
// the wire. Source.Track takes the connections whose sockets a sample
// looks up.
type ConnAddrs struct{ Client, Server netip.AddrPort }

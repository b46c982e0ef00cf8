package monitor

import (
	"net/netip"
	"strings"
)

// Side says which end of a TCP connection a monitored socket was, as far as
// an event tells.
type Side uint8

// The sides an event can speak for.
const (
	SideUnknown   Side = iota // the event does not tell (handshake, disconnect, close)
	SideConnecter             // the socket connected out: the endpoint is the peer's
	SideListener              // the socket listens: the endpoint is its own bound one
)

// Side returns the side a v1 event's endpoint speaks for: connect events name
// the remote endpoint, listener events the bound one. v2 events carry both
// endpoints and need no guess.
func (c EventCode) Side() Side {
	switch c {
	case EventConnected, EventConnectDelayed, EventConnectRetried:
		return SideConnecter
	case EventListening, EventBindFailed, EventAccepted, EventAcceptFailed:
		return SideListener
	}
	return SideUnknown
}

// EndpointAddr returns the address and port of a "tcp://ip:port" endpoint as
// libzmq reports it (e.g. "tcp://127.0.0.1:5555", "tcp://[::1]:5555"); ok is
// false for host names, wildcards, ports 0 and other transports.
func EndpointAddr(ep string) (ap netip.AddrPort, ok bool) {
	rest, found := strings.CutPrefix(ep, "tcp://")
	if !found {
		return netip.AddrPort{}, false
	}
	ap, err := netip.ParseAddrPort(rest)
	if err != nil || ap.Port() == 0 {
		return netip.AddrPort{}, false
	}
	return ap, true
}

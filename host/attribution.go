package host

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// AttributionMagic starts an attribution's encoding (the payload of the
// pcapng custom block that capture -w writes; see capture.Writer.Annotate).
const AttributionMagic = "zspy-attribution/1\n"

// MaxAttributionBytes caps one encoded attribution: ends beyond it are left
// out and counted (Attribution.More).
const MaxAttributionBytes = 192 << 10

// Attribution is which processes held the tracked connections' ends on
// this host at one time: what a capture file carries so that its replay
// names them as the live capture did.
type Attribution struct {
	Time time.Time       `json:"time"`
	Ends []AttributedEnd `json:"ends"`
	// More counts ends left out by MaxAttributionBytes.
	More int `json:"more,omitempty"`
}

// AttributedEnd is one connection end ("ip:port" local and remote) and the
// first process that held it.
type AttributedEnd struct {
	Local     string `json:"local"`
	Remote    string `json:"remote"`
	PID       int    `json:"pid"`
	Comm      string `json:"comm"`
	Cmdline   string `json:"cmdline,omitempty"`
	UID       int    `json:"uid"`
	User      string `json:"user,omitempty"`
	Cgroup    string `json:"cgroup,omitempty"`
	Container string `json:"container,omitempty"`
	NetNS     uint64 `json:"netns,omitempty"`
}

// Attribution returns the view's connection ends whose process is known, in
// address order.
func (v *View) Attribution() Attribution {
	a := Attribution{Ends: []AttributedEnd{}}
	if v == nil {
		return a
	}
	a.Time = v.Time
	for _, c := range v.Conns {
		for _, t := range c.Sides {
			if t == nil || t.First() == nil {
				continue
			}
			p := t.First()
			a.Ends = append(a.Ends, AttributedEnd{Local: t.Local.String(), Remote: t.Remote.String(), PID: p.PID, Comm: p.Comm,
				Cmdline: p.Cmdline, UID: p.UID, User: p.User, Cgroup: p.Cgroup, Container: p.Container, NetNS: p.NetNS})
		}
	}
	slices.SortFunc(a.Ends, func(x, y AttributedEnd) int {
		return cmp.Or(cmp.Compare(x.Local, y.Local), cmp.Compare(x.Remote, y.Remote))
	})
	return a
}

// Encode returns a's encoding (AttributionMagic, then JSON), leaving out
// the ends past MaxAttributionBytes (counted in More).
func (a Attribution) Encode() []byte {
	for {
		b, _ := json.Marshal(a) // plain strings and numbers: cannot fail
		if len(AttributionMagic)+len(b) <= MaxAttributionBytes || len(a.Ends) == 0 {
			return append([]byte(AttributionMagic), b...)
		}
		// Halve what is kept until it fits.
		n := len(a.Ends) / 2
		a.More += len(a.Ends) - n
		a.Ends = a.Ends[:n]
	}
}

// ErrNotAttribution is returned for a payload that is not an attribution
// (another tool's custom block).
var ErrNotAttribution = errors.New("not a zspy attribution")

// DecodeAttribution parses an encoding of Encode.
func DecodeAttribution(b []byte) (Attribution, error) {
	var a Attribution
	rest, ok := bytes.CutPrefix(b, []byte(AttributionMagic))
	if !ok {
		return a, ErrNotAttribution
	}
	// A pcapng custom block pads its data with zeros to 4 bytes.
	rest = bytes.TrimRight(rest, "\x00")
	if err := json.Unmarshal(rest, &a); err != nil {
		return a, fmt.Errorf("attribution: %w", err)
	}
	return a, nil
}

// Recorded is the attributions a capture file carried, merged: for each
// connection end, the process of the latest attribution that named it.
type Recorded struct {
	ends   map[[2]string]*TCPSocket
	Blocks int // attributions added
	Bad    int // payloads that did not decode
	Latest time.Time
}

// Add merges one attribution's payload; one that is not a zspy attribution
// is ignored, one that does not decode is counted in Bad.
func (r *Recorded) Add(payload []byte) {
	a, err := DecodeAttribution(payload)
	if errors.Is(err, ErrNotAttribution) {
		return
	}
	if err != nil {
		r.Bad++
		return
	}
	if r.ends == nil {
		r.ends = map[[2]string]*TCPSocket{}
	}
	r.Blocks++
	if a.Time.After(r.Latest) {
		r.Latest = a.Time
	}
	for _, e := range a.Ends {
		l, err1 := netip.ParseAddrPort(e.Local)
		rm, err2 := netip.ParseAddrPort(e.Remote)
		if err1 != nil || err2 != nil {
			r.Bad++
			continue
		}
		p := &Process{PID: e.PID, Comm: e.Comm, Cmdline: e.Cmdline, UID: e.UID, User: e.User, Cgroup: e.Cgroup,
			Container: e.Container, NetNS: e.NetNS}
		r.ends[[2]string{e.Local, e.Remote}] = &TCPSocket{Local: l, Remote: rm, Owners: Owners{Procs: []*Process{p}}}
	}
}

// Empty reports whether no attribution was added.
func (r *Recorded) Empty() bool { return r == nil || r.Blocks == 0 }

// Conn returns the recorded ends of the connection between client and
// server ("ip:port"), Sides[0] the client's.
func (r *Recorded) Conn(client, server string) (Conn, bool) {
	if r == nil {
		return Conn{}, false
	}
	c := Conn{Seen: r.Latest}
	c.Sides[0] = r.ends[[2]string{client, server}]
	c.Sides[1] = r.ends[[2]string{server, client}]
	return c, c.Sides[0] != nil || c.Sides[1] != nil
}

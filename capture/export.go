package capture

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// ConnFilter selects one TCP connection's packets, both directions: its two
// ends, and optionally the packet-time window it lived in (a later
// connection reusing the same ports is left out).
type ConnFilter struct {
	A, B netip.AddrPort
	// From and To bound the packets' times (zero: unbounded), inclusive.
	From, To time.Time
}

// Match reports whether seg, captured at ts, belongs to the connection.
func (f *ConnFilter) Match(seg *Segment, ts time.Time) bool {
	if (!f.From.IsZero() && ts.Before(f.From)) || (!f.To.IsZero() && ts.After(f.To)) {
		return false
	}
	src := netip.AddrPortFrom(seg.Src.Unmap(), seg.SrcPort)
	dst := netip.AddrPortFrom(seg.Dst.Unmap(), seg.DstPort)
	a := netip.AddrPortFrom(f.A.Addr().Unmap(), f.A.Port())
	b := netip.AddrPortFrom(f.B.Addr().Unmap(), f.B.Port())
	return (src == a && dst == b) || (src == b && dst == a)
}

// ExportStats says what an export read and wrote.
type ExportStats struct {
	Read    uint64 // packet records read
	Written uint64 // packets of the connection written
	// Skipped counts records that could not be read or decoded (a corrupt
	// record, a packet cut before its TCP header): they are left out.
	Skipped uint64
}

// ExportConn re-reads r to its end and writes to w the packets that f
// selects, from their IP header on (the Writer's link type, raw IP), with
// their times and wire lengths. Records that cannot be read or decoded are
// skipped and counted; an error ends the export only when the source itself
// fails.
func ExportConn(r PacketReader, f *ConnFilter, w *Writer) (ExportStats, error) {
	var st ExportStats
	var seg Segment
	var l layout
	for {
		data, info, err := r.ReadPacket()
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		var pe *PacketError
		if errors.As(err, &pe) {
			st.Skipped++
			continue
		}
		if err != nil {
			return st, fmt.Errorf("export: %w", err)
		}
		st.Read++
		res, err := decode(info.Link, data, info.WireLen, &seg, &l)
		if err != nil || res != ResultTCP {
			if res == ResultMalformed {
				st.Skipped++
			}
			continue
		}
		if !f.Match(&seg, info.TS) {
			continue
		}
		w.WritePacket(info.TS, data[l.ip:], info.WireLen-l.ip)
		st.Written++
	}
}

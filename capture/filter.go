package capture

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/net/bpf"
)

// Filter selects the TCP traffic a live capture keeps: segments to or from
// one of Ports (any port when empty) and to or from one of Hosts (any host
// when empty). It is compiled into a kernel filter, so the rest never reaches
// user space; Match applies the same test to decoded segments (IPv6 extension
// headers the kernel filter does not follow are checked there).
type Filter struct {
	Ports []uint16
	Hosts []netip.Addr
}

// Limits of a filter, so that its kernel program stays within classic BPF's
// 8-bit jumps.
const (
	MaxFilterPorts = 32
	MaxFilterHosts = 8
)

// Empty reports whether the filter keeps all TCP traffic.
func (f *Filter) Empty() bool { return f == nil || len(f.Ports)+len(f.Hosts) == 0 }

// Validate checks the filter's size.
func (f *Filter) Validate() error {
	if len(f.Ports) > MaxFilterPorts || len(f.Hosts) > MaxFilterHosts {
		return fmt.Errorf("filter: at most %d ports and %d hosts", MaxFilterPorts, MaxFilterHosts)
	}
	for _, h := range f.Hosts {
		if !h.IsValid() {
			return errors.New("filter: invalid host address")
		}
	}
	return nil
}

// Match reports whether a decoded segment passes the filter.
func (f *Filter) Match(seg *Segment) bool {
	if f.Empty() {
		return true
	}
	if len(f.Ports) > 0 {
		ok := false
		for _, p := range f.Ports {
			if seg.SrcPort == p || seg.DstPort == p {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(f.Hosts) > 0 {
		for _, h := range f.Hosts {
			if seg.Src.Unmap() == h.Unmap() || seg.Dst.Unmap() == h.Unmap() {
				return true
			}
		}
		return false
	}
	return true
}

// label marks a jump target while a program is built.
type label int

// prog builds a classic BPF program with forward jumps to labels.
type prog struct {
	ins    []bpf.Instruction
	jumps  map[int][2]label // instruction index → (true, false) targets; -1: next
	labels map[label]int
	next   label
}

const fallThrough label = -1

func newProg() *prog {
	return &prog{jumps: map[int][2]label{}, labels: map[label]int{}}
}

func (p *prog) newLabel() label { p.next++; return p.next }

func (p *prog) mark(l label) { p.labels[l] = len(p.ins) }

func (p *prog) add(i bpf.Instruction) { p.ins = append(p.ins, i) }

// jeq adds "if A == k goto t else goto f".
func (p *prog) jeq(k uint32, t, f label) {
	p.jumps[len(p.ins)] = [2]label{t, f}
	p.add(bpf.JumpIf{Cond: bpf.JumpEqual, Val: k})
}

func (p *prog) resolve() ([]bpf.Instruction, error) {
	for i, tf := range p.jumps {
		ji := p.ins[i].(bpf.JumpIf)
		for k, l := range tf {
			skip := 0
			if l != fallThrough {
				at, ok := p.labels[l]
				if !ok || at <= i {
					return nil, errors.New("filter: bad jump")
				}
				skip = at - i - 1
				if skip > 255 {
					return nil, errors.New("filter: program too long")
				}
			}
			if k == 0 {
				ji.SkipTrue = uint8(skip)
			} else {
				ji.SkipFalse = uint8(skip)
			}
		}
		p.ins[i] = ji
	}
	return p.ins, nil
}

// Program compiles the filter for packets that start at the IP header (as an
// AF_PACKET SOCK_DGRAM socket delivers them). Without ports or hosts it keeps
// IPv4 TCP and IPv6 packets that may carry TCP.
func (f *Filter) Program(snap uint32) ([]bpf.Instruction, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	p := newProg()
	// Each address family has its own accept and reject, so that no jump
	// spans the other family's code (classic BPF jumps reach 255 ahead).
	accept4, reject4 := p.newLabel(), p.newLabel()
	accept6, reject6 := p.newLabel(), p.newLabel()
	v4, v6, v6tcp := p.newLabel(), p.newLabel(), p.newLabel()
	p.add(bpf.LoadAbsolute{Off: 0, Size: 1})
	p.add(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4})
	p.jeq(4, v4, v6)

	var hosts4, hosts6 []netip.Addr
	for _, h := range f.Hosts {
		if h.Unmap().Is4() {
			hosts4 = append(hosts4, h.Unmap())
		} else {
			hosts6 = append(hosts6, h)
		}
	}

	// IPv4.
	p.mark(v4)
	p.add(bpf.LoadAbsolute{Off: 9, Size: 1})
	v4tcp := p.newLabel()
	p.jeq(6, v4tcp, reject4)
	p.mark(v4tcp)
	if len(f.Hosts) > 0 {
		ok := p.newLabel()
		for _, off := range []uint32{12, 16} {
			p.add(bpf.LoadAbsolute{Off: off, Size: 4})
			for _, h := range hosts4 {
				b := h.As4()
				p.jeq(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3]), ok, fallThrough)
			}
		}
		p.jeqAlways(reject4)
		p.mark(ok)
	}
	if len(f.Ports) > 0 {
		// Non-first fragments carry no TCP header.
		p.add(bpf.LoadAbsolute{Off: 6, Size: 2})
		p.add(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x1fff})
		first := p.newLabel()
		p.jeq(0, first, reject4)
		p.mark(first)
		p.add(bpf.LoadMemShift{Off: 0})
		p.ports(f.Ports, accept4, reject4)
	}
	p.mark(accept4)
	p.add(bpf.RetConstant{Val: snap})
	p.mark(reject4)
	p.add(bpf.RetConstant{Val: 0})

	// IPv6: TCP right after the fixed header is filtered here; other next
	// headers (extension headers) pass unless UDP or ICMPv6, and user space
	// checks them (Match).
	p.mark(v6)
	p.jeq(6, fallThrough, reject6)
	p.add(bpf.LoadAbsolute{Off: 6, Size: 1})
	other := p.newLabel()
	p.jeq(6, v6tcp, other)
	p.mark(other)
	p.jeq(17, reject6, fallThrough)
	p.jeq(58, reject6, accept6)
	p.mark(v6tcp)
	if len(f.Hosts) > 0 {
		ok := p.newLabel()
		for _, base := range []uint32{8, 24} {
			for _, h := range hosts6 {
				b := h.As16()
				next := p.newLabel()
				for w := uint32(0); w < 4; w++ {
					p.add(bpf.LoadAbsolute{Off: base + 4*w, Size: 4})
					t := fallThrough
					if w == 3 {
						t = ok
					}
					p.jeq(uint32(b[4*w])<<24|uint32(b[4*w+1])<<16|uint32(b[4*w+2])<<8|uint32(b[4*w+3]), t, next)
				}
				p.mark(next)
			}
		}
		p.jeqAlways(reject6)
		p.mark(ok)
	}
	if len(f.Ports) > 0 {
		p.add(bpf.LoadConstant{Dst: bpf.RegX, Val: 40})
		p.ports(f.Ports, accept6, reject6)
	}
	p.mark(accept6)
	p.add(bpf.RetConstant{Val: snap})
	p.mark(reject6)
	p.add(bpf.RetConstant{Val: 0})
	return p.resolve()
}

// ports tests the TCP source and destination ports at X+0 and X+2.
func (p *prog) ports(ports []uint16, accept, reject label) {
	for _, off := range []uint32{0, 2} {
		p.add(bpf.LoadIndirect{Off: off, Size: 2})
		for _, port := range ports {
			p.jeq(uint32(port), accept, fallThrough)
		}
	}
	p.jeqAlways(reject)
}

// jeqAlways jumps to l unconditionally (a JumpIf that is true either way, so
// that the label resolver handles it).
func (p *prog) jeqAlways(l label) {
	p.jumps[len(p.ins)] = [2]label{l, l}
	p.add(bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0})
}

// sockFilter assembles a program for SO_ATTACH_FILTER.
func sockFilterOf(ins []bpf.Instruction) ([]rawFilter, error) {
	raw, err := bpf.Assemble(ins)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	out := make([]rawFilter, len(raw))
	for i, r := range raw {
		out[i] = rawFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return out, nil
}

// rawFilter is one classic BPF instruction as the kernel takes it.
type rawFilter struct {
	Code   uint16
	Jt, Jf uint8
	K      uint32
}

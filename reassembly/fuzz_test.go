package reassembly

import (
	"net/netip"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/zmtp"
)

// checkStream verifies, for segments whose payload byte at sequence number s
// is byte(s), that Data and Skip keep stream positions consistent: each byte
// follows the previous one, and a Skip(n) jumps exactly n bytes.
type checkStream struct {
	t      *testing.T
	next   [2]int // expected next byte value, -1 when unknown
	closed int
	data   uint64
}

func (s *checkStream) Segment(zmtp.Dir, *capture.Segment) {
	if s.closed > 0 {
		s.t.Fatal("Segment after Close")
	}
}

func (s *checkStream) Data(d zmtp.Dir, b []byte, _ time.Time) {
	if s.closed > 0 {
		s.t.Fatal("Data after Close")
	}
	if len(b) == 0 {
		s.t.Fatal("empty Data")
	}
	for i, c := range b {
		if s.next[d] >= 0 && int(c) != s.next[d] {
			s.t.Fatalf("dir %v: byte %d is %d, want %d", d, i, c, s.next[d])
		}
		s.next[d] = int(c+1) & 0xff
	}
	s.data += uint64(len(b))
}

func (s *checkStream) Skip(d zmtp.Dir, n int, _ time.Time) {
	if s.closed > 0 {
		s.t.Fatal("Skip after Close")
	}
	if n <= 0 {
		s.t.Fatalf("Skip(%d)", n)
	}
	if s.next[d] >= 0 {
		s.next[d] = (s.next[d] + n) & 0xff
	}
}

func (s *checkStream) Close(CloseReason, time.Time) { s.closed++ }

// FuzzAssembler plays random segment sequences over two connections (each
// operation is 6 bytes: direction/flags, sequence offset, length, ack, time)
// and checks the stream invariants and the memory caps.
func FuzzAssembler(f *testing.F) {
	f.Add([]byte{0x02, 0, 0, 0, 0, 0, 0x13, 0, 0, 0, 1, 0, 0x10, 0, 1, 20, 0, 0, 0x10, 0, 41, 20, 0, 1, 0x10, 0, 21, 20, 0, 0})
	f.Add([]byte{0x10, 0, 50, 100, 0, 0, 0x50, 0, 0, 200, 0, 0, 0x11, 0, 200, 10, 0, 100, 0x08, 0, 0, 0, 0, 0})
	f.Add([]byte{0x82, 0xff, 0xf0, 0, 0, 0, 0x83, 0, 0, 0, 0xf1, 0, 0x90, 0xff, 0xf1, 255, 0, 0, 0x90, 0, 0xf0, 255, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		opts := Options{IdleTimeout: time.Minute, MaxBufferPerDir: 1000, MaxBufferTotal: 1500, MaxConnections: 8}
		var streams []*checkStream
		a := New(factoryFunc(func(ConnInfo) Stream {
			s := &checkStream{t: t, next: [2]int{-1, -1}}
			streams = append(streams, s)
			return s
		}), opts)
		eps := [2][2]netip.AddrPort{
			{netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:5555")},
			{netip.MustParseAddrPort("[2001:db8::1]:40001"), netip.MustParseAddrPort("[2001:db8::2]:5555")},
		}
		isn := [2]uint32{0xffffff00, 1000}
		payload := make([]byte, 256)
		ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var num uint64
		for len(ops) >= 6 {
			op := ops[:6]
			ops = ops[6:]
			dir := int(op[0] & 1)
			var flags uint8
			if op[0]&0x02 != 0 {
				flags |= capture.FlagSYN
			}
			if op[0]&0x04 != 0 && op[4]&0x80 != 0 {
				flags |= capture.FlagRST
			}
			if op[0]&0x08 != 0 {
				flags |= capture.FlagFIN
			}
			if op[0]&0x10 != 0 {
				flags |= capture.FlagACK
			}
			cut := op[0]&0x40 != 0
			conn := int(op[0] >> 7)
			seq := isn[dir] + uint32(int16(uint16(op[1])<<8|uint16(op[2])))
			n := int(op[3])
			for i := 0; i < n; i++ {
				payload[i] = byte(seq + uint32(i))
				if flags&capture.FlagSYN != 0 {
					payload[i]++ // data on a SYN starts at seq+1
				}
			}
			captured := n
			if cut {
				captured = n / 3
			}
			// Packet time steps forward, or back when the step's top bit
			// is set (a skewed or merged capture).
			ts = ts.Add(time.Duration(int8(op[5])) * time.Second / 4)
			num++
			src, dst := eps[conn][dir], eps[conn][1-dir]
			seg := &capture.Segment{
				Num: num, TS: ts, Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port(),
				Seq: seq, Ack: isn[1-dir] + uint32(op[4]&0x7f)*8, Flags: flags, Window: 300, WScale: 1,
				Payload: payload[:captured], PayloadLen: n,
			}
			a.Assemble(seg)
			st := a.Stats()
			if st.Buffered > opts.MaxBufferTotal+256 || st.Buffered < 0 {
				t.Fatalf("buffered %d bytes, cap %d", st.Buffered, opts.MaxBufferTotal)
			}
			checkLists(t, a)
			for _, c := range a.conns {
				for d := range c.dirs {
					if c.dirs[d].buffered > opts.MaxBufferPerDir+256 {
						t.Fatalf("direction buffers %d bytes, cap %d", c.dirs[d].buffered, opts.MaxBufferPerDir)
					}
				}
			}
		}
		a.FlushAll(ts)
		st := a.Stats()
		if st.Open != 0 || st.Buffered != 0 || len(a.conns) != 0 {
			t.Fatalf("after FlushAll: %+v, %d entries", st, len(a.conns))
		}
		var data uint64
		for i, s := range streams {
			if s.closed != 1 {
				t.Fatalf("stream %d closed %d times", i, s.closed)
			}
			data += s.data
		}
		if data != st.DataBytes || uint64(len(streams)) != st.Connections {
			t.Fatalf("streams got %d bytes in %d streams, stats %+v", data, len(streams), st)
		}
	})
}

// checkLists checks what FlushOlderThan relies on: every tracked connection
// is in the expirable list exactly when it is expirable, and a connection
// further back in a list saw its last packet no later than skew seconds
// after any in front of it; and that what refers to a connection (the
// last segment's, the holes waiting) refers to a tracked one, and no spare
// record is tracked.
func checkLists(t *testing.T, a *Assembler) {
	t.Helper()
	n := 0
	for l := range a.lists {
		var seen []*conn
		for c := a.lists[l].newest; c != nil; c = c.older {
			if a.conns[c.key] != c || int(c.list) != l {
				t.Fatalf("list %d holds a connection it should not (list %d)", l, c.list)
			}
			if (l == 0) != c.expirable() {
				t.Fatalf("list %d holds a connection with expirable() %v", l, c.expirable())
			}
			for _, newer := range seen {
				if c.lastSeen.Unix()-newer.lastSeen.Unix() > a.skew {
					t.Fatalf("last packet %v behind one at %v, skew %v", c.lastSeen, newer.lastSeen, a.skew)
				}
			}
			seen = append(seen, c)
			n++
		}
	}
	if n != len(a.conns) {
		t.Fatalf("lists hold %d connections, the map %d", n, len(a.conns))
	}
	if a.last != nil && a.conns[a.last.key] != a.last {
		t.Fatal("the last segment's connection is no longer tracked")
	}
	for _, w := range a.waiting {
		if a.conns[w.c.key] != w.c {
			t.Fatal("a hole waits on a connection no longer tracked")
		}
	}
	for _, c := range a.spare {
		if a.conns[c.key] == c {
			t.Fatal("a spare connection record is still tracked")
		}
	}
}

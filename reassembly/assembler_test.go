package reassembly

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/zmtp"
)

// recStream records what the assembler tells it, as text per direction
// ("hello[skip 3]world"), and fails the test on a call-order violation.
type recStream struct {
	t        testing.TB
	info     ConnInfo
	text     [2]strings.Builder
	segments int
	closed   bool
	reason   CloseReason
	closeTS  time.Time
}

func (s *recStream) Segment(dir zmtp.Dir, seg *capture.Segment) {
	s.check()
	s.segments++
}

func (s *recStream) Data(dir zmtp.Dir, b []byte, ts time.Time) {
	s.check()
	if len(b) == 0 {
		s.t.Errorf("empty Data call")
	}
	s.text[dir].Write(b)
}

func (s *recStream) Skip(dir zmtp.Dir, n int, ts time.Time) {
	s.check()
	if n <= 0 {
		s.t.Errorf("Skip(%d)", n)
	}
	fmt.Fprintf(&s.text[dir], "[skip %d]", n)
}

func (s *recStream) Close(reason CloseReason, ts time.Time) {
	s.check()
	s.closed, s.reason, s.closeTS = true, reason, ts
}

func (s *recStream) check() {
	s.t.Helper()
	if s.closed {
		s.t.Fatalf("call after Close")
	}
}

type recFactory struct {
	t       testing.TB
	streams []*recStream
}

func (f *recFactory) New(info ConnInfo) Stream {
	s := &recStream{t: f.t, info: info}
	f.streams = append(f.streams, s)
	return s
}

// harness sends hand-built segments between a client and a server.
type harness struct {
	t      *testing.T
	f      *recFactory
	a      *Assembler
	client netip.AddrPort
	server netip.AddrPort
	ts     time.Time
	num    uint64
}

var base = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func newHarness(t *testing.T, opts Options) *harness {
	f := &recFactory{t: t}
	return &harness{
		t: t, f: f, a: New(f, opts),
		client: netip.MustParseAddrPort("10.0.0.1:40000"),
		server: netip.MustParseAddrPort("10.0.0.2:5555"),
		ts:     base,
	}
}

const (
	syn    = capture.FlagSYN
	ack    = capture.FlagACK
	fin    = capture.FlagFIN
	rst    = capture.FlagRST
	psh    = capture.FlagPSH
	synack = capture.FlagSYN | capture.FlagACK
)

// send delivers one segment; total > len(payload) marks a snap-length cut.
func (h *harness) sendCut(dir zmtp.Dir, flags uint8, seq, ackNum uint32, payload string, total int) {
	h.num++
	h.ts = h.ts.Add(time.Millisecond)
	src, dst := h.client, h.server
	if dir == zmtp.ServerToClient {
		src, dst = dst, src
	}
	seg := &capture.Segment{
		Num: h.num, TS: h.ts,
		Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port(),
		Seq: seq, Ack: ackNum, Flags: flags, Window: 1000, WScale: -1,
		Payload: []byte(payload), PayloadLen: total,
	}
	h.a.Assemble(seg)
	// The assembler must not keep the payload: scribble over it.
	for i := range seg.Payload {
		seg.Payload[i] = '#'
	}
}

func (h *harness) send(dir zmtp.Dir, flags uint8, seq, ackNum uint32, payload string) {
	h.sendCut(dir, flags, seq, ackNum, payload, len(payload))
}

// handshake opens a connection with client ISN ci and server ISN si.
func (h *harness) handshake(ci, si uint32) {
	h.send(zmtp.ClientToServer, syn, ci, 0, "")
	h.send(zmtp.ServerToClient, synack, si, ci+1, "")
	h.send(zmtp.ClientToServer, ack, ci+1, si+1, "")
}

func (h *harness) stream(i int) *recStream {
	h.t.Helper()
	if i >= len(h.f.streams) {
		h.t.Fatalf("stream %d not created (%d streams)", i, len(h.f.streams))
	}
	return h.f.streams[i]
}

func (h *harness) expect(i int, c2s, s2c string) {
	h.t.Helper()
	s := h.stream(i)
	if got := s.text[zmtp.ClientToServer].String(); got != c2s {
		h.t.Errorf("stream %d c2s = %q, want %q", i, got, c2s)
	}
	if got := s.text[zmtp.ServerToClient].String(); got != s2c {
		h.t.Errorf("stream %d s2c = %q, want %q", i, got, s2c)
	}
}

func (h *harness) expectClosed(i int, reason CloseReason) {
	h.t.Helper()
	s := h.stream(i)
	if !s.closed || s.reason != reason {
		h.t.Errorf("stream %d: closed=%v reason=%v, want %v", i, s.closed, s.reason, reason)
	}
}

func TestInOrderWithFIN(t *testing.T) {
	h := newHarness(t, Options{})
	h.handshake(100, 900)
	h.send(zmtp.ClientToServer, ack|psh, 101, 901, "hello ")
	h.send(zmtp.ClientToServer, ack|psh, 107, 901, "world")
	h.send(zmtp.ServerToClient, ack|psh, 901, 112, "reply")
	h.send(zmtp.ClientToServer, ack|fin, 112, 906, "")
	h.send(zmtp.ServerToClient, ack|fin, 906, 113, "")
	h.expect(0, "hello world", "reply")
	h.expectClosed(0, CloseFIN)
	s := h.stream(0)
	if !s.info.SawSYN || s.info.Client != h.client || s.info.Server != h.server || s.info.FirstPacket != 1 || !s.info.Start.Equal(base.Add(time.Millisecond)) {
		t.Errorf("info %+v", s.info)
	}
	if s.segments != 8 {
		t.Errorf("Segment called %d times, want 8", s.segments)
	}
	if !s.closeTS.Equal(h.ts) {
		t.Errorf("closed at %v, want %v", s.closeTS, h.ts)
	}
	// The last ACK belongs to the closed connection: no new stream.
	h.send(zmtp.ClientToServer, ack, 113, 907, "")
	if len(h.f.streams) != 1 || h.a.Stats().AfterClose != 1 {
		t.Errorf("%d streams, stats %+v", len(h.f.streams), h.a.Stats())
	}
	st := h.a.Stats()
	if st.ClosedFIN != 1 || st.DataBytes != 16 || st.Open != 0 || st.Connections != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestOutOfOrder(t *testing.T) {
	h := newHarness(t, Options{})
	h.handshake(100, 900)
	h.send(zmtp.ClientToServer, ack, 111, 901, "CCCCC")
	h.send(zmtp.ClientToServer, ack, 106, 901, "BBBBB")
	h.expect(0, "", "")
	h.send(zmtp.ClientToServer, ack, 101, 901, "AAAAA")
	h.expect(0, "AAAAABBBBBCCCCC", "")
	st := h.a.Stats()
	if st.OutOfOrder != 2 || st.Buffered != 0 || st.PeakBuffered != 10 || st.Gaps != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestRetransmitAndOverlap(t *testing.T) {
	h := newHarness(t, Options{})
	h.handshake(100, 900)
	h.send(zmtp.ClientToServer, ack, 101, 901, "AAAAA")
	h.send(zmtp.ClientToServer, ack, 101, 901, "AAAAA") // retransmission
	h.send(zmtp.ClientToServer, ack, 104, 901, "AABBB") // overlaps 2 delivered bytes
	h.expect(0, "AAAAABBB", "")
	st := h.a.Stats()
	if st.Retransmits != 1 || st.Overlaps != 1 || st.OverlapDiffs != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestOverlapWithDifferingBytes(t *testing.T) {
	h := newHarness(t, Options{})
	h.handshake(100, 900)
	h.send(zmtp.ClientToServer, ack, 106, 901, "xxxxx")  // buffered
	h.send(zmtp.ClientToServer, ack, 108, 901, "yyyyzz") // overlaps 3 bytes, and they differ
	h.send(zmtp.ClientToServer, ack, 106, 901, "xx")     // same bytes again: an overlap, no difference
	h.send(zmtp.ClientToServer, ack, 101, 901, "AAAAA")  // fills the hole
	h.expect(0, "AAAAAxxxxxyzz", "")                     // the first copy received wins
	st := h.a.Stats()
	if st.OverlapDiffs != 1 || st.Overlaps < 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestGapNeverFills(t *testing.T) {
	h := newHarness(t, Options{})
	h.handshake(100, 900)
	h.send(zmtp.ClientToServer, ack, 101, 901, "AAAAA")
	h.send(zmtp.ClientToServer, ack, 111, 901, "CCCCC") // BBBBB never captured
	h.expect(0, "AAAAA", "")
	h.a.FlushAll(h.ts)
	h.expect(0, "AAAAA[skip 5]CCCCC", "")
	h.expectClosed(0, CloseEnd)
	st := h.a.Stats()
	if st.Gaps != 1 || st.GapBytes != 5 || st.Buffered != 0 || st.ClosedEnd != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestGapAckedByPeer: the server acknowledges bytes the capture never saw;
// once AckGrace has passed without them, the hole is given up, and the bytes,
// if they come after all, are a retransmission.
func TestGapAckedByPeer(t *testing.T) {
	h := newHarness(t, Options{AckGrace: 10 * time.Millisecond})
	h.handshake(100, 900)
	h.send(zmtp.ClientToServer, ack, 101, 901, "AAAAA")
	h.send(zmtp.ClientToServer, ack, 111, 901, "CCCCC")
	h.send(zmtp.ServerToClient, ack, 901, 106, "") // acks only what we saw: keep waiting
	h.expect(0, "AAAAA", "")
	h.send(zmtp.ServerToClient, ack, 901, 116, "") // acks past the hole: the grace starts
	h.expect(0, "AAAAA", "")
	h.ts = h.ts.Add(10 * time.Millisecond)
	h.send(zmtp.ServerToClient, ack, 901, 116, "") // grace over: given up
	h.expect(0, "AAAAA[skip 5]CCCCC", "")
	h.send(zmtp.ClientToServer, ack, 106, 901, "BBBBB") // too late: a retransmission now
	h.send(zmtp.ClientToServer, ack, 116, 901, "DD")
	h.expect(0, "AAAAA[skip 5]CCCCCDD", "")
	st := h.a.Stats()
	if st.AckFlushes != 1 || st.Gaps != 1 || st.Retransmits != 1 || st.AckWaits != 1 || st.LateFills != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestGapAckedBeforeLateCopy: on a mirror whose client side lags, the ACK
// past a hole is captured before the bytes that fill it; they come within
// AckGrace and are delivered, not lost.
func TestGapAckedBeforeLateCopy(t *testing.T) {
	h := newHarness(t, Options{})
	h.handshake(100, 900)
	h.send(zmtp.ClientToServer, ack, 101, 901, "AAAAA")
	h.send(zmtp.ClientToServer, ack, 111, 901, "CCCCC")
	h.send(zmtp.ServerToClient, ack, 901, 116, "")      // acks past the hole
	h.send(zmtp.ServerToClient, ack, 901, 118, "")      // and more, not yet captured
	h.send(zmtp.ClientToServer, ack, 106, 901, "BBBBB") // the late copy, 3 ms after the ACK
	h.send(zmtp.ClientToServer, ack, 116, 901, "DD")
	h.expect(0, "AAAAABBBBBCCCCCDD", "")
	st := h.a.Stats()
	if st.AckFlushes != 0 || st.Gaps != 0 || st.Retransmits != 0 || st.AckWaits != 1 {
		t.Errorf("stats %+v", st)
	}
	h.ts = h.ts.Add(DefaultAckGrace) // the grace is over: the wait is settled
	h.send(zmtp.ServerToClient, ack, 901, 118, "")
	if st := h.a.Stats(); st.LateFills != 1 || len(h.a.waiting) != 0 {
		t.Errorf("late fills %d, want 1", st.LateFills)
	}
}

// TestGapAckedAtOnce: a negative AckGrace gives an acknowledged hole up at
// once (a capture known to be taken on the receiver's host).
func TestGapAckedAtOnce(t *testing.T) {
	h := newHarness(t, Options{AckGrace: -1})
	h.handshake(100, 900)
	h.send(zmtp.ClientToServer, ack, 101, 901, "AAAAA")
	h.send(zmtp.ClientToServer, ack, 111, 901, "CCCCC")
	h.send(zmtp.ServerToClient, ack, 901, 116, "")
	h.expect(0, "AAAAA[skip 5]CCCCC", "")
	if st := h.a.Stats(); st.AckFlushes != 1 || st.AckWaits != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestSynAckBeforeSyn: a mirror whose client side lags captures the SYN+ACK
// before the SYN it answers. The late SYN belongs to the same connection (it
// carries the ISN the SYN+ACK acknowledged); a SYN with another ISN is a new
// connection on the same ports.
func TestSynAckBeforeSyn(t *testing.T) {
	h := newHarness(t, Options{})
	h.send(zmtp.ServerToClient, syn|ack, 900, 101, "")
	h.send(zmtp.ClientToServer, syn, 100, 0, "")
	h.send(zmtp.ClientToServer, ack, 101, 901, "hello")
	h.send(zmtp.ServerToClient, ack, 901, 106, "world")
	h.expect(0, "hello", "world")
	if n := len(h.f.streams); n != 1 {
		t.Fatalf("%d streams, want 1", n)
	}
	if info := h.stream(0).info; !info.SawSYN || info.Client.Port() != 40000 {
		t.Errorf("info %+v: want the SYN seen and the client on port 40000", info)
	}
	h.send(zmtp.ClientToServer, syn, 5000, 0, "") // another ISN: port reuse
	if n := len(h.f.streams); n != 2 {
		t.Errorf("%d streams after a SYN with a new ISN, want 2", n)
	}
	if st := h.a.Stats(); st.Reused != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestGapPastBufferCap(t *testing.T) {
	h := newHarness(t, Options{MaxBufferPerDir: 20})
	h.handshake(100, 900)
	// Hole at 101..105; then 30 bytes out of order in 10-byte pieces.
	h.send(zmtp.ClientToServer, ack, 106, 901, "0123456789")
	h.send(zmtp.ClientToServer, ack, 116, 901, "abcdefghij")
	h.expect(0, "", "")
	h.send(zmtp.ClientToServer, ack, 126, 901, "ABCDEFGHIJ")
	h.expect(0, "[skip 5]0123456789abcdefghijABCDEFGHIJ", "")
	st := h.a.Stats()
	if st.CapFlushes != 1 || st.Gaps != 1 || st.GapBytes != 5 || st.Buffered != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestGapPastGlobalCap(t *testing.T) {
	h := newHarness(t, Options{MaxBufferTotal: 15})
	h.handshake(100, 900)
	h.send(zmtp.ClientToServer, ack, 106, 901, "0123456789")
	h.send(zmtp.ServerToClient, ack, 911, 101, "abcdefghij") // other direction: total 20 > 15
	h.expect(0, "", "[skip 10]abcdefghij")
	if st := h.a.Stats(); st.CapFlushes != 1 || st.Buffered != 10 {
		t.Errorf("stats %+v", st)
	}
}

func TestSnapLengthCut(t *testing.T) {
	h := newHarness(t, Options{})
	h.handshake(100, 900)
	h.sendCut(zmtp.ClientToServer, ack, 101, 901, "head", 1000)
	h.send(zmtp.ClientToServer, ack, 1101, 901, "next")
	// Out of order and cut.
	h.send(zmtp.ClientToServer, ack, 1205, 901, "late")
	h.sendCut(zmtp.ClientToServer, ack, 1105, 901, "xy", 100)
	h.expect(0, "head[skip 996]nextxy[skip 98]late", "")
	if st := h.a.Stats(); st.SnapCutBytes != 996+98 || st.Gaps != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestSequenceWrapAround(t *testing.T) {
	h := newHarness(t, Options{})
	isn := uint32(0xfffffff0)
	h.handshake(isn, 0xffffffff)
	// Client bytes at 0xfffffff1 .. 0x18, across 2^32, one segment early.
	h.send(zmtp.ClientToServer, ack, isn+1, 0, "0123456789")
	h.send(zmtp.ClientToServer, ack, isn+21, 0, "KLMNOPQRST")
	h.send(zmtp.ClientToServer, ack, isn+11, 0, "ABCDEFGHIJ")
	// The server's ISN is 0xffffffff: its data starts at 0.
	h.send(zmtp.ServerToClient, ack, 0, isn+31, "wrapped")
	h.send(zmtp.ClientToServer, ack|fin, isn+31, 7, "")
	h.send(zmtp.ServerToClient, ack|fin, 7, isn+32, "")
	h.expect(0, "0123456789ABCDEFGHIJKLMNOPQRST", "wrapped")
	h.expectClosed(0, CloseFIN)
}

func TestRefused(t *testing.T) {
	h := newHarness(t, Options{})
	h.send(zmtp.ClientToServer, syn, 100, 0, "")
	h.send(zmtp.ServerToClient, rst|ack, 0, 101, "")
	h.expectClosed(0, CloseRefused)
	if s := h.stream(0); !s.info.SawSYN || s.info.Client != h.client || s.segments != 2 {
		t.Errorf("info %+v, %d segments", s.info, s.segments)
	}
	// The client tries again from the same port: its own connection.
	h.send(zmtp.ClientToServer, syn, 5000, 0, "")
	h.send(zmtp.ServerToClient, rst|ack, 0, 5001, "")
	h.expectClosed(1, CloseRefused)
	if st := h.a.Stats(); st.Refused != 2 || st.Connections != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestResetAfterData(t *testing.T) {
	h := newHarness(t, Options{})
	h.handshake(100, 900)
	h.send(zmtp.ClientToServer, ack, 101, 901, "abc")
	h.send(zmtp.ClientToServer, ack, 110, 901, "late") // out of order, hole before it
	h.send(zmtp.ServerToClient, rst, 901, 0, "")
	h.expect(0, "abc[skip 6]late", "")
	h.expectClosed(0, CloseRST)
	// An RST after a handshake without data is a reset too, not a refusal.
	h2 := newHarness(t, Options{})
	h2.handshake(1, 2)
	h2.send(zmtp.ServerToClient, rst|ack, 3, 2, "")
	h2.expectClosed(0, CloseRST)
}

func TestFINBeforeLastData(t *testing.T) {
	h := newHarness(t, Options{})
	h.handshake(100, 900)
	h.send(zmtp.ServerToClient, ack|fin, 901, 101, "") // server closes first
	h.send(zmtp.ClientToServer, ack|fin, 106, 902, "") // client FIN after 5 bytes not yet seen
	h.expect(0, "", "")
	if h.stream(0).closed {
		t.Fatal("closed before the client's last bytes arrived")
	}
	h.send(zmtp.ClientToServer, ack|psh, 101, 902, "bytes")
	h.expect(0, "bytes", "")
	h.expectClosed(0, CloseFIN)
}

func TestPortReuse(t *testing.T) {
	h := newHarness(t, Options{})
	h.handshake(100, 900)
	h.send(zmtp.ClientToServer, ack, 101, 901, "one")
	h.send(zmtp.ClientToServer, ack|fin, 104, 901, "")
	h.send(zmtp.ServerToClient, ack|fin, 901, 105, "")
	h.send(zmtp.ClientToServer, ack, 105, 902, "")
	// A new connection from the same port.
	h.handshake(7000, 8000)
	h.send(zmtp.ClientToServer, ack, 7001, 8001, "two")
	// A retransmitted SYN+ACK is part of the same handshake.
	h.send(zmtp.ServerToClient, synack, 8000, 7001, "")
	h.expect(0, "one", "")
	h.expect(1, "two", "")
	h.expectClosed(0, CloseFIN)
	// A third SYN while the second is open (its close was not captured).
	h.handshake(9000, 9500)
	h.expectClosed(1, CloseReused)
	h.a.FlushAll(h.ts)
	h.expectClosed(2, CloseEnd)
	if n := len(h.f.streams); n != 3 {
		t.Errorf("%d streams, want 3", n)
	}
}

func TestOrientation(t *testing.T) {
	// SYN+ACK first: its receiver is the client.
	h := newHarness(t, Options{})
	h.send(zmtp.ServerToClient, synack, 900, 101, "")
	h.send(zmtp.ClientToServer, ack|psh, 101, 901, "hi")
	s := h.stream(0)
	if !s.info.SawSYN || s.info.Client != h.client || s.info.Server != h.server {
		t.Errorf("syn+ack first: %+v", s.info)
	}
	h.expect(0, "hi", "")
	// Mid-stream: the first sender is taken as the client.
	h2 := newHarness(t, Options{})
	h2.send(zmtp.ServerToClient, ack|psh, 5000, 77, "data")
	s2 := h2.stream(0)
	if s2.info.SawSYN || s2.info.Client != h2.server {
		t.Errorf("mid-stream: %+v", s2.info)
	}
	// Direction is relative to ConnInfo.Client, the server here.
	h2.expect(0, "data", "")
}

// TestIdleFlushByPacketTime: the idle timeout closes what is not
// established (an unanswered SYN, a connection half closed by a FIN), never
// an established connection however quiet: it lives until FIN or RST.
func TestIdleFlushByPacketTime(t *testing.T) {
	h := newHarness(t, Options{IdleTimeout: time.Minute})
	h.handshake(100, 900)
	h.send(zmtp.ClientToServer, ack, 101, 901, "abc")
	h.send(zmtp.ClientToServer, ack, 110, 901, "zz") // a hole, buffered
	quiet := *h
	// An unanswered SYN and a connection half closed by a FIN.
	h.client = netip.MustParseAddrPort("10.0.0.1:40001")
	h.send(zmtp.ClientToServer, syn, 5, 0, "")
	synSince := h.ts
	h.client = netip.MustParseAddrPort("10.0.0.1:40002")
	h.handshake(7000, 8000)
	h.send(zmtp.ClientToServer, ack|fin, 7001, 8001, "")
	// Another connection keeps packet time moving, for 10 minutes.
	other := *h
	other.client = netip.MustParseAddrPort("10.0.0.9:1234")
	for i := 0; i < 60; i++ {
		other.ts = h.ts.Add(time.Duration(i) * 10 * time.Second)
		other.send(zmtp.ClientToServer, ack, uint32(i), 0, "x")
	}
	h.ts, h.num = other.ts, other.num
	if h.stream(0).closed || h.stream(3).closed {
		t.Fatal("an established connection was closed for being quiet")
	}
	h.expectClosed(1, CloseIdle)
	h.expectClosed(2, CloseIdle)
	if s := h.stream(1); !s.closeTS.Equal(synSince) {
		t.Errorf("idle close at %v, want the last packet's time %v", s.closeTS, synSince)
	}
	// The quiet connection goes on where it was: its hole fills.
	quiet.ts, quiet.num = h.ts, h.num
	quiet.send(zmtp.ClientToServer, ack, 104, 901, "defghi")
	h.expect(0, "abcdefghizz", "")
	h.a.FlushAll(h.ts)
	h.expectClosed(0, CloseEnd)
	if st := h.a.Stats(); st.ClosedIdle != 2 || st.ClosedEnd != 2 || st.Open != 0 || st.GapBytes != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestMakeKey: both directions of a connection have one key, ports equal or
// not, and different connections different keys.
func TestMakeKey(t *testing.T) {
	ap := netip.MustParseAddrPort
	pairs := [][2]netip.AddrPort{
		{ap("10.0.0.1:40000"), ap("10.0.0.2:5555")},
		{ap("10.0.0.2:40000"), ap("10.0.0.1:5555")},
		{ap("10.0.0.1:5555"), ap("10.0.0.2:5555")},
		{ap("10.0.0.1:5555"), ap("10.0.0.3:5555")},
		{ap("[::ffff:10.0.0.1]:5555"), ap("10.0.0.2:5555")},
		{ap("10.0.0.1:5555"), ap("10.0.0.1:5555")},
	}
	for i, p := range pairs {
		k := makeKey(p[0], p[1])
		if k != makeKey(p[1], p[0]) {
			t.Errorf("pair %d: the two directions have different keys", i)
		}
		for j := range i {
			if k == makeKey(pairs[j][0], pairs[j][1]) {
				t.Errorf("pairs %d and %d have one key", j, i)
			}
		}
	}
}

// TestIdleFlushTimeGoesBack: a packet whose time is earlier than the
// packets before it (a merged or skewed capture) files its connection at
// the front of the list by packet order, not by time: the idle flush, which
// stops at the first connection seen recently enough, still finds it.
func TestIdleFlushTimeGoesBack(t *testing.T) {
	h := newHarness(t, Options{IdleTimeout: time.Minute})
	h.client = netip.MustParseAddrPort("10.0.0.1:40001")
	h.ts = base.Add(time.Hour)
	h.send(zmtp.ClientToServer, syn, 5, 0, "") // unanswered, at base+1h
	h.client = netip.MustParseAddrPort("10.0.0.1:40002")
	h.ts = base
	h.send(zmtp.ClientToServer, syn, 7, 0, "") // unanswered, an hour earlier
	if h.a.skew < 3599 {
		t.Fatalf("skew %d s, want about an hour", h.a.skew)
	}
	h.a.FlushOlderThan(base.Add(time.Minute))
	h.expectClosed(1, CloseIdle)
	if h.stream(0).closed {
		t.Error("the connection seen at base+1h was closed as idle at base+1m")
	}
	h.a.FlushOlderThan(base.Add(2 * time.Hour))
	h.expectClosed(0, CloseIdle)
}

// TestEvictOldestIdleFirst: past MaxConnections the connection whose last
// packet is oldest makes room, whatever order the connections opened in;
// tombstones are forgotten first when they are the oldest.
func TestEvictOldestIdleFirst(t *testing.T) {
	h := newHarness(t, Options{MaxConnections: 3})
	port := func(i int) netip.AddrPort { return netip.AddrPortFrom(h.client.Addr(), uint16(40000+i)) }
	for i := 0; i < 3; i++ {
		h.client = port(i)
		h.handshake(100, 900)
	}
	// Connection 0 speaks again: 1 is now the oldest.
	h.client = port(0)
	h.send(zmtp.ClientToServer, ack, 101, 901, "a")
	h.client = port(3)
	h.handshake(100, 900)
	h.expectClosed(1, CloseEvicted)
	if h.stream(0).closed || h.stream(2).closed {
		t.Fatal("a connection newer than the oldest was evicted")
	}
	// Connection 2 closes (a tombstone); it is the oldest: forgotten.
	h.client = port(2)
	h.send(zmtp.ClientToServer, rst, 101, 0, "")
	h.client = port(0)
	h.send(zmtp.ClientToServer, ack, 102, 901, "b")
	h.client = port(3)
	h.send(zmtp.ClientToServer, ack, 101, 901, "c")
	h.client = port(4)
	h.handshake(100, 900)
	if st := h.a.Stats(); st.Evicted != 1 || st.ForgotClosed != 1 || st.Open != 3 || st.Connections != 5 {
		t.Errorf("stats %+v", st)
	}
}

// TestEvictNotEstablishedFirst: as conntrack's early drop, what is not
// established (an unanswered SYN, a tombstone) makes room before an
// established connection, however much older and quieter that one is.
func TestEvictNotEstablishedFirst(t *testing.T) {
	h := newHarness(t, Options{MaxConnections: 2})
	h.handshake(100, 900) // established, then quiet
	h.ts = h.ts.Add(time.Hour)
	h.client = netip.MustParseAddrPort("10.0.0.1:40001")
	h.send(zmtp.ClientToServer, syn, 5, 0, "") // newer, never answered
	h.client = netip.MustParseAddrPort("10.0.0.1:40002")
	h.handshake(7000, 8000)
	h.expectClosed(1, CloseEvicted)
	if h.stream(0).closed {
		t.Fatal("the quiet established connection was evicted before the unanswered SYN")
	}
}

// TestEvictedFlowRejoins: an evicted connection's traffic that continues
// its sequence numbers is joined to it (Resumes, Joined; no byte lost, no
// hole); traffic that jumps is marked not joined.
func TestEvictedFlowRejoins(t *testing.T) {
	h := newHarness(t, Options{MaxConnections: 1})
	h.handshake(100, 900)
	h.send(zmtp.ClientToServer, ack, 101, 901, "abc")
	first := h.stream(0).info
	quiet := *h
	h.client = netip.MustParseAddrPort("10.0.0.1:40001")
	h.handshake(7000, 8000) // evicts the first
	h.expectClosed(0, CloseEvicted)
	// The first comes back, from the server's side, where it stopped.
	quiet.ts, quiet.num = h.ts, h.num
	quiet.send(zmtp.ServerToClient, ack, 901, 104, "xyz")
	s := h.stream(2)
	if s.info.Resumes != first.Serial || !s.info.Joined || s.info.Client != first.Client || !s.info.SawSYN {
		t.Errorf("resumed info %+v, want Resumes %d, joined, client %v", s.info, first.Serial, first.Client)
	}
	quiet.send(zmtp.ClientToServer, ack, 104, 904, "def")
	h.expect(2, "def", "xyz")
	// The second comes back with sequence numbers far from where it stopped.
	h.ts, h.num = quiet.ts, quiet.num
	h.send(zmtp.ClientToServer, ack, 90000, 8001, "zz")
	s = h.stream(3)
	if s.info.Resumes != h.stream(1).info.Serial || s.info.Joined {
		t.Errorf("resumed info %+v, want not joined", s.info)
	}
	if st := h.a.Stats(); st.Resumed != 1 || st.Unjoined != 1 || st.Evicted != 3 || st.GapBytes != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestEvictedSummariesBounded: past MaxEvicted the oldest summaries go,
// counted, and their traffic is a new connection.
func TestEvictedSummariesBounded(t *testing.T) {
	h := newHarness(t, Options{MaxConnections: 1, MaxEvicted: 2})
	for i := 0; i < 5; i++ {
		h.client = netip.AddrPortFrom(h.client.Addr(), uint16(40000+i))
		h.handshake(100, 900)
	}
	if st := h.a.Stats(); st.Evicted != 4 || st.EvictedForgotten != 2 || len(h.a.evicted) != 2 {
		t.Errorf("stats %+v, %d summaries", st, len(h.a.evicted))
	}
	h.client = netip.AddrPortFrom(h.client.Addr(), 40000)
	h.send(zmtp.ClientToServer, ack, 101, 901, "a")
	if s := h.stream(5); s.info.Resumes != 0 {
		t.Errorf("forgotten summary still joined: %+v", s.info)
	}
}

func TestFlushAllWithOneFIN(t *testing.T) {
	h := newHarness(t, Options{})
	h.handshake(100, 900)
	h.send(zmtp.ClientToServer, ack|fin, 101, 901, "")
	h.a.FlushAll(h.ts)
	h.expectClosed(0, CloseFIN)
}

// TestFlushOrder: connections closed together close in the order they opened.
func TestFlushOrder(t *testing.T) {
	h := newHarness(t, Options{})
	var closes []uint64
	h.a = New(factoryFunc(func(info ConnInfo) Stream { return &orderStream{n: info.FirstPacket, out: &closes} }), Options{})
	for i := 0; i < 50; i++ {
		h.client = netip.AddrPortFrom(h.client.Addr(), uint16(30000+i))
		h.send(zmtp.ClientToServer, syn, 1, 0, "")
	}
	h.a.FlushAll(h.ts)
	if len(closes) != 50 {
		t.Fatalf("%d closes", len(closes))
	}
	for i, n := range closes {
		if n != uint64(i+1) {
			t.Fatalf("close order %v", closes)
		}
	}
}

type factoryFunc func(ConnInfo) Stream

func (f factoryFunc) New(info ConnInfo) Stream { return f(info) }

type orderStream struct {
	nopStream
	n   uint64
	out *[]uint64
}

func (s *orderStream) Close(CloseReason, time.Time) { *s.out = append(*s.out, s.n) }

type nopStream struct{}

func (nopStream) Segment(zmtp.Dir, *capture.Segment) {}
func (nopStream) Data(zmtp.Dir, []byte, time.Time)   {}
func (nopStream) Skip(zmtp.Dir, int, time.Time)      {}
func (nopStream) Close(CloseReason, time.Time)       {}

func TestStrayRSTAndConnectionCap(t *testing.T) {
	h := newHarness(t, Options{MaxConnections: 2})
	h.send(zmtp.ClientToServer, rst, 1, 0, "")
	for i := 0; i < 3; i++ {
		h.client = netip.AddrPortFrom(h.client.Addr(), uint16(30000+i))
		h.send(zmtp.ClientToServer, syn, 1, 0, "")
	}
	st := h.a.Stats()
	if st.Stray != 1 || st.Connections != 3 || st.Evicted != 1 || st.Open != 2 || len(h.f.streams) != 3 {
		t.Errorf("stats %+v", st)
	}
	// The oldest (its last packet the oldest) made room.
	h.expectClosed(0, CloseEvicted)
}

func TestWindowGivesUpHole(t *testing.T) {
	h := newHarness(t, Options{AckGrace: 10 * time.Millisecond})
	h.handshake(100, 900) // windows of 1000, no scaling
	h.send(zmtp.ServerToClient, ack, 901, 101, "")
	h.send(zmtp.ClientToServer, ack, 201, 901, string(make([]byte, 600)))
	h.expect(0, "", "")
	h.send(zmtp.ClientToServer, ack, 801, 901, string(make([]byte, 600))) // 1300 bytes past the hole > window
	if st := h.a.Stats(); st.AckWaits != 1 || st.GapBytes != 0 {
		t.Errorf("stats %+v: the hole must be waited for as an acknowledged one", st)
	}
	h.ts = h.ts.Add(10 * time.Millisecond)
	h.send(zmtp.ServerToClient, ack, 901, 101, "")
	if st := h.a.Stats(); st.AckFlushes != 1 || st.GapBytes != 100 {
		t.Errorf("stats %+v", st)
	}
}

// TestWindowGivesUpHoleAtOnce: without AckGrace, outrunning the window
// gives the hole up at once.
func TestWindowGivesUpHoleAtOnce(t *testing.T) {
	h := newHarness(t, Options{AckGrace: -1})
	h.handshake(100, 900)
	h.send(zmtp.ServerToClient, ack, 901, 101, "")
	h.send(zmtp.ClientToServer, ack, 201, 901, string(make([]byte, 600)))
	h.send(zmtp.ClientToServer, ack, 801, 901, string(make([]byte, 600)))
	if st := h.a.Stats(); st.CapFlushes != 1 || st.GapBytes != 100 {
		t.Errorf("stats %+v", st)
	}
}

func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 400 {
		t.Errorf("conn is %d bytes; the documented budget is 384", n)
	}
}

// TestInOrderDoesNotAllocate: steady-state in-order data allocates nothing.
func TestInOrderDoesNotAllocate(t *testing.T) {
	a := New(factoryFunc(func(ConnInfo) Stream { return nopStream{} }), Options{})
	seg := &capture.Segment{
		Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
		SrcPort: 40000, DstPort: 5555, Flags: ack, Seq: 1, Payload: make([]byte, 1000), PayloadLen: 1000, TS: base,
	}
	a.Assemble(seg)
	allocs := testing.AllocsPerRun(1000, func() {
		seg.Seq += 1000
		seg.TS = seg.TS.Add(time.Microsecond)
		a.Assemble(seg)
	})
	if allocs != 0 {
		t.Errorf("%.2f allocations per in-order segment", allocs)
	}
	if st := a.Stats(); st.DataBytes != 1002*1000 { // AllocsPerRun runs once more to warm up
		t.Errorf("delivered %d bytes", st.DataBytes)
	}
}

func BenchmarkAssembleInOrder(b *testing.B) {
	for _, conns := range []int{1, 1000} {
		b.Run(fmt.Sprint("conns", conns), func(b *testing.B) {
			a := New(factoryFunc(func(ConnInfo) Stream { return nopStream{} }), Options{})
			segs := make([]capture.Segment, conns)
			for i := range segs {
				segs[i] = capture.Segment{
					Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
					SrcPort: uint16(10000 + i), DstPort: 5555, Flags: ack, Seq: 1,
					Payload: make([]byte, 1400), PayloadLen: 1400, TS: base,
				}
			}
			b.SetBytes(1400)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s := &segs[i%conns]
				a.Assemble(s)
				s.Seq += 1400
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "segments/s")
		})
	}
}

func BenchmarkAssembleOutOfOrder(b *testing.B) {
	a := New(factoryFunc(func(ConnInfo) Stream { return nopStream{} }), Options{})
	seg := capture.Segment{
		Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
		SrcPort: 10000, DstPort: 5555, Flags: ack, Payload: make([]byte, 1400), PayloadLen: 1400, TS: base,
	}
	next := uint32(1)
	b.SetBytes(1400)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Pairs swapped: the second segment first, buffered, then the first.
		if i%2 == 0 {
			seg.Seq = next + 1400
		} else {
			seg.Seq = next
			next += 2800
		}
		a.Assemble(&seg)
	}
}

// TestGapAckedThenSilent: an acknowledged hole is given up when AckGrace has
// passed in packet time, even if its own connection sends nothing more:
// another connection's packet is enough.
func TestGapAckedThenSilent(t *testing.T) {
	h := newHarness(t, Options{AckGrace: 10 * time.Millisecond})
	h.handshake(100, 900)
	h.send(zmtp.ClientToServer, ack, 101, 901, "AAAAA")
	h.send(zmtp.ClientToServer, ack, 111, 901, "CCCCC")
	h.send(zmtp.ServerToClient, ack, 901, 116, "") // acks past the hole, then silence
	h.expect(0, "AAAAA", "")
	other := &capture.Segment{
		Src: netip.MustParseAddr("10.9.9.9"), Dst: netip.MustParseAddr("10.9.9.8"),
		SrcPort: 1, DstPort: 2, Flags: ack, Seq: 1, TS: h.ts.Add(20 * time.Millisecond),
	}
	h.a.Assemble(other)
	h.expect(0, "AAAAA[skip 5]CCCCC", "")
	if st := h.a.Stats(); st.AckFlushes != 1 || len(h.a.waiting) != 0 {
		t.Errorf("stats %+v, %d waiting", st, len(h.a.waiting))
	}
}

package monitor

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// v1 builds a v1 message: [event(2) value(4)] [endpoint].
func v1(bo binary.ByteOrder, code uint16, value uint32, ep string) [][]byte {
	f := make([]byte, 6)
	bo.PutUint16(f[0:2], code)
	bo.PutUint32(f[2:6], value)
	return [][]byte{f, []byte(ep)}
}

// v2 builds a v2 message byte for byte from zmtp-wire.md §7: [event(8)]
// [count(8)] [value(8)]... [local] [remote].
func v2(bo binary.ByteOrder, code uint64, values []uint64, local, remote string) [][]byte {
	u := func(v uint64) []byte {
		b := make([]byte, 8)
		bo.PutUint64(b, v)
		return b
	}
	fr := [][]byte{u(code), u(uint64(len(values)))}
	for _, v := range values {
		fr = append(fr, u(v))
	}
	return append(fr, []byte(local), []byte(remote))
}

func withSource(src string, fr [][]byte) [][]byte {
	return append([][]byte{[]byte(src)}, fr...)
}

var le = binary.LittleEndian

func TestDecodeV1Bytes(t *testing.T) {
	// CONNECTED, fd 24, as libzmq 4.3.4 on x86-64 writes it (captured by
	// the libzmq_app.py run: 0100 18000000).
	frames := [][]byte{{0x01, 0x00, 0x18, 0x00, 0x00, 0x00}, []byte("tcp://127.0.0.1:37165")}
	ev, err := Decode(frames, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Version != 1 || ev.Code != EventConnected || ev.Name != "CONNECTED" || ev.Value != 24 ||
		ev.FD != 24 || ev.Endpoint != "tcp://127.0.0.1:37165" || ev.HasSource || ev.RemoteEndpoint != "" {
		t.Fatalf("got %+v", ev)
	}
	if len(ev.Values) != 1 || ev.Values[0] != 24 {
		t.Fatalf("values %v", ev.Values)
	}
}

func TestDecodeInterpretation(t *testing.T) {
	tests := []struct {
		name   string
		frames [][]byte
		check  func(Event) bool
		text   string
	}{
		{"connect delayed errno", v1(le, 0x2, 115, "tcp://h:1"),
			func(e Event) bool { return e.Errno == 115 && e.ErrnoName == "EINPROGRESS" },
			"v1 CONNECT_DELAYED value=115 errno=EINPROGRESS endpoint=tcp://h:1"},
		{"bind failed", v1(le, 0x10, 98, "tcp://*:1"),
			func(e Event) bool { return e.ErrnoName == "EADDRINUSE" }, "errno=EADDRINUSE"},
		{"no detail with libzmq errno", v1(le, 0x800, 156384763, "tcp://h:1"),
			func(e Event) bool { return e.ErrnoName == "EFSM" }, "errno=EFSM"},
		{"unknown errno", v1(le, 0x40, 4000, "tcp://h:1"),
			func(e Event) bool { return e.Errno == 4000 && e.ErrnoName == "" }, "errno=4000"},
		{"retried", v1(le, 0x4, 138, "tcp://h:1"),
			func(e Event) bool { return e.ReconnectInterval == 138*time.Millisecond }, "reconnect_interval=138ms"},
		{"mechanism mismatch", v1(le, 0x2000, 0x11000002, "tcp://h:1"),
			func(e Event) bool { return e.ProtocolError == "ZMTP_MECHANISM_MISMATCH" },
			"HANDSHAKE_FAILED_PROTOCOL value=0x11000002 protocol_error=ZMTP_MECHANISM_MISMATCH"},
		{"unknown protocol error", v1(le, 0x2000, 0x10000099, "tcp://h:1"),
			func(e Event) bool { return e.ProtocolError == "0x10000099" }, "protocol_error=0x10000099"},
		{"zap 400", v1(le, 0x4000, 400, "tcp://h:1"),
			func(e Event) bool { return e.ZAPStatus == 400 && e.ZAPStatusText == "authentication failure" },
			"zap_status=400 (authentication failure)"},
		{"zap 300", v1(le, 0x4000, 300, "tcp://h:1"),
			func(e Event) bool { return e.ZAPStatusText == "temporary failure" }, "zap_status=300"},
		{"monitor stopped", v1(le, 0x400, 0, ""),
			func(e Event) bool { return e.Name == "MONITOR_STOPPED" && e.Endpoint == "" }, `endpoint=""`},
		{"unknown code v1", v1(le, 0x8000, 7, "tcp://h:1"),
			func(e Event) bool { return e.Name == "0x8000" && !e.Code.Known() }, "v1 0x8000 value=7"},
		{"unknown code v2", v2(le, 0x40000, []uint64{1}, "a", "b"),
			func(e Event) bool { return e.Name == "0x40000" && e.Version == 2 }, "v2 0x40000 value=1"},
		{"v1 fd is 32-bit signed", v1(le, 0x80, 0xFFFFFFFF, "tcp://h:1"),
			func(e Event) bool { return e.FD == -1 && e.Value == 0xFFFFFFFF }, "fd=-1"},
		{"v2 connected", v2(le, 0x1, []uint64{12}, "tcp://127.0.0.1:5000", "tcp://127.0.0.1:6000"),
			func(e Event) bool {
				return e.FD == 12 && e.Endpoint == "tcp://127.0.0.1:5000" && e.RemoteEndpoint == "tcp://127.0.0.1:6000"
			}, "v2 CONNECTED value=12 fd=12 endpoint=tcp://127.0.0.1:5000 remote_endpoint=tcp://127.0.0.1:6000"},
		{"v2 pipes stats", v2(le, 0x10000, []uint64{1000, 3}, "tcp://127.0.0.1:5000", "tcp://127.0.0.1:6000"),
			func(e Event) bool { return e.Outbound == 1000 && e.Inbound == 3 && e.Name == "PIPES_STATS" },
			"v2 PIPES_STATS outbound=1000 inbound=3 endpoint="},
		{"v2 no values", v2(le, 0x1000, nil, "", ""),
			func(e Event) bool { return e.Value == 0 && len(e.Values) == 0 }, `remote_endpoint=""`},
		{"source v1", withSource("app/sock", v1(le, 0x20, 9, "tcp://h:1")),
			func(e Event) bool { return e.HasSource && e.Source == "app/sock" && e.Code == EventAccepted },
			"[app/sock] v1 ACCEPTED"},
		{"empty source v1", withSource("", v1(le, 0x20, 9, "tcp://h:1")),
			func(e Event) bool { return e.HasSource && e.Source == "" }, `[""] v1`},
		{"source v2", withSource("billing/dealer", v2(le, 0x10000, []uint64{5, 6}, "l", "r")),
			func(e Event) bool { return e.Source == "billing/dealer" && e.Outbound == 5 }, "[billing/dealer] v2 PIPES_STATS"},
		{"8-byte source v2 prefers the known code", withSource("app/sock", v2(le, 0x1, nil, "l", "r")),
			func(e Event) bool { return e.HasSource && e.Source == "app/sock" && e.Code == EventConnected },
			"[app/sock] v2 CONNECTED"},
		{"odd endpoint quoted", v1(le, 0x1, 1, "tcp://a b\n"),
			func(e Event) bool { return e.Endpoint == "tcp://a b\n" }, `endpoint="tcp://a b\n"`},
		// A forwarder's strings reach the terminal: ESC, C1 controls and the
		// right-to-left override are escaped, not passed through.
		{"hostile endpoint and source escaped", withSource("app\u202e/\x1b]0;t\x07", v1(le, 0x1, 1, "tcp://h:1\u009b2J\u202e")),
			func(e Event) bool { return e.Endpoint == "tcp://h:1\u009b2J\u202e" },
			`["app\u202e/\x1b]0;t\a"] v1 CONNECTED value=1 fd=1 endpoint="tcp://h:1\u009b2J\u202e"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Decode(tc.frames, DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(ev) {
				t.Fatalf("interpretation wrong: %+v", ev)
			}
			if got := ev.String(); !strings.Contains(got, tc.text) {
				t.Fatalf("text %q does not contain %q", got, tc.text)
			}
			var d Decoder
			ev2, err := d.Decode(tc.frames)
			if err != nil || ev2.String() != ev.String() {
				t.Fatalf("Decoder differs: %v %q vs %q", err, ev2.String(), ev.String())
			}
		})
	}
}

func TestDecodeByteOrder(t *testing.T) {
	be := binary.BigEndian
	ev, err := Decode(v1(be, 0x4000, 400, "tcp://h:1"), DecodeOptions{ByteOrder: be})
	if err != nil || ev.Code != EventHandshakeFailedAuth || ev.ZAPStatus != 400 {
		t.Fatalf("big-endian v1: %v %+v", err, ev)
	}
	ev, err = Decode(v2(be, 0x10000, []uint64{7, 8}, "l", "r"), DecodeOptions{ByteOrder: be})
	if err != nil || ev.Code != EventPipesStats || ev.Outbound != 7 || ev.Inbound != 8 {
		t.Fatalf("big-endian v2: %v %+v", err, ev)
	}
	// Read in the wrong order, the v2 count is huge: malformed, not a crash.
	_, err = Decode(v2(be, 0x1, []uint64{7}, "l", "r"), DecodeOptions{})
	if !errors.Is(err, ErrTooManyValues) {
		t.Fatalf("wrong byte order: %v", err)
	}
	if bo, err := ParseByteOrder("big"); err != nil || bo != binary.BigEndian {
		t.Fatal("ParseByteOrder big")
	}
	if _, err := ParseByteOrder("middle"); err == nil {
		t.Fatal("ParseByteOrder accepted middle")
	}
}

func TestDecodeSourceModes(t *testing.T) {
	msg := withSource("app/sock", v2(le, 0x1, nil, "l", "r"))
	ev, err := Decode(msg, DecodeOptions{Source: SourceNever})
	if err != nil || ev.HasSource || ev.Code.Known() {
		t.Fatalf("never: %v %+v", err, ev)
	}
	ev, err = Decode(v1(le, 1, 1, "e"), DecodeOptions{Source: SourceAlways})
	if !errors.Is(err, ErrShape) {
		t.Fatalf("always without a source: %v %+v", err, ev)
	}
	ev, err = Decode(withSource("x", v1(le, 1, 1, "e")), DecodeOptions{Source: SourceAlways})
	if err != nil || ev.Source != "x" {
		t.Fatalf("always: %v %+v", err, ev)
	}
	for _, s := range []string{"auto", "always", "never"} {
		if _, err := ParseSourceMode(s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ParseSourceMode("sometimes"); err == nil {
		t.Fatal("ParseSourceMode accepted sometimes")
	}
}

func TestDecodeMalformed(t *testing.T) {
	long := strings.Repeat("s", MaxSourceLen+1)
	tests := []struct {
		name   string
		frames [][]byte
		want   error
		msg    string
	}{
		{"no frames", nil, ErrNoFrames, "no frames"},
		{"one frame", [][]byte{{1, 0, 0, 0, 0, 0}}, ErrShape, "followed by 0 frames"},
		{"v1 three frames", [][]byte{{1, 0, 0, 0, 0, 0}, {}, {}}, ErrShape, "followed by 2 frames"},
		{"first frame 5 bytes", [][]byte{{1, 2, 3, 4, 5}, []byte("e")}, ErrShape, "first frame is 5 bytes"},
		{"v2 count short", v2(le, 1, []uint64{1, 2}, "l", "r")[:5], ErrValueCount, "count 2 needs 6 frames, got 5"},
		{"v2 count too big", func() [][]byte {
			f := v2(le, 1, []uint64{1}, "l", "r")
			le.PutUint64(f[1], 1<<62)
			return f
		}(), ErrTooManyValues, "limit 64"},
		{"v2 value 4 bytes", func() [][]byte {
			f := v2(le, 1, []uint64{1}, "l", "r")
			f[2] = f[2][:4]
			return f
		}(), ErrValueSize, "value 0 is 4 bytes"},
		{"v2 no count", [][]byte{make([]byte, 8), make([]byte, 3)}, ErrShape, "not followed by an 8-byte value count"},
		{"source then bad v2", withSource("src", v2(le, 1, []uint64{1}, "l", "r")[:4]), ErrValueCount, "after a 3-byte source frame"},
		{"source too long", withSource(long, v1(le, 1, 1, "e")), ErrSourceTooLong, "257 bytes"},
		{"endpoint too long", v1(le, 1, 1, strings.Repeat("e", MaxEndpointLen+1)), ErrEndpointLong, "limit 4096"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.frames, DecodeOptions{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not say %q", err, tc.msg)
			}
		})
	}
}

func TestEventJSON(t *testing.T) {
	ev, err := Decode(withSource("app/sock", v2(le, 0x10000, []uint64{3, 4}, "tcp://l:1", "tcp://r:2")), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ev.Time = time.Date(2026, 11, 25, 12, 0, 0, 1000, time.UTC)
	ev.Via = "tcp://127.0.0.1:7777"
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-11-25T12:00:00.000001Z","via":"tcp://127.0.0.1:7777","source":"app/sock","version":2,` +
		`"event":"PIPES_STATS","code":65536,"value":3,"values":[3,4],"endpoint":"tcp://l:1","remote_endpoint":"tcp://r:2",` +
		`"outbound":3,"inbound":4}`
	if string(b) != want {
		t.Fatalf("json\n got %s\nwant %s", b, want)
	}

	ev, _ = Decode(v1(le, 0x2, 111, "tcp://h:1"), DecodeOptions{})
	b, _ = json.Marshal(ev)
	want = `{"version":1,"event":"CONNECT_DELAYED","code":2,"value":111,"values":[111],"endpoint":"tcp://h:1","errno":111,"errno_name":"ECONNREFUSED"}`
	if string(b) != want {
		t.Fatalf("json\n got %s\nwant %s", b, want)
	}
	for _, tc := range []struct {
		frames [][]byte
		key    string
	}{
		{v1(le, 0x1, 5, "e"), `"fd":5`},
		{v1(le, 0x4, 100, "e"), `"reconnect_interval_ms":100`},
		{v1(le, 0x2000, 0x11000002, "e"), `"protocol_error":"ZMTP_MECHANISM_MISMATCH"`},
		{v1(le, 0x4000, 400, "e"), `"zap_status":400,"zap_status_text":"authentication failure"`},
		{v2(le, 0x1000, nil, "", ""), `"values":[],"endpoint":"","remote_endpoint":""`},
	} {
		ev, _ := Decode(tc.frames, DecodeOptions{})
		b, _ := json.Marshal(ev)
		if !strings.Contains(string(b), tc.key) {
			t.Errorf("%s lacks %s", b, tc.key)
		}
	}
}

func TestDecoderReuse(t *testing.T) {
	var d Decoder
	a, _ := d.Decode(v2(le, 0x10000, []uint64{1, 2}, "l", "r"))
	b, _ := d.Decode(v2(le, 0x10000, []uint64{3, 4}, "l", "r"))
	if a.Values[0] != 1 || a.Values[1] != 2 || b.Values[0] != 3 || b.Values[1] != 4 {
		t.Fatalf("values clobbered: %v %v", a.Values, b.Values)
	}
	a.Values = append(a.Values, 99) // capacity is capped: must not write into b
	if b.Values[0] != 3 {
		t.Fatal("append on an event's values overwrote another event")
	}
}

func FuzzDecode(f *testing.F) {
	join := func(fr [][]byte) []byte {
		// A fuzz input is frames joined as uint16 length + bytes.
		var b []byte
		for _, x := range fr {
			b = binary.LittleEndian.AppendUint16(b, uint16(len(x)))
			b = append(b, x...)
		}
		return b
	}
	f.Add(join(v1(le, 1, 24, "tcp://127.0.0.1:1")), uint8(0))
	f.Add(join(withSource("a/b", v1(le, 0x4000, 400, "tcp://h:1"))), uint8(0))
	f.Add(join(v2(le, 0x10000, []uint64{1, 2}, "l", "r")), uint8(1))
	f.Add(join(withSource("app/sock", v2(le, 1, nil, "l", "r"))), uint8(2))
	f.Add(join(v2(binary.BigEndian, 1, []uint64{9}, "l", "r")), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		var frames [][]byte
		for len(data) >= 2 && len(frames) < 200 {
			n := int(binary.LittleEndian.Uint16(data))
			data = data[2:]
			n = min(n, len(data))
			frames = append(frames, data[:n])
			data = data[n:]
		}
		opts := DecodeOptions{Source: SourceMode(mode % 3)}
		if mode&4 != 0 {
			opts.ByteOrder = binary.BigEndian
		}
		ev, err := Decode(frames, opts)
		if err != nil {
			if ev.Version != 0 {
				t.Fatalf("error with a half-filled event: %v", err)
			}
			return
		}
		if ev.Version != 1 && ev.Version != 2 {
			t.Fatalf("version %d", ev.Version)
		}
		if ev.Name == "" || len(ev.Values) > MaxValues {
			t.Fatalf("bad event %+v", ev)
		}
		_ = ev.String()
		if _, err := json.Marshal(ev); err != nil {
			t.Fatal(err)
		}
		var d Decoder
		d.Options = opts
		ev2, err := d.Decode(frames)
		if err != nil || ev2.String() != ev.String() {
			t.Fatalf("Decoder disagrees: %v", err)
		}
	})
}

func BenchmarkDecodeV1(b *testing.B) {
	frames := withSource("billing/dealer", v1(le, 0x1, 24, "tcp://127.0.0.1:37165"))
	benchDecode(b, frames)
}

func BenchmarkDecodeV2PipesStats(b *testing.B) {
	frames := withSource("billing/dealer", v2(le, 0x10000, []uint64{1000, 3}, "tcp://127.0.0.1:5000", "tcp://127.0.0.1:6000"))
	benchDecode(b, frames)
}

func benchDecode(b *testing.B, frames [][]byte) {
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(n))
		for b.Loop() {
			if _, err := Decode(frames, DecodeOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decoder", func(b *testing.B) {
		var d Decoder
		b.ReportAllocs()
		b.SetBytes(int64(n))
		for b.Loop() {
			if _, err := d.Decode(frames); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestMatchHelpers(t *testing.T) {
	for _, tc := range []struct {
		ep   string
		want string
	}{
		{"tcp://127.0.0.1:5555", "127.0.0.1:5555"},
		{"tcp://[::1]:6000", "[::1]:6000"},
		{"tcp://server:5555", ""},
		{"tcp://0.0.0.0:0", ""},
		{"ipc:///tmp/x", ""},
		{"", ""},
	} {
		got := ""
		if ap, ok := EndpointAddr(tc.ep); ok {
			got = ap.String()
		}
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.ep, got, tc.want)
		}
	}
	if EventConnected.Side() != SideConnecter || EventAccepted.Side() != SideListener || EventDisconnected.Side() != SideUnknown {
		t.Error("sides")
	}
}

// FuzzEventJSON reads arbitrary lines as `zspy monitor --json` events (what
// `zspy replay --monitor-log` does with a recorded log): no panic, no
// interpretation beyond the values given, and an event that reads back is
// written again as the same event.
func FuzzEventJSON(f *testing.F) {
	for _, frames := range [][][]byte{
		withSource("app/dealer", v1(le, 0x4000, 400, "tcp://127.0.0.1:5555")),
		v1(le, 0x4, 250, "tcp://127.0.0.1:5556"),
		withSource("a", v2(le, 0x10000, []uint64{7, 1}, "tcp://127.0.0.1:40000", "tcp://127.0.0.1:5555")),
		v2(le, 0x800, []uint64{0x10000001}, "tcp://h:1", "tcp://h:2"),
	} {
		ev, err := Decode(frames, DecodeOptions{})
		if err != nil {
			f.Fatal(err)
		}
		b, _ := json.Marshal(ev)
		f.Add(b)
	}
	f.Add([]byte(`{"time":"2026-11-25T12:00:00Z","version":2,"code":65536,"values":[]}`))
	f.Add([]byte(`{"version":1,"code":1024,"value":4294967295,"values":[1,2,3],"endpoint":""}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var ev Event
		if err := json.Unmarshal(line, &ev); err != nil {
			return
		}
		_ = ev.String()
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("read %q, cannot write it: %v", line, err)
		}
		var ev2 Event
		if err := json.Unmarshal(b, &ev2); err != nil {
			t.Fatalf("wrote %s, cannot read it back: %v", b, err)
		}
		if ev2.String() != ev.String() {
			t.Fatalf("round trip changed the event:\n%s\n%s", ev.String(), ev2.String())
		}
	})
}

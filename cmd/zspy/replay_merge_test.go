package main

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/pcaptest"
)

// splitCapture writes the packets of a real capture for which keep is true
// to a new pcap (raw IP, as capture -w writes it) and returns its path.
func splitCapture(t *testing.T, path, name string, keep func(tcp *layers.TCP) bool) string {
	t.Helper()
	data, cis, link := pcaptest.ReadPackets(t, path)
	if link != layers.LinkTypeEthernet {
		t.Fatalf("%s: link type %v, want Ethernet", path, link)
	}
	out := filepath.Join(t.TempDir(), name)
	w, err := capture.NewWriter(capture.WriterOptions{Path: out})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, d := range data {
		p := gopacket.NewPacket(d, layers.LayerTypeEthernet, gopacket.Default)
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil || !keep(tcp) {
			continue
		}
		w.WritePacket(cis[i].Timestamp, d[14:], cis[i].Length-14)
		n++
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("%s: no packet kept", name)
	}
	return out
}

// mergeView is what a merged replay must give as the original does: the
// connections and the tracing result (stages, per-hop counts).
type mergeView struct {
	Packets uint64 `json:"packets"`
	Stats   struct {
		Duplicates uint64 `json:"duplicates"`
	} `json:"stats"`
	Connections []map[string]any `json:"connections"`
	Tracing     *struct {
		Stages []struct {
			Kind  string          `json:"kind"`
			Front json.RawMessage `json:"front"`
			Back  json.RawMessage `json:"back"`
			Hops  []struct {
				Name  string `json:"name"`
				Count int    `json:"count"`
			} `json:"hops"`
			Waiting int `json:"waiting"`
		} `json:"stages"`
	} `json:"tracing"`
}

func replayView(t *testing.T, args ...string) (mergeView, map[string]json.RawMessage) {
	t.Helper()
	out, err := runZspyStdout(t, append([]string{"replay", "--json"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var v mergeView
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	for _, c := range v.Connections {
		// The number of the connection's first packet within its file:
		// another file's numbering once split.
		delete(c, "first_packet")
	}
	return v, raw
}

// The broker's capture (REQ → ROUTER|DEALER → REP on one host) split as two
// hosts would capture it: replay --merge of the parts gives the original's
// connections and tracing (one broker, the same per-hop counts), while
// reading the parts one after the other does not trace the broker; a part
// that both captures hold counts its copies as duplicates.
func TestReplayMerge(t *testing.T) {
	orig := pcaps + "broker/capture.pcap"
	front := func(tcp *layers.TCP) bool { return tcp.SrcPort == 16530 || tcp.DstPort == 16530 }
	back := func(tcp *layers.TCP) bool { return !front(tcp) }
	fa := splitCapture(t, orig, "front.pcap", front)
	fb := splitCapture(t, orig, "back.pcap", back)
	// Overlap: the second capture holds the back and one front connection
	// (client port 26530) too.
	shared := func(tcp *layers.TCP) bool { return tcp.SrcPort == 26530 || tcp.DstPort == 26530 }
	ob := splitCapture(t, orig, "back-and-one.pcap", func(tcp *layers.TCP) bool { return back(tcp) || shared(tcp) })

	want, wantRaw := replayView(t, orig)
	if want.Tracing == nil || len(want.Tracing.Stages) != 1 || want.Tracing.Stages[0].Kind != "broker" {
		t.Fatalf("original: tracing %+v, want one broker", want.Tracing)
	}
	nShared := 0
	data, _, _ := pcaptest.ReadPackets(t, orig)
	for _, d := range data {
		p := gopacket.NewPacket(d, layers.LayerTypeEthernet, gopacket.Default)
		if tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP); tcp != nil && shared(tcp) {
			nShared++
		}
	}
	for _, tc := range []struct {
		name  string
		files []string
		dups  uint64
	}{
		{"split by connection", []string{fa, fb}, 0},
		{"split by connection, back first", []string{fb, fa}, 0},
		{"overlapping", []string{fa, ob}, uint64(nShared)},
	} {
		got, gotRaw := replayView(t, append([]string{"--merge"}, tc.files...)...)
		if got.Stats.Duplicates != tc.dups {
			t.Errorf("%s: %d duplicates, want %d", tc.name, got.Stats.Duplicates, tc.dups)
		}
		if got.Packets != want.Packets+tc.dups { // packets read, copies included
			t.Errorf("%s: %d packets read, want the original's %d and %d copies", tc.name, got.Packets, want.Packets, tc.dups)
		}
		if !reflect.DeepEqual(got.Connections, want.Connections) {
			t.Errorf("%s: connections differ from the original's:\n%v\nwant\n%v", tc.name, got.Connections, want.Connections)
		}
		if !reflect.DeepEqual(gotRaw["tracing"], wantRaw["tracing"]) {
			t.Errorf("%s: tracing differs from the original's:\n%s\nwant\n%s", tc.name, gotRaw["tracing"], wantRaw["tracing"])
		}
	}
	// Read one after the other, the front's requests wait for replies
	// that, in packet time, came before them: the broker shows only the way
	// in, with every message still waiting.
	seq, seqRaw := replayView(t, fa, fb)
	if reflect.DeepEqual(seqRaw["tracing"], wantRaw["tracing"]) {
		t.Errorf("sequential replay of the split captures traced the broker as the original does")
	}
	if seq.Tracing == nil || len(seq.Tracing.Stages) != 1 || seq.Tracing.Stages[0].Waiting == 0 || len(seq.Tracing.Stages[0].Hops) >= len(want.Tracing.Stages[0].Hops) {
		t.Errorf("sequential replay of the split captures: tracing %s, want a broker with fewer hops and messages waiting", seqRaw["tracing"])
	}
	if w := want.Tracing.Stages[0]; len(w.Hops) != 4 || w.Hops[3].Name != "end to end" || w.Hops[3].Count != 60 || w.Waiting != 0 {
		t.Errorf("original: broker %+v, want 4 hops with 60 end to end and none waiting", w)
	}
}

// replay --ui --merge: the dashboard replays the merged captures, and the
// report printed when it quits traces the broker as the plain merge does
// (120 messages forwarded; read one after the other, 60).
func TestReplayMergeUI(t *testing.T) {
	orig := pcaps + "broker/capture.pcap"
	front := func(tcp *layers.TCP) bool { return tcp.SrcPort == 16530 || tcp.DstPort == 16530 }
	fa := splitCapture(t, orig, "front.pcap", front)
	fb := splitCapture(t, orig, "back.pcap", func(tcp *layers.TCP) bool { return !front(tcp) })
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--merge", fa, fb}, "240 messages, 120 forwarded by stages"},
		{[]string{fa, fb}, "240 messages, 60 forwarded by stages"},
	} {
		scr := &endScreen{SimulationScreen: tcell.NewSimulationScreen("UTF-8"), ended: make(chan struct{})}
		uiScreen = scr
		type result struct {
			out []byte
			err error
		}
		res := make(chan result, 1)
		go func() {
			out, err := runZspyStdout(t, append([]string{"replay", "--ui", "--speed", "max"}, tc.args...)...)
			res <- result{out, err}
		}()
		<-scr.ended
		scr.InjectKey(tcell.KeyRune, 'q', tcell.ModNone)
		r := <-res
		uiScreen = nil
		if r.err != nil {
			t.Fatal(r.err)
		}
		if !strings.Contains(string(r.out), tc.want) {
			t.Errorf("replay --ui %v: report without %q:\n%s", tc.args, tc.want, r.out)
		}
	}
}

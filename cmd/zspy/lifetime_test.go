package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/pcaptest"
	"github.com/zspy/zspy/internal/truth"
)

type lifetimeReport struct {
	Connections []struct {
		ID             uint64   `json:"id"`
		Client         string   `json:"client"`
		Server         string   `json:"server"`
		State          string   `json:"state"`
		Mechanism      string   `json:"mechanism"`
		ClientSocket   string   `json:"client_socket"`
		ServerSocket   string   `json:"server_socket"`
		RolesInferred  bool     `json:"roles_inferred"`
		MidStream      bool     `json:"mid_stream"`
		Subscriptions  []string `json:"subscriptions"`
		RefusedBefore  int      `json:"refused_before"`
		NotListeningMS float64  `json:"not_listening_ms"`
		C2S, S2C       struct {
			Messages int `json:"messages"`
		}
		Latency *struct {
			Count int `json:"count"`
		} `json:"latency"`
	} `json:"connections"`
	Refused []struct {
		ClientHost     string  `json:"client_host"`
		Server         string  `json:"server"`
		Count          int     `json:"count"`
		First          string  `json:"first"`
		Last           string  `json:"last"`
		NotListeningMS float64 `json:"not_listening_ms"`
		Connection     uint64  `json:"connection"`
		Messages       *uint64 `json:"messages"`
	} `json:"refused_attempts"`
}

func replayLifetimeJSON(t *testing.T, args ...string) lifetimeReport {
	t.Helper()
	out, err := runZspyStdout(t, append([]string{"replay", "--json"}, args...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var r lifetimeReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return r
}

// Quiet connections are not split (issue 14, item 1): a real PUB/SUB and a
// real REQ/REP connection silent for 3 s, replayed with an idle timeout of
// 1 s, stay one connection each, from handshake to FIN, with their socket
// types, mechanism, subscription, roles, every message and every latency,
// as the peers recorded them.
func TestReplayQuietConnections(t *testing.T) {
	tc, err := truth.Load(pcaps + "quiet_conns")
	if err != nil {
		t.Fatal(err)
	}
	first, last, _ := pcaptest.Span(t, tc.CapturePath())
	if gap := maxGap(t, tc.CapturePath()); gap < 2900*time.Millisecond || last.Sub(first) < gap {
		t.Fatalf("the capture's longest silence is %v, want the scenario's 3 s", gap)
	}
	r := replayLifetimeJSON(t, "--idle-timeout", "1s", tc.CapturePath())
	if len(r.Connections) != len(tc.Connections) {
		t.Fatalf("%d connections, want %d: %+v", len(r.Connections), len(tc.Connections), r.Connections)
	}
	for i, want := range tc.Connections {
		got := r.Connections[i]
		if got.Client != fmt.Sprintf("%s:%d", want.Client.Addr, want.Client.Port) || got.State != "closed" || got.MidStream ||
			got.ClientSocket != want.Client.SocketType || got.ServerSocket != want.Server.SocketType || got.Mechanism != "NULL" || got.RolesInferred {
			t.Errorf("%s: %+v", want.ID, got)
		}
		if got.C2S.Messages != *want.C2S.Messages || got.S2C.Messages != *want.S2C.Messages {
			t.Errorf("%s: messages %d/%d, want %d/%d", want.ID, got.C2S.Messages, got.S2C.Messages, *want.C2S.Messages, *want.S2C.Messages)
		}
		if fmt.Sprint(got.Subscriptions) != fmt.Sprint(want.Subscriptions) {
			t.Errorf("%s: subscriptions %q, want %q", want.ID, got.Subscriptions, want.Subscriptions)
		}
		if want.Client.SocketType == "REQ" && (got.Latency == nil || got.Latency.Count != *want.C2S.Messages) {
			t.Errorf("%s: latency %+v, want %d samples", want.ID, got.Latency, *want.C2S.Messages)
		}
	}
}

// The start-up story (issue 14, item 7) on the real late_bind capture: the
// refused connects are one entry, not rows; it names the client host and
// the server, the count and the first and last attempt as the capture has
// them, how long the server was not listening (first refused SYN to the SYN
// that got through), and the connection that delivered the queued request.
func TestReplayLateBindStartup(t *testing.T) {
	path := pcaps + "late_bind/capture.pcap"
	// What the capture shows, read independently of the tracker: SYNs
	// to the server port, and which were answered by RST.
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var syns []time.Time
	rsts := 0
	var seg capture.Segment
	for src.Next(&seg) == nil {
		switch {
		case seg.DstPort == 16120 && seg.Flags&capture.FlagSYN != 0 && seg.Flags&capture.FlagACK == 0:
			syns = append(syns, seg.TS)
		case seg.SrcPort == 16120 && seg.Flags&capture.FlagRST != 0:
			rsts++
		}
	}
	src.Close()
	if rsts < 2 || len(syns) != rsts+1 {
		t.Fatalf("capture: %d SYNs, %d RSTs", len(syns), rsts)
	}
	r := replayLifetimeJSON(t, path)
	if len(r.Connections) != 1 || len(r.Refused) != 1 {
		t.Fatalf("%d connections, %d refused entries; want 1 and 1:\n%+v", len(r.Connections), len(r.Refused), r)
	}
	c, e := r.Connections[0], r.Refused[0]
	wantNL := float64(syns[len(syns)-1].Sub(syns[0]).Microseconds()) / 1000
	if e.ClientHost != "127.0.0.1" || e.Server != "127.0.0.1:16120" || e.Count != rsts || e.NotListeningMS != wantNL {
		t.Errorf("refused entry %+v, want %d attempts from 127.0.0.1 to 127.0.0.1:16120, not listening %.3f ms", e, rsts, wantNL)
	}
	if e.First != syns[0].UTC().Format(time.RFC3339Nano) {
		t.Errorf("first attempt %s, want %s", e.First, syns[0].UTC().Format(time.RFC3339Nano))
	}
	if e.Connection != c.ID || e.Messages == nil || *e.Messages != 1 || c.RefusedBefore != rsts || c.NotListeningMS != wantNL || c.State != "closed" {
		t.Errorf("delivering connection %d (%v messages), connection %+v", e.Connection, e.Messages, c)
	}
	out, err := runZspyStdout(t, "replay", path)
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("start-up: 127.0.0.1:16120 was not listening for %s: %d connects from 127.0.0.1 refused between %s and %s; connection %d got through at %s and delivered what was queued (1 message from the client)",
		syns[len(syns)-1].Sub(syns[0]).Round(time.Millisecond), rsts, syns[0].UTC().Format("15:04:05.000"), syns[len(syns)-2].UTC().Format("15:04:05.000"), c.ID, syns[len(syns)-1].UTC().Format("15:04:05.000"))
	if !strings.Contains(string(out), line+"\n") || !strings.Contains(string(out), "1 ZeroMQ connection,") || strings.Contains(string(out), "refused  ") {
		t.Errorf("text report lacks\n%s\n%s", line, out)
	}
}

func maxGap(t *testing.T, path string) time.Duration {
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var seg capture.Segment
	var prev time.Time
	var gap time.Duration
	for src.Next(&seg) == nil {
		if !prev.IsZero() {
			gap = max(gap, seg.TS.Sub(prev))
		}
		prev = seg.TS
	}
	return gap
}

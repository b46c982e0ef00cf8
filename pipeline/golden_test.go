package pipeline

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/truth"
	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/tracker"
)

var update = flag.Bool("update", false, "rewrite testdata/pcaps/*/expected.json from zspy's output")

// corpus is the capture corpus; ZSPY_CORPUS points the tests at another one
// (a scenario being tried before it joins the corpus).
var corpus = func() string {
	if d := os.Getenv("ZSPY_CORPUS"); d != "" {
		return d
	}
	return "../testdata/pcaps"
}()

// replayFile runs one capture file through a fresh pipeline.
func replayFile(t testing.TB, path string) *report.Report {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	return replaySource(t, src, nil)
}

// replaySource runs src through a fresh pipeline, with l (if any) listening
// to the tracker.
func replaySource(t testing.TB, src capture.Source, l tracker.Listener) *report.Report {
	t.Helper()
	p := New(Config{})
	if l != nil {
		p.Tracker.SetListener(l)
	}
	if err := p.Run(src, nil); err != nil {
		t.Fatal(err)
	}
	p.Finish()
	return p.Report()
}

func port(t *testing.T, ep string) int {
	ap, err := netip.ParseAddrPort(ep)
	if err != nil {
		t.Fatalf("endpoint %q: %v", ep, err)
	}
	return int(ap.Port())
}

// TestCorpusAgainstTruth replays every real capture and checks the report
// against what the ZeroMQ peers that made it recorded (truth.json).
func TestCorpusAgainstTruth(t *testing.T) {
	cases, err := truth.LoadAll(corpus)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no cases in the corpus")
	}
	for _, tc := range cases {
		t.Run(tc.Case, func(t *testing.T) {
			r := replayFile(t, tc.CapturePath())
			if len(r.Warnings) > 0 {
				t.Errorf("warnings: %v", r.Warnings)
			}
			matched := map[uint64]bool{}
			// Refused attempts are not rows: they collapse into one start-up
			// entry per client host and server endpoint, with their count.
			refusedWant, refusedGot := map[int]int{}, map[int]int{}
			for _, e := range r.Refused {
				refusedGot[port(t, e.Server)] += e.Count
			}
			for i := range tc.Connections {
				want := &tc.Connections[i]
				if want.State == "refused" {
					refusedWant[want.Server.Port]++
					continue
				}
				got := find(t, r, want, matched)
				if got == nil {
					t.Errorf("%s: connection %s:%d → %d not in the report", want.ID, want.Client.Addr, want.Client.Port, want.Server.Port)
					continue
				}
				matched[got.ID] = true
				compare(t, want, got)
			}
			if fmt.Sprint(refusedWant) != fmt.Sprint(refusedGot) {
				t.Errorf("refused attempts per server port: %v, want %v", refusedGot, refusedWant)
			}
			for _, c := range r.Connections {
				if !matched[c.ID] {
					t.Errorf("report has a connection the truth lacks: %s → %s (%s)", c.Client, c.Server, c.State)
				}
			}
			golden(t, tc.Dir, r)
		})
	}
}

func find(t *testing.T, r *report.Report, want *truth.Conn, matched map[uint64]bool) *report.Connection {
	for i := range r.Connections {
		c := &r.Connections[i]
		if matched[c.ID] || port(t, c.Server) != want.Server.Port {
			continue
		}
		if want.Client.Port != 0 && port(t, c.Client) != want.Client.Port {
			continue
		}
		if (want.State == "refused") != (c.State == "refused") {
			continue
		}
		return c
	}
	return nil
}

func compare(t *testing.T, want *truth.Conn, got *report.Connection) {
	t.Helper()
	id := want.ID
	check := func(field string, g, w any) {
		t.Helper()
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("%s: %s = %v, want %v", id, field, g, w)
		}
	}
	wantState := want.State
	if wantState == "dropped" {
		// A peer closed after a failed handshake: on the wire, a close.
		wantState = "closed"
	}
	check("state", got.State, wantState)
	if want.State == "refused" {
		return
	}
	check("mid_stream", got.MidStream, !want.HandshakeCaptured)
	if want.HandshakeCaptured {
		v := want.ZMTPVersion
		if want.ClientZMTP != "" && want.ClientZMTP < v {
			v = want.ClientZMTP
		}
		if want.ServerZMTP != "" && want.ServerZMTP < v {
			v = want.ServerZMTP
		}
		check("zmtp", got.ZMTP, v)
		check("mechanism", got.Mechanism, want.Mechanism)
		// Under CURVE the socket types travel encrypted, and a handshake that
		// failed before READY never told them.
		if want.Mechanism != "CURVE" && want.HandshakeError == "" {
			check("client_socket", got.ClientSocket, want.Client.SocketType)
			check("server_socket", got.ServerSocket, want.Server.SocketType)
			// go-zeromq/zmq4 sends a random UUID as Identity when none is set;
			// its peers cannot record it.
			if deref(want.Client.Identity) != "" || !strings.Contains(want.Client.Library, "zmq4") {
				check("client_identity", got.ClientIdentity, deref(want.Client.Identity))
			}
			if deref(want.Server.Identity) != "" || !strings.Contains(want.Server.Library, "zmq4") {
				check("server_identity", got.ServerIdentity, deref(want.Server.Identity))
			}
		}
		check("plain_username", got.PlainUsername, want.PlainUsername)
	}
	if want.RolesInferable {
		check("client_socket", got.ClientSocket, want.Client.SocketType)
		check("server_socket", got.ServerSocket, want.Server.SocketType)
		check("roles_inferred", got.RolesInferred, true)
	}
	for _, d := range []struct {
		name string
		g    report.Counts
		w    truth.Direction
	}{{"c2s", got.C2S, want.C2S}, {"s2c", got.S2C, want.S2C}} {
		if (d.g.Messages == nil) != (d.w.Messages == nil) {
			t.Errorf("%s: %s messages = %v, want %v", id, d.name, ptr(d.g.Messages), ptr(d.w.Messages))
		} else if d.w.Messages != nil && int(*d.g.Messages) != *d.w.Messages {
			t.Errorf("%s: %s messages = %d, want %d", id, d.name, *d.g.Messages, *d.w.Messages)
		}
		check(d.name+" frames", d.g.Frames, d.w.Frames)
		check(d.name+" bytes", d.g.Bytes, d.w.Bytes)
	}
	if want.Subscriptions != nil || len(got.Subscriptions) > 0 {
		g, w := slices.Clone(got.Subscriptions), slices.Clone(want.Subscriptions)
		slices.Sort(g)
		slices.Sort(w)
		check("subscriptions", strings.Join(g, ","), strings.Join(w, ","))
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func ptr(p any) string {
	switch v := p.(type) {
	case *uint64:
		if v == nil {
			return "null"
		}
		return fmt.Sprint(*v)
	case *int:
		if v == nil {
			return "null"
		}
		return fmt.Sprint(*v)
	}
	return "?"
}

// golden compares the whole JSON report with the case's expected.json (the
// reviewed output of an earlier run); -update rewrites it.
func golden(t *testing.T, dir string, r *report.Report) {
	t.Helper()
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "expected.json")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no expected report (run go test ./pipeline -update and review the diff): %v", err)
	}
	if !bytes.Equal(want, buf.Bytes()) {
		t.Errorf("report differs from %s (run with -update and review the diff):\n%s", path, firstDiff(string(want), buf.String()))
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths differ: %d vs %d lines", len(al), len(bl))
}

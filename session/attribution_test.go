package session

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/host"
	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// A live capture on lo with the host view writes a pcapng (as capture -w
// does: the packets, and the attribution as custom blocks); its replay names
// the same processes, by PID and command, as the live run's report did, and
// its zspy_connection series carry their commands as tags. Real
// libzmq processes: a PUB and a SUB that reads 10 messages.
func TestPcapngCarriesAttribution(t *testing.T) {
	pub, pubOut := hostPeer(t, "pub", "tcp://127.0.0.1:*", "50", "64")
	ep := readLine(t, pubOut, "ready ")
	server := strings.TrimPrefix(ep, "tcp://")
	// Only the PUB's port: other runs use lo at the same time, and their
	// connections would crowd the host view and its recorded attribution
	// (an attribution past host.MaxAttributionBytes leaves ends out).
	port, err := netip.ParseAddrPort(server)
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.OpenLive("lo", capture.LiveOptions{ReadTimeout: 50 * time.Millisecond,
		Filter: &capture.Filter{Ports: []uint16{port.Port()}}})
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			t.Skipf("live capture needs root or CAP_NET_RAW: %v", err)
		}
		t.Fatal(err)
	}
	hs, err := host.New(host.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()
	path := filepath.Join(t.TempDir(), "attr.pcapng")
	w, err := capture.NewWriter(capture.WriterOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := Config{Live: src, Host: hs, Annotate: w.Annotate}
	cfg.LiveOptions.OnSegment = func(seg *capture.Segment, raw []byte, wire int) {
		w.WritePacket(seg.TS, raw, wire)
	}
	s := New(cfg)
	// The run stops once an update holds the SUB's connection with both
	// processes (on a loaded machine the capture and the host view lag the
	// peers: the test waits for them, the context the only timeout).
	attributed := make(chan struct{}, 1)
	s.Subscribe(listenerFunc(func(u *Update) {
		for _, r := range u.Snapshot.Records {
			if _, srv := r.Names(); srv != server || r.ClientSocket != zmtp.SUB {
				continue
			}
			if c, ok := u.Host.Conn(r.ID); ok && c.Sides[0] != nil && c.Sides[0].First() != nil && c.Sides[1] != nil && c.Sides[1].First() != nil {
				select {
				case attributed <- struct{}{}:
				default:
				}
			}
		}
	}))
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	sub, subOut := hostPeer(t, "sub", ep, "10")
	readLine(t, subOut, "ready")
	readLine(t, subOut, "stopped")
	select {
	case <-attributed:
	case <-ctx.Done():
		t.Fatal("no update with the SUB's connection and both its processes")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.AnnotationsLost() != 0 {
		t.Fatalf("%d annotations not written", w.AnnotationsLost())
	}
	procs := func(name string, rep interface{}) (int, string, int, string) {
		t.Helper()
		r := s.Report()
		if rep != nil {
			r = rep.(*Session).Report()
		}
		for _, c := range r.Connections {
			if c.Server == server && c.ClientSocket == "SUB" {
				if c.ClientHost == nil || c.ServerHost == nil {
					t.Fatalf("%s: connection to %s without both processes: %+v %+v", name, server, c.ClientHost, c.ServerHost)
				}
				return c.ClientHost.PID, c.ClientHost.Command, c.ServerHost.PID, c.ServerHost.Command
			}
		}
		t.Fatalf("%s: no SUB connection to %s", name, server)
		return 0, "", 0, ""
	}
	lc, lcc, ls, lsc := procs("live", nil)
	if lc != sub.Process.Pid || ls != pub.Process.Pid || lcc != "python3" || lsc != "python3" {
		t.Fatalf("live: client %s[%d], server %s[%d]; want python3[%d] and python3[%d]", lcc, lc, lsc, ls, sub.Process.Pid, pub.Process.Pid)
	}

	f, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cmds []string // the commands of the zspy_connection points to server
	rs := New(Config{Files: []capture.Source{f}, Pipeline: pipeline.Config{Interval: 100 * time.Millisecond},
		OnInterval: func(_ time.Time, _ *tracker.Snapshot, pts []store.Point) {
			for i := range pts {
				if p := &pts[i]; p.Measurement == metrics.MeasConnection && tag(p, "server") == server {
					cmds = append(cmds, tag(p, "sender")+":"+tag(p, "sender_command")+">"+tag(p, "receiver")+":"+tag(p, "receiver_command"))
				}
			}
		}})
	if err := rs.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	rc, rcc, rsv, rsc := procs("replay", rs)
	if rc != lc || rcc != lcc || rsv != ls || rsc != lsc {
		t.Fatalf("replay: client %s[%d], server %s[%d]; live had %s[%d], %s[%d]", rcc, rc, rsc, rsv, lcc, lc, lsc, ls)
	}
	// The zspy_connection series name the commands too (from the interval
	// after the first attribution in the file).
	if !slices.Contains(cmds, "PUB:python3>SUB:python3") {
		t.Fatalf("replay's zspy_connection points to %s have commands %q, want PUB:python3>SUB:python3", server, cmds)
	}
	if h := rs.Report().Host; h == nil || h.Recorded == 0 {
		t.Fatalf("replay's host part %+v, want the recorded attributions counted", h)
	}
}

// A pcapng whose zspy custom block does not decode replays with a warning
// that says so (nothing lost silently), and no processes.
func TestRecordedAttributionUnreadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.pcapng")
	w, err := capture.NewWriter(capture.WriterOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	w.Annotate([]byte(host.AttributionMagic + `{"ends":[`))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := New(Config{Files: []capture.Source{f}})
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := s.Report()
	ws, _ := s.Warnings()
	if r.Host != nil || !slices.ContainsFunc(ws, func(w string) bool { return strings.Contains(w, "1 unreadable (of 0 read)") }) {
		t.Fatalf("host %+v, warnings %q", r.Host, ws)
	}
}

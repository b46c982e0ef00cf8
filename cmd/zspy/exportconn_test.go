package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/tracker"
)

func replayJSON(t *testing.T, file string) *report.Report {
	t.Helper()
	out, err := runZspyStdout(t, "replay", "--json", file)
	if err != nil {
		t.Fatalf("replay %s: %v", file, err)
	}
	var r report.Report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// replay --export-conn ID -w FILE writes that connection's packets, both
// directions, and nothing else: replaying the file finds the one connection
// with the same counts as in the whole capture; endpoints select it too.
func TestReplayExportConn(t *testing.T) {
	in := filepath.Join(pcaps, "pubsub", "capture.pcap")
	whole := replayJSON(t, in)
	var want *report.Connection
	for i, c := range whole.Connections {
		if c.Client == "127.0.0.1:26022" {
			want = &whole.Connections[i]
		}
	}
	if want == nil {
		t.Fatal("no connection from 127.0.0.1:26022 in pubsub")
	}
	for _, sel := range []string{strconv.FormatUint(want.ID, 10), want.Client + "," + want.Server} {
		out := filepath.Join(t.TempDir(), "conn.pcap")
		msg, err := runZspy(t, "replay", in, "--export-conn", sel, "-w", out)
		if err != nil {
			t.Fatalf("--export-conn %s: %v\n%s", sel, err, msg)
		}
		if !strings.Contains(msg, "zspy: wrote ") || !strings.Contains(msg, want.Client) || strings.Contains(msg, "connections") {
			t.Errorf("--export-conn %s said %q", sel, msg)
		}
		got := replayJSON(t, out)
		if len(got.Connections) != 1 {
			t.Fatalf("--export-conn %s: the file holds %d connections", sel, len(got.Connections))
		}
		c := got.Connections[0]
		if c.Client != want.Client || c.Server != want.Server || c.C2S.Frames != want.C2S.Frames || c.S2C.Frames != want.S2C.Frames ||
			c.S2C.Bytes != want.S2C.Bytes || c.State != want.State || c.Handshake != want.Handshake || *c.S2C.Messages != *want.S2C.Messages {
			t.Errorf("--export-conn %s: exported connection %+v\nwant %+v", sel, c, *want)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--export-conn", "3"}, "-w FILE"},
		{[]string{"-w", filepath.Join(t.TempDir(), "x.pcap")}, "--export-conn ID"},
		{[]string{"--export-conn", "99", "-w", filepath.Join(t.TempDir(), "x.pcap")}, "no connection 99"},
		{[]string{"--export-conn", "ten", "-w", filepath.Join(t.TempDir(), "x.pcap")}, "want a connection ID"},
	} {
		_, err := runZspy(t, append([]string{"replay", in}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("replay %v: %v, want %q", c.args, err, c.want)
		}
	}
}

// The dashboard's export (e) under replay --ui writes the record's packets
// to zspy-connID.pcap in the current directory, never over an older one;
// capture --ui without -w says why it cannot, and standard input cannot be
// read again.
func TestDashboardExporters(t *testing.T) {
	in, err := filepath.Abs(filepath.Join(pcaps, "pubsub", "capture.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	whole := replayJSON(t, in)
	c := whole.Connections[len(whole.Connections)-1]
	r := &tracker.Record{ID: c.ID, Client: netip.MustParseAddrPort(c.Client), Server: netip.MustParseAddrPort(c.Server), Start: c.Start, Last: c.End}
	t.Chdir(t.TempDir())
	for _, want := range []string{fmt.Sprintf("zspy-conn%d.pcap", c.ID), fmt.Sprintf("zspy-conn%d-2.pcap", c.ID)} {
		msg, err := replayExporter([]string{in})(r)
		if err != nil || !strings.Contains(msg, want) {
			t.Fatalf("export: %q, %v; want it written to %s", msg, err, want)
		}
		got := replayJSON(t, want)
		if len(got.Connections) != 1 || got.Connections[0].Client != c.Client || *got.Connections[0].S2C.Messages != *c.S2C.Messages {
			t.Errorf("%s holds %+v", want, got.Connections)
		}
	}
	if _, err := liveExporter(nil)(r); err == nil || !strings.Contains(err.Error(), "-w FILE") {
		t.Errorf("capture without -w: %v", err)
	}
	if _, err := replayExporter([]string{"-"})(r); err == nil || !strings.Contains(err.Error(), "standard input") {
		t.Errorf("replay -: %v", err)
	}
}

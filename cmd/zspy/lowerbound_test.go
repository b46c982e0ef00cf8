package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/zspy/zspy/report"
)

// A real tcpdump -s 200 capture of libzmq traffic (testdata/snap200: 20000
// messages, many to a segment) loses frame sync where headers fell in the
// cut bytes: the counts are lower bounds, and the summary line, the message
// column (N+) and the warnings (text and JSON) say so; each count stays at
// or below what the peers themselves counted.
func TestReplayLowerBounds(t *testing.T) {
	const file = "testdata/snap200/capture.pcap"
	var truth struct {
		S2CMessages uint64 `json:"s2c_messages"`
	}
	b, err := os.ReadFile("testdata/snap200/truth.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &truth); err != nil || truth.S2CMessages == 0 {
		t.Fatalf("truth: %v %s", err, b)
	}
	text, err := runZspyStdout(t, "replay", file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(text), "\n")
	if len(lines) < 4 || !strings.Contains(lines[3], "; counts are lower bounds (frame sync lost") ||
		!strings.HasPrefix(lines[4], "warning: counts are lower bounds: frame sync lost") ||
		!strings.Contains(lines[4], "cut by the snap length") {
		t.Errorf("text report does not say the counts are lower bounds:\n%s", text)
	}
	if f := strings.Fields(lines[1]); len(f) < 9 || !strings.HasSuffix(f[8], "+") {
		t.Errorf("the s2c message column is not marked N+: %q", lines[1])
	}
	js, err := runZspyStdout(t, "replay", "--json", file)
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal(js, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Connections) != 1 || r.LowerBounds == "" || len(r.Warnings) == 0 || !strings.HasPrefix(r.Warnings[0], "counts are lower bounds") {
		t.Fatalf("JSON: lower_bounds %q, warnings %q", r.LowerBounds, r.Warnings)
	}
	c := r.Connections[0]
	if c.S2C.LostSync == 0 || c.S2C.Messages == nil || *c.S2C.Messages >= truth.S2CMessages || r.Stats.TruncatedPackets == 0 {
		t.Errorf("s2c: lost sync %d, messages %v of %d crossed, %d packets cut", c.S2C.LostSync, c.S2C.Messages, truth.S2CMessages, r.Stats.TruncatedPackets)
	}
	t.Logf("%d of %d messages counted; %s", *c.S2C.Messages, truth.S2CMessages, r.LowerBounds)

	// Cut packets whose frame boundaries were all followed: the counts
	// hold, and the warning says that instead.
	js, err = runZspyStdout(t, "replay", "--json", pcaps+"snap_steady/capture.pcap.gz")
	if err != nil {
		t.Fatal(err)
	}
	r = report.Report{}
	if err := json.Unmarshal(js, &r); err != nil {
		t.Fatal(err)
	}
	if r.LowerBounds != "" || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "the counts hold") {
		t.Errorf("snap_steady: lower_bounds %q, warnings %q", r.LowerBounds, r.Warnings)
	}
}

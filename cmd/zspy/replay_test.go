package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const pcaps = "../../testdata/pcaps/"

func TestReplayJSONWithAlerts(t *testing.T) {
	out, err := runZspy(t, "replay", "--json", pcaps+"mismatch/capture.pcap")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Packets     int `json:"packets"`
		Connections []struct {
			ClientSocket string `json:"client_socket"`
			ServerSocket string `json:"server_socket"`
			Compatible   bool   `json:"compatible"`
		} `json:"connections"`
		Alerts []struct {
			Rule   string `json:"rule"`
			State  string `json:"state"`
			Client string `json:"client"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(r.Connections) != 1 || r.Connections[0].ClientSocket != "PUB" || r.Connections[0].ServerSocket != "PUSH" || r.Connections[0].Compatible {
		t.Fatalf("connections %+v", r.Connections)
	}
	if len(r.Alerts) != 1 || r.Alerts[0].Rule != "incompatible_sockets" || r.Alerts[0].State != "firing" || r.Alerts[0].Client != "127.0.0.1:26150" {
		t.Fatalf("alerts %+v", r.Alerts)
	}
}

func TestReplayHealthyHasNoAlerts(t *testing.T) {
	out, err := runZspy(t, "replay", "--json", pcaps+"reqrep/capture.pcap", "--show-secrets")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"alerts": []`) && strings.Contains(out, `"alerts"`) {
		t.Fatalf("a healthy capture raised alerts:\n%s", out)
	}
}

// Passwords are redacted unless asked for, in the report and the events.
func TestReplaySecrets(t *testing.T) {
	for _, args := range [][]string{
		{"replay", "--json", pcaps + "plain_ok/capture.pcap"},
		{"replay", "--events", pcaps + "plain_ok/capture.pcap"},
		{"replay", "--events", "--json", pcaps + "plain_ok/capture.pcap"},
		{"replay", pcaps + "plain_ok/capture.pcap"},
	} {
		out, err := runZspy(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, "secret") {
			t.Fatalf("%v printed the password:\n%s", args, out)
		}
		shown, err := runZspy(t, append(args, "--show-secrets")...)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(shown, "secret") {
			t.Fatalf("%v --show-secrets did not print the password", args)
		}
	}
}

// A missing or unreadable file fails with one line naming it; nothing else
// is printed.
func TestReplayMissingFile(t *testing.T) {
	garbage := filepath.Join(t.TempDir(), "garbage.bin")
	if err := os.WriteFile(garbage, []byte("this is not a capture file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"/nonexistent/x.pcap", garbage} {
		out, err := runZspy(t, "replay", f)
		if err == nil || !strings.Contains(err.Error(), filepath.Base(f)) || strings.Contains(err.Error(), "\n") || out != "" {
			t.Fatalf("%s: err %v, output %q", f, err, out)
		}
	}
}

// --events --json prints one JSON object per line, in packet order.
func TestReplayEvents(t *testing.T) {
	out, err := runZspy(t, "replay", "--events", "--json", pcaps+"pubsub/capture.pcap")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var last uint64
	kinds := map[string]int{}
	for _, l := range lines {
		var e struct {
			Packet uint64 `json:"packet"`
			Event  string `json:"event"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		if e.Packet < last {
			t.Fatalf("packet %d after %d", e.Packet, last)
		}
		last = e.Packet
		kinds[e.Event]++
	}
	if kinds["greeting"] != 6 || kinds["message"] != 66 || kinds["subscription"] == 0 {
		t.Fatalf("events %v", kinds)
	}
}

// --monitor-log merges a recorded event log with its capture: connections gain
// the monitor's view; a damaged line is a warning naming the file and line,
// counted in the report, and the rest of the log still merges.
func TestReplayMonitorLog(t *testing.T) {
	const dir = "../../monitor/testdata/merge/"
	b, err := os.ReadFile(dir + "events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	damaged := strings.Join(lines[:2], "") + "{\"version\": 1, \"time\": \"not a time\"}\n" + strings.Join(lines[2:], "")
	log := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(log, []byte(damaged), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runZspy(t, "replay", "--json", "--monitor-log", log, dir+"capture.pcap")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Warnings    []string `json:"warnings"`
		Connections []struct {
			Monitor *struct {
				ClientSource string `json:"client_source"`
				Handshake    string `json:"handshake"`
			} `json:"monitor"`
		} `json:"connections"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	merged := 0
	for _, c := range r.Connections {
		if c.Monitor != nil && c.Monitor.ClientSource != "" {
			merged++
		}
	}
	if merged < 3 {
		t.Errorf("%d connections carry the monitor's view", merged)
	}
	if len(r.Warnings) != 1 || !strings.HasPrefix(r.Warnings[0], log+": line 3: ") {
		t.Errorf("warnings %q", r.Warnings)
	}
	if _, err := runZspy(t, "replay", "--monitor-log", filepath.Join(t.TempDir(), "none.jsonl"), dir+"capture.pcap"); err == nil || !strings.Contains(err.Error(), "monitor log") {
		t.Errorf("missing log: %v", err)
	}
}

// replay - reads the capture from standard input, compressed or not, as
// tcpdump -r - does; the report is the file's.
func TestReplayStdin(t *testing.T) {
	for _, name := range []string{"reqrep/capture.pcap", "gzip/capture.pcap.gz"} {
		want, err := runZspyStdout(t, "replay", "--json", pcaps+name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(pcaps + name)
		if err != nil {
			t.Fatal(err)
		}
		root := newRootCmd()
		var out strings.Builder
		root.SetIn(f)
		root.SetOut(&out)
		root.SetErr(&strings.Builder{})
		root.SetArgs([]string{"replay", "--json", "-"})
		err = root.Execute()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != string(want) {
			t.Errorf("%s: replay - differs from replaying the file", name)
		}
	}
	if _, err := runZspyStdout(t, "replay", "-", "-"); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("replay - -: %v", err)
	}
}

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCaptureWithMonitor runs real libzmq applications (bind/connect, a
// mechanism mismatch, a PLAIN client with a wrong password) on a namespace's
// loopback while `zspy capture --monitor` watches the wire and takes their
// socket-monitor events, relayed by contrib/python/zspy_monitor.py over ipc.
// The final report must hold one view per connection: the wire's counts and
// handshake result, and the monitors' sources, events and failure reasons.
func TestCaptureWithMonitor(t *testing.T) {
	requirePyzmq(t)
	tp := newTopology(t, false)
	dir := t.TempDir()
	sock := "ipc://" + filepath.Join(dir, "monitor.sock")
	record := filepath.Join(dir, "record.json")
	zspy := startCapture(t, "capture-monitor", tp.NSA, "-i", "lo", "--json", "--no-store", "--no-rules",
		"--monitor", "@pull+"+sock, "--stats-every", "50ms")
	contrib, err := filepath.Abs("../contrib/python")
	if err != nil {
		t.Fatal(err)
	}
	app := start(t, "libzmq-app", tp.NSA, "env", "PYTHONPATH="+contrib, python, "../monitor/testdata/libzmq_app.py",
		"--forward", sock, "--record", record, "bind_connect", "mechanism_mismatch", "bad_password")
	app.wait(t)
	raw, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	var relayed []json.RawMessage
	if err := json.Unmarshal(raw, &relayed); err != nil {
		t.Fatal(err)
	}
	// Stop only once zspy has merged every event the application relayed.
	want := fmt.Sprintf("monitor events %d", len(relayed))
	zspy.waitLine(t, "a status line with "+want, func(l string) bool { return strings.HasSuffix(l, want) }, true)
	zspy.interrupt(t)
	zspy.wait(t)

	var rep struct {
		Connections []struct {
			Client, Server string
			State          string `json:"state"`
			Handshake      string `json:"handshake"`
			HandshakeError string `json:"handshake_error"`
			Mechanism      string `json:"mechanism"`
			PlainUsername  string `json:"plain_username"`
			Monitor        *struct {
				ClientSource string `json:"client_source"`
				ServerSource string `json:"server_source"`
				Handshake    string `json:"handshake"`
				Disconnects  int    `json:"disconnects"`
				Events       []struct {
					Event string `json:"event"`
				} `json:"events"`
			} `json:"monitor"`
		} `json:"connections"`
	}
	if err := json.Unmarshal([]byte(zspy.stdout.String()), &rep); err != nil {
		t.Fatalf("%v\n%s", err, zspy.stdout)
	}
	type view struct{ handshake, wireErr, monHandshake string }
	want3 := map[string]view{
		"bind_connect/dealer bind_connect/router":                        {"complete", "", "succeeded"},
		"mechanism_mismatch/null_client mechanism_mismatch/plain_server": {"failed", "mechanism mismatch", "failed: HANDSHAKE_FAILED_PROTOCOL ZMTP_MECHANISM_MISMATCH"},
		"bad_password/plain_client bad_password/plain_server":            {"failed", "ERROR 400", "failed: HANDSHAKE_FAILED_AUTH ZAP 400 (authentication failure)"},
	}
	seen := 0
	for _, c := range rep.Connections {
		if c.Monitor == nil {
			continue
		}
		key := c.Monitor.ClientSource + " " + c.Monitor.ServerSource
		w, ok := want3[key]
		if !ok {
			t.Errorf("connection %s → %s annotated by unexpected sources %q", c.Client, c.Server, key)
			continue
		}
		seen++
		if c.Handshake != w.handshake || c.HandshakeError != w.wireErr || c.Monitor.Handshake != w.monHandshake {
			t.Errorf("%s: handshake %q %q, monitor %q; want %+v", key, c.Handshake, c.HandshakeError, c.Monitor.Handshake, w)
		}
		if c.Monitor.Disconnects == 0 || len(c.Monitor.Events) < 3 {
			t.Errorf("%s: monitor view %+v", key, c.Monitor)
		}
	}
	if seen != len(want3) {
		t.Fatalf("%d of %d connections carry the monitors' view:\n%s", seen, len(want3), zspy.stdout)
	}
}

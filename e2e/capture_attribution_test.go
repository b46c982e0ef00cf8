package e2e

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

// hostSides is the host view's part of a report's connections.
type hostSides struct {
	Connections []struct {
		Client     string `json:"client"`
		Server     string `json:"server"`
		ClientHost *struct {
			Known   bool   `json:"known"`
			PID     int    `json:"pid"`
			Command string `json:"command"`
		} `json:"client_host"`
	} `json:"connections"`
	Host *struct {
		Recorded int `json:"recorded_attributions"`
	} `json:"host"`
}

// zspy capture -w FILE.pcapng with the host view (the built binary, in a
// namespace, over a veth): a libzmq PULL in zspy's namespace, a PUSH in the
// other. zspy replay FILE.pcapng names the PULL's end with the PID and
// command the capture's own report had.
func TestCaptureWritePcapngAttribution(t *testing.T) {
	tp := newTopology(t, true)
	requirePyzmq(t)
	zspy, _ := tools(t)
	a, b := tp.AddrA, tp.AddrB
	file := filepath.Join(t.TempDir(), "attr.pcapng")
	capt := startCapture(t, "zspy -w", tp.NSA, "-i", tp.VethA, "--json", "--no-store", "-w", file)
	srv := startPeer(t, peerSpec{ID: "push-py", Socket: "PUSH", Bind: tcpEP("", b+":16203"), Messages: pushMessages(10), Hold: true, ns: tp.NSB})
	srv.waitLine(t, "ready line", isEvent("ready"), false)
	cl := startPeer(t, peerSpec{ID: "pull-py", Socket: "PULL", Connect: tcpEP(a+":26203", b+":16203"), Count: 10, Hold: true, ns: tp.NSA})
	cl.waitLine(t, "finished line", isEvent("finished"), false)
	// The PULL holds its socket: zspy's last host sample, at its stop, finds it.
	capt.interrupt(t)
	capt.wait(t)
	srv.send(t, "close")
	cl.send(t, "close")

	client := a + ":26203"
	side := func(name string, out []byte) (int, string, int) {
		t.Helper()
		var r hostSides
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		recorded := 0
		if r.Host != nil {
			recorded = r.Host.Recorded
		}
		for _, c := range r.Connections {
			if c.Client == client {
				if c.ClientHost == nil || !c.ClientHost.Known {
					t.Fatalf("%s: the PULL's end %s has no process: %+v", name, client, c.ClientHost)
				}
				return c.ClientHost.PID, c.ClientHost.Command, recorded
			}
		}
		t.Fatalf("%s: no connection from %s; report:\n%s\nstderr:\n%s", name, client, out, capt.stderr.String())
		return 0, "", 0
	}
	lp, lc, _ := side("capture", []byte(capt.stdout.String()))
	if lp != cl.cmd.Process.Pid || lc != "python3" {
		t.Fatalf("capture named the PULL %s[%d], want python3[%d]", lc, lp, cl.cmd.Process.Pid)
	}
	rp := start(t, "zspy replay", "", zspy, "replay", "--json", file)
	rp.wait(t)
	pp, pc, rec := side("replay", []byte(rp.stdout.String()))
	if pp != lp || pc != lc || rec == 0 {
		t.Fatalf("replay of %s named the PULL %s[%d] (%d attributions recorded); the capture had %s[%d]", file, pc, pp, rec, lc, lp)
	}
}

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCaptureWriteSurvivesSIGKILL kills a `zspy capture -w` (rotating every
// 20 kB) with SIGKILL after a libzmq PUSH sent 40 messages to a zmq4 PULL
// across the veth: the files it leaves replay to every packet it wrote up
// to its last flush (its timer flushes every 500 ms, so the whole exchange
// is there once it has had one period to reach the disk), with the counts
// the peers recorded. A 0-byte file after them in the set (a rotation the
// crash cut before its first flush) is read as an empty capture with a
// warning naming it, not a reason to reject the set.
func TestCaptureWriteSurvivesSIGKILL(t *testing.T) {
	tp := newTopology(t, true)
	requirePyzmq(t)
	zspy, _ := tools(t)
	a, b := tp.AddrA, tp.AddrB
	dir := t.TempDir()
	base := filepath.Join(dir, "crash.pcapng")
	capt := startCapture(t, "zspy -w", tp.NSA, "-i", tp.VethA, "--json", "--no-store", "-w", base, "--rotate-size", "20KB")

	srv := startPeer(t, peerSpec{ID: "push-py", Socket: "PUSH", Bind: tcpEP("", b+":16201"), Messages: pushMessages(40), Hold: true, ns: tp.NSB})
	srv.waitLine(t, "ready line", isEvent("ready"), false)
	cl := startPeer(t, peerSpec{ID: "pull-go", Socket: "PULL", Connect: tcpEP(a+":26201", b+":16201"), Count: 40, zmq4: true, ns: tp.NSA})
	recs := map[string]peerRecord{"pull-go": cl.record(t)}
	srv.waitLine(t, "finished line", isEvent("finished"), false)
	srv.send(t, "close")
	recs["push-py"] = srv.record(t)
	ws := []want{{conn: conn{client: a + ":26201", server: b + ":16201", clientID: "pull-go", serverID: "push-py", oneToOne: true},
		clientRec: recs["pull-go"], serverRec: recs["push-py"], zmtp: "3.0"}}

	files := func() []string {
		fs, _ := filepath.Glob(strings.TrimSuffix(base, ".pcapng") + "-*.pcapng")
		slices.Sort(fs)
		return fs
	}
	replay := func(fs []string) (report, string) {
		rp := start(t, "zspy replay", "", append([]string{zspy, "replay", "--json"}, fs...)...)
		rp.wait(t)
		return parseReport(t, "zspy replay", []byte(rp.stdout.String())), rp.stderr.String()
	}
	// Wait (bounded) for the flush timer to put the whole exchange, to the
	// last FIN, on disk while zspy runs on.
	deadline := time.Now().Add(waitLimit)
	for {
		r, _ := replay(files())
		if len(r.Connections) == 1 && r.Connections[0].State == "closed" && r.Connections[0].S2C.Messages != nil && *r.Connections[0].S2C.Messages == 40 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("zspy capture -w never flushed the exchange to %q: replay says %s", files(), summary(r))
		}
		if capt.exited() {
			t.Fatalf("zspy capture exited: %s", capt.stderr)
		}
		time.Sleep(100 * time.Millisecond) // polls the files; the deadline fails the test
	}
	if err := capt.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-capt.done
	fs := files()
	if len(fs) < 2 {
		t.Fatalf("--rotate-size 20KB wrote %d files (%q)", len(fs), fs)
	}
	r, _ := replay(fs)
	checkReport(t, r, ws)

	empty := strings.TrimSuffix(base, ".pcapng") + fmt.Sprintf("-%04d.pcapng", len(fs)+1)
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r2, _ := replay(append(fs, empty))
	if a, b := summary(r), summary(r2); a != b {
		t.Errorf("with a 0-byte last file the replay differs:\nwithout:\n%s\nwith:\n%s", a, b)
	}
	warned := false
	for _, w := range r2.Warnings {
		warned = warned || (strings.Contains(w, empty) && strings.Contains(w, "empty"))
	}
	if !warned {
		t.Errorf("no warning names the empty file %s: %q", empty, r2.Warnings)
	}
}

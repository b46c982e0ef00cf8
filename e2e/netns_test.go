package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// peerSpec is the JSON spec peer.py and zmq4peer read (see peer.py).
type peerSpec struct {
	ID       string     `json:"id"`
	Socket   string     `json:"socket"`
	Bind     string     `json:"bind,omitempty"`
	Connect  string     `json:"connect,omitempty"`
	Identity string     `json:"identity,omitempty"`
	Messages [][]string `json:"messages,omitempty"`
	Replies  [][]string `json:"replies,omitempty"`
	Count    int        `json:"count,omitempty"`
	Topics   []string   `json:"topics,omitempty"`
	Cancel   []string   `json:"cancel,omitempty"`
	Hold     bool       `json:"hold,omitempty"`

	zmq4 bool   // run by zmq4peer, else by peer.py
	ns   string // the namespace it runs in
}

// startPeer runs a peer in its namespace.
func startPeer(tb testing.TB, sp peerSpec) *proc {
	tb.Helper()
	_, zmq4peer := tools(tb)
	js, err := json.Marshal(sp)
	if err != nil {
		tb.Fatal(err)
	}
	if sp.zmq4 {
		return start(tb, sp.ID, sp.ns, zmq4peer, string(js))
	}
	return start(tb, sp.ID, sp.ns, python, "testdata/peer.py", string(js))
}

// tcpEP is a tcp:// endpoint; with a source it is libzmq's fixed-source form.
func tcpEP(src, dst string) string {
	if src == "" {
		return "tcp://" + dst
	}
	return "tcp://" + src + ";" + dst
}

// conn is one connection the peers made: the connecting peer is the client.
type conn struct {
	client, server     string // ip:port
	clientID, serverID string // peer ids
	oneToOne           bool   // the server peer had only this connection
	sub                bool   // the client is a SUB
}

// want is the connection as the peers recorded it.
type want struct {
	conn
	clientRec, serverRec peerRecord
	zmtp                 string
}

// payloads of the scenarios: "*N" is N pattern bytes.
var (
	reqMessages = [][]string{{""}, {"*1"}, {"*255"}, {"*256"}, {"hello", "*1000"},
		{"*70000"}, {"a", "b", "c"}, {"*10"}, {"*3000"}, {"end"}}
	repReplies  = [][]string{{"ok"}, {"*300"}, {"two", "*1"}}
	pubMessages = [][]string{{"alpha", "a1"}, {"beta", "b1", "*500"}, {"alphabet", "*2000"},
		{"gamma", "g"}, {"beta", "b2"}, {"alpha", "*70000"}}
	dealerMessages = [][]string{{"job-1"}, {"job-2", "*64"}, {"job-3", "", "*1500"},
		{"job-4"}, {"job-5", "*20000"}, {"job-6", "x", "y", "z"}}
	routerReplies = [][]string{{"r1"}, {"r2", "*100"}}
)

// pushMessages returns n messages of varied sizes.
func pushMessages(n int) [][]string {
	var m [][]string
	for i := 0; i < n; i++ {
		switch i % 5 {
		case 0:
			m = append(m, []string{fmt.Sprintf("task %d", i)})
		case 1:
			m = append(m, []string{fmt.Sprintf("*%d", i*37)})
		case 2:
			m = append(m, []string{"head", fmt.Sprintf("*%d", 250+i)})
		case 3:
			m = append(m, []string{""})
		default:
			m = append(m, []string{fmt.Sprintf("*%d", 5000+i*100)})
		}
	}
	return m
}

// TestNetnsCapture runs ZeroMQ peers (libzmq and zmq4) across a veth pair
// between two network namespaces and on the loopback of one of them, captures
// with eleven zspy instances at once (the veth; "any"; "any" on three rings
// by flow hash; "lo", stopped by
// SIGTERM; the veth with --count 20, with --snaplen 200, with -w to pcap,
// with -w to pcapng rotated every 100 kB, with -w rotated every 100 ms, with
// --port; "any" with --host 127.0.0.1), and checks each live report, and
// the replay of the written files, against what the peers recorded: connections by their
// ports, socket types, identities, ZMTP version, messages, frames, bytes and
// commands per direction, subscriptions and their history, and zero drops.
func TestNetnsCapture(t *testing.T) {
	tp := newTopology(t, true)
	requirePyzmq(t)
	tools(t)
	a, b := tp.AddrA, tp.AddrB
	ep := func(host string, port int) string { return fmt.Sprintf("%s:%d", host, port) }
	const lo = "127.0.0.1"

	// Captures first: every connection's SYN must be seen.
	capVeth := startCapture(t, "zspy -i veth", tp.NSA, "-i", tp.VethA, "--json", "--no-store")
	capAny := startCapture(t, "zspy -i any", tp.NSA, "-i", "any", "--json", "--no-store")
	capLo := startCapture(t, "zspy -i lo", tp.NSA, "-i", "lo", "--json", "--no-store")
	// Three rings by flow hash, each read and reassembled by a worker of
	// its own, with small blocks (the traffic spans many), writing what
	// they read.
	dir := t.TempDir()
	fanPcap := filepath.Join(dir, "fan.pcap")
	capFan := startCapture(t, "zspy -i any --fanout 3 -w", tp.NSA, "-i", "any", "--json", "--no-store", "--fanout", "3", "--block-size", "64KiB", "--ring-size", "4MiB", "-w", fanPcap)
	pcap := filepath.Join(dir, "veth.pcap")
	capWrite, writeSkip := startWriteCapture(t, "zspy -i veth -w", tp.NSA, "-i", tp.VethA, "--json", "--no-store", "-w", pcap)
	rotated := filepath.Join(dir, "rot.pcapng")
	capRotate, rotateSkip := startWriteCapture(t, "zspy -i veth -w --rotate-size", tp.NSA, "-i", tp.VethA, "--json", "--no-store", "-w", rotated, "--rotate-size", "100KB")
	capPort, portSkip := startOptionalCapture(t, "zspy -i veth --port", "--port", tp.NSA, "-i", tp.VethA, "--json", "--no-store", "--port", "16002", "--port", "16007")
	capHost, hostSkip := startOptionalCapture(t, "zspy -i any --host", "--host", tp.NSA, "-i", "any", "--json", "--no-store", "--host", lo)
	capCount := startCapture(t, "zspy -i veth --count 20", tp.NSA, "-i", tp.VethA, "--json", "--no-store", "--count", "20")
	// The same with two workers, which read ahead of the count.
	capFanCount := startCapture(t, "zspy -i veth --fanout 2 --count 20", tp.NSA, "-i", tp.VethA, "--json", "--no-store", "--fanout", "2", "--count", "20")
	// A live event stream (tcpdump -l habit): one JSON line per event.
	capEvents := startCapture(t, "zspy -i veth --events --json", tp.NSA, "-i", tp.VethA, "--events", "--json", "--no-store")
	// The text form, through a display filter: the client-to-server messages.
	capText := startCapture(t, "zspy -i veth --events -Y", tp.NSA, "-i", tp.VethA, "--events", "--no-store", "-Y", `event == "message" and dir == "c2s"`)
	// With the local store on: the report of a cut capture keeps the store's
	// counters (it once lost them, and its alerts, to the snap-length warning).
	capSnap := startCapture(t, "zspy -i veth --snaplen 200", tp.NSA, "-i", tp.VethA, "--json", "--data-dir", t.TempDir(), "--snaplen", "200")
	every := filepath.Join(dir, "every.pcap")
	capEvery, everySkip := startOptionalCapture(t, "zspy -i veth -w --rotate-every", "--rotate-every", tp.NSA, "-i", tp.VethA, "--json", "--no-store", "-w", every, "--rotate-every", "100ms")

	servers := []peerSpec{
		{ID: "rep-py", Socket: "REP", Bind: tcpEP("", ep(b, 16001)), Count: len(reqMessages), Replies: repReplies, ns: tp.NSB},
		{ID: "pub-py", Socket: "PUB", Bind: tcpEP("", ep(b, 16002)), Messages: pubMessages, ns: tp.NSB},
		{ID: "push-py", Socket: "PUSH", Bind: tcpEP("", ep(a, 16005)), Messages: pushMessages(40), ns: tp.NSA},
		{ID: "push-go", Socket: "PUSH", Bind: tcpEP("", ep(b, 16006)), Messages: pushMessages(30), zmq4: true, ns: tp.NSB},
		{ID: "router-py", Socket: "ROUTER", Identity: "router-py", Bind: tcpEP("", ep(b, 16007)), Count: 2 * len(dealerMessages), Replies: routerReplies, ns: tp.NSB},
		{ID: "pull-lo-py", Socket: "PULL", Bind: tcpEP("", ep(lo, 16101)), Count: 25, ns: tp.NSA},
		{ID: "rep-lo-py", Socket: "REP", Bind: tcpEP("", ep(lo, 16102)), Count: 5, Replies: repReplies, ns: tp.NSA},
	}
	clients := []peerSpec{
		{ID: "req-go", Socket: "REQ", Identity: "req-go", Connect: tcpEP(ep(a, 26001), ep(b, 16001)), Messages: reqMessages, zmq4: true, ns: tp.NSA},
		{ID: "sub-go", Socket: "SUB", Connect: tcpEP(ep(a, 26002), ep(b, 16002)), Topics: []string{"alpha", "ctl"}, zmq4: true, ns: tp.NSA},
		{ID: "sub-py", Socket: "SUB", Connect: tcpEP(ep(a, 26003), ep(b, 16002)), Topics: []string{"alpha", "beta", "ctl"}, Cancel: []string{"beta"}, ns: tp.NSA},
		{ID: "sub-all-py", Socket: "SUB", Connect: tcpEP(ep(a, 26004), ep(b, 16002)), Topics: []string{""}, ns: tp.NSA},
		{ID: "pull-go", Socket: "PULL", Connect: tcpEP(ep(b, 26005), ep(a, 16005)), Count: 40, zmq4: true, ns: tp.NSB},
		{ID: "pull-py", Socket: "PULL", Connect: tcpEP(ep(a, 26006), ep(b, 16006)), Count: 30, ns: tp.NSA},
		{ID: "dealer-py", Socket: "DEALER", Identity: "dealer-py", Connect: tcpEP(ep(a, 26007), ep(b, 16007)), Messages: dealerMessages, ns: tp.NSA},
		{ID: "dealer-go", Socket: "DEALER", Identity: "dealer-go", Connect: tcpEP(ep(a, 26008), ep(b, 16007)), Messages: dealerMessages, zmq4: true, ns: tp.NSA},
		{ID: "push-lo-go", Socket: "PUSH", Connect: tcpEP(ep(lo, 26101), ep(lo, 16101)), Messages: pushMessages(25), zmq4: true, ns: tp.NSA},
		{ID: "req-lo-py", Socket: "REQ", Identity: "req-lo", Connect: tcpEP(ep(lo, 26102), ep(lo, 16102)), Messages: reqMessages[:5], ns: tp.NSA},
	}
	vethConns := []conn{
		{client: ep(a, 26001), server: ep(b, 16001), clientID: "req-go", serverID: "rep-py", oneToOne: true},
		{client: ep(a, 26002), server: ep(b, 16002), clientID: "sub-go", serverID: "pub-py", sub: true},
		{client: ep(a, 26003), server: ep(b, 16002), clientID: "sub-py", serverID: "pub-py", sub: true},
		{client: ep(a, 26004), server: ep(b, 16002), clientID: "sub-all-py", serverID: "pub-py", sub: true},
		{client: ep(b, 26005), server: ep(a, 16005), clientID: "pull-go", serverID: "push-py", oneToOne: true},
		{client: ep(a, 26006), server: ep(b, 16006), clientID: "pull-py", serverID: "push-go", oneToOne: true},
		{client: ep(a, 26007), server: ep(b, 16007), clientID: "dealer-py", serverID: "router-py"},
		{client: ep(a, 26008), server: ep(b, 16007), clientID: "dealer-go", serverID: "router-py"},
	}
	loConns := []conn{
		{client: ep(lo, 26101), server: ep(lo, 16101), clientID: "push-lo-go", serverID: "pull-lo-py", oneToOne: true},
		{client: ep(lo, 26102), server: ep(lo, 16102), clientID: "req-lo-py", serverID: "rep-lo-py", oneToOne: true},
	}

	procs := map[string]*proc{}
	specs := map[string]peerSpec{}
	for _, sp := range servers {
		sp.Hold = true
		procs[sp.ID], specs[sp.ID] = startPeer(t, sp), sp
	}
	for _, sp := range servers {
		procs[sp.ID].waitLine(t, "ready line", isEvent("ready"), false)
	}
	for _, sp := range clients {
		procs[sp.ID], specs[sp.ID] = startPeer(t, sp), sp
	}
	// The PUB publishes once every SUB has its first (sync) message: all
	// subscriptions have reached it.
	for _, sp := range clients {
		if sp.Socket == "SUB" {
			procs[sp.ID].waitLine(t, "synced line", isEvent("synced"), false)
		}
	}
	procs["pub-py"].send(t, "go")
	// Clients close first: a server that vanished first would leave libzmq
	// clients retrying it (refused connections the test did not plan).
	recs := map[string]peerRecord{}
	for _, sp := range clients {
		recs[sp.ID] = procs[sp.ID].record(t)
	}
	for _, sp := range servers {
		procs[sp.ID].waitLine(t, "finished line", isEvent("finished"), false)
		procs[sp.ID].send(t, "close")
	}
	for _, sp := range servers {
		recs[sp.ID] = procs[sp.ID].record(t)
	}

	// Every peer has exited, so every packet has been sent; zspy drains what
	// the kernel queued before it reports.
	caps := []*proc{capVeth, capAny, capLo, capSnap, capFan}
	for _, c := range []*proc{capWrite, capRotate, capEvery, capPort, capHost} {
		if c != nil {
			caps = append(caps, c)
		}
	}
	for _, c := range caps {
		if c == capLo {
			// SIGTERM stops it as cleanly as SIGINT.
			if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			continue
		}
		c.interrupt(t)
	}
	reps := map[*proc]report{}
	for _, c := range caps {
		c.wait(t)
		reps[c] = parseReport(t, c.name, []byte(c.stdout.String()))
	}
	capEvents.interrupt(t)
	capEvents.wait(t)
	capText.interrupt(t)
	capText.wait(t)

	wants := func(cs []conn) []want {
		var ws []want
		for _, c := range cs {
			w := want{conn: c, clientRec: recs[c.clientID], serverRec: recs[c.serverID], zmtp: "3.1"}
			if specs[c.clientID].zmq4 || specs[c.serverID].zmq4 {
				w.zmtp = "3.0" // zmq4 greets with 3.0; the lower version wins
			}
			ws = append(ws, w)
		}
		return ws
	}
	vethWant, loWant := wants(vethConns), wants(loConns)
	checkPeerAgreement(t, append(vethWant, loWant...))

	t.Run("veth", func(t *testing.T) {
		r := reps[capVeth]
		checkReport(t, r, vethWant)
		if r.Stats.Duplicates != 0 {
			t.Errorf("a veth shows each packet once, but zspy counted %d duplicates", r.Stats.Duplicates)
		}
	})
	t.Run("events", func(t *testing.T) {
		// Every line is an event; the message events of each connection
		// and direction add up to the messages the veth capture's report
		// (checked against the peers above) counts.
		got := map[string]int{}
		lines := strings.Split(strings.TrimSpace(capEvents.stdout.String()), "\n")
		for _, l := range lines {
			var ev struct {
				Event, Client, Server, Dir string
			}
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("not an event line: %q: %v", l, err)
			}
			if ev.Event == "message" {
				got[ev.Client+" "+ev.Server+" "+ev.Dir]++
			}
		}
		checked := 0
		for _, c := range reps[capVeth].Connections {
			for _, d := range []struct {
				name string
				dir  repDir
			}{{"c2s", c.C2S}, {"s2c", c.S2C}} {
				if d.dir.Messages == nil {
					continue
				}
				checked++
				if k := c.Client + " " + c.Server + " " + d.name; got[k] != *d.dir.Messages {
					t.Errorf("%s: %d message events, the report counts %d", k, got[k], *d.dir.Messages)
				}
			}
		}
		if checked < 2*len(vethConns) || len(lines) < 100 {
			t.Errorf("only %d directions checked in %d event lines", checked, len(lines))
		}
	})
	t.Run("events text filtered", func(t *testing.T) {
		// One text line per client-to-server message, each naming the
		// client first (the sender), as many as the report counts.
		want := 0
		clients := map[string]bool{}
		for _, c := range reps[capVeth].Connections {
			if c.C2S.Messages != nil {
				want += int(*c.C2S.Messages)
			}
			clients[c.Client] = true
		}
		lines := strings.Split(strings.TrimSpace(capText.stdout.String()), "\n")
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) < 5 || !clients[f[1]] || !strings.Contains(l, " message ") {
				t.Fatalf("not a c2s message line: %q", l)
			}
		}
		if len(lines) != want || want == 0 {
			t.Errorf("%d text lines, the report counts %d client-to-server messages", len(lines), want)
		}
	})
	t.Run("lo", func(t *testing.T) {
		r := reps[capLo]
		checkReport(t, r, loWant)
		// lo shows every packet twice (sent and received); the counts above
		// match the peers only if each was counted once. The kernel filter
		// drops the sent copies, so none reached zspy.
		if r.Stats.Duplicates != 0 {
			t.Errorf("zspy on lo read %d duplicate copies that the kernel filter should have dropped", r.Stats.Duplicates)
		}
	})
	t.Run("any", func(t *testing.T) {
		r := reps[capAny]
		checkReport(t, r, append(slices.Clone(vethWant), loWant...))
		// lo's traffic is in it, twice on the wire, once in the counts; the
		// veth's sent packets are their only copy and are in the counts too.
		if r.Stats.Duplicates != 0 {
			t.Errorf("zspy on any read %d duplicate copies that the kernel filter should have dropped", r.Stats.Duplicates)
		}
	})
	t.Run("fanout", func(t *testing.T) {
		// Each connection on one ring and one worker: the report is the
		// single ring's, and the replay's of what the workers wrote (in
		// their merged order), with and without workers.
		r := reps[capFan]
		all := append(slices.Clone(vethWant), loWant...)
		checkReport(t, r, all)
		if a, b := summary(r), summary(reps[capAny]); a != b {
			t.Errorf("--fanout 3 differs from one ring:\nfanout:\n%s\none ring:\n%s", a, b)
		}
		checkReplay(t, r, []string{fanPcap}, all)
		zspy, _ := tools(t)
		rp := start(t, "zspy replay --workers 3", "", zspy, "replay", "--json", "--workers", "3", fanPcap)
		rp.wait(t)
		if a, b := summary(r), summary(parseReport(t, "zspy replay --workers 3", []byte(rp.stdout.String()))); a != b {
			t.Errorf("replay --workers 3 differs from the live report:\nlive:\n%s\nreplay:\n%s", a, b)
		}
	})
	t.Run("count", func(t *testing.T) {
		// --count stopped it on its own, long before the end of the traffic;
		// with workers, what they read past the count is left out.
		for _, c := range []*proc{capCount, capFanCount} {
			c.wait(t)
			r := parseReport(t, c.name, []byte(c.stdout.String()))
			// (Other packets the veth carries, ARP and IPv6 neighbour
			// discovery, are counted in packets but not in the count.)
			if r.Stats.TCPPackets != 20 {
				t.Errorf("%s: the report holds %d TCP packets", c.name, r.Stats.TCPPackets)
			}
			if len(r.Connections) == 0 {
				t.Errorf("%s: no connection in the report of the first 20 segments", c.name)
			}
		}
	})
	t.Run("write-replay", func(t *testing.T) {
		if capWrite == nil {
			t.Skipf("SKIPPED, NOT TESTED: %s", writeSkip)
		}
		checkReplay(t, reps[capWrite], []string{pcap}, vethWant)
	})
	t.Run("rotate-replay", func(t *testing.T) {
		if capRotate == nil {
			t.Skipf("SKIPPED, NOT TESTED: %s", rotateSkip)
		}
		files, _ := filepath.Glob(strings.TrimSuffix(rotated, ".pcapng") + "-*.pcapng")
		slices.Sort(files)
		if len(files) < 2 {
			t.Fatalf("--rotate-size 100KB wrote %d files (%q) of more than 300 kB of traffic", len(files), files)
		}
		t.Logf("--rotate-size 100KB wrote %d files", len(files))
		checkReplay(t, reps[capRotate], files, vethWant)
	})
	t.Run("rotate-every-replay", func(t *testing.T) {
		if capEvery == nil {
			t.Skipf("SKIPPED, NOT TESTED: %s", everySkip)
		}
		files, _ := filepath.Glob(strings.TrimSuffix(every, ".pcap") + "-*.pcap")
		slices.Sort(files)
		if len(files) == 0 {
			t.Fatalf("--rotate-every 100ms wrote no files")
		}
		t.Logf("--rotate-every 100ms wrote %d files", len(files))
		checkReplay(t, reps[capEvery], files, vethWant)
	})
	t.Run("snaplen", func(t *testing.T) {
		// Packets cut to 200 bytes: said once, counted, and every
		// connection still found with its sockets.
		r := reps[capSnap]
		if r.Stats.TruncatedPackets == 0 {
			t.Errorf("--snaplen 200: no truncated packets counted")
		}
		n := 0
		for _, w := range r.Warnings {
			if strings.Contains(w, "snap length") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("--snaplen 200: %d warnings about the snap length, want 1: %q", n, r.Warnings)
		}
		// Where a frame header fell in the cut bytes, the counts are lower
		// bounds and the report says so; else it says they hold.
		lost := 0
		for _, c := range r.Connections {
			lost += c.C2S.LostSync + c.S2C.LostSync
		}
		if said := len(r.Warnings) > 0 && strings.HasPrefix(r.Warnings[0], "counts are lower bounds"); said != (lost > 0) ||
			lost == 0 && !strings.Contains(r.Warnings[0], "the counts hold") {
			t.Errorf("--snaplen 200: lost sync %d, warnings %q", lost, r.Warnings)
		}
		got := map[string]string{}
		for _, c := range r.Connections {
			got[c.Client+" "+c.Server] = c.ClientSocket + "/" + c.ServerSocket
		}
		for _, w := range vethWant {
			if s, want := got[w.client+" "+w.server], w.clientRec.Socket+"/"+w.serverRec.Socket; s != want {
				t.Errorf("--snaplen 200: %s → %s: sockets %q, want %q", w.client, w.server, s, want)
			}
		}
		if r.Store == nil || !strings.HasPrefix(r.Store.Sink, "local ") || r.Store.Written == 0 {
			t.Errorf("--snaplen 200: store %+v, want the local store's counters", r.Store)
		}
		t.Logf("--snaplen 200: %d of %d packets cut; %s", r.Stats.TruncatedPackets, r.Stats.TCPPackets, summary(r))
	})
	t.Run("port-filter", func(t *testing.T) {
		if capPort == nil {
			t.Skipf("SKIPPED, NOT TESTED: %s", portSkip)
		}
		checkReport(t, reps[capPort], only(vethWant, b+":16002", b+":16007"))
	})
	t.Run("host-filter", func(t *testing.T) {
		if capHost == nil {
			t.Skipf("SKIPPED, NOT TESTED: %s", hostSkip)
		}
		checkReport(t, reps[capHost], loWant)
	})
}

// only keeps the connections to the given servers.
func only(ws []want, servers ...string) []want {
	var out []want
	for _, w := range ws {
		if slices.Contains(servers, w.server) {
			out = append(out, w)
		}
	}
	return out
}

// checkReplay checks a live report against the peers, replays the files it
// wrote, and checks that the replay gives the same connections and counts.
func checkReplay(t *testing.T, live report, files []string, ws []want) {
	t.Helper()
	checkReport(t, live, ws)
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("zspy capture -w: %v", err)
		}
	}
	zspy, _ := tools(t)
	rp := start(t, "zspy replay", "", append([]string{zspy, "replay", "--json"}, files...)...)
	rp.wait(t)
	replayed := parseReport(t, "zspy replay", []byte(rp.stdout.String()))
	checkReport(t, replayed, ws)
	if a, b := summary(live), summary(replayed); a != b {
		t.Errorf("replay of %q differs from the live report:\nlive:\n%s\nreplay:\n%s", files, a, b)
	}
}

// startWriteCapture starts zspy capture with -w; while -w is not available
// it returns nil and the reason.
func startWriteCapture(tb testing.TB, name, ns string, args ...string) (*proc, string) {
	tb.Helper()
	return startOptionalCapture(tb, name, "--write", ns, args...)
}

// startOptionalCapture starts zspy capture with a flag that may not exist
// yet (then it returns nil and the reason).
func startOptionalCapture(tb testing.TB, name, flag, ns string, args ...string) (*proc, string) {
	tb.Helper()
	if !hasFlag(tb, flag) {
		return nil, "zspy capture has no " + flag + " flag"
	}
	zspy, _ := tools(tb)
	p := start(tb, name, ns, append([]string{zspy, "capture"}, args...)...)
	for {
		if _, ok := p.stderr.find(contains("zspy: capturing on")); ok {
			return p, ""
		}
		if p.exited() {
			if strings.Contains(p.stderr.String(), "not available") {
				return nil, name + ": " + strings.TrimSpace(p.stderr.String())
			}
			p.waitLine(tb, `"zspy: capturing on" line`, contains("zspy: capturing on"), true) // fails with the output
		}
		select {
		case <-p.stderr.notify:
		case <-p.done:
		}
	}
}

// hasFlag reports whether zspy capture --help lists flag.
func hasFlag(tb testing.TB, flag string) bool {
	zspy, _ := tools(tb)
	out, _ := exec.Command(zspy, "capture", "--help").CombinedOutput()
	return strings.Contains(string(out), flag+" ")
}

// checkPeerAgreement checks that both ends of every one-to-one connection
// agree on what crossed it (a failure here is a test bug, not zspy's).
func checkPeerAgreement(t *testing.T, ws []want) {
	t.Helper()
	for _, w := range ws {
		if !w.oneToOne {
			continue
		}
		if w.clientRec.Sent.String() != w.serverRec.Recv.String() || w.clientRec.Recv.String() != w.serverRec.Sent.String() {
			t.Fatalf("%s and %s disagree: client sent %v, server received %v; server sent %v, client received %v",
				w.clientID, w.serverID, w.clientRec.Sent, w.serverRec.Recv, w.serverRec.Sent, w.clientRec.Recv)
		}
	}
}

// checkReport compares a zspy report with the connections the peers made.
func checkReport(t *testing.T, r report, ws []want) {
	t.Helper()
	if r.Stats.KernelDrops != 0 || r.Stats.InternalDrops != 0 {
		t.Errorf("drops: kernel %d, zspy %d", r.Stats.KernelDrops, r.Stats.InternalDrops)
	}
	if r.Stats.MalformedPackets != 0 || r.Stats.TruncatedPackets != 0 {
		t.Errorf("malformed %d, truncated %d packets", r.Stats.MalformedPackets, r.Stats.TruncatedPackets)
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings: %q", r.Warnings)
	}
	byEnds := map[string]reportConn{}
	for _, c := range r.Connections {
		if _, dup := byEnds[c.Client+" "+c.Server]; !dup {
			byEnds[c.Client+" "+c.Server] = c
		}
	}
	if len(r.Connections) != len(ws) {
		var got []string
		for _, c := range r.Connections {
			got = append(got, c.Client+" → "+c.Server)
		}
		t.Errorf("%d connections reported, the peers made %d; reported: %s", len(r.Connections), len(ws), strings.Join(got, ", "))
	}
	for _, w := range ws {
		name := fmt.Sprintf("%s → %s (%s → %s)", w.clientID, w.serverID, w.client, w.server)
		c, ok := byEnds[w.client+" "+w.server]
		if !ok {
			t.Errorf("%s: not in the report", name)
			continue
		}
		check := func(what string, got, want any) {
			t.Helper()
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: %s = %v, the peers say %v", name, what, got, want)
			}
		}
		check("client_socket", c.ClientSocket, w.clientRec.Socket)
		check("server_socket", c.ServerSocket, w.serverRec.Socket)
		check("client_identity", c.ClientIdentity, w.clientRec.Identity)
		check("server_identity", c.ServerIdentity, w.serverRec.Identity)
		check("zmtp", c.ZMTP, w.zmtp)
		check("mechanism", c.Mechanism, "NULL")
		check("handshake", c.Handshake, "complete")
		check("state", c.State, "closed")
		check("saw_syn", c.SawSYN, true)
		check("mid_stream", c.MidStream, false)
		check("compatible", c.Compatible, true)
		check("errors", len(c.Errors), 0)
		checkDir(t, name+": c2s", c.C2S, w.clientRec.Sent)
		checkDir(t, name+": s2c", c.S2C, w.clientRec.Recv)
		if w.sub {
			subs := slices.Sorted(slices.Values(c.Subscriptions))
			check("subscriptions", fmt.Sprintf("%q", subs), fmt.Sprintf("%q", slices.Sorted(slices.Values(w.clientRec.Subscriptions))))
			var hist []string
			for _, h := range c.History {
				hist = append(hist, h.Op+":"+h.Topic)
			}
			check("subscription_history", fmt.Sprintf("%q", hist), fmt.Sprintf("%q", w.clientRec.History))
		} else {
			check("subscriptions", len(c.Subscriptions), 0)
		}
	}
}

// checkDir compares one direction of a reported connection with a peer's
// record.
func checkDir(t *testing.T, name string, got repDir, want dirCount) {
	t.Helper()
	eq := func(what string, g *int, w *int) {
		t.Helper()
		switch {
		case w == nil:
		case g == nil:
			t.Errorf("%s: %s = null, the peers say %d", name, what, *w)
		case *g != *w:
			t.Errorf("%s: %s = %d, the peers say %d", name, what, *g, *w)
		}
	}
	eq("messages", got.Messages, want.Messages)
	eq("frames", &got.Frames, want.Frames)
	eq("bytes", &got.Bytes, want.Bytes)
	eq("commands", &got.Commands, want.Commands)
	if got.LostBytes != 0 {
		t.Errorf("%s: lost_bytes = %d", name, got.LostBytes)
	}
}

// summary renders the comparable part of a report, one line per connection
// in order of client and server.
func summary(r report) string {
	var out []string
	for _, c := range r.Connections {
		m := -1
		if c.C2S.Messages != nil {
			m = *c.C2S.Messages
		}
		n := -1
		if c.S2C.Messages != nil {
			n = *c.S2C.Messages
		}
		out = append(out, fmt.Sprintf("%s → %s %s/%s ids %q/%q %s %s c2s %d/%d/%d/%d s2c %d/%d/%d/%d subs %q",
			c.Client, c.Server, c.ClientSocket, c.ServerSocket, c.ClientIdentity, c.ServerIdentity, c.ZMTP, c.State,
			m, c.C2S.Frames, c.C2S.Bytes, c.C2S.Commands, n, c.S2C.Frames, c.S2C.Bytes, c.S2C.Commands, c.Subscriptions))
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// TestCaptureWithoutPrivilege runs zspy capture without CAP_NET_RAW (as
// nobody, and as root with the capability dropped): one line naming the
// capability, exit code 1.
func TestCaptureWithoutPrivilege(t *testing.T) {
	zspy, _ := tools(t)
	type variant struct {
		name string
		argv []string
	}
	var vs []variant
	if os.Geteuid() != 0 {
		vs = append(vs, variant{"unprivileged user", []string{zspy}})
	} else {
		if _, err := exec.LookPath("setpriv"); err == nil {
			vs = append(vs, variant{"nobody", []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", zspy}})
			vs = append(vs, variant{"root without cap_net_raw (setpriv)", []string{"setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw", zspy}})
		}
		if _, err := exec.LookPath("capsh"); err == nil {
			vs = append(vs, variant{"root without cap_net_raw (capsh)", []string{"capsh", "--drop=cap_net_raw", "--", "-c", `exec "$0" "$@"`, zspy}})
		}
	}
	if len(vs) == 0 {
		t.Skip("SKIPPED, NOT TESTED: neither setpriv nor capsh is installed (util-linux, libcap2-bin) to drop the privilege")
	}
	for _, v := range vs {
		t.Run(v.name, func(t *testing.T) {
			for _, iface := range []string{"lo", "any"} {
				argv := append(slices.Clone(v.argv), "capture", "-i", iface, "--no-store", "--json")
				p := start(t, v.name, "", argv...)
				code := p.exitCode(t)
				stderr := strings.TrimRight(p.stderr.String(), "\n")
				if code != 1 {
					t.Errorf("-i %s: exit code %d, want 1; stderr:\n%s", iface, code, stderr)
				}
				if strings.Count(stderr, "\n") != 0 || !strings.Contains(stderr, "CAP_NET_RAW") {
					t.Errorf("-i %s: want one line naming CAP_NET_RAW on stderr, got:\n%s", iface, stderr)
				}
				if !strings.Contains(stderr, "setcap") {
					t.Errorf("-i %s: the line does not say how to grant the capability:\n%s", iface, stderr)
				}
				if out := p.stdout.String(); out != "" {
					t.Errorf("-i %s: stdout is not empty:\n%s", iface, out)
				}
			}
		})
	}
}

// TestCaptureWithCapNetRawOnly runs zspy as nobody with just CAP_NET_RAW
// (ambient) on a namespace's loopback: the capability alone is enough, and
// the report matches a libzmq REQ/REP exchange.
func TestCaptureWithCapNetRawOnly(t *testing.T) {
	tp := newTopology(t, false)
	requirePyzmq(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("SKIPPED, NOT TESTED: no setpriv (util-linux) to run zspy as nobody with CAP_NET_RAW")
	}
	zspy, _ := tools(t)
	capt := start(t, "zspy as nobody", tp.NSA, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=+net_raw", "--ambient-caps=+net_raw", zspy, "capture", "-i", "lo", "--json", "--no-store")
	capt.waitLine(t, `"zspy: capturing on" line`, contains("zspy: capturing on lo"), true)
	rep := startPeer(t, peerSpec{ID: "rep", Socket: "REP", Bind: "tcp://127.0.0.1:16201", Count: 4, Replies: repReplies, Hold: true, ns: tp.NSA})
	rep.waitLine(t, "ready line", isEvent("ready"), false)
	req := startPeer(t, peerSpec{ID: "req", Socket: "REQ", Connect: "tcp://127.0.0.1:26201;127.0.0.1:16201", Messages: reqMessages[:4], ns: tp.NSA})
	reqRec := req.record(t)
	rep.waitLine(t, "finished line", isEvent("finished"), false)
	rep.send(t, "close")
	ws := []want{{conn: conn{client: "127.0.0.1:26201", server: "127.0.0.1:16201", clientID: "req", serverID: "rep", oneToOne: true},
		clientRec: reqRec, serverRec: rep.record(t), zmtp: "3.1"}}
	checkPeerAgreement(t, ws)
	checkReport(t, stopCapture(t, capt), ws)
}

// TestCaptureDropsPrivileges runs zspy capture as root with -Z nobody on a
// namespace's loopback: once it says it is capturing it runs as nobody, with
// no supplementary groups and no capabilities, and its sockets, opened
// before, still capture a libzmq REQ/REP exchange. -Z for a user that does
// not exist fails before capturing.
// TestCaptureDropsPrivilegesByDefault: as root without -Z, capture becomes
// the first default user that exists (zspy, else nobody) once its socket is
// open, unless the run needs root later: the host view (other users'
// processes in /proc) or files the user could not create (a rotating -w in
// a root-only directory), which keep root with a note on stderr saying why.
// -Z root keeps root without the note.
func TestCaptureDropsPrivilegesByDefault(t *testing.T) {
	tp := newTopology(t, false)
	var def *user.User
	for _, name := range []string{"zspy", "nobody"} {
		if u, err := user.Lookup(name); err == nil {
			def = u
			break
		}
	}
	if def == nil {
		t.Skip("neither user zspy nor nobody exists")
	}
	uidLine := func(p *proc) string {
		t.Helper()
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		return regexp.MustCompile(`(?m)^Uid:.*$`).FindString(string(status))
	}
	rootDir := t.TempDir() // 0700, root's
	for _, tc := range []struct {
		name string
		args []string
		uid  string // the real, effective, saved and filesystem uids after start
		note string // in stderr; "" for none
	}{
		{"dropped", []string{"--no-store", "--no-host"}, def.Uid, ""},
		{"host view", []string{"--no-store"}, "0", "the host view reads other users' processes"},
		{"rotation in a root-only directory", []string{"--no-store", "--no-host", "-w", filepath.Join(rootDir, "x.pcap"), "--rotate-size", "1MB"}, "0", def.Username + " could not create files in " + rootDir},
		{"-Z root", []string{"--no-store", "--no-host", "-Z", "root"}, "0", ""},
	} {
		p := startCapture(t, "zspy "+tc.name, tp.NSA, append([]string{"-i", "lo", "--json"}, tc.args...)...)
		want := fmt.Sprintf("Uid:\t%s\t%s\t%s\t%s", tc.uid, tc.uid, tc.uid, tc.uid)
		if got := uidLine(p); got != want {
			t.Errorf("%s: %q, want %q", tc.name, got, want)
		}
		stopCapture(t, p)
		stderr := p.stderr.String()
		if tc.note == "" && strings.Contains(stderr, "note: running as root") || tc.note != "" && !strings.Contains(stderr, tc.note) {
			t.Errorf("%s: stderr %q, want note %q", tc.name, stderr, tc.note)
		}
	}
}

func TestCaptureDropsPrivileges(t *testing.T) {
	tp := newTopology(t, false)
	requirePyzmq(t)
	zspy, _ := tools(t)
	capt := startCapture(t, "zspy -Z nobody", tp.NSA, "-i", "lo", "--json", "--no-store", "-Z", "nobody")
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", capt.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^Groups:\s*$`).Match(status) {
		t.Errorf("after -Z nobody, supplementary groups are left:\n%s", status)
	}
	for _, want := range []string{"Uid:\t65534\t65534\t65534\t65534", "Gid:\t65534\t65534\t65534\t65534",
		"CapPrm:\t0000000000000000", "CapEff:\t0000000000000000", "CapAmb:\t0000000000000000"} {
		if !strings.Contains(string(status), want) {
			t.Errorf("after -Z nobody, /proc/PID/status lacks %q:\n%s", want, status)
		}
	}
	rep := startPeer(t, peerSpec{ID: "rep", Socket: "REP", Bind: "tcp://127.0.0.1:16211", Count: 4, Replies: repReplies, Hold: true, ns: tp.NSA})
	rep.waitLine(t, "ready line", isEvent("ready"), false)
	req := startPeer(t, peerSpec{ID: "req", Socket: "REQ", Connect: "tcp://127.0.0.1:26211;127.0.0.1:16211", Messages: reqMessages[:4], ns: tp.NSA})
	reqRec := req.record(t)
	rep.waitLine(t, "finished line", isEvent("finished"), false)
	rep.send(t, "close")
	ws := []want{{conn: conn{client: "127.0.0.1:26211", server: "127.0.0.1:16211", clientID: "req", serverID: "rep", oneToOne: true},
		clientRec: reqRec, serverRec: rep.record(t), zmtp: "3.1"}}
	checkReport(t, stopCapture(t, capt), ws)

	bad := start(t, "zspy -Z no-such-user", tp.NSA, zspy, "capture", "-i", "lo", "--no-store", "-Z", "no-such-user-zspy")
	if code := bad.exitCode(t); code != 1 || !strings.Contains(bad.stderr.String(), "no-such-user-zspy") || strings.Contains(bad.stderr.String(), "capturing on") {
		t.Errorf("-Z for a missing user: exit %d, stderr %s", code, bad.stderr)
	}
}

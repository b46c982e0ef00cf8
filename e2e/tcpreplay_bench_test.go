package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkCaptureTcpreplay measures live capture at packet rates no ZeroMQ
// generator on this machine reaches: a real capture of small REQ/REP
// messages (libzmq REQ and ROUTER peers across a veth pair, recorded by
// tcpdump) is replayed with tcpreplay into a fresh veth pair, at fixed
// --pps rates, at --topspeed, and as two tcpreplay instances at once (the
// second on a copy whose server port tcprewrite moved, so its connections
// are distinct). The receiving end runs, in turn, `tcpdump -w /dev/null`
// (libpcap's memory-mapped ring: the anchor), `zspy capture --json
// --no-store`, and the same with --no-host (the host view costs by the
// second, not by the packet), and with --no-host --fanout 2 (two rings,
// two workers). `zspy replay` of the same file at the start
// is the anchor's other half: its CPU per packet is logged. The frames are addressed to the veth of the capture run, so
// the receiving kernel sees them as another host's and drops them after the
// capture taps: nothing answers.
//
// For each rate and capturer it reports the packets offered (tcpreplay's
// count and rate), seen (the capturer's count), kernel drops, CPU per
// packet seen (user+system time of the whole process from its rusage, less
// what it had used when ready, read in clock ticks), the largest resident set, and for
// zspy whether its report equals `zspy replay` of the same file(s)
// (report-equal=1). Run with:
//
//	go test -run '^$' -bench CaptureTcpreplay -benchtime 1x ./e2e/
//
// ZSPY_BENCH_ROUNDS sets the round trips per REQ socket (64 sockets; default
// 1600: about 205,000 packets). ZSPY_BENCH_BINARY runs another zspy build
// (e.g. an older commit's, for before-and-after figures in one run).
func BenchmarkCaptureTcpreplay(b *testing.B) {
	requirePyzmq(b)
	for _, tool := range []string{"tcpreplay", "tcprewrite", "tcpdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Fatalf("%s not found (Debian packages tcpreplay, tcpdump; scripts/test.sh installs them): %v", tool, err)
		}
	}
	zspy := benchZspy(b)
	rounds := 1600
	if v := os.Getenv("ZSPY_BENCH_ROUNDS"); v != "" {
		rounds, _ = strconv.Atoi(v)
	}
	dir := b.TempDir()
	files := recordReqRep(b, dir, rounds)
	refs := map[int]string{}
	for _, n := range []int{1, 2} {
		rp := start(b, "zspy replay", "", append([]string{zspy, "replay", "--json"}, files[:n]...)...)
		rp.wait(b)
		r := parseReport(b, "zspy replay", []byte(rp.stdout.String()))
		refs[n] = summary(r)
		if n == 1 {
			// The other half of the anchor: what decoding the same packets
			// costs zspy from a file (start-up included: a few ms).
			ru := rp.cmd.ProcessState.SysUsage().(*syscall.Rusage)
			cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			b.Logf("zspy replay of %d packets: CPU %v (user %v, system %v) = %.2f µs/packet",
				r.Stats.TCPPackets, cpu.Round(time.Millisecond), time.Duration(ru.Utime.Nano()).Round(time.Millisecond),
				time.Duration(ru.Stime.Nano()).Round(time.Millisecond), float64(cpu.Nanoseconds())/1000/float64(max(r.Stats.TCPPackets, 1)))
		}
	}
	b.Logf("machine: %d CPUs, load average at start %s", runtime.NumCPU(), loadavg())
	for _, rt := range []struct {
		name      string
		pps       int // 0: --topspeed
		instances int
	}{
		{"50k", 50_000, 1}, {"100k", 100_000, 1}, {"200k", 200_000, 1},
		{"max", 0, 1}, {"max,x2", 0, 2},
	} {
		for _, capturer := range []string{"tcpdump", "zspy", "zspy-no-host", "zspy-fanout2"} {
			b.Run("rate="+rt.name+"/"+capturer, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					replayTrial(b, capturer, files[:rt.instances], rt.pps, refs[rt.instances])
				}
			})
		}
	}
}

// recordReqRep records 64 REQ sockets doing rounds round trips of 16-byte
// messages with a ROUTER across a veth pair, and returns that capture and a
// copy with the server port moved (for a second, distinct replay stream).
func recordReqRep(b *testing.B, dir string, rounds int) []string {
	b.Helper()
	const port = 17001
	tp := newTopology(b, true)
	file := filepath.Join(dir, "reqrep.pcap")
	td := start(b, "tcpdump", tp.NSA, "tcpdump", "-i", tp.VethA, "-w", file, "-Z", "root", "tcp")
	td.waitLine(b, "listening line", contains("listening on"), true)
	srv := start(b, "ROUTER", tp.NSB, python, "testdata/reqrep_load.py", "server", tp.AddrB, strconv.Itoa(port))
	srv.waitLine(b, "ready line", isEvent("ready"), false)
	cl := start(b, "REQ", tp.NSA, python, "testdata/reqrep_load.py", "client", tp.AddrB, strconv.Itoa(port), "64", strconv.Itoa(rounds), "16")
	cl.record(b)
	srv.send(b, "stop")
	srv.wait(b)
	// The clients closed first: their FINs and the server's are on the wire.
	// tcpdump's buffer holds at most its 1 s block timeout of them.
	time.Sleep(1500 * time.Millisecond)
	td.interrupt(b)
	td.wait(b)
	if !regexp.MustCompile(`(?m)^0 packets dropped by kernel`).MatchString(td.stderr.String()) {
		b.Fatalf("tcpdump dropped packets while recording:\n%s", td.stderr)
	}
	b.Logf("recorded: %s", strings.Join(strings.Fields(strings.ReplaceAll(td.stderr.String(), "\n", "; ")), " "))
	moved := filepath.Join(dir, "reqrep-moved.pcap")
	if out, err := exec.Command("tcprewrite", fmt.Sprintf("--portmap=%d:%d", port, port+1), "--infile="+file, "--outfile="+moved).CombinedOutput(); err != nil {
		b.Fatalf("tcprewrite: %v\n%s", err, out)
	}
	return []string{file, moved}
}

// benchZspy is the zspy binary the benchmark runs: ZSPY_BENCH_BINARY, or
// this tree's.
func benchZspy(b *testing.B) string {
	if p := os.Getenv("ZSPY_BENCH_BINARY"); p != "" {
		return p
	}
	zspy, _ := tools(b)
	return zspy
}

var (
	reActual = regexp.MustCompile(`Actual: (\d+) packets .* sent in ([0-9.]+) seconds`)
	reRated  = regexp.MustCompile(`Rated: .* ([0-9.]+) pps`)
	reTdStat = regexp.MustCompile(`(\d+) packets (captured|dropped by kernel)`)
)

// replayTrial replays files (one tcpreplay each, in parallel) at pps (0:
// --topspeed) into a fresh veth pair under one capturer.
func replayTrial(b *testing.B, capturer string, files []string, pps int, ref string) {
	b.Helper()
	tp := newTopology(b, true)
	total := 0
	for _, f := range files {
		total += countPackets(b, f)
	}
	var c *proc
	switch capturer {
	case "tcpdump":
		c = start(b, "tcpdump", tp.NSA, "tcpdump", "-i", tp.VethA, "-w", "/dev/null", "-c", strconv.Itoa(total))
		c.waitLine(b, "listening line", contains("listening on"), true)
	case "zspy", "zspy-no-host", "zspy-fanout2":
		args := []string{"capture", "-i", tp.VethA, "--json", "--no-store", "--count", strconv.Itoa(total)}
		if capturer == "zspy-fanout2" {
			// Two rings, two workers, the host view off.
			args = append(args, "--no-host", "--fanout", "2")
		}
		if capturer == "zspy-no-host" {
			// The host view's walks of /proc and socket dumps cost by the
			// second, not by the packet: without them, the packets' cost.
			args = append(args, "--no-host")
		}
		c = start(b, "zspy capture", tp.NSA, append([]string{benchZspy(b)}, args...)...)
		c.waitLine(b, `"zspy: capturing on" line`, contains("zspy: capturing on"), true)
	}
	// CPU spent starting up (in clock ticks; the figure is for the traffic).
	cpu0 := cpuTicks(b, c.cmd.Process.Pid)
	b.ResetTimer()
	var gens []*proc
	for _, f := range files {
		args := []string{"tcpreplay", "-i", tp.VethB}
		if pps > 0 {
			args = append(args, "--pps", strconv.Itoa(pps/len(files)))
		} else {
			args = append(args, "--topspeed")
		}
		gens = append(gens, start(b, "tcpreplay", tp.NSB, append(args, f)...))
	}
	offered, rate := 0, 0.0
	for _, g := range gens {
		g.wait(b)
		out := g.stdout.String()
		m, r := reActual.FindStringSubmatch(out), reRated.FindStringSubmatch(out)
		if m == nil || r == nil {
			b.Fatalf("tcpreplay said:\n%s\n%s", out, g.stderr)
		}
		n, _ := strconv.Atoi(m[1])
		p, _ := strconv.ParseFloat(r[1], 64)
		offered += n
		rate += p
	}
	// The capturer stops by itself at the count; with drops it never
	// reaches it and is stopped once the ring has had time to drain.
	select {
	case <-c.done:
	case <-time.After(3 * time.Second):
		c.interrupt(b)
	}
	code := c.exitCode(b)
	b.StopTimer()
	if code != 0 {
		b.Fatalf("%s exited %d\n%s", capturer, code, c.stderr)
	}
	ru := c.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) - time.Duration(cpu0)*time.Second/clockTicks
	seen, drops, equal := 0, 0, -1
	switch capturer {
	case "tcpdump":
		for _, m := range reTdStat.FindAllStringSubmatch(c.stderr.String(), -1) {
			n, _ := strconv.Atoi(m[1])
			if m[2] == "captured" {
				seen = n
			} else {
				drops = n
			}
		}
	case "zspy", "zspy-no-host", "zspy-fanout2":
		r := parseReport(b, "zspy capture", []byte(c.stdout.String()))
		seen = int(r.Stats.TCPPackets)
		drops = int(r.Stats.KernelDrops + r.Stats.InternalDrops)
		equal = 0
		if summary(r) == ref {
			equal = 1
		}
	}
	perPkt := float64(cpu.Nanoseconds()) / 1000 / float64(max(seen, 1))
	b.ReportMetric(float64(offered), "offered")
	b.ReportMetric(rate, "offered-pps")
	b.ReportMetric(float64(seen), "seen")
	b.ReportMetric(float64(drops), "drops")
	b.ReportMetric(perPkt, "cpu-µs/pkt")
	b.ReportMetric(float64(ru.Maxrss)/1024, "rss-MB")
	if equal >= 0 {
		b.ReportMetric(float64(equal), "report-equal")
	}
	b.Logf("%s: offered %d packets at %.0f pps (%d tcpreplay), seen %d, drops %d, CPU %v (user %v, system %v) = %.2f µs/packet, max RSS %d KiB, report equals replay: %d",
		capturer, offered, rate, len(files), seen, drops, cpu.Round(time.Millisecond), time.Duration(ru.Utime.Nano()).Round(time.Millisecond),
		time.Duration(ru.Stime.Nano()).Round(time.Millisecond), perPkt, ru.Maxrss, equal)
}

// countPackets counts a pcap file's records (tcpreplay's and the
// capturers' counts are compared with it).
func countPackets(b *testing.B, file string) int {
	b.Helper()
	out, err := exec.Command("tcpdump", "-r", file, "-qn", "--count").CombinedOutput()
	if err != nil {
		b.Fatalf("tcpdump --count: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(\d+) packets?`).FindSubmatch(out)
	if m == nil {
		b.Fatalf("tcpdump --count said %s", out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

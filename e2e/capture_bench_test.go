package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkLiveCapture measures how fast a stream of small (16-byte)
// ZeroMQ messages over loopback zspy capture follows: for each generator and
// offered rate, one trial in a fresh network namespace (so no other traffic
// reaches lo) with `zspy capture -i lo --json --no-store --stats-every 1s`.
// It reports the rate the generator achieved (msgs/s), the packets zspy read
// per second, zspy's CPU use over the traffic (utime+stime from /proc, in %
// of one core), the drops zspy reported (kernel and its own queues), the
// share of sent messages the report counts (seen-%), and zspy's resident
// memory at the start of the traffic and at its highest (sampled every
// 100 ms).
//
// Generators: "libzmq" is a pyzmq PUSH, whose I/O thread batches many small
// messages into each write (the usual ZeroMQ case: few, large segments);
// "zmq4" is a go-zeromq/zmq4 PUSH, which writes every frame's header and
// body separately (about one segment per message part: the packet-rate
// stress). Both feed a libzmq PULL drained in C. Rate 0 is as fast as the
// generator can. zspy follows everything these generators produce on two
// cores, so two kinds of trial take it beyond what it can follow: "stall"
// stops it for 2 s as the traffic starts, "paused=95%" stops it for 9.5 ms
// of every 10 ms (SIGSTOP/SIGCONT; timer slack lets it run somewhat more)
// for the whole run, as a starved CPU would. Drops must then be counted and
// reported, and memory stay bounded. Each trial sends for at most 4 s; the whole run takes about a
// minute. Run with:
//
//	go test -run '^$' -bench LiveCapture -benchtime 1x ./e2e/
func BenchmarkLiveCapture(b *testing.B) {
	requireRoot(b)
	requirePyzmq(b)
	tools(b)
	b.Logf("machine: %d CPUs, load average at start %s", runtime.NumCPU(), loadavg())
	for _, tc := range []trial{
		{gen: "libzmq", rate: 250_000}, {gen: "libzmq", rate: 500_000}, {gen: "libzmq", rate: 1_000_000}, {gen: "libzmq"},
		{gen: "zmq4", rate: 25_000}, {gen: "zmq4", rate: 50_000}, {gen: "zmq4", rate: 100_000}, {gen: "zmq4"},
		{gen: "zmq4", conns: 4},
		{gen: "libzmq", stall: 2 * time.Second}, {gen: "zmq4", stall: 2 * time.Second},
		{gen: "libzmq", rate: 250_000, duty: 0.05}, {gen: "libzmq", duty: 0.05}, {gen: "zmq4", conns: 4, duty: 0.05},
	} {
		name := "max"
		if tc.rate > 0 {
			name = fmt.Sprintf("%dk", tc.rate/1000)
		}
		if tc.conns > 1 {
			name += fmt.Sprintf(",conns=%d", tc.conns)
		}
		if tc.stall > 0 {
			name += ",stall=" + tc.stall.String()
		}
		if tc.duty > 0 {
			name += fmt.Sprintf(",paused=%g%%", 100-tc.duty*100)
		}
		b.Run(tc.gen+"/rate="+name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				captureTrial(b, tc)
			}
		})
	}
}

// trial is one benchmark run: a generator ("libzmq" or "zmq4"), its rate in
// messages/s (0: as fast as it can), its connections (zmq4 only; default 1),
// how long zspy is stopped as the traffic starts, and the share of time it
// may run (duty: stopped and continued every 10 ms, like a CPU budget).
type trial struct {
	gen   string
	rate  int
	conns int
	stall time.Duration
	duty  float64
}

// captureTrial runs one generator at one rate under zspy capture. With a
// stall, zspy is stopped (SIGSTOP) for that long as the traffic starts, as
// if the machine had no CPU for it: what comes beyond the kernel's buffer is
// dropped, and the report must say so.
func captureTrial(b *testing.B, tc trial) {
	gen, rate, stall, duty, conns := tc.gen, tc.rate, tc.stall, tc.duty, max(1, tc.conns)
	const (
		sinkPort, srcPort = 16301, 26301
		size              = 16
		maxSend           = 4 * time.Second
	)
	tp := newTopology(b, false)
	_, zmq4peer := tools(b)
	count := rate * 3
	if rate == 0 {
		count = 8_000_000
	}
	capt := startCapture(b, "zspy capture", tp.NSA, "-i", "lo", "--json", "--no-store", "--stats-every", "1s")
	sink := start(b, "sink", tp.NSA, python, "testdata/loadgen.py", "sink", strconv.Itoa(sinkPort), strconv.Itoa(conns))
	sink.waitLine(b, "ready line", isEvent("ready"), false)
	var g *proc
	switch gen {
	case "libzmq":
		g = start(b, "libzmq PUSH", tp.NSA, python, "testdata/loadgen.py", "push", strconv.Itoa(srcPort), strconv.Itoa(sinkPort),
			strconv.Itoa(rate), strconv.Itoa(count), strconv.Itoa(size), strconv.Itoa(int(maxSend.Seconds())))
	case "zmq4":
		g = start(b, "zmq4 PUSH", tp.NSA, zmq4peer, "load", "-port", strconv.Itoa(sinkPort), "-src-port", strconv.Itoa(srcPort),
			"-conns", strconv.Itoa(conns), "-rate", strconv.Itoa(rate), "-count", strconv.Itoa(count), "-size", strconv.Itoa(size), "-max", maxSend.String())
	}
	g.waitLine(b, "ready line", isEvent("ready"), false)

	pid := capt.cmd.Process.Pid
	rss := startRSSSampler(pid)
	load := loadavg()
	cpu0 := cpuTicks(b, pid)
	t0 := time.Now()
	b.ResetTimer()
	g.send(b, "go")
	if stall > 0 {
		if err := capt.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			b.Fatal(err)
		}
		time.Sleep(stall) // shapes the load; nothing waits on it
		if err := capt.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			b.Fatal(err)
		}
	}
	var throttled sync.WaitGroup
	stopThrottle := make(chan struct{})
	if duty > 0 {
		throttled.Add(1)
		go throttle(capt.cmd.Process, duty, stopThrottle, &throttled)
	}
	var done struct {
		Sent    int     `json:"sent"`
		Seconds float64 `json:"seconds"`
	}
	line := g.waitLine(b, "done line", isEvent("done"), false)
	if err := json.Unmarshal([]byte(line), &done); err != nil {
		b.Fatalf("generator: %q: %v", line, err)
	}
	g.wait(b)
	sink.waitLine(b, "done line", isEvent("done"), false) // every message arrived
	sink.wait(b)
	close(stopThrottle)
	throttled.Wait()
	wall := time.Since(t0)
	cpu1 := cpuTicks(b, pid)
	b.StopTimer()
	rssStart, rssMax := rss.stop()
	r := stopCapture(b, capt)

	seen := 0
	for _, c := range r.Connections {
		if c.Server == fmt.Sprintf("127.0.0.1:%d", sinkPort) && c.C2S.Messages != nil {
			seen += *c.C2S.Messages
		}
	}
	offered := float64(done.Sent) / done.Seconds
	cpu := float64(cpu1-cpu0) / clockTicks / wall.Seconds() * 100
	pps := float64(r.Stats.TCPPackets) / wall.Seconds()
	b.ReportMetric(offered, "msgs/s")
	b.ReportMetric(pps, "pkts/s")
	b.ReportMetric(cpu, "zspy-cpu-%")
	b.ReportMetric(float64(r.Stats.KernelDrops), "kernel-drops")
	b.ReportMetric(float64(r.Stats.InternalDrops), "zspy-drops")
	b.ReportMetric(float64(seen)*100/float64(done.Sent), "seen-%")
	b.ReportMetric(float64(rssStart)/1024, "rss-start-MB")
	b.ReportMetric(float64(rssMax)/1024, "rss-max-MB")
	statsLines := strings.Count(capt.stderr.String(), "kernel drops")
	b.Logf("%s rate %d conns %d: sent %d in %.2fs (%.0f msgs/s); zspy read %d TCP packets (%.0f/s, %d duplicates), counted %d messages, kernel drops %d, zspy drops %d, lost bytes %d; CPU %.1f%% of a core over %.2fs; RSS %d → max %d KiB; %d status lines; load average %s",
		gen, rate, conns, done.Sent, done.Seconds, offered, r.Stats.TCPPackets, pps, r.Stats.Duplicates, seen,
		r.Stats.KernelDrops, r.Stats.InternalDrops, lostBytes(r), cpu, wall.Seconds(), rssStart, rssMax, statsLines, load)
	drops := r.Stats.KernelDrops + r.Stats.InternalDrops
	if drops == 0 && seen != done.Sent {
		b.Errorf("no drops reported, but zspy counted %d messages of %d sent", seen, done.Sent)
	}
	if drops > 0 && lostBytes(r) == 0 {
		b.Errorf("%d packets dropped, but no connection reports lost bytes", drops)
	}
	b.Logf("last status line: %s", lastLine(capt.stderr.String(), "kernel drops"))
}

// throttle lets p run only duty of every 10 ms (SIGSTOP, SIGCONT) until
// stop is closed, and leaves it running.
func throttle(p *os.Process, duty float64, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	const period = 10 * time.Millisecond
	on := time.Duration(float64(period) * duty)
	for {
		select {
		case <-stop:
			p.Signal(syscall.SIGCONT)
			return
		default:
		}
		p.Signal(syscall.SIGSTOP)
		time.Sleep(period - on)
		p.Signal(syscall.SIGCONT)
		time.Sleep(on)
	}
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times (100 on Linux).
const clockTicks = 100

// cpuTicks returns utime+stime of a process.
func cpuTicks(tb testing.TB, pid int) int64 {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// Fields after the command name in parentheses: state is field 3,
	// utime 14, stime 15.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		tb.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// rssSampler reads a process's VmRSS every 100 ms.
type rssSampler struct {
	stopc      chan struct{}
	wg         sync.WaitGroup
	start, max int64 // KiB
}

func startRSSSampler(pid int) *rssSampler {
	s := &rssSampler{stopc: make(chan struct{})}
	s.start = vmRSS(pid)
	s.max = s.start
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stopc:
				return
			case <-t.C:
				s.max = max(s.max, vmRSS(pid))
			}
		}
	}()
	return s
}

func (s *rssSampler) stop() (start, highest int64) {
	close(s.stopc)
	s.wg.Wait()
	return s.start, s.max
}

// vmRSS returns a process's resident set in KiB (0 when unreadable).
func vmRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func lostBytes(r report) int {
	n := 0
	for _, c := range r.Connections {
		n += c.C2S.LostBytes + c.S2C.LostBytes
	}
	return n
}

// lastLine returns the last line of s containing substr.
func lastLine(s, substr string) string {
	last := ""
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			last = l
		}
	}
	return last
}

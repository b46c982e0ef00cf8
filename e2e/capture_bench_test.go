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
// generator can. The stall trials stop zspy for 2 s as the traffic starts,
// to see it beyond what it can follow: drops counted and reported, memory
// bounded. Each trial sends for at most 4 s; the whole run takes about a
// minute. Run with:
//
//	go test -run '^$' -bench LiveCapture -benchtime 1x ./e2e/
func BenchmarkLiveCapture(b *testing.B) {
	requireRoot(b)
	requirePyzmq(b)
	tools(b)
	b.Logf("machine: %d CPUs, load average at start %s", runtime.NumCPU(), loadavg())
	for _, tc := range []struct {
		gen   string
		rate  int
		stall time.Duration
	}{
		{"libzmq", 250_000, 0}, {"libzmq", 500_000, 0}, {"libzmq", 1_000_000, 0}, {"libzmq", 0, 0},
		{"zmq4", 25_000, 0}, {"zmq4", 50_000, 0}, {"zmq4", 100_000, 0}, {"zmq4", 0, 0},
		{"libzmq", 0, 2 * time.Second}, {"zmq4", 0, 2 * time.Second},
	} {
		name := "max"
		if tc.rate > 0 {
			name = fmt.Sprintf("%dk", tc.rate/1000)
		}
		if tc.stall > 0 {
			name += "/stall=" + tc.stall.String()
		}
		b.Run(tc.gen+"/rate="+name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				captureTrial(b, tc.gen, tc.rate, tc.stall)
			}
		})
	}
}

// captureTrial runs one generator at one rate under zspy capture. With a
// stall, zspy is stopped (SIGSTOP) for that long as the traffic starts, as
// if the machine had no CPU for it: what comes beyond the kernel's buffer is
// dropped, and the report must say so.
func captureTrial(b *testing.B, gen string, rate int, stall time.Duration) {
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
	sink := start(b, "sink", tp.NSA, python, "testdata/loadgen.py", "sink", strconv.Itoa(sinkPort))
	sink.waitLine(b, "ready line", isEvent("ready"), false)
	var g *proc
	switch gen {
	case "libzmq":
		g = start(b, "libzmq PUSH", tp.NSA, python, "testdata/loadgen.py", "push", strconv.Itoa(srcPort), strconv.Itoa(sinkPort),
			strconv.Itoa(rate), strconv.Itoa(count), strconv.Itoa(size), strconv.Itoa(int(maxSend.Seconds())))
	case "zmq4":
		g = start(b, "zmq4 PUSH", tp.NSA, zmq4peer, "load", "-connect", fmt.Sprintf("tcp://127.0.0.1:%d;127.0.0.1:%d", srcPort, sinkPort),
			"-rate", strconv.Itoa(rate), "-count", strconv.Itoa(count), "-size", strconv.Itoa(size), "-max", maxSend.String())
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
	wall := time.Since(t0)
	cpu1 := cpuTicks(b, pid)
	b.StopTimer()
	rssStart, rssMax := rss.stop()
	r := stopCapture(b, capt)

	seen := -1
	for _, c := range r.Connections {
		if c.Client == fmt.Sprintf("127.0.0.1:%d", srcPort) && c.C2S.Messages != nil {
			seen = *c.C2S.Messages
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
	b.Logf("%s rate %d: sent %d in %.2fs (%.0f msgs/s); zspy read %d TCP packets (%.0f/s, %d duplicates), counted %d messages, kernel drops %d, zspy drops %d, lost bytes %d; CPU %.1f%% of a core over %.2fs; RSS %d → max %d KiB; %d status lines; load average %s",
		gen, rate, done.Sent, done.Seconds, offered, r.Stats.TCPPackets, pps, r.Stats.Duplicates, seen,
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

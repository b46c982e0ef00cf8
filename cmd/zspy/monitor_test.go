package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/zspy/zspy/monitor"
)

// lockedBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// monitorRun runs "zspy monitor args..." through the root command, with
// stdout on a pipe the test reads line by line.
type monitorRun struct {
	lines  *bufio.Scanner
	stderr *lockedBuffer
	cancel context.CancelFunc
	done   chan error
}

func runMonitorCmd(t *testing.T, args ...string) *monitorRun {
	t.Helper()
	pr, pw := io.Pipe()
	r := &monitorRun{lines: bufio.NewScanner(pr), stderr: &lockedBuffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	root := newRootCmd()
	root.SetArgs(append([]string{"monitor"}, args...))
	root.SetOut(pw)
	root.SetErr(r.stderr)
	go func() {
		err := root.ExecuteContext(ctx)
		pw.Close()
		r.done <- err
	}()
	t.Cleanup(func() {
		cancel()
		go io.Copy(io.Discard, pr)
	})
	return r
}

func (r *monitorRun) line(t *testing.T) string {
	t.Helper()
	if !r.lines.Scan() {
		t.Fatalf("stdout ended: %v; stderr: %s", r.lines.Err(), r.stderr.String())
	}
	return r.lines.Text()
}

func v1msg(code uint16, value uint32, ep string) [][]byte {
	f := make([]byte, 6)
	binary.LittleEndian.PutUint16(f, code)
	binary.LittleEndian.PutUint32(f[2:], value)
	return [][]byte{f, []byte(ep)}
}

func v2msg(code uint64, values []uint64, local, remote string) [][]byte {
	u := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	fr := [][]byte{u(code), u(uint64(len(values)))}
	for _, v := range values {
		fr = append(fr, u(v))
	}
	return append(fr, []byte(local), []byte(remote))
}

// boundPush binds a zmq4 PUSH on a free port: the forwarder side.
func boundPush(t *testing.T) (zmq4.Socket, string) {
	t.Helper()
	push := zmq4.NewPush(context.Background(), zmq4.WithTimeout(time.Minute))
	t.Cleanup(func() { push.Close() })
	if err := push.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	return push, "tcp://" + push.Addr().String()
}

func TestMonitorCmdJSON(t *testing.T) {
	push, ep := boundPush(t)
	run := runMonitorCmd(t, "--json", "--socket", "pull", ep)
	msgs := [][][]byte{
		append([][]byte{[]byte("app/dealer")}, v1msg(0x4000, 400, "tcp://127.0.0.1:5555")...),
		append([][]byte{[]byte("app/dealer")}, v2msg(0x10000, []uint64{7, 1}, "tcp://127.0.0.1:40000", "tcp://127.0.0.1:5555")...),
		v1msg(0x4, 250, "tcp://127.0.0.1:5556"),
		{[]byte("junk"), []byte("junk")},
		v2msg(0x40000, []uint64{9}, "", ""),
	}
	for _, m := range msgs {
		if err := push.Send(zmq4.NewMsgFrom(m...)); err != nil {
			t.Fatal(err)
		}
	}
	var objs []map[string]any
	for range 4 {
		var o map[string]any
		l := run.line(t)
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		objs = append(objs, o)
	}
	run.cancel()
	if err := <-run.done; err != nil {
		t.Fatal(err)
	}
	check := func(i int, key string, want any) {
		t.Helper()
		if got, ok := objs[i][key]; !ok || got != want {
			t.Errorf("object %d: %s = %v (present %v), want %v; %v", i, key, got, ok, want, objs[i])
		}
	}
	check(0, "event", "HANDSHAKE_FAILED_AUTH")
	check(0, "value", 400.0)
	check(0, "source", "app/dealer")
	check(0, "endpoint", "tcp://127.0.0.1:5555")
	check(0, "zap_status", 400.0)
	check(0, "zap_status_text", "authentication failure")
	check(0, "version", 1.0)
	check(0, "code", 16384.0)
	check(1, "event", "PIPES_STATS")
	check(1, "remote_endpoint", "tcp://127.0.0.1:5555")
	check(1, "outbound", 7.0)
	check(1, "inbound", 1.0)
	check(2, "event", "CONNECT_RETRIED")
	check(2, "reconnect_interval_ms", 250.0)
	check(3, "event", "0x40000")
	check(3, "value", 9.0)
	for i, o := range objs {
		for _, k := range []string{"time", "code", "values", "endpoint", "event", "value"} {
			if _, ok := o[k]; !ok {
				t.Errorf("object %d lacks %s", i, k)
			}
		}
	}
	if _, ok := objs[0]["remote_endpoint"]; ok {
		t.Error("v1 event has remote_endpoint")
	}
	if _, ok := objs[2]["source"]; ok {
		t.Error("event without a source frame has source")
	}
	se := run.stderr.String()
	for _, want := range []string{"malformed monitor message", "frames match no monitor event format",
		"5 messages received, 4 events, 1 malformed"} {
		if !strings.Contains(se, want) {
			t.Errorf("stderr lacks %q:\n%s", want, se)
		}
	}
}

func TestMonitorCmdText(t *testing.T) {
	push, ep := boundPush(t)
	run := runMonitorCmd(t, "--byte-order", "big", "pull+"+ep)
	f := make([]byte, 6)
	binary.BigEndian.PutUint16(f, 0x2000)
	binary.BigEndian.PutUint32(f[2:], 0x11000002)
	if err := push.Send(zmq4.NewMsgFrom([]byte("svc/rep"), f, []byte("tcp://127.0.0.1:9"))); err != nil {
		t.Fatal(err)
	}
	l := run.line(t)
	want := "[svc/rep] v1 HANDSHAKE_FAILED_PROTOCOL value=0x11000002 protocol_error=ZMTP_MECHANISM_MISMATCH endpoint=tcp://127.0.0.1:9"
	if !strings.HasSuffix(l, want) {
		t.Errorf("line %q, want suffix %q", l, want)
	}
	if _, err := time.Parse(time.RFC3339Nano, strings.Fields(l)[0]); err != nil {
		t.Errorf("line does not start with a time: %v", err)
	}
	run.cancel()
	if err := <-run.done; err != nil {
		t.Fatal(err)
	}
	if se := run.stderr.String(); !strings.Contains(se, "connected") {
		t.Errorf("stderr: %s", se)
	}
}

func TestMonitorCmdBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--byte-order", "middle", "tcp://h:1"},
		{"--socket", "push", "tcp://h:1"},
		{"--source-frame", "maybe", "tcp://h:1"},
		{"udp://h:1"},
		{"--duration", "-1s", "tcp://h:1"},
		{},
	} {
		root := newRootCmd()
		root.SetArgs(append([]string{"monitor"}, args...))
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		if err := root.Execute(); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestMonitorCmdDuration: --duration ends the run by itself (here with no
// peer at all), and the counters are printed.
func TestMonitorCmdDuration(t *testing.T) {
	root := newRootCmd()
	var stderr lockedBuffer
	root.SetArgs([]string{"monitor", "--duration", "50ms", "tcp://127.0.0.1:1"})
	root.SetOut(io.Discard)
	root.SetErr(&stderr)
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if se := stderr.String(); !strings.Contains(se, "0 messages received, 0 events") {
		t.Errorf("stderr: %s", se)
	}
}

// TestMonitorCmdSIGTERM: SIGTERM stops the command cleanly once it runs.
func TestMonitorCmdSIGTERM(t *testing.T) {
	push, ep := boundPush(t)
	run := runMonitorCmd(t, "--socket", "pull", ep)
	if err := push.Send(zmq4.NewMsgFrom(v1msg(0x8, 3, "tcp://x:1")...)); err != nil {
		t.Fatal(err)
	}
	run.line(t) // the command is running, with its signal handler installed
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-run.done; err != nil {
		t.Fatal(err)
	}
	if se := run.stderr.String(); !strings.Contains(se, "1 messages received, 1 events") {
		t.Errorf("stderr: %s", se)
	}
}

// The access flags: a bad --allow, a PLAIN user without a password (neither
// file nor environment) and a password file without a user are errors; a
// password comes from the file's first line.
func TestMonitorCmdAccessFlags(t *testing.T) {
	t.Setenv(passwordEnv, "")
	os.Unsetenv(passwordEnv)
	for _, args := range [][]string{
		{"--allow", "10.0.0.300", "tcp://h:1"},
		{"--allow", "10.0.0.0/33", "tcp://h:1"},
		{"--plain-user", "zspy", "tcp://h:1"},
		{"--plain-password-file", "/nonexistent", "tcp://h:1"},
		{"--plain-user", "zspy", "--plain-password-file", "/nonexistent", "tcp://h:1"},
	} {
		root := newRootCmd()
		root.SetArgs(append([]string{"monitor", "--duration", "1ms"}, args...))
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		if err := root.Execute(); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	file := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(file, []byte("s3cret\r\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := monitorAccess{plainUser: "zspy", passwordFile: file, allow: []string{"10.1.2.3", "192.168.0.0/16"}}
	var cfg monitor.Config
	if err := a.apply(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Plain == nil || *cfg.Plain != (monitor.PlainAuth{Username: "zspy", Password: "s3cret"}) ||
		fmt.Sprint(cfg.Allow) != "[10.1.2.3/32 192.168.0.0/16]" {
		t.Errorf("config %+v %v", cfg.Plain, cfg.Allow)
	}
	t.Setenv(passwordEnv, "from-env")
	a.passwordFile = ""
	if err := a.apply(&cfg); err != nil || cfg.Plain.Password != "from-env" {
		t.Errorf("password from the environment: %v %+v", err, cfg.Plain)
	}
}

// A bound tcp endpoint off loopback with neither an allowlist nor PLAIN
// draws a warning; on loopback, or guarded, none.
func TestMonitorCmdOpenEndpointWarning(t *testing.T) {
	t.Setenv(passwordEnv, "s3cret")
	for _, tc := range []struct {
		args []string
		warn bool
	}{
		{[]string{"@pull+tcp://0.0.0.0:0"}, true},
		{[]string{"@pull+tcp://127.0.0.1:0"}, false},
		{[]string{"--allow", "10.0.0.0/8", "@pull+tcp://0.0.0.0:0"}, false},
		{[]string{"--plain-user", "zspy", "@pull+tcp://0.0.0.0:0"}, false},
	} {
		root := newRootCmd()
		var stderr lockedBuffer
		root.SetArgs(append([]string{"monitor", "--duration", "1ms"}, tc.args...))
		root.SetOut(io.Discard)
		root.SetErr(&stderr)
		if err := root.Execute(); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := strings.Contains(stderr.String(), "accepts events from any host"); got != tc.warn {
			t.Errorf("%v: warning %v, want %v: %s", tc.args, got, tc.warn, stderr.String())
		}
	}
}

// An address in use fails at once with a non-zero exit, naming the address
// and who to ask, instead of retrying for ever and exiting 0.
func TestMonitorCmdAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ep := "@tcp://" + ln.Addr().String()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	// --duration far beyond the test's: only a failure at start returns.
	out, err := runZspy(t, "monitor", "--socket", "pull", ep, "--duration", "1h")
	if err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), "sport = :"+port) {
		t.Fatalf("monitor %s on an address in use: %v\n%s", ep, err, out)
	}
	sock := filepath.Join(t.TempDir(), "mon.sock")
	uln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer uln.Close()
	if _, err := runZspy(t, "monitor", "@ipc://"+sock, "--duration", "1h"); err == nil || !strings.Contains(err.Error(), "socket file exists") {
		t.Fatalf("monitor on a socket file in use: %v", err)
	}
	if os.Geteuid() == 0 {
		_, err := runZspy(t, "capture", "-i", "lo", "--no-store", "--duration", "1h", "--monitor", ep)
		if err == nil || !strings.Contains(err.Error(), "--monitor") || !strings.Contains(err.Error(), "in use") {
			t.Fatalf("capture --monitor on an address in use: %v", err)
		}
	}
}

package monitor

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCForwarder builds contrib/c/zspy_monitor.c's demo against the real
// libzmq (needs gcc and libzmq3-dev; scripts/setup.d/monitor.sh installs
// them) and checks zspy receives every event each relay says it forwarded,
// with NULL and with PLAIN credentials (zspy_monitor_forward_plain).
func TestCForwarder(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler")
	}
	if _, err := os.Stat("/usr/include/zmq.h"); err != nil {
		t.Skip("no zmq.h (apt-get install libzmq3-dev)")
	}
	bin := filepath.Join(t.TempDir(), "zspy_monitor_demo")
	build := exec.Command("cc", "-Wall", "-Werror", "-DZSPY_MONITOR_DEMO", "-o", bin,
		"../contrib/c/zspy_monitor.c", "-lzmq", "-lpthread")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, auth := range []*PlainAuth{nil, {Username: "zspy", Password: "c-s3cret"}} {
		name := "NULL"
		if auth != nil {
			name = "PLAIN"
		}
		t.Run(name, func(t *testing.T) { cForwarder(t, bin, auth) })
	}
}

func cForwarder(t *testing.T, bin string, auth *PlainAuth) {
	sub, c := start(t, Config{Endpoints: []string{"@pull+tcp://127.0.0.1:0"}, Plain: auth})
	addr := c.listening(t)
	args := []string{addr}
	if auth != nil {
		args = append(args, auth.Username, auth.Password)
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	want := map[string]int{}
	total := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "relayed" {
			t.Fatalf("demo said %q", sc.Text())
		}
		n, _ := strconv.Atoi(f[2])
		want[f[1]] = n
		total += n
	}
	if len(want) != 2 || total == 0 {
		t.Fatalf("demo output %q", out)
	}
	c.waitFor(t, "every relayed event", func() bool { return len(c.events) >= total })
	c.mu.Lock()
	defer c.mu.Unlock()
	got := map[string][]string{}
	for _, e := range c.events {
		got[e.Source] = append(got[e.Source], e.Name)
	}
	for src, n := range want {
		if len(got[src]) != n {
			t.Errorf("%s: zspy got %d events %v, the relay forwarded %d", src, len(got[src]), got[src], n)
		}
	}
	rep, req := strings.Join(got["c-demo/rep"], " "), strings.Join(got["c-demo/req"], " ")
	if !strings.HasPrefix(rep, "LISTENING ACCEPTED HANDSHAKE_SUCCEEDED") || !strings.HasSuffix(rep, "MONITOR_STOPPED") {
		t.Errorf("rep events: %s", rep)
	}
	if !strings.HasPrefix(req, "CONNECT_DELAYED CONNECTED HANDSHAKE_SUCCEEDED") || !strings.HasSuffix(req, "MONITOR_STOPPED") {
		t.Errorf("req events: %s", req)
	}
	if st := sub.Stats(); st.HandshakeFailures != 0 || st.Connects != 2 {
		t.Errorf("stats %+v: want both relays accepted, no failed handshake", st)
	}
}

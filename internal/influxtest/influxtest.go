// Package influxtest runs a real InfluxDB 1.8 server (influxd) for tests:
// on 127.0.0.1 only, with a generated config, its data under t.TempDir(),
// Flux enabled for /api/v2/query, and one database created. The binary is
// $ZSPY_INFLUXD or influxd on PATH (scripts/setup.d/influxd.sh builds it);
// without one, tests are skipped with a loud message.
package influxtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// EnvBinary names the environment variable holding the path to influxd.
const EnvBinary = "ZSPY_INFLUXD"

// startTimeout bounds the wait for influxd to answer /ping (it replays its WAL first).
const startTimeout = 90 * time.Second

// Server is one running influxd.
type Server struct {
	t       testing.TB
	bin     string
	dir     string
	config  string
	logPath string

	Port    int    // HTTP port on 127.0.0.1
	RPCPort int    // backup/restore RPC port on 127.0.0.1
	URL     string // http://127.0.0.1:Port
	DB      string // the database created at start ("zspy")
	User    string // with WithAuth: the admin user that Query uses
	Pass    string

	cmd    *exec.Cmd
	exited chan struct{}
}

// Binary returns the influxd to use and whether there is one.
func Binary() (string, bool) {
	if p := os.Getenv(EnvBinary); p != "" {
		return p, true
	}
	p, err := exec.LookPath("influxd")
	return p, err == nil
}

// Option changes how Start configures influxd.
type Option func(*Server)

// WithAuth turns on authentication (auth-enabled = true) and creates an
// admin user; Query then sends these credentials. Writers authenticate with
// the token "user:password" on /api/v2/write.
func WithAuth(user, pass string) Option {
	return func(s *Server) { s.User, s.Pass = user, pass }
}

// Start starts influxd with database "zspy" and stops it when the test ends.
// It skips the test if no influxd binary is available.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	bin, ok := Binary()
	if !ok {
		t.Skip("\n*** SKIPPED: no InfluxDB server binary. Set " + EnvBinary + " or put influxd on PATH; " +
			"scripts/setup.d/influxd.sh builds influxd 1.8.10 from the Go module proxy (scripts/test.sh runs it). ***")
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir(), DB: "zspy"}
	for _, o := range opts {
		o(s)
	}
	s.config = filepath.Join(s.dir, "influxdb.conf")
	s.logPath = filepath.Join(s.dir, "influxd.log")
	t.Cleanup(s.stop)
	// A free port can be taken by another process before influxd binds it
	// (tests of several packages run at once): then try other ports.
	for attempt := 1; ; attempt++ {
		s.Port, s.RPCPort = freePort(t), freePort(t)
		s.URL = fmt.Sprintf("http://127.0.0.1:%d", s.Port)
		conf := fmt.Sprintf(configTemplate, s.RPCPort, s.dir, s.dir, s.dir, s.Port, s.User != "")
		if err := os.WriteFile(s.config, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		err := s.start()
		if err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			t.Fatal(err)
		}
	}
	if s.User != "" {
		// With no user yet, influxd lets the first admin be created unauthenticated.
		if _, err := s.Query(fmt.Sprintf("CREATE USER %q WITH PASSWORD '%s' WITH ALL PRIVILEGES", s.User, s.Pass)); err != nil {
			t.Fatalf("influxtest: create user: %v", err)
		}
	}
	if _, err := s.Query("CREATE DATABASE " + s.DB); err != nil {
		t.Fatalf("influxtest: create database: %v", err)
	}
	return s
}

const configTemplate = `reporting-disabled = true
bind-address = "127.0.0.1:%d"

[meta]
  dir = "%s/meta"
  logging-enabled = false

[data]
  dir = "%s/data"
  wal-dir = "%s/wal"
  query-log-enabled = false

[retention]
  enabled = false

[shard-precreation]
  enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:%d"
  auth-enabled = %t
  log-enabled = false
  pprof-enabled = false
  flux-enabled = true

[logging]
  level = "warn"
`

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var errPortTaken = errors.New("port taken")

// start runs influxd and waits until /ping answers.
func (s *Server) start() error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	logStart, _ := logf.Seek(0, io.SeekEnd)
	cmd := exec.Command(s.bin, "run", "-config", s.config)
	cmd.Stdout, cmd.Stderr = logf, logf
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "INFLUXDB_") { // they would override the config
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("influxtest: start %s: %w", s.bin, err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}(s.exited)

	// A bounded poll on a condition: influxd has no readiness signal but /ping.
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.ping() == nil {
			return nil
		}
		select {
		case <-s.exited:
			s.cmd = nil
			log := s.Log()
			b, _ := os.ReadFile(s.logPath)
			if int64(len(b)) > logStart && strings.Contains(string(b[logStart:]), "address already in use") {
				return fmt.Errorf("influxtest: %w:\n%s", errPortTaken, log)
			}
			return fmt.Errorf("influxtest: influxd exited during start-up:\n%s", log)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("influxtest: influxd did not answer /ping within %v:\n%s", startTimeout, s.Log())
		}
	}
}

func (s *Server) ping() error {
	resp, err := http.Get(s.URL + "/ping")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("ping: %s", resp.Status)
	}
	return nil
}

// Kill stops influxd abruptly (SIGKILL), as a crash would, and waits for it to exit.
func (s *Server) Kill() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Pause freezes influxd (SIGSTOP): connections are still accepted by the
// kernel but nothing answers, as with a server that hangs.
func (s *Server) Pause() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		s.t.Fatal(err)
	}
}

// Resume lets a paused influxd run again (SIGCONT).
func (s *Server) Resume() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		s.t.Fatal(err)
	}
}

// Restart starts influxd again on the same port and data directory.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("influxtest: Restart while running")
	}
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

// stop terminates influxd gracefully, killing it if it does not exit.
func (s *Server) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // in case a test left it paused
	_ = s.cmd.Process.Signal(os.Interrupt)
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case <-s.exited:
	case <-t.C:
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
	if s.t.Failed() {
		s.t.Logf("influxd log:\n%s", s.Log())
	}
}

// Log returns the last part of influxd's log.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}

// Result is one InfluxQL statement's result, as /query returns it.
type Result struct {
	Series []struct {
		Name    string            `json:"name"`
		Tags    map[string]string `json:"tags"`
		Columns []string          `json:"columns"`
		Values  [][]any           `json:"values"`
	} `json:"series"`
	Error string `json:"error"`
}

// Query runs one InfluxQL statement against the database over /query (POST)
// with nanosecond epoch timestamps; numbers decode as json.Number.
func (s *Server) Query(q string) (*Result, error) {
	form := url.Values{"q": {q}, "db": {s.DB}, "epoch": {"ns"}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if s.User != "" {
		req.SetBasicAuth(s.User, s.Pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("query %q: %s: %s", q, resp.Status, body)
	}
	var out struct {
		Results []Result `json:"results"`
		Error   string   `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	if out.Error != "" {
		return nil, fmt.Errorf("query %q: %s", q, out.Error)
	}
	if len(out.Results) != 1 {
		return nil, fmt.Errorf("query %q: %d results", q, len(out.Results))
	}
	if out.Results[0].Error != "" {
		return nil, fmt.Errorf("query %q: %s", q, out.Results[0].Error)
	}
	return &out.Results[0], nil
}

// Count runs a query whose result is one number (e.g. SELECT count(f) FROM m)
// and returns it; an empty result counts 0.
func (s *Server) Count(q string) (int64, error) {
	r, err := s.Query(q)
	if err != nil {
		return 0, err
	}
	if len(r.Series) == 0 || len(r.Series[0].Values) == 0 {
		return 0, nil
	}
	row := r.Series[0].Values[0]
	if len(row) < 2 {
		return 0, fmt.Errorf("query %q: row %v has no value", q, row)
	}
	n, ok := row[1].(json.Number)
	if !ok {
		return 0, fmt.Errorf("query %q: value %v is not a number", q, row[1])
	}
	v, err := n.Int64()
	if err != nil {
		return 0, errors.Join(fmt.Errorf("query %q", q), err)
	}
	return v, nil
}

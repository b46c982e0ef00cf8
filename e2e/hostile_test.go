package e2e

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zspy/zspy/internal/truth"
)

// replay runs `zspy replay ARGS...`, which must exit with code 0, and returns
// its stdout and stderr.
func replay(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	zspy, _ := tools(t)
	cmd := exec.Command(zspy, append([]string{"replay"}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("zspy replay %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// fullReport is the part of the --json report these tests read beyond report.
type fullReport struct {
	Warnings    []string `json:"warnings"`
	Connections []struct {
		Client         string   `json:"client"`
		PlainUsername  string   `json:"plain_username"`
		Handshake      string   `json:"handshake"`
		HandshakeError string   `json:"handshake_error"`
		Errors         []string `json:"errors"`
		C2S            repDir   `json:"c2s"`
		S2C            repDir   `json:"s2c"`
	} `json:"connections"`
}

// A libzmq client refused by an ERROR with a 255-byte reason (the most its
// 1-byte length allows), captured for real: zspy keeps the whole reason as
// the handshake error, loses no byte and warns of nothing. The dissector
// used to panic on it, report the 284 bytes of the command lost, and replace
// the reason with "closed during the handshake".
func TestReplayErrorReason255(t *testing.T) {
	dir := filepath.Join("testdata", "plain_error255")
	tr, err := truth.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := tr.Connections[0]
	if n := len(strings.TrimPrefix(want.HandshakeError, "ERROR ")); n != 255 {
		t.Fatalf("truth's reason is %d bytes, want 255", n)
	}
	out, stderr := replay(t, "--json", "--no-rules", tr.CapturePath())
	var r fullReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out)
	}
	if len(r.Warnings) > 0 || strings.Contains(stderr, "panic") {
		t.Errorf("warnings %q, stderr %q", r.Warnings, stderr)
	}
	if len(r.Connections) != 1 {
		t.Fatalf("%d connections, want 1", len(r.Connections))
	}
	c := r.Connections[0]
	if c.HandshakeError != want.HandshakeError || c.Handshake != "failed" {
		t.Errorf("handshake %s, error %q\nwant failed, %q", c.Handshake, c.HandshakeError, want.HandshakeError)
	}
	if c.PlainUsername != want.PlainUsername {
		t.Errorf("username %q, want %q", c.PlainUsername, want.PlainUsername)
	}
	if c.C2S.LostBytes+c.S2C.LostBytes != 0 || c.C2S.Commands != 1 || c.S2C.Commands != 1 {
		t.Errorf("c2s %+v s2c %+v: want one command each way and nothing lost", c.C2S, c.S2C)
	}
}

// unsafeRunes are what the plain_hostile capture's username holds and no
// terminal output of zspy may pass through: ESC, BEL, the C1 CSI and the
// right-to-left override.
const unsafeRunes = "\x1b\x07\u009b\u202e"

// A real libzmq client whose PLAIN username holds ESC ] 0 ; ... BEL (set the
// terminal's title), ESC [ 2J (clear it), a C1 CSI and U+202E: the text
// report shows the username escaped, and the alert lines and JSON carry no
// raw control either; the JSON still decodes to the username as sent. The
// capture's other connection has a 255-byte username, shown whole.
func TestReplayHostileUsername(t *testing.T) {
	tr, err := truth.Load(filepath.Join("..", "testdata", "pcaps", "plain_hostile"))
	if err != nil {
		t.Fatal(err)
	}
	esc, long := tr.Conn("plain-escapes"), tr.Conn("plain-255")
	if esc == nil || long == nil || !strings.ContainsAny(esc.PlainUsername, unsafeRunes) || len(long.PlainUsername) != 255 {
		t.Fatalf("truth lacks the hostile connections: %+v", tr.Connections)
	}
	text, stderr := replay(t, tr.CapturePath())
	for _, out := range []string{text, stderr} {
		if i := strings.IndexAny(out, unsafeRunes); i >= 0 {
			t.Errorf("output passes a control through at byte %d: %q", i, out)
		}
	}
	if want := `user=\x1b]0;zspy-pwned\x07\x1b[2J\u009b31m\u202eadmin`; !strings.Contains(text, want) {
		t.Errorf("text report lacks %s:\n%s", want, text)
	}
	if !strings.Contains(text, "user="+long.PlainUsername+" ") {
		t.Errorf("text report lacks the 255-byte username:\n%s", text)
	}
	events, _ := replay(t, "--events", "--json", tr.CapturePath())
	if i := strings.IndexAny(events, unsafeRunes); i >= 0 || !strings.Contains(events, `"command":"HELLO"`) {
		t.Errorf("--events --json passes a control through at byte %d, or has no HELLO", i)
	}
	textEvents, _ := replay(t, "--events", tr.CapturePath())
	if i := strings.IndexAny(textEvents, unsafeRunes); i >= 0 || !strings.Contains(textEvents, " HELLO ") {
		t.Errorf("--events (text) passes a control through at byte %d, or has no HELLO", i)
	}
	js, _ := replay(t, "--json", tr.CapturePath())
	if i := strings.IndexAny(js, unsafeRunes); i >= 0 {
		t.Errorf("JSON passes a control through at byte %d", i)
	}
	var r fullReport
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, js)
	}
	users := map[string]bool{}
	for _, c := range r.Connections {
		users[c.PlainUsername] = true
	}
	if !users[esc.PlainUsername] || !users[long.PlainUsername] || len(r.Warnings) > 0 {
		t.Errorf("JSON usernames %v, warnings %q: want both users as sent and no warning", users, r.Warnings)
	}
}

// Two connections captured for real from raw peers (testdata/hostile_wire):
// a REQ/REP pair greeting with the unknown mechanism "x-custom", which zspy
// once read as a 2.0 greeting (PUB to PUB: false critical
// incompatible_sockets and handshake_failure alerts), and a PUSH whose frame
// declares 2^63-1 bytes to a libzmq PULL, which drew no warning.
func TestReplayHostileWire(t *testing.T) {
	tr, err := truth.Load(filepath.Join("testdata", "hostile_wire"))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := replay(t, tr.CapturePath())
	if strings.Contains(text, "alert:") || strings.Contains(text, "INCOMPATIBLE") {
		t.Errorf("alerts or an incompatible pair:\n%s", text)
	}
	out, _ := replay(t, "--json", "--no-rules", tr.CapturePath())
	var r struct {
		Connections []struct {
			Client, Server, Mechanism, Handshake string
			ClientSocket                         string `json:"client_socket"`
			ServerSocket                         string `json:"server_socket"`
			ZMTP                                 string `json:"zmtp"`
			Errors                               []string
			C2S                                  repDir `json:"c2s"`
		}
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Connections) != 2 {
		t.Fatalf("%d connections, want 2", len(r.Connections))
	}
	custom, huge := r.Connections[0], r.Connections[1]
	want := tr.Conn("x-custom")
	if custom.ZMTP != "3.1" || custom.Mechanism != "OTHER" || custom.ClientSocket != "REQ" || custom.ServerSocket != "REP" ||
		custom.Handshake != "complete" || len(custom.Errors) != 0 || custom.C2S.Messages == nil || *custom.C2S.Messages != *want.C2S.Messages {
		t.Errorf("x-custom connection: %+v, want ZMTP 3.1, OTHER, REQ→REP, complete, no errors, %d messages", custom, *want.C2S.Messages)
	}
	if len(huge.Errors) != 1 || !strings.Contains(huge.Errors[0], "implausibly large frame: 9223372036854775807 bytes") {
		t.Errorf("huge-frame connection errors %q, want the implausible size named", huge.Errors)
	}
}

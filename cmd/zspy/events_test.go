package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// --events prints one text line per event (tcpdump -l's habit), as many as
// the JSON lines of --events --json, each the sender first: time, sender >
// receiver, what happened.
func TestEventsText(t *testing.T) {
	file := pcaps + "pubsub/capture.pcap"
	textb, err := runZspyStdout(t, "replay", "--events", file)
	text := string(textb)
	if err != nil {
		t.Fatal(err)
	}
	jsb, err := runZspyStdout(t, "replay", "--events", "--json", file)
	js := string(jsb)
	if err != nil {
		t.Fatal(err)
	}
	tl := strings.Split(strings.TrimSpace(text), "\n")
	jl := strings.Split(strings.TrimSpace(js), "\n")
	if len(tl) != len(jl) || len(tl) < 70 {
		t.Fatalf("%d text lines, %d JSON lines", len(tl), len(jl))
	}
	for i, l := range tl {
		var e struct{ Event, Client, Server, Dir, Op string }
		if err := json.Unmarshal([]byte(jl[i]), &e); err != nil {
			t.Fatal(err)
		}
		src, dst := e.Client, e.Server
		if e.Dir == "s2c" {
			src, dst = dst, src
		}
		f := strings.Fields(l)
		if f[1] != src || !strings.Contains(l, " > "+dst+" ") && !strings.Contains(l, " > "+dst) {
			t.Fatalf("line %d %q: want %s > %s", i, l, src, dst)
		}
		word := e.Event
		if e.Event == "subscription" {
			word = strings.ToUpper(e.Op)
		}
		if e.Event != "command" && !strings.Contains(l, " "+word+" ") {
			t.Errorf("line %d %q does not say %s", i, l, word)
		}
	}
	if want := `127.0.0.1:26020 (SUB) > 127.0.0.1:16020 (PUB) SUBSCRIBE "weather"`; !strings.Contains(text, want) {
		t.Errorf("no %s in\n%s", want, text)
	}
}

// -Y selects the events --events prints; the same events in either form.
func TestDisplayFilter(t *testing.T) {
	file := pcaps + "pubsub/capture.pcap"
	allb, err := runZspyStdout(t, "replay", "--events", "--json", file)
	all := string(allb)
	if err != nil {
		t.Fatal(err)
	}
	// Count by hand what the filter should select.
	want := 0
	for _, l := range strings.Split(strings.TrimSpace(all), "\n") {
		var e struct {
			Event, Client, Dir string
			Bytes              int
			Preview            string
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		if e.Event == "message" && e.Client == "127.0.0.1:26020" && strings.HasPrefix(e.Preview, "sports") && e.Bytes > 20 {
			want++
		}
	}
	if want == 0 {
		t.Fatal("the capture has no such messages: the test proves nothing")
	}
	expr := `event == "message" and port(26020) and topic startsWith "sports" and size > 20 and socket("PUB")`
	for _, args := range [][]string{{"--events"}, {"--events", "--json"}} {
		outb, err := runZspyStdout(t, append(append([]string{"replay"}, args...), "-Y", expr, file)...)
		out := string(outb)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != want {
			t.Errorf("%v -Y: %d lines, want %d", args, len(lines), want)
		}
		for _, l := range lines {
			if !strings.Contains(l, "sports") {
				t.Errorf("%v -Y let through %q", args, l)
			}
		}
	}
	subsb, err := runZspyStdout(t, "replay", "--events", "-Y", `command == "SUBSCRIBE"`, file)
	subs := string(subsb)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(subs, "\n"); n != strings.Count(all, `"op":"subscribe"`) || n == 0 {
		t.Errorf("command == SUBSCRIBE: %d lines of\n%s", n, subs)
	}
}

// A filter with a mistake fails at start, naming the column, before any
// output; without --events it is refused.
func TestDisplayFilterErrors(t *testing.T) {
	file := pcaps + "pubsub/capture.pcap"
	out, err := runZspyStdout(t, "replay", "--events", "-Y", `event == "mesage"`, file)
	if err == nil || len(out) != 0 || !strings.Contains(err.Error(), "column 10") || !strings.Contains(err.Error(), "greeting, command, message") {
		t.Errorf("typo: %q, %v", out, err)
	}
	_, err = runZspyStdout(t, "replay", "--events", "-Y", `size >`, file)
	if err == nil || !strings.Contains(err.Error(), "column 6") {
		t.Errorf("syntax error: %v", err)
	}
	_, err = runZspyStdout(t, "replay", "-Y", `size > 1`, file)
	if err == nil || !strings.Contains(err.Error(), "add --events") {
		t.Errorf("-Y without --events: %v", err)
	}
	_, err = runZspyStdout(t, "capture", "-i", "lo", "--events", "-Y", `port("x")`)
	if err == nil || !strings.Contains(err.Error(), "column 6") {
		t.Errorf("capture -Y: %v", err)
	}
}

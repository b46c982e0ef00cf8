package monitor

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// A recorded log is read one event at a time: bad lines and lines over
// MaxLogLine are skipped with a warning naming the file and line (the long
// one without being held whole), blank lines are passed over, and a last line
// without its newline still counts.
func TestLogReader(t *testing.T) {
	ev, err := Decode(withSource("app/dealer", v1(le, 0x4000, 400, "tcp://127.0.0.1:5555")), DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	good, _ := json.Marshal(ev)
	long := `{"version":1,"endpoint":"` + strings.Repeat("x", MaxLogLine) + `"}`
	text := strings.Join([]string{string(good), "", "not json", long, string(good), string(good)}, "\n")
	var warnings []string
	l := NewLogReader(strings.NewReader(text), "mon.jsonl", func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) })
	n := 0
	for {
		e, ok := l.Next()
		if !ok {
			break
		}
		n++
		if e.String() != ev.String() {
			t.Errorf("event %d: %s, want %s", n, e.String(), ev.String())
		}
	}
	if n != 3 {
		t.Errorf("%d events, want 3", n)
	}
	if len(warnings) != 2 || !strings.HasPrefix(warnings[0], "mon.jsonl: line 3: ") ||
		warnings[1] != fmt.Sprintf("mon.jsonl: line 4: longer than %d bytes, skipped", MaxLogLine) || l.Skipped() != 2 {
		t.Errorf("warnings %q, skipped %d", warnings, l.Skipped())
	}
	if cap(l.buf) > MaxLogLine+64<<10 {
		t.Errorf("the reader held %d bytes for a line", cap(l.buf))
	}
}

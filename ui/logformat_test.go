package ui

import (
	"strings"
	"testing"

	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/tracker"
)

func TestFormatEntry(t *testing.T) {
	e := session.LogEntry{TS: t0, Type: tracker.EvMessage, Frames: 2, Bytes: 1005, NSizes: 2}
	e.Sizes[0], e.Sizes[1] = 5, 1000
	e.NData = uint8(copy(e.Data[:], strings.Repeat("x", 100)))
	line := FormatEntry(&e, 4)
	if !strings.Contains(line, "msg 2F 1005B [5 1000]") || !strings.Contains(line, "78 78 78 78…") || !strings.Contains(line, `"xxxx`) {
		t.Errorf("log line %q", line)
	}
}

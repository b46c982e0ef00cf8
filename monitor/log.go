package monitor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// MaxLogLine bounds one line of a recorded event log; a longer line is
// skipped (and reported), never held.
const MaxLogLine = 1 << 20

// LogReader reads the JSON lines that `zspy monitor --json` writes, one event
// at a time, so that a recorded log of any size is merged with a capture in
// bounded memory (`zspy replay --monitor-log`). A line that does not parse or
// is longer than MaxLogLine is skipped and reported through Warn, naming the
// file and line; reading goes on. A read error ends the log, also reported.
type LogReader struct {
	// Name names the log in warnings (its file name).
	Name string
	// Warn receives one message per skipped line; nil drops them.
	Warn func(format string, args ...any)

	br      *bufio.Reader
	line    int
	buf     []byte
	done    bool
	skipped uint64
}

// NewLogReader reads events from r.
func NewLogReader(r io.Reader, name string, warn func(format string, args ...any)) *LogReader {
	return &LogReader{Name: name, Warn: warn, br: bufio.NewReaderSize(r, 64<<10)}
}

// Skipped counts the lines that were not events.
func (l *LogReader) Skipped() uint64 { return l.skipped }

func (l *LogReader) warn(format string, args ...any) {
	l.skipped++
	if l.Warn != nil {
		l.Warn(format, args...)
	}
}

// Next returns the next event of the log; ok is false at its end.
func (l *LogReader) Next() (ev Event, ok bool) {
	for !l.done {
		line, tooLong, err := l.readLine()
		if err != nil {
			l.done = true
			if !errors.Is(err, io.EOF) {
				l.warn("%s: line %d: %v", l.Name, l.line, err)
			}
			if len(line) == 0 && !tooLong {
				break
			}
		}
		switch {
		case tooLong:
			l.warn("%s: line %d: longer than %d bytes, skipped", l.Name, l.line, MaxLogLine)
			continue
		case len(bytes.TrimSpace(line)) == 0:
			continue
		}
		var e Event
		if err := json.Unmarshal(line, &e); err != nil {
			l.warn("%s: line %d: %v", l.Name, l.line, err)
			continue
		}
		return e, true
	}
	return Event{}, false
}

// readLine returns the next line without its newline, or reports that it was
// longer than MaxLogLine (having read past it).
func (l *LogReader) readLine() (line []byte, tooLong bool, err error) {
	l.line++
	l.buf = l.buf[:0]
	for {
		chunk, err := l.br.ReadSlice('\n')
		if !tooLong {
			if len(l.buf)+len(chunk) > MaxLogLine+1 {
				tooLong, l.buf = true, l.buf[:0]
			} else {
				l.buf = append(l.buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimSuffix(l.buf, []byte("\n")), tooLong, err
	}
}

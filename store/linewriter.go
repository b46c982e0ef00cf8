package store

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// LineWriter is a sink that writes every point as a line of line protocol to
// an io.Writer (zspy's --output lp: standard output, for Telegraf's execd or
// exec input). Each Write's points go out together at its end, so a reader
// gets every interval as it ends; a reader that stops reading blocks Write
// (Telegraf's back-pressure), as a pipe does.
type LineWriter struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	closed bool
	st     Stats
	warn   func(string)
}

// NewLineWriter returns a LineWriter writing to w.
func NewLineWriter(w io.Writer) *LineWriter {
	return &LineWriter{w: w, st: Stats{Up: true}}
}

// Write encodes points and writes them in one write; an invalid point is
// counted (Invalid) and left out. A failed write drops the points (Dropped)
// and returns the error.
func (l *LineWriter) Write(points []Point) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.buf = l.buf[:0]
	n := uint64(0)
	for i := range points {
		var err error
		if l.buf, err = AppendLine(l.buf, &points[i]); err != nil {
			l.st.Invalid++
			continue
		}
		n++
	}
	if n == 0 {
		return nil
	}
	if _, err := l.w.Write(l.buf); err != nil {
		return l.fail(n, err)
	}
	l.st.Written += n
	l.st.Up = true
	return nil
}

// fail counts n points dropped by a write error, says so once per episode.
func (l *LineWriter) fail(n uint64, err error) error {
	l.st.Dropped += n
	l.st.LastError = err.Error()
	if l.st.Up {
		l.st.DropEpisodes++
		if l.warn != nil {
			l.warn(fmt.Sprintf("line protocol output: %v: points are dropped", err))
		}
	}
	l.st.Up = false
	return fmt.Errorf("line protocol output: %w", err)
}

// Flush does nothing: Write wrote every point.
func (l *LineWriter) Flush(context.Context) error { return nil }

// Close makes Write return ErrClosed; the writer itself is not closed.
func (l *LineWriter) Close(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return nil
}

// Stats returns the writer's counters.
func (l *LineWriter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

// SetWarn sets the function told when writes start failing.
func (l *LineWriter) SetWarn(fn func(msg string)) { l.warn = fn }

package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var _ Sink = (*Local)(nil)
var _ Stater = (*Local)(nil)

// Local is the embedded store, used when no InfluxDB is configured: it
// appends every point as line protocol to files in a data directory and
// keeps the most recent points in memory for the dashboard (Query).
//
// Files are named zspy-YYYYMMDD-NNNN.lp after the UTC day of their first
// point. A new file starts when the current one would grow past MaxFileSize
// or when a point's day is later than the file's (an older point, from a
// replay, goes into the current file: file names order the data, they do not
// partition it). Files are complete lines of line protocol and can be sent
// to InfluxDB later with Export (zspy export) or curl.
//
// Write does buffered file I/O on the caller's goroutine (no network); a
// failed file write is counted as dropped and reported, and the points still
// reach the in-memory window.
type Local struct {
	cfg    LocalConfig
	unlock func() error

	mu      sync.Mutex
	f       *os.File
	bw      *bufio.Writer
	path    string
	size    int64
	day     int // yyyymmdd of the current file
	lastSeq map[int]int
	line    []byte
	closed  bool

	ring  []Point // the in-memory window; slots are reused
	head  int     // next slot to write
	count int

	written, dropped, invalid, rotated atomic.Uint64

	stMu    sync.Mutex
	lastErr string
	errAt   time.Time
}

// NewLocal validates cfg and opens the data directory (creating it and
// locking it against other zspy processes until Close). Files already
// there are kept; new files continue their numbering.
func NewLocal(cfg LocalConfig) (*Local, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("local store: %w", err)
	}
	unlock, err := LockDir(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("local store: %w", err)
	}
	names, err := DataFiles(cfg.DataDir)
	if err != nil {
		unlock()
		return nil, err
	}
	l := &Local{cfg: cfg, unlock: unlock, lastSeq: map[int]int{}, ring: make([]Point, cfg.Window)}
	for _, n := range names {
		if day, seq, ok := parseDataName(filepath.Base(n)); ok && seq > l.lastSeq[day] {
			l.lastSeq[day] = seq
		}
	}
	return l, nil
}

// parseDataName parses "zspy-YYYYMMDD-NNNN.lp".
func parseDataName(name string) (day, seq int, ok bool) {
	var d, s string
	if !strings.HasPrefix(name, "zspy-") || !strings.HasSuffix(name, ".lp") {
		return 0, 0, false
	}
	parts := strings.Split(strings.TrimSuffix(strings.TrimPrefix(name, "zspy-"), ".lp"), "-")
	if len(parts) != 2 {
		return 0, 0, false
	}
	d, s = parts[0], parts[1]
	day, err1 := strconv.Atoi(d)
	seq, err2 := strconv.Atoi(s)
	return day, seq, err1 == nil && err2 == nil && len(d) == 8
}

func dayOf(t time.Time) int {
	y, m, d := t.UTC().Date()
	return y*10000 + int(m)*100 + d
}

// Write appends the points to the current file and to the window. Invalid
// points are skipped, counted, and the first is returned as an error.
func (l *Local) Write(points []Point) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	var firstErr, ioErr error
	for i := range points {
		p := &points[i]
		var err error
		l.line, err = AppendLine(l.line[:0], p)
		if err != nil {
			l.invalid.Add(1)
			if firstErr == nil {
				firstErr = fmt.Errorf("point %d of %d: %w", i, len(points), err)
			}
			continue
		}
		if err := l.writeLine(dayOf(p.Time)); err != nil {
			l.dropped.Add(1)
			ioErr = err
		} else {
			l.written.Add(1)
		}
		l.remember(p)
	}
	if firstErr != nil {
		l.setErr(firstErr)
	}
	if ioErr != nil {
		l.setErr(fmt.Errorf("local store: points not written to disk: %w", ioErr))
	}
	return firstErr
}

// writeLine writes l.line to the current file, rotating first if needed.
func (l *Local) writeLine(day int) error {
	if l.f == nil || day > l.day || (l.size > 0 && l.size+int64(len(l.line)) > l.cfg.MaxFileSize) {
		if err := l.rotate(day); err != nil {
			return err
		}
	}
	n, err := l.bw.Write(l.line)
	l.size += int64(n)
	return err
}

func (l *Local) rotate(day int) error {
	if err := l.closeFile(); err != nil {
		return err
	}
	if l.day > day { // an older point starts a file: keep the newest day for ordering
		day = l.day
	}
	l.lastSeq[day]++
	path := filepath.Join(l.cfg.DataDir, fmt.Sprintf("zspy-%08d-%04d.lp", day, l.lastSeq[day]))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("local store: %w", err)
	}
	if l.bw == nil {
		l.bw = bufio.NewWriterSize(f, 64<<10)
	} else {
		l.bw.Reset(f)
	}
	l.f, l.path, l.size, l.day = f, path, 0, day
	l.rotated.Add(1)
	return nil
}

func (l *Local) closeFile() error {
	if l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	err := l.bw.Flush()
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("local store: %s: %w", l.path, err)
	}
	return nil
}

// remember copies p into the next ring slot, reusing the slot's slices.
func (l *Local) remember(p *Point) {
	if len(l.ring) == 0 {
		return
	}
	p.copyInto(&l.ring[l.head])
	l.head = (l.head + 1) % len(l.ring)
	if l.count < len(l.ring) {
		l.count++
	}
}

// Flush writes buffered lines to the current file and syncs it.
func (l *Local) Flush(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	if err := l.bw.Flush(); err != nil {
		return fmt.Errorf("local store: %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("local store: %s: %w", l.path, err)
	}
	return nil
}

// Close flushes and closes the current file; the window stays queryable.
func (l *Local) Close(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	err := l.closeFile()
	if uerr := l.unlock(); uerr != nil && err == nil {
		err = fmt.Errorf("local store: %w", uerr)
	}
	if d := l.dropped.Load(); d > 0 {
		err = errors.Join(err, fmt.Errorf("local store: %d points not written to disk; last error: %s", d, l.Stats().LastError))
	}
	return err
}

// Stats returns the counters (Written: lines written to files) and the last error.
func (l *Local) Stats() Stats {
	st := Stats{Written: l.written.Load(), Dropped: l.dropped.Load(), Invalid: l.invalid.Load(), Up: true}
	l.stMu.Lock()
	st.LastError, st.ErrorAt = l.lastErr, l.errAt
	l.stMu.Unlock()
	return st
}

func (l *Local) setErr(err error) {
	l.stMu.Lock()
	l.lastErr, l.errAt = err.Error(), time.Now()
	l.stMu.Unlock()
}

// Query selects points of the in-memory window. Zero values match everything.
type Query struct {
	Measurement string    // exact name, or "" for all
	Tags        []Tag     // every tag listed must be present with this value
	From, To    time.Time // From <= Time < To
}

func (q *Query) match(p *Point) bool {
	if q.Measurement != "" && p.Measurement != q.Measurement {
		return false
	}
	if !q.From.IsZero() && p.Time.Before(q.From) {
		return false
	}
	if !q.To.IsZero() && !p.Time.Before(q.To) {
		return false
	}
	for _, t := range q.Tags {
		if v, ok := p.Tag(t.Key); !ok || v != t.Value {
			return false
		}
	}
	return true
}

// QueryFunc calls fn for each matching point of the window, oldest written
// first, until fn returns false. The point is only valid during the call and
// the store is locked meanwhile: fn must not call the store.
func (l *Local) QueryFunc(q Query, fn func(p *Point) bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	start := (l.head - l.count + len(l.ring)) % max(len(l.ring), 1)
	for i := 0; i < l.count; i++ {
		p := &l.ring[(start+i)%len(l.ring)]
		if q.match(p) && !fn(p) {
			return
		}
	}
}

// Query returns copies of the matching points of the window, oldest written first.
func (l *Local) Query(q Query) []Point {
	var out []Point
	l.QueryFunc(q, func(p *Point) bool {
		out = append(out, p.Clone())
		return true
	})
	return out
}

// DataFiles lists the line-protocol files (*.lp) of a data or spool
// directory, sorted by name: zspy-* by day and number, spool-* by sequence.
func DataFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("data files: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".lp") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names) // zero-padded numbers sort by name
	for i, n := range names {
		names[i] = filepath.Join(dir, n)
	}
	return names, nil
}

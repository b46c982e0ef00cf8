package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
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
// Write gathers lines in memory (up to 64 KiB, at most a second) and writes
// them to the file on the caller's goroutine (no network). A point counts as
// written only once the write of its complete line succeeded; a failed or
// short write (a full disk) is cut back to the last complete line, and the
// lines that did not make it are counted as dropped. The points still reach
// the in-memory window. The first drop after a success starts a drop episode:
// the function given to SetWarn hears of it at once, and again when writing
// works again (Stats.DropEpisodes counts them).
//
// Retention: files of this store (zspy-*.lp in DataDir) last written more
// than MaxAge ago are deleted, and the oldest are deleted while all of them
// together hold more than MaxSize bytes; the file being written is never
// deleted. It runs when the store opens, at each new file, when the size
// limit is passed and at least once a minute while points come. Deleted
// files and bytes are counted (Stats.RemovedFiles, RemovedBytes).
type Local struct {
	cfg    LocalConfig
	unlock func() error

	mu       sync.Mutex
	f        *os.File
	path     string
	size     int64 // bytes of complete lines in the current file
	day      int   // yyyymmdd of the current file
	lastSeq  map[int]int
	line     []byte
	buf      []byte // complete lines not yet written to f
	bufLines int
	lastOut  time.Time // when buf was last written out (wall clock)
	openErr  error     // why the last file could not be created
	reopenAt time.Time // no new attempt to create a file before this
	closed   bool

	old       []dataFile // closed files of this store, least recently written first
	oldBytes  int64
	retainAt  time.Time // next periodic retention check (wall clock)
	dropping  bool      // in a drop episode
	epDropped uint64    // points dropped in the current episode
	notices   []string  // for the warn function, said at the end of Write
	warn      func(string)

	ring  []Point // the in-memory window; slots are reused
	head  int     // next slot to write
	count int

	written, dropped, invalid, rotated, episodes, removedFiles atomic.Uint64
	removedBytes, buffered                                     atomic.Int64
	down                                                       atomic.Bool

	stMu    sync.Mutex
	lastErr string
	errAt   time.Time
}

// dataFile is a closed file of the local store, a candidate for retention.
type dataFile struct {
	path string
	size int64
	mod  time.Time
}

const (
	// localBufSize: lines are gathered up to this many bytes, then written with one call.
	localBufSize = 64 << 10
	// localWriteEvery: gathered lines are written at least this often (checked at each Write).
	localWriteEvery = time.Second
	// retainEvery: age retention is checked at least this often while points come.
	retainEvery = time.Minute
	// reopenEvery: after a file could not be created, the next attempt waits
	// this long; points meanwhile are dropped, and counted.
	reopenEvery = time.Second
)

// NewLocal validates cfg and opens the data directory (creating it and
// locking it against other zspy processes until Close). Files already
// there are kept, subject to retention; new files continue their numbering.
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
		day, seq, ok := parseDataName(filepath.Base(n))
		if !ok {
			continue // not ours: never deleted
		}
		if seq > l.lastSeq[day] {
			l.lastSeq[day] = seq
		}
		info, err := os.Stat(n)
		if err != nil {
			continue // gone meanwhile
		}
		l.old = append(l.old, dataFile{path: n, size: info.Size(), mod: info.ModTime()})
		l.oldBytes += info.Size()
	}
	sort.SliceStable(l.old, func(i, j int) bool { return l.old[i].mod.Before(l.old[j].mod) })
	l.retain(time.Now())
	return l, nil
}

// SetWarn sets the function told, at once, when the store starts dropping
// points (the first drop after a success) and when it writes again. It is
// called from Write, on the caller's goroutine, never concurrently. Set it
// before the first Write.
func (l *Local) SetWarn(fn func(msg string)) {
	l.mu.Lock()
	l.warn = fn
	l.mu.Unlock()
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
// points are skipped, counted, and the first is returned as an error. Points
// that do not reach the disk are counted as dropped, not returned: the
// warn function (SetWarn) hears of it once per episode.
func (l *Local) Write(points []Point) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	now := time.Now()
	var firstErr error
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
		l.remember(p)
		if err := l.place(dayOf(p.Time), now); err != nil {
			l.drop(1, err)
			continue
		}
		l.buf = append(l.buf, l.line...)
		l.bufLines++
		if len(l.buf) >= localBufSize {
			l.writeOut(now)
		}
	}
	if len(l.buf) > 0 && now.Sub(l.lastOut) >= localWriteEvery {
		l.writeOut(now)
	}
	if !now.Before(l.retainAt) {
		l.retain(now)
	}
	l.buffered.Store(int64(l.bufLines))
	notices, warn := l.notices, l.warn
	l.notices = nil
	l.mu.Unlock()
	if warn != nil {
		for _, n := range notices {
			warn(n)
		}
	}
	if firstErr != nil {
		l.setErr(firstErr)
	}
	return firstErr
}

// place makes the current file the one for a line of day of len(l.line)
// bytes: it starts a new file when there is none, when day is later than
// the file's, or when the line would take the file past MaxFileSize.
func (l *Local) place(day int, now time.Time) error {
	pending := l.size + int64(len(l.buf))
	if l.f != nil && day <= l.day && (pending == 0 || pending+int64(len(l.line)) <= l.cfg.MaxFileSize) {
		return nil
	}
	if l.f == nil && now.Before(l.reopenAt) {
		return l.openErr
	}
	l.writeOut(now)
	if err := l.closeFile(); err != nil {
		l.setErr(err)
	}
	if err := l.openFile(day); err != nil {
		l.openErr, l.reopenAt = err, now.Add(reopenEvery)
		return err
	}
	l.retain(now)
	return nil
}

func (l *Local) openFile(day int) error {
	if l.day > day { // an older point starts a file: keep the newest day for ordering
		day = l.day
	}
	var f *os.File
	var path string
	for {
		seq := l.lastSeq[day] + 1
		path = filepath.Join(l.cfg.DataDir, fmt.Sprintf("zspy-%08d-%04d.lp", day, seq))
		var err error
		f, err = os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
		if errors.Is(err, fs.ErrExist) { // made by someone else since the listing: take the next number
			l.lastSeq[day] = seq
			continue
		}
		if err != nil {
			return fmt.Errorf("local store: %w", err)
		}
		l.lastSeq[day] = seq
		break
	}
	l.f, l.path, l.size, l.day = f, path, 0, day
	l.openErr = nil
	l.rotated.Add(1)
	return nil
}

// writeOut writes the gathered lines to the current file. Lines count as
// written once the write succeeded; after a failed or short write the file is
// cut back to its last complete line and the rest are dropped, and counted.
func (l *Local) writeOut(now time.Time) error {
	if len(l.buf) == 0 {
		return nil
	}
	lines := l.bufLines
	defer func() {
		l.buf, l.bufLines, l.lastOut = l.buf[:0], 0, now
	}()
	if l.f == nil {
		err := l.openErr
		if err == nil {
			err = errors.New("local store: no file open")
		}
		l.drop(uint64(lines), err)
		return err
	}
	if l.cfg.MaxSize > 0 && l.oldBytes+l.size+int64(len(l.buf)) > l.cfg.MaxSize {
		l.retain(now) // make room first: the directory never holds more than MaxSize
	}
	n, err := l.f.Write(l.buf)
	if err == nil {
		l.size += int64(n)
		l.written.Add(uint64(lines))
		l.recovered()
		return nil
	}
	good := bytes.LastIndexByte(l.buf[:n], '\n') + 1
	goodLines := bytes.Count(l.buf[:good], []byte{'\n'})
	err = fmt.Errorf("local store: %w", err) // it names the file
	if good < n {
		if terr := l.f.Truncate(l.size + int64(good)); terr != nil {
			// The file keeps a torn line: end it there, so that no later
			// line is glued to it. Readers skip a torn last line.
			l.size += int64(n)
			l.written.Add(uint64(goodLines))
			l.drop(uint64(lines-goodLines), err)
			if cerr := l.closeFile(); cerr != nil {
				l.setErr(cerr)
			}
			return err
		}
	}
	l.size += int64(good)
	l.written.Add(uint64(goodLines))
	l.drop(uint64(lines-goodLines), err)
	return err
}

// drop counts n points lost; the first drop after a success starts an episode.
func (l *Local) drop(n uint64, err error) {
	l.dropped.Add(n)
	l.epDropped += n
	l.setErr(err)
	if !l.dropping {
		l.dropping = true
		l.down.Store(true)
		l.episodes.Add(1)
		l.notices = append(l.notices, fmt.Sprintf("%v: dropping points until the disk takes them again (each one is counted)", err))
	}
}

// recovered ends a drop episode after a successful write.
func (l *Local) recovered() {
	if !l.dropping {
		return
	}
	l.dropping = false
	l.down.Store(false)
	l.notices = append(l.notices, fmt.Sprintf("local store: writing to %s again after dropping %d points", l.cfg.DataDir, l.epDropped))
	l.epDropped = 0
}

// closeFile syncs and closes the current file and makes it a retention candidate.
func (l *Local) closeFile() error {
	if l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	mod := time.Now()
	if info, serr := os.Stat(l.path); serr == nil {
		mod = info.ModTime()
	}
	l.old = append(l.old, dataFile{path: l.path, size: l.size, mod: mod})
	l.oldBytes += l.size
	if err != nil {
		return fmt.Errorf("local store: %s: %w", l.path, err)
	}
	return nil
}

// retain deletes the closed files that retention no longer keeps: those
// last written more than MaxAge ago, and the oldest while all files
// (closed and current) hold more than MaxSize bytes.
func (l *Local) retain(now time.Time) {
	l.retainAt = now.Add(retainEvery)
	for len(l.old) > 0 {
		f := l.old[0]
		overSize := l.cfg.MaxSize > 0 && l.oldBytes+l.size+int64(len(l.buf)) > l.cfg.MaxSize
		overAge := l.cfg.MaxAge > 0 && now.Sub(f.mod) > l.cfg.MaxAge
		if !overSize && !overAge {
			return
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			l.setErr(fmt.Errorf("local store: retention: %w", err))
			return // tried again at the next check
		}
		l.old[0] = dataFile{}
		l.old = l.old[1:]
		l.oldBytes -= f.size
		l.removedFiles.Add(1)
		l.removedBytes.Add(f.size)
	}
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

// Flush writes the gathered lines to the current file and syncs it.
func (l *Local) Flush(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.writeOut(time.Now())
	l.buffered.Store(0)
	if l.f == nil {
		return err
	}
	if serr := l.f.Sync(); serr != nil && err == nil {
		err = fmt.Errorf("local store: %s: %w", l.path, serr)
	}
	return err
}

// Close writes what is gathered, syncs and closes the current file; the
// window stays queryable. Its error says how many points were dropped.
func (l *Local) Close(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	l.writeOut(time.Now()) // a failure is counted as dropped and said below
	l.buffered.Store(0)
	err := l.closeFile()
	if uerr := l.unlock(); uerr != nil && err == nil {
		err = fmt.Errorf("local store: %w", uerr)
	}
	if d := l.dropped.Load(); d > 0 {
		err = errors.Join(err, fmt.Errorf("local store: %d points not written to disk (%d episodes); last error: %s", d, l.episodes.Load(), l.Stats().LastError))
	}
	return err
}

// Stats returns the counters (Written: lines whose write to a file
// succeeded), retention's deletions and the last error. Up is false during
// a drop episode.
func (l *Local) Stats() Stats {
	st := Stats{Written: l.written.Load(), Dropped: l.dropped.Load(), Invalid: l.invalid.Load(),
		DropEpisodes: l.episodes.Load(), Buffered: int(l.buffered.Load()),
		RemovedFiles: l.removedFiles.Load(), RemovedBytes: l.removedBytes.Load(), Up: !l.down.Load()}
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

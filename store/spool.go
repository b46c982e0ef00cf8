package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// spoolFileSize is the size at which the spool starts a new file; a file is
// read back whole, so this bounds the memory resending takes.
const spoolFileSize = 4 << 20

var errSpoolFull = errors.New("spool full")

// spool is the directory where batches wait while InfluxDB is down or slow.
// Files are named spool-<sequence>.lp, hold complete lines of line protocol,
// are appended to in order and sent back oldest first; a file is deleted once
// every line of it was accepted. Files left by an earlier run are sent too.
// The Influx sender and spiller goroutines share it; bytes and count are
// atomic for Stats.
type spool struct {
	mu      sync.Mutex // the sender appends and resends; the spiller appends
	unlock  func() error
	dir     string
	cap     int64
	files   []spoolFile // oldest first; the last one may be active
	active  *os.File    // being appended to, the last of files
	nextSeq uint64
	bytes   atomic.Int64
	count   atomic.Int64

	rbuf    []byte // contents of files[0] while it is being resent
	rpos    int
	rloaded bool
}

type spoolFile struct {
	path string
	size int64
}

func openSpool(dir string, capBytes int64) (*spool, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	unlock, err := LockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &spool{dir: dir, cap: capBytes, unlock: unlock}
	type seqFile struct {
		seq uint64
		f   spoolFile
	}
	var found []seqFile
	for _, e := range entries {
		seq, ok := spoolSeq(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			unlock()
			return nil, fmt.Errorf("spool: %w", err)
		}
		found = append(found, seqFile{seq, spoolFile{filepath.Join(dir, e.Name()), info.Size()}})
	}
	sort.Slice(found, func(i, j int) bool { return found[i].seq < found[j].seq })
	for _, f := range found {
		s.files = append(s.files, f.f)
		s.bytes.Add(f.f.size)
		s.nextSeq = f.seq + 1
	}
	s.count.Store(int64(len(s.files)))
	return s, nil
}

// spoolSeq parses "spool-<seq>.lp".
func spoolSeq(name string) (uint64, bool) {
	if !strings.HasPrefix(name, "spool-") || !strings.HasSuffix(name, ".lp") {
		return 0, false
	}
	seq, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, "spool-"), ".lp"), 10, 64)
	return seq, err == nil
}

func (s *spool) empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.files) == 0
}

// append adds complete lines; errSpoolFull when the cap would be passed.
func (s *spool) append(lines []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bytes.Load()+int64(len(lines)) > s.cap {
		return errSpoolFull
	}
	if s.active == nil || s.files[len(s.files)-1].size >= spoolFileSize {
		if err := s.closeActive(); err != nil {
			return err
		}
		path := filepath.Join(s.dir, fmt.Sprintf("spool-%016d.lp", s.nextSeq))
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.nextSeq++
		s.active = f
		s.files = append(s.files, spoolFile{path: path})
		s.count.Add(1)
	}
	last := &s.files[len(s.files)-1]
	n, err := s.active.Write(lines)
	if err != nil {
		// Cut a partial write off so the file keeps whole lines only; if
		// that fails too, start a new file: a torn last line is skipped on reading.
		if terr := s.active.Truncate(last.size); terr != nil {
			s.bytes.Add(int64(n))
			last.size += int64(n)
			_ = s.closeActive()
		}
		return fmt.Errorf("spool: %w", err)
	}
	last.size += int64(n)
	s.bytes.Add(int64(n))
	return nil
}

func (s *spool) closeActive() error {
	if s.active == nil {
		return nil
	}
	f := s.active
	s.active = nil
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("spool: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// next returns up to maxLines lines from the oldest file, without consuming
// them (commit does), and the number of lines. torn counts bytes of an
// incomplete last line found in the file (a crash mid-append); they are skipped.
// The chunk stays valid until commit; only one goroutine may resend.
func (s *spool) next(maxLines int) (chunk []byte, lines int, torn int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.files) == 0 {
		return nil, 0, 0, nil
	}
	if !s.rloaded {
		if s.active != nil && len(s.files) == 1 {
			if err := s.closeActive(); err != nil {
				return nil, 0, 0, err
			}
		}
		f, err := os.Open(s.files[0].path)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("spool: %w", err)
		}
		s.rbuf, err = readAllInto(s.rbuf[:0], f)
		f.Close()
		if err != nil {
			return nil, 0, 0, fmt.Errorf("spool: %w", err)
		}
		if i := bytes.LastIndexByte(s.rbuf, '\n'); i+1 != len(s.rbuf) {
			torn = len(s.rbuf) - (i + 1)
			s.rbuf = s.rbuf[:i+1]
		}
		s.rpos, s.rloaded = 0, true
	}
	rest := s.rbuf[s.rpos:]
	end := 0
	for lines < maxLines && end < len(rest) {
		i := bytes.IndexByte(rest[end:], '\n')
		if i < 0 {
			break
		}
		end += i + 1
		lines++
	}
	return rest[:end], lines, torn, nil
}

// commit consumes n bytes returned by next; a file fully consumed is deleted.
func (s *spool) commit(n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rpos += n
	if s.rpos < len(s.rbuf) {
		return nil
	}
	f := s.files[0]
	s.files = s.files[1:]
	s.bytes.Add(-f.size)
	s.count.Add(-1)
	s.rloaded, s.rpos, s.rbuf = false, 0, s.rbuf[:0]
	if err := os.Remove(f.path); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

func (s *spool) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.closeActive()
	if uerr := s.unlock(); uerr != nil && err == nil {
		err = fmt.Errorf("spool: %w", uerr)
	}
	return err
}

// readAllInto reads r to the end, appending to buf.
func readAllInto(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

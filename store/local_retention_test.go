package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLocalRetentionByAge: files of the store last written more than MaxAge
// ago are deleted when it opens and while it writes, and counted; newer
// files and files that are not the store's are kept.
func TestLocalRetentionByAge(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-8 * 24 * time.Hour)
	for name, mod := range map[string]time.Time{
		"zspy-20240301-0001.lp": old,
		"zspy-20240302-0001.lp": old,
		"zspy-20240303-0001.lp": time.Now().Add(-time.Hour),
		"notes.lp":              old, // not the store's: never deleted
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("m f=1i 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	l, err := NewLocal(LocalConfig{DataDir: dir, MaxAge: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.RemovedFiles != 2 || st.RemovedBytes != 18 {
		t.Errorf("at open: removed %d files, %d bytes; want 2, 18", st.RemovedFiles, st.RemovedBytes)
	}
	names := func() []string {
		files, _ := DataFiles(dir)
		var n []string
		for _, f := range files {
			n = append(n, filepath.Base(f))
		}
		return n
	}
	if got := names(); len(got) != 2 || got[0] != "notes.lp" || got[1] != "zspy-20240303-0001.lp" {
		t.Errorf("files after open: %v", got)
	}
	// While it runs: the kept file ages past MaxAge; the file being written stays.
	if err := l.Write(testPoints(0, 10)); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(dir, "zspy-20240303-0001.lp")
	if err := os.Chtimes(kept, old, old); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	for i := range l.old {
		if l.old[i].path == kept {
			l.old[i].mod = old
		}
	}
	l.retain(time.Now())
	l.mu.Unlock()
	if got := names(); len(got) != 2 || got[0] != "notes.lp" || got[1] == "zspy-20240303-0001.lp" {
		t.Errorf("files after the periodic check: %v", got)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.RemovedFiles != 3 || st.Written != 10 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestLocalRetentionBySize: while it writes, the store deletes its oldest
// files to stay within MaxSize; what stays is the newest data, whole files,
// and the counters account for every byte.
func TestLocalRetentionBySize(t *testing.T) {
	dir := t.TempDir()
	const maxSize = 64 << 10
	l, err := NewLocal(LocalConfig{DataDir: dir, MaxSize: maxSize, Window: 10})
	if err != nil {
		t.Fatal(err)
	}
	if l.cfg.MaxFileSize != maxSize/4 {
		t.Fatalf("file size %d, want a quarter of the retention size", l.cfg.MaxFileSize)
	}
	const n = 5000
	ps := testPoints(0, n)
	var peak int64
	for i := 0; i < n; i += 100 {
		if err := l.Write(ps[i : i+100]); err != nil {
			t.Fatal(err)
		}
		if err := l.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		peak = max(peak, dirBytes(t, dir))
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if peak > maxSize {
		t.Errorf("the store held %d bytes at one point, over its %d-byte limit", peak, maxSize)
	}
	all := expectedLines(t, ps)
	files, _ := DataFiles(dir)
	onDisk := readFiles(t, files)
	st := l.Stats()
	if st.Written != n || st.Dropped != 0 || st.RemovedFiles == 0 || st.RemovedBytes+int64(len(onDisk)) != int64(len(all)) {
		t.Errorf("stats %+v; %d bytes on disk of %d", st, len(onDisk), len(all))
	}
	if !bytes.HasSuffix(all, onDisk) || len(onDisk) < maxSize/2 {
		t.Errorf("the %d bytes kept are not the newest data", len(onDisk))
	}
}

func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	files, err := DataFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, f := range files {
		info, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		n += info.Size()
	}
	return n
}

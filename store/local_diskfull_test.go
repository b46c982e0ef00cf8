package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mountTmpfs mounts a tmpfs of the given size (e.g. "256k") on a new
// directory and unmounts it when the test ends. It skips the test, loudly,
// where mounting is impossible (not root, or no CAP_SYS_ADMIN).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size="+size); err != nil {
		t.Skipf("\n*** SKIPPED: cannot mount a %s tmpfs to fill (%v): run the store tests as root to test a full disk ***", size, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillDisk writes a file of zeros at path until the filesystem is full,
// leaving at most leave bytes free (a tmpfs counts whole pages).
func fillDisk(t *testing.T, path string, leave int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	if free > leave {
		if _, err := f.Write(make([]byte, free-leave)); err != nil {
			t.Fatalf("filling %s: %v", path, err)
		}
	}
}

// diskLines returns the lines of the store's files and fails the test on a
// file that does not end with a complete line.
func diskLines(t *testing.T, dir string) [][]byte {
	t.Helper()
	files, err := DataFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			t.Errorf("%s ends with a torn line: %q", f, b[max(0, len(b)-40):])
		}
		for _, l := range bytes.SplitAfter(b, []byte{'\n'}) {
			if len(l) > 0 {
				lines = append(lines, l)
			}
		}
	}
	return lines
}

// TestLocalFullDisk writes to a real filesystem that fills up (a 256 KiB
// tmpfs): Written is the number of complete lines on disk, every other point
// is counted as dropped, the files hold no torn line, and the warning comes
// at once, once per episode: when the disk fills, when space comes back
// ("writing again"), and when it fills again.
func TestLocalFullDisk(t *testing.T) {
	mnt := mountTmpfs(t, "256k")
	dir := filepath.Join(mnt, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Leave about 40 KiB: less than one 64 KiB write of gathered lines,
	// so the disk fills in the middle of a write.
	filler := filepath.Join(mnt, "filler")
	fillDisk(t, filler, 40<<10)

	l, err := NewLocal(LocalConfig{DataDir: dir, MaxFileSize: 1 << 20, MaxSize: -1, MaxAge: -1, Window: 10})
	if err != nil {
		t.Fatal(err)
	}
	var warnings []string
	var warnedAt []int // the Write calls that warned
	call := 0
	l.SetWarn(func(msg string) {
		warnings = append(warnings, msg)
		warnedAt = append(warnedAt, call)
	})
	var all []Point
	write := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			call++
			ps := testPoints(len(all), len(all)+100)
			all = append(all, ps...)
			before := l.Stats().Dropped
			if err := l.Write(ps); err != nil {
				t.Fatalf("write %d: %v", call, err)
			}
			// A drop is said in the Write that dropped, not later.
			if st := l.Stats(); before == 0 && st.Dropped > 0 && (len(warnedAt) == 0 || warnedAt[len(warnedAt)-1] != call) {
				t.Fatalf("write %d dropped %d points without a warning", call, st.Dropped)
			}
		}
	}
	write(20) // 2,000 points of about 90 bytes: 180 KB into 40 KiB

	st := l.Stats()
	if st.Dropped == 0 || st.Written == 0 || st.DropEpisodes != 1 || st.Up || !strings.Contains(st.LastError, "no space left on device") {
		t.Fatalf("after filling the disk: %+v", st)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "no space left on device") || !strings.Contains(warnings[0], "dropping points") {
		t.Fatalf("warnings %q", warnings)
	}

	// Space comes back: writing resumes, said once.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	write(3)
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[1], "writing to "+dir+" again after dropping") {
		t.Fatalf("warnings after space came back: %q", warnings)
	}
	if st := l.Stats(); !st.Up || st.DropEpisodes != 1 {
		t.Fatalf("after recovery: %+v", st)
	}

	// It fills again: a second episode, a third warning.
	fillDisk(t, filler, 8<<10)
	write(10)
	if len(warnings) != 3 || !strings.Contains(warnings[2], "no space left on device") {
		t.Fatalf("warnings after the second fill: %q", warnings)
	}
	if err := l.Close(context.Background()); err == nil || !strings.Contains(err.Error(), "not written to disk (2 episodes)") {
		t.Errorf("Close = %v", err)
	}

	st = l.Stats()
	if st.Written+st.Dropped != uint64(len(all)) || st.Buffered != 0 || st.DropEpisodes != 2 {
		t.Errorf("written %d + dropped %d != %d points, buffered %d, episodes %d", st.Written, st.Dropped, len(all), st.Buffered, st.DropEpisodes)
	}
	// What is on disk is exactly the points counted as written: complete
	// lines, in the order written, none twice.
	lines := diskLines(t, dir)
	if uint64(len(lines)) != st.Written {
		t.Fatalf("%d complete lines on disk, %d points counted as written", len(lines), st.Written)
	}
	next := 0
	for _, line := range lines {
		for next < len(all) {
			want, _ := AppendLine(nil, &all[next])
			next++
			if bytes.Equal(want, line) {
				goto found
			}
		}
		t.Fatalf("line %q on disk is not one of the points, in order", line)
	found:
	}
	t.Logf("%d points: %d written (complete lines on disk), %d dropped in %d episodes", len(all), st.Written, st.Dropped, st.DropEpisodes)
}

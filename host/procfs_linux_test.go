package host

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// fakeProc writes a /proc tree of one process holding the given socket
// inodes (file descriptors are symlinks, as in procfs).
func fakeProc(t *testing.T, root string, pid int, start string, comm, cgroup string, inodes ...int) {
	t.Helper()
	dir := filepath.Join(root, strconv.Itoa(pid))
	must(t, os.MkdirAll(filepath.Join(dir, "fd"), 0o755))
	must(t, os.MkdirAll(filepath.Join(dir, "ns"), 0o755))
	stat := strconv.Itoa(pid) + " (" + comm + ") S 1 1 1 0 -1 4194560 100 0 0 0 1 1 0 0 20 0 1 0 " + start + " 1000 10"
	must(t, os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "cmdline"), []byte(comm+"\x00--flag\x00value\x00"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "status"), []byte("Name:\t"+comm+"\nUid:\t0\t0\t0\t0\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "cgroup"), []byte(cgroup), 0o644))
	must(t, os.Symlink("net:[4026531840]", filepath.Join(dir, "ns", "net")))
	must(t, os.Symlink("/dev/null", filepath.Join(dir, "fd", "0")))
	for i, ino := range inodes {
		must(t, os.Symlink("socket:["+strconv.Itoa(ino)+"]", filepath.Join(dir, "fd", strconv.Itoa(3+i))))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A walk names each socket's processes with their identity; a process that
// is gone leaves its sockets unknown at the next walk, and a PID reused by a
// new process is read afresh.
func TestWalkerAttributesAndForgets(t *testing.T) {
	root := t.TempDir()
	const ctr = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	fakeProc(t, root, 100, "500", "broker (x) y", "0::/system.slice/docker-"+ctr+".scope\n", 7, 8, 7)
	fakeProc(t, root, 200, "600", "worker", "12:cpu:/\n0::/user.slice\n", 8)
	must(t, os.MkdirAll(filepath.Join(root, "self"), 0o755)) // not a PID
	w := newWalker(root)
	m, err := w.walk()
	must(t, err)
	o := m.byInode[7]
	if len(o.Procs) != 1 || o.Procs[0].PID != 100 || o.Procs[0].Comm != "broker (x) y" ||
		o.Procs[0].Cmdline != "broker (x) y --flag value" || o.Procs[0].UID != 0 || o.Procs[0].User != "root" ||
		o.Procs[0].Container != ctr[:12] || o.Procs[0].NetNS != 4026531840 {
		t.Fatalf("inode 7: %+v %+v", o, o.Procs)
	}
	if o := m.byInode[8]; len(o.Procs) != 2 || o.Procs[0].PID != 100 || o.Procs[1].PID != 200 ||
		o.Procs[1].Cgroup != "/user.slice" || o.Procs[1].Container != "" {
		t.Fatalf("inode 8 (shared): %+v", o)
	}
	if m.procs != 2 || len(m.byInode) != 2 {
		t.Fatalf("walk found %d processes, %d inodes; want 2, 2", m.procs, len(m.byInode))
	}
	old := m.byInode[8].Procs[1]

	// 100 exits; 200 is a new process under the same PID.
	must(t, os.RemoveAll(filepath.Join(root, "100")))
	must(t, os.RemoveAll(filepath.Join(root, "200")))
	fakeProc(t, root, 200, "900", "newcomer", "0::/\n", 8)
	m, err = w.walk()
	must(t, err)
	if o := m.byInode[7]; o.Known() {
		t.Fatalf("inode 7 of a gone process: %+v, want unknown", o.First())
	}
	if p := m.byInode[8].First(); p == nil || p == old || p.Comm != "newcomer" {
		t.Fatalf("inode 8 after PID reuse: %+v", p)
	}
}

func TestParsers(t *testing.T) {
	for _, c := range []struct {
		link string
		ino  uint32
		ok   bool
	}{{"socket:[123]", 123, true}, {"socket:[]", 0, false}, {"pipe:[5]", 0, false}, {"socket:[99999999999]", 0, false}} {
		if ino, ok := socketInode([]byte(c.link)); ino != c.ino || ok != c.ok {
			t.Errorf("socketInode(%q) = %d, %v", c.link, ino, ok)
		}
	}
	if _, _, ok := parseStat([]byte("1 (short) S 1")); ok {
		t.Error("parseStat took a short stat")
	}
	for in, want := range map[string]string{
		"/tmp/a.sock\x00" + "\x08\x00\x02\x00": "/tmp/a.sock",
		"\x00zmq-abs" + "\x08\x00\x02\x00":     "@zmq-abs",
		"/tmp/b" + "\x08\x00\x02\x00":          "/tmp/b",
		"ab":                                   "",
	} {
		if got := unixPath(in); got != want {
			t.Errorf("unixPath(%q) = %q, want %q", in, got, want)
		}
	}
}

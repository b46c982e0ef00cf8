package host

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// procMap is one walk of /proc: which processes hold which socket inodes.
// It is never changed after the walk.
type procMap struct {
	byInode map[uint32]Owners
	procs   int
	denied  uint64
}

// walker walks /proc, keeping what it read of each process between walks
// (a process's identity is read once; a reused PID is a new process).
type walker struct {
	root  string
	procs map[int]*Process
	users map[int]string
	buf   []byte
}

func newWalker(root string) *walker {
	return &walker{root: root, procs: map[int]*Process{}, users: map[int]string{}, buf: make([]byte, 256)}
}

// walk reads every process's file descriptors and maps the socket inodes
// to the processes that hold them.
func (w *walker) walk() (*procMap, error) {
	d, err := os.Open(w.root)
	if err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	m := &procMap{byInode: make(map[uint32]Owners, 256)}
	seen := make(map[int]*Process, len(w.procs))
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid <= 0 {
			continue
		}
		inodes, err := w.socketInodes(pid)
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				m.denied++
			}
			continue // a process that exited during the walk holds nothing
		}
		if len(inodes) == 0 {
			continue
		}
		p := w.process(pid)
		if p == nil {
			continue // gone between its fds and its identity: unknown
		}
		seen[pid] = p
		m.procs++
		for _, ino := range inodes {
			o := m.byInode[ino]
			if len(o.Procs) > 0 && o.Procs[len(o.Procs)-1] == p {
				continue // the same socket on two fds of one process
			}
			if len(o.Procs) < MaxProcsPerSocket {
				o.Procs = append(o.Procs, p)
			} else {
				o.MoreProcs++
			}
			m.byInode[ino] = o
		}
	}
	w.procs = seen
	return m, nil
}

// socketInodes returns the inodes of the sockets pid's descriptors refer to.
func (w *walker) socketInodes(pid int) ([]uint32, error) {
	dir := filepath.Join(w.root, strconv.Itoa(pid), "fd")
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fds, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	dfd := int(f.Fd())
	var out []uint32
	for _, fd := range fds {
		n, err := unix.Readlinkat(dfd, fd, w.buf)
		if err != nil {
			continue // closed since the listing
		}
		if ino, ok := socketInode(w.buf[:n]); ok {
			out = append(out, ino)
		}
	}
	return out, nil
}

// socketInode parses a descriptor's link "socket:[12345]".
func socketInode(link []byte) (uint32, bool) {
	const pre = "socket:["
	if len(link) < len(pre)+2 || string(link[:len(pre)]) != pre || link[len(link)-1] != ']' {
		return 0, false
	}
	v, err := strconv.ParseUint(string(link[len(pre):len(link)-1]), 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(v), true
}

// process returns pid's identity: the one read at an earlier walk when the
// PID still names the same process (same start time), else read now; nil
// when the process is gone.
func (w *walker) process(pid int) *Process {
	base := filepath.Join(w.root, strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(base, "stat"))
	if err != nil {
		return nil
	}
	start, comm, ok := parseStat(stat)
	if !ok {
		return nil
	}
	if p := w.procs[pid]; p != nil && p.start == start {
		return p
	}
	p := &Process{PID: pid, Comm: comm, start: start, UID: -1}
	if b, err := readCapped(filepath.Join(base, "cmdline"), MaxCmdline); err == nil {
		p.Cmdline = strings.TrimSpace(string(bytes.ReplaceAll(bytes.TrimRight(b, "\x00"), []byte{0}, []byte{' '})))
	}
	if b, err := os.ReadFile(filepath.Join(base, "status")); err == nil {
		p.UID = statusUID(b)
	}
	if p.UID >= 0 {
		p.User = w.userName(p.UID)
	}
	if b, err := readCapped(filepath.Join(base, "cgroup"), 4096); err == nil {
		p.Cgroup = cgroupPath(b)
		p.Container = containerID(p.Cgroup)
	}
	if l, err := os.Readlink(filepath.Join(base, "ns", "net")); err == nil {
		p.NetNS = nsInode(l)
	}
	return p
}

// alive reports whether p is still running: its PID names a process with
// its start time (a gone one, or a reused PID, is not).
func (w *walker) alive(p *Process) bool {
	stat, err := os.ReadFile(filepath.Join(w.root, strconv.Itoa(p.PID), "stat"))
	if err != nil {
		return false
	}
	start, _, ok := parseStat(stat)
	return ok && start == p.start
}

// parseStat reads the command and start time from /proc/PID/stat; the
// command is in parentheses and may hold anything, so fields are counted
// from its closing one.
func parseStat(b []byte) (start uint64, comm string, ok bool) {
	l, r := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if l < 0 || r < l {
		return 0, "", false
	}
	comm = string(b[l+1 : r])
	f := strings.Fields(string(b[r+1:]))
	// Fields after the command start at field 3 (state); starttime is 22.
	if len(f) < 20 {
		return 0, "", false
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	return start, comm, err == nil
}

func statusUID(b []byte) int {
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				if v, err := strconv.Atoi(f[0]); err == nil {
					return v
				}
			}
		}
	}
	return -1
}

func (w *walker) userName(uid int) string {
	if n, ok := w.users[uid]; ok {
		return n
	}
	n := ""
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		n = u.Username
	}
	w.users[uid] = n
	return n
}

// cgroupPath picks the cgroup v2 path ("0::/path"), else the first v1
// hierarchy's path that is not the root.
func cgroupPath(b []byte) string {
	var v1 string
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			return parts[2]
		}
		if v1 == "" && parts[2] != "/" {
			v1 = parts[2]
		}
	}
	return v1
}

// containerRE finds a container's 64-hex-digit ID in a cgroup path, as
// docker ("/docker/ID", "docker-ID.scope"), containerd, cri-o, podman
// ("libpod-ID.scope") and kubepods name them.
var containerRE = regexp.MustCompile(`(?:docker|containerd|crio|libpod|cri-containerd|kubepods)[^/]*?[/-]([0-9a-f]{64})(?:\.scope)?(?:/|$)`)

func containerID(cg string) string {
	m := containerRE.FindStringSubmatch(cg)
	if m == nil {
		return ""
	}
	return m[1][:12]
}

// nsInode parses a namespace link "net:[4026531840]".
func nsInode(l string) uint64 {
	i, j := strings.IndexByte(l, '['), strings.LastIndexByte(l, ']')
	if i < 0 || j < i {
		return 0
	}
	v, _ := strconv.ParseUint(l[i+1:j], 10, 64)
	return v
}

func readCapped(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, limit)
	n, err := f.Read(b)
	if n == 0 && err != nil {
		return nil, err
	}
	return b[:n], nil
}

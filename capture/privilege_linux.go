//go:build linux

package capture

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// DropPrivileges makes the process the named user: its uid and primary
// group, no supplementary groups and, the uids no longer being 0, no
// capabilities (the kernel clears them). Call it once the capture sockets
// are open: they go on working. It needs root; a USER of uid 0 keeps root.
// Files opened before stay open; files created after (rotated -w files, a
// local store's new files) must be creatable by the user.
func DropPrivileges(name string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("-Z %s: zspy is not running as root: there is nothing to drop", name)
	}
	uid, gid, err := lookupIDs(name)
	if err != nil {
		return err
	}
	if uid == 0 {
		return nil
	}
	// syscall's calls change every thread of the process.
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("-Z %s: setgroups: %w", name, err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("-Z %s: setgid %d: %w", name, gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("-Z %s: setuid %d: %w", name, uid, err)
	}
	if syscall.Setuid(0) == nil {
		return fmt.Errorf("-Z %s: root could be taken back after the switch", name)
	}
	return nil
}

func lookupIDs(name string) (uid, gid int, err error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, fmt.Errorf("-Z %s: %w", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("-Z %s: uid %q, gid %q: not numbers", name, u.Uid, u.Gid)
	}
	return uid, gid, nil
}

// UserExists reports whether the system knows the user.
func UserExists(name string) bool {
	_, err := user.Lookup(name)
	return err == nil
}

// CannotCreate returns the first of dirs in which the named user, as
// DropPrivileges leaves it (its uid and primary group, no other groups),
// could not create files, or "" when it could in all. It reads the mode
// bits: search permission on every directory on the way, write and search
// on the directory itself (ACLs are not read: a directory they open counts
// as closed). A directory that does not exist yet is judged by its nearest
// existing ancestor, where it would be made.
func CannotCreate(name string, dirs []string) (string, error) {
	uid, gid, err := lookupIDs(name)
	if err != nil {
		return "", err
	}
	if uid == 0 {
		return "", nil
	}
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return dir, nil
		}
		if !creatable(abs, uid, gid) {
			return dir, nil
		}
	}
	return "", nil
}

// creatable: the checks of CannotCreate for one absolute directory.
func creatable(dir string, uid, gid int) bool {
	const search, write = 1, 2
	need := uint32(search | write)
	for p := dir; ; p = filepath.Dir(p) {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			if os.IsNotExist(err) && p != "/" {
				continue // made later, in its parent: the parent must allow it
			}
			return false
		}
		if !permits(&st, uid, gid, need) {
			return false
		}
		need = search
		if p == "/" {
			return true
		}
	}
}

// permits reads a file's mode bits as the kernel does for uid and gid: the
// owner's bits for its owner, the group's for its group, the others' else.
func permits(st *syscall.Stat_t, uid, gid int, need uint32) bool {
	switch {
	case int(st.Uid) == uid:
		return (st.Mode>>6)&need == need
	case int(st.Gid) == gid:
		return (st.Mode>>3)&need == need
	}
	return st.Mode&need == need
}

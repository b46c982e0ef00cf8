//go:build linux

package capture

import (
	"fmt"
	"os"
	"os/user"
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
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("-Z %s: %w", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("-Z %s: uid %q, gid %q: not numbers", name, u.Uid, u.Gid)
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

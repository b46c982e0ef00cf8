package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrDirInUse is returned when another zspy holds a data or spool directory.
var ErrDirInUse = errors.New("directory in use by another zspy")

// lockFile is the advisory lock file of a data or spool directory.
const lockFile = ".zspy.lock"

// LockDir takes an exclusive advisory lock (flock) on a data or spool
// directory, so that two zspy processes never write, resend or delete the
// same files. It fails at once, with ErrDirInUse, if another process holds
// it. The lock goes with the process; unlock releases it earlier.
func LockDir(dir string) (unlock func() error, err error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dir, ErrDirInUse)
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return f.Close, nil // closing the descriptor releases the flock
}

//go:build !linux

package capture

import "fmt"

// DropPrivileges is unavailable: live capture needs Linux.
func DropPrivileges(name string) error {
	return fmt.Errorf("-Z %s: live capture needs linux", name)
}

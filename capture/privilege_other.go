//go:build !linux

package capture

import "fmt"

// DropPrivileges is unavailable: live capture needs Linux.
func DropPrivileges(name string) error {
	return fmt.Errorf("-Z %s: live capture needs linux", name)
}

// UserExists reports false: live capture needs Linux.
func UserExists(string) bool { return false }

// CannotCreate is unavailable: live capture needs Linux.
func CannotCreate(name string, dirs []string) (string, error) {
	return "", fmt.Errorf("-Z %s: live capture needs linux", name)
}

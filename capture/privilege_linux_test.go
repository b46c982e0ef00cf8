//go:build linux

package capture

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// CannotCreate reads the mode bits of a directory and its ancestors as the
// kernel would for nobody: owner, group and other bits, search on the way.
func TestCannotCreate(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a directory to another user")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	uid, _ := strconv.Atoi(u.Uid)
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} { // made 0700
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(name string, mode os.FileMode, owner int) string {
		p := filepath.Join(base, name)
		if err := os.Mkdir(p, 0); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, owner, -1); err != nil {
			t.Fatal(err)
		}
		return p
	}
	open := mk("open", 0o777, 0)
	sticky := mk("sticky", 0o777|os.ModeSticky, 0)
	closed := mk("closed", 0o755, 0)
	owned := mk("owned", 0o700, uid)
	ownedNoWrite := mk("owned-ro", 0o500, uid)
	hidden := mk("hidden", 0o700, 0)
	inHidden := filepath.Join(hidden, "open")
	if err := os.Mkdir(inHidden, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(inHidden, 0o777)
	for _, tc := range []struct {
		dir string
		ok  bool
	}{
		{open, true}, {sticky, true}, {owned, true}, {filepath.Join(open, "not-yet"), true},
		{closed, false}, {ownedNoWrite, false}, {inHidden, false}, {filepath.Join(closed, "not-yet"), false},
	} {
		got, err := CannotCreate("nobody", []string{tc.dir})
		if err != nil {
			t.Fatal(err)
		}
		if (got == "") != tc.ok {
			t.Errorf("%s: CannotCreate says %q, want creatable %v", tc.dir, got, tc.ok)
		}
	}
	if got, _ := CannotCreate("root", []string{closed}); got != "" {
		t.Errorf("root: %q", got)
	}
	if _, err := CannotCreate("no-such-user-zspy", []string{open}); err == nil {
		t.Error("a missing user: no error")
	}
}

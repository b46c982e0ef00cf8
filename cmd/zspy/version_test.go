package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// zspy version and zspy --version print the same line: zspy, its module
// version, the Go toolchain and platform.
func TestVersionCommand(t *testing.T) {
	a, err := runZspyStdout(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	b, err := runZspyStdout(t, "--version")
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(a))
	if string(a) != string(b) || !strings.HasPrefix(line, "zspy ") || !strings.HasSuffix(line, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH) {
		t.Errorf("version %q, --version %q", a, b)
	}
}

// A binary built from a git checkout names the commit it was built from, so a
// bug report can.
func TestVersionNamesRevision(t *testing.T) {
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "zspy")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if rev := strings.TrimSpace(string(head))[:12]; !strings.Contains(string(out), "("+rev) {
		t.Errorf("version %q does not name revision %s", out, rev)
	}
}

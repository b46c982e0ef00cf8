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

// replay - reads the capture from standard input, compressed or not, as
// tcpdump -r - does; the report is the file's.
func TestReplayStdin(t *testing.T) {
	for _, name := range []string{"reqrep/capture.pcap", "gzip/capture.pcap.gz"} {
		want, err := runZspyStdout(t, "replay", "--json", pcaps+name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(pcaps + name)
		if err != nil {
			t.Fatal(err)
		}
		root := newRootCmd()
		var out strings.Builder
		root.SetIn(f)
		root.SetOut(&out)
		root.SetErr(&strings.Builder{})
		root.SetArgs([]string{"replay", "--json", "-"})
		err = root.Execute()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != string(want) {
			t.Errorf("%s: replay - differs from replaying the file", name)
		}
	}
	if _, err := runZspyStdout(t, "replay", "-", "-"); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("replay - -: %v", err)
	}
}

package main

import (
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/zspy/zspy/capture"
)

// capture -i on an interface that does not exist says so and lists those
// that do, instead of the socket layer's words.
func TestCaptureNoSuchInterface(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: without CAP_NET_RAW the capability error comes first")
	}
	_, err := runZspyStdout(t, "capture", "-i", "nosuch0", "--duration", "1s")
	if err == nil || !strings.Contains(err.Error(), `no interface "nosuch0"`) || !strings.Contains(err.Error(), "lo") {
		t.Errorf("capture -i nosuch0: %v", err)
	}
}

// --host takes a name as tcpdump's host primitive does: every address it
// resolves to (here from /etc/hosts), said at start; a name that does not
// resolve is one clear line before anything opens.
func TestCaptureHostName(t *testing.T) {
	f := filterFlags{hosts: []string{"localhost", "127.0.0.1"}}
	var opts capture.LiveOptions
	if err := f.apply(&opts); err != nil {
		t.Fatal(err)
	}
	if opts.Filter == nil || !slices.Contains(opts.Filter.Hosts, netip.MustParseAddr("127.0.0.1")) {
		t.Fatalf("--host localhost: filter %+v", opts.Filter)
	}
	for i, a := range opts.Filter.Hosts {
		if slices.Index(opts.Filter.Hosts, a) != i || a.Is4In6() {
			t.Errorf("hosts %v: %v twice or 4-in-6", opts.Filter.Hosts, a)
		}
	}
	if len(f.resolved) != 1 || !strings.Contains(f.resolved[0], "--host localhost: ") || !strings.Contains(f.resolved[0], "127.0.0.1") {
		t.Errorf("resolved %q", f.resolved)
	}
	_, err := runZspyStdout(t, "capture", "-i", "lo", "--no-store", "--host", "nosuch.invalid", "--duration", "1h")
	if err == nil || !strings.Contains(err.Error(), `--host "nosuch.invalid"`) || !strings.Contains(err.Error(), "no such host name") {
		t.Errorf("--host nosuch.invalid: %v", err)
	}
}

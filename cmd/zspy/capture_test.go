package main

import (
	"os"
	"strings"
	"testing"
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

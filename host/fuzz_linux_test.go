package host

import (
	"strings"
	"testing"
)

// FuzzProcText feeds the procfs and netlink parsers (text, and the
// inet_diag_msg of a socket lookup) arbitrary bytes: none may panic, and
// what they return stays within the input.
func FuzzProcText(f *testing.F) {
	for _, s := range []string{
		"1 (python3) S 1 1 1 0 -1 4194560 100 0 0 0 1 1 0 0 20 0 1 0 500 1000 10",
		"1 (a) b) S", "Uid:\t0\t0\t0\t0\n", "0::/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope\n",
		"12:cpu:/\n", "net:[4026531840]", "socket:[42]", "\x00abstract\x08\x00\x02\x00", "/tmp/x.sock\x00\x08\x00\x02\x00",
	} {
		f.Add([]byte(s))
	}
	// An inet_diag_msg (AF_INET, established) with a short tcp_info
	// attribute, and one whose attribute claims more than there is.
	msg := make([]byte, sizeofInetDiagMsg, sizeofInetDiagMsg+12)
	msg[0], msg[1] = 2, 1
	f.Add(append(msg, 12, 0, 2, 0, 1, 2, 3, 4, 5, 6, 7, 8))
	f.Add(append(msg[:sizeofInetDiagMsg:sizeofInetDiagMsg], 200, 0, 2, 0, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := string(b)
		if _, comm, ok := parseStat(b); ok && !strings.Contains(s, comm) {
			t.Fatalf("parseStat: command %q not in the input", comm)
		}
		statusUID(b)
		if cg := cgroupPath(b); !strings.Contains(s, cg) {
			t.Fatalf("cgroupPath %q not in the input", cg)
		}
		if id := containerID(s); len(id) != 0 && len(id) != 12 {
			t.Fatalf("containerID %q", id)
		}
		nsInode(s)
		socketInode(b)
		if _, ok := parseDiagMsg(b); ok && len(b) < sizeofInetDiagMsg {
			t.Fatalf("parseDiagMsg took %d bytes for a message", len(b))
		}
		if p := unixPath(s); len(p) > len(s) {
			t.Fatalf("unixPath %q longer than its input", p)
		}
	})
}

package host

import (
	"net/netip"
	"time"
)

// Process is one process that holds a socket, as /proc showed it at the
// walk that found it. It is never changed after the walk.
type Process struct {
	PID     int
	Comm    string // the command (/proc/PID/comm)
	Cmdline string // the command line, arguments joined by spaces (capped at MaxCmdline bytes)
	UID     int    // real user ID
	User    string // UID's user name ("" when the passwd database does not name it)
	// Cgroup is the process's cgroup path (cgroup v2, or the v1 hierarchy
	// that names one); Container is the container ID found in it (docker,
	// containerd, podman, kubepods), "" when it is not in a container.
	Cgroup    string
	Container string
	// NetNS is the inode of the process's network namespace.
	NetNS uint64
	// start is the process's start time in clock ticks since boot: a PID
	// reused by a new process is a new Process.
	start uint64
}

// MaxCmdline caps the command line kept per process.
const MaxCmdline = 1024

// MaxProcsPerSocket caps the processes kept per socket (a socket inherited
// across fork is held by several); the rest are counted in MoreProcs.
const MaxProcsPerSocket = 4

// Owners says which processes hold a socket: none (unknown), one, or a few.
type Owners struct {
	Procs     []*Process
	MoreProcs int // holders beyond MaxProcsPerSocket, not kept
}

// Known reports whether a process holding the socket was found.
func (o Owners) Known() bool { return len(o.Procs) > 0 }

// First returns the first process found holding the socket, nil if none.
func (o Owners) First() *Process {
	if len(o.Procs) == 0 {
		return nil
	}
	return o.Procs[0]
}

// TCPSocket is one TCP socket as the kernel reported it.
type TCPSocket struct {
	Local, Remote netip.AddrPort // IPv4-mapped IPv6 addresses are unmapped
	State         TCPState
	Inode         uint32 // 0 for sockets no file refers to (TIME_WAIT, orphans)
	UID           uint32 // the socket's owner as the kernel has it
	// RecvQ and SendQ are the bytes in the kernel's queues: for an
	// established socket, received and not yet read by the application, and
	// sent and not yet acknowledged (for a listener, the accept backlog and
	// its limit).
	RecvQ, SendQ uint32
	// From tcp_info (zero when the kernel sent none).
	RTT     time.Duration // smoothed round-trip time
	Cwnd    uint32        // congestion window, segments
	Unacked uint32        // segments sent and not acknowledged
	NotSent uint32        // bytes written by the application and not yet sent
	Owners
}

// TCPState is a TCP socket's state as the kernel numbers it.
type TCPState uint8

var tcpStates = [...]string{1: "established", 2: "syn-sent", 3: "syn-recv", 4: "fin-wait-1", 5: "fin-wait-2",
	6: "time-wait", 7: "close", 8: "close-wait", 9: "last-ack", 10: "listen", 11: "closing", 12: "new-syn-recv"}

func (s TCPState) String() string {
	if int(s) < len(tcpStates) && tcpStates[s] != "" {
		return tcpStates[s]
	}
	return "unknown"
}

// UnixSocket is one Unix-domain stream or seqpacket socket.
type UnixSocket struct {
	Inode uint32
	// Path is the bound path ("@name" for an abstract name; "" for a
	// socket that is not bound, as a connecting socket is). An accepted
	// socket carries its listener's path.
	Path string
	// Peer is the inode of the socket at the other end (0: none).
	Peer   uint32
	Listen bool
	// RecvQ and SendQ are the bytes in the kernel's queues (for a
	// listener, the accept backlog and its limit).
	RecvQ, SendQ uint32
	Owners
}

// UnixEndpoint is one bound Unix-socket path (an ipc:// endpoint): the
// listener and the connections accepted on it, each with both ends.
type UnixEndpoint struct {
	Path     string
	Listener *UnixSocket // nil when only accepted sockets remain
	Conns    []UnixConn
}

// UnixConn is one connection on a Unix-socket endpoint: the accepted
// (server) socket and the connecting (client) one, nil when the client's
// socket was not in the dump.
type UnixConn struct {
	Server *UnixSocket
	Client *UnixSocket
}

// Stats count the source's work and what it could not see.
type Stats struct {
	Samples    uint64 // netlink dumps
	DumpErrors uint64 // dumps that failed or were interrupted (the sample is partial or the previous one)
	Walks      uint64 // walks of /proc
	// Denied counts processes whose sockets the last walk could not read
	// (not root, no CAP_SYS_PTRACE/CAP_DAC_READ_SEARCH): their sockets show
	// as unknown.
	Denied uint64
	// Processes and Inodes are what the last walk found: processes holding
	// sockets, and socket inodes.
	Processes int
	Inodes    int
	LastWalk  time.Time
}

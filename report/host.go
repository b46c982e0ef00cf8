package report

import (
	"fmt"
	"io"
	"time"

	"github.com/zspy/zspy/host"
	"github.com/zspy/zspy/internal/textsafe"
)

// HostSide is one end of a connection as the live host view saw it: the
// process that holds the socket, and the socket's kernel queues. A
// connection's end that is not on this host has none.
type HostSide struct {
	// Known is false when the socket is on this host but no process could
	// be found holding it (it exited, or /proc was not readable): then the
	// process fields are empty. zspy never guesses one.
	Known   bool   `json:"known"`
	PID     int    `json:"pid,omitempty"`
	Command string `json:"command,omitempty"`
	Cmdline string `json:"cmdline,omitempty"`
	UID     int    `json:"uid"`
	User    string `json:"user,omitempty"`
	// Container is the container ID (12 hex digits) when the process runs
	// in one; Cgroup is its cgroup path.
	Container string `json:"container,omitempty"`
	Cgroup    string `json:"cgroup,omitempty"`
	NetNS     uint64 `json:"netns,omitempty"`
	// MoreProcesses counts further processes holding the same socket (after
	// fork), beyond the first.
	MoreProcesses int `json:"more_processes,omitempty"`
	// The socket's kernel queues and TCP state at Sampled.
	RecvQ   uint32    `json:"recv_q_bytes"`
	SendQ   uint32    `json:"send_q_bytes"`
	RTTms   float64   `json:"rtt_ms"`
	Cwnd    uint32    `json:"cwnd"`
	Unacked uint32    `json:"unacked"`
	NotSent uint32    `json:"notsent_bytes"`
	Sampled time.Time `json:"sampled"`
}

// HostReport is the host view's part of the report: its ipc:// endpoints
// and what the source could not see.
type HostReport struct {
	Sampled time.Time      `json:"sampled"`
	Unix    []UnixEndpoint `json:"ipc_endpoints"`
	Samples uint64         `json:"samples"`
	Walks   uint64         `json:"proc_walks"`
	// Denied counts processes whose sockets /proc would not show (not root):
	// their sockets are unknown.
	Denied     uint64 `json:"denied_processes"`
	DumpErrors uint64 `json:"dump_errors"`
	LastError  string `json:"last_error,omitempty"`
	// Recorded, on a replay, counts the attributions the capture file
	// carried (capture -w into a pcapng): the processes come from them.
	Recorded int `json:"recorded_attributions,omitempty"`
}

// UnixEndpoint is one bound Unix-socket path with its listener and
// connections.
type UnixEndpoint struct {
	Path     string     `json:"path"`
	Listener *UnixSide  `json:"listener,omitempty"`
	Conns    []UnixConn `json:"connections"`
}

// UnixConn is one connection on a Unix-socket endpoint.
type UnixConn struct {
	Server *UnixSide `json:"server"`
	Client *UnixSide `json:"client,omitempty"`
}

// UnixSide is one Unix socket with its process.
type UnixSide struct {
	Inode   uint32 `json:"inode"`
	Known   bool   `json:"known"`
	PID     int    `json:"pid,omitempty"`
	Command string `json:"command,omitempty"`
	Cmdline string `json:"cmdline,omitempty"`
	RecvQ   uint32 `json:"recv_q_bytes"`
	SendQ   uint32 `json:"send_q_bytes"`
}

// HostSideOf turns a socket of the host view into a report's side (nil for
// nil).
func HostSideOf(t *host.TCPSocket, sampled time.Time) *HostSide {
	if t == nil {
		return nil
	}
	h := &HostSide{RecvQ: t.RecvQ, SendQ: t.SendQ, RTTms: ms(t.RTT), Cwnd: t.Cwnd, Unacked: t.Unacked,
		NotSent: t.NotSent, Sampled: sampled, UID: -1, MoreProcesses: t.MoreProcs}
	if p := t.First(); p != nil {
		h.Known, h.PID, h.Command, h.Cmdline, h.UID, h.User = true, p.PID, p.Comm, p.Cmdline, p.UID, p.User
		h.Container, h.Cgroup, h.NetNS = p.Container, p.Cgroup, p.NetNS
		h.MoreProcesses += len(t.Procs) - 1
	}
	return h
}

func unixSide(u *host.UnixSocket) *UnixSide {
	if u == nil {
		return nil
	}
	s := &UnixSide{Inode: u.Inode, RecvQ: u.RecvQ, SendQ: u.SendQ}
	if p := u.First(); p != nil {
		s.Known, s.PID, s.Command, s.Cmdline = true, p.PID, p.Comm, p.Cmdline
	}
	return s
}

// AttachHost adds the host view v to r: each connection's sides on this
// host, and the host's ipc:// endpoints. A nil v adds nothing.
func AttachHost(r *Report, v *host.View) {
	if v == nil {
		return
	}
	for i := range r.Connections {
		c := &r.Connections[i]
		hc, ok := v.Conn(c.ID)
		if !ok {
			continue
		}
		c.ClientHost = HostSideOf(hc.Sides[0], hc.Seen)
		c.ServerHost = HostSideOf(hc.Sides[1], hc.Seen)
	}
	hr := &HostReport{Sampled: v.Time, Unix: []UnixEndpoint{}, Samples: v.Stats.Samples, Walks: v.Stats.Walks,
		Denied: v.Stats.Denied, DumpErrors: v.Stats.DumpErrors, LastError: v.Err}
	for _, e := range v.Unix {
		ue := UnixEndpoint{Path: e.Path, Listener: unixSide(e.Listener), Conns: []UnixConn{}}
		for _, c := range e.Conns {
			ue.Conns = append(ue.Conns, UnixConn{Server: unixSide(c.Server), Client: unixSide(c.Client)})
		}
		hr.Unix = append(hr.Unix, ue)
	}
	r.Host = hr
}

// process names the side's process as "command[pid]", "unknown" when none
// was found.
func (h *HostSide) process() string {
	if !h.Known {
		return "unknown"
	}
	return fmt.Sprintf("%s[%d]", h.Command, h.PID)
}

func (u *UnixSide) process() string {
	if u == nil {
		return "-"
	}
	if !u.Known {
		return "unknown"
	}
	return fmt.Sprintf("%s[%d]", u.Command, u.PID)
}

// writeHostText prints the host view's ipc:// endpoints and what it could
// not see, under the text report's table.
func writeHostText(w io.Writer, h *HostReport) {
	if h == nil {
		return
	}
	for _, e := range h.Unix {
		fmt.Fprintf(w, "ipc://%s: listener %s", textsafe.String(e.Path), textsafe.String(e.Listener.process()))
		for _, c := range e.Conns {
			fmt.Fprintf(w, "; %s ← %s (recv-q %d)", textsafe.String(c.Server.process()), textsafe.String(c.Client.process()), c.Server.RecvQ)
		}
		fmt.Fprintln(w)
	}
	if h.Recorded > 0 {
		fmt.Fprintf(w, "host view: recorded in the capture file (%d attributions, the latest of %s)\n", h.Recorded, h.Sampled.UTC().Format(time.RFC3339))
		return
	}
	fmt.Fprintf(w, "host view: %d samples, %d /proc walks", h.Samples, h.Walks)
	if h.Denied > 0 {
		fmt.Fprintf(w, ", %d processes not readable (their sockets are unknown: run as root)", h.Denied)
	}
	if h.DumpErrors > 0 {
		fmt.Fprintf(w, ", %d socket dumps failed or partial", h.DumpErrors)
	}
	if h.LastError != "" {
		fmt.Fprintf(w, "; last error: %s", textsafe.String(h.LastError))
	}
	fmt.Fprintln(w)
}

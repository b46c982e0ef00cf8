// Package host is zspy's live view of the machine it runs on: which process
// holds each socket, how many bytes wait in the kernel's socket queues, and
// which Unix-socket (ipc://) endpoints exist, with both processes.
//
// Sockets come from the kernel's socket-diagnostics netlink interface
// (sock_diag: inet TCP sockets with their inodes, queues and tcp_info; unix
// sockets with their paths and peers). Once the caller says which TCP
// connections it tracks (Source.Track), a Sample looks up their sockets by
// 4-tuple, so that its cost follows what is tracked, not the machine, and
// dumps the Unix sockets every Config.Refresh; before, every Sample dumps
// every socket. Processes come from a walk of /proc/PID/fd that maps socket
// inodes to processes; the walk is cached. While tracking it is redone only
// when a sample finds a socket the map does not know or whose process has
// exited (at most once per Config.MinWalkGap), or after
// Config.TrackedRefresh; otherwise on a timer (Config.Refresh) or, after
// Invalidate, at most once per Config.MinWalkGap — never per packet. A
// socket no process holds (any more) has no process: it is shown as
// unknown, never guessed from ports or names.
//
// A Sample is immutable: the session takes one at each metrics interval and
// hands it to whoever needs it. Host facts are live only; a replay has none.
package host

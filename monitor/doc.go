// Package monitor subscribes to libzmq socket-monitor events that applications
// forward over tcp:// or ipc://, and decodes the v1 and v2 event formats.
//
// libzmq reports what happens to a socket (connected, retried, accepted,
// handshake failed and why, disconnected, PIPES_STATS queue depths) only on an
// inproc:// endpoint inside the application; a forwarder in the application
// (contrib/python/zspy_monitor.py, contrib/c/zspy_monitor.c) relays the frames
// unchanged, optionally after a frame naming the source application and socket.
//
// In the pipeline the Subscriber sits beside capture: it delivers typed Events
// to the tracker, which matches them to connections seen on the wire. The parts:
//
//   - Decode and Decoder turn one message's frames into an Event. They are
//     pure (no I/O, no clock) and never allocate by a count read off the
//     wire, so the capture side can dissect forwarded monitor traffic too.
//   - Subscriber receives on one or more endpoints as a SUB, PAIR or PULL,
//     connecting or binding, reconnects on its own, and counts what it
//     received, could not decode, lost and refused. go-zeromq/zmq4 runs each
//     connection's ZMTP handshake (zmq4.Open); zspy accepts, dials and reads
//     messages itself. Every connection to a bound endpoint hand-shakes on its
//     own goroutine within Config.HandshakeTimeout, so a silent or hostile
//     peer holds up no one (forwarder.go).
//   - Access (auth.go): Config.Allow resets sources outside the listed
//     networks before a byte is read; Config.Plain requires ZMTP PLAIN
//     credentials, checked by zspy's own PLAIN server (zmq4's accepts any;
//     zmq4 has no CURVE).
//   - Limits (guard.go): during the handshake the guard checks the framing
//     before zmq4 reads it; afterwards msgReader reads within the same
//     limits. A frame above MaxFrameSize ends the connection (a connecting
//     endpoint redials); a message above MaxFrames frames or MaxMessageSize
//     bytes is skipped and reported, and the connection goes on.
//
// Message shapes (zmtp-wire.md §7); integers in the monitored host's byte
// order (DecodeOptions.ByteOrder, little-endian by default):
//
//	v1: [event: uint16 code, uint32 value] [endpoint]                       2 frames
//	v2: [code: uint64] [N: uint64] [value: uint64]×N [local] [remote]       N+4 frames
//
// The source frame is found by shape (SourceAuto): a message that is not v1
// or v2 but is once its first frame is set aside carries that frame as its
// source. Only an 8-byte source before a v2 message fits both readings; then
// the reading whose event code libzmq defines wins. SourceAlways and
// SourceNever fix the rule for unusual forwarders.
package monitor

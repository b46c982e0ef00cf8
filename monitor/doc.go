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
//   - Subscriber receives on one or more endpoints with go-zeromq/zmq4 SUB,
//     PAIR or PULL sockets, connecting or binding, reconnects on its own,
//     and counts what it received, could not decode and lost.
//   - The subscriber's transport checks the ZMTP framing before zmq4 reads it:
//     a peer declaring a frame above MaxFrameSize or a message above MaxFrames
//     is cut off and redialled instead of making zmq4 allocate by its size.
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

// Package tracing follows messages through the stages that forward them —
// brokers (ROUTER|DEALER), forwarders (XSUB|XPUB) and streamers (PULL|PUSH)
// — from the wire alone: it needs no process, so it works on a replay of one
// host's capture, on several captures merged, and live.
//
// Every decoded message is fingerprinted by its last frame (its size and
// first tracker.LastPrefix bytes: what a proxy forwards unchanged, while
// ROUTER and DEALER add or strip the envelope frames before it). A message
// received by an end (one side of a connection, named by "ip:port") whose
// socket can be a stage's input (ROUTER, DEALER, XSUB, PULL) waits there,
// keyed by fingerprint and host; when an end on the same host sends a message with the same
// fingerprint on another connection, and the two socket types make a stage
// (ROUTER or DEALER in and out, XSUB to XPUB, PULL to PUSH), the message
// was forwarded: one hop, its time queued in the stage. Ends joined by
// forwarding are one stage (so offline an address whose connections forward
// each other's messages is recognised as a broker, a forwarder or a
// streamer). A request forwarded out to a REP, ROUTER or DEALER peer and
// the reply that comes back on that connection with the same envelope give
// the time in the worker; the request entering the stage and the reply the
// stage sends back on the same connection with the same envelope give the
// time end to end. Each stage keeps p50/p99 of these in HDR histograms. A
// forwarder that fans one message out to several subscribers is timed to
// the first copy it sends.
//
// Memory is bounded: at most MaxPending messages wait in all (the oldest
// leaves first, counted), at most MaxPerStage at one stage's ends (more are
// not traced, counted), at most MaxEnds ends and MaxStages stages; a message
// that waits longer than MaxAge at a stage's end entered but never left
// (counted per stage), one that waits at an end that is no stage was
// delivered. A sender that sends the same body on several connections is
// not a stage: a message is not taken as forwarded by the end that sent it,
// nor by another connecting end of the same socket type on the same host.
package tracing

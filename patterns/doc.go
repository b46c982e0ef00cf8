// Package patterns groups a host's ZeroMQ sockets into stages: a process
// that holds a ROUTER and a DEALER is a broker, one with an XSUB and an XPUB
// a forwarder (proxy), one with a PULL and a PUSH a pipeline worker. It reads
// the tracker's immutable records and the live host view (which process
// holds which connection end) and returns immutable stages, each with its
// input (front) and output (back) ends and their message counts and kernel
// receive queues; MarkStalls marks, between two samples, the stages whose
// input queue grew while their output idled.
//
// This is the process-based half of the patterns: it needs the
// host view, so it works on live capture only. Recognising a broker
// offline, by messages it forwards, and tracing messages through stages,
// are not built yet.
package patterns

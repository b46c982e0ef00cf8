// Package dissect decodes the ZeroMQ Message Transport Protocol (ZMTP 1.0, 2.0,
// 3.0 and 3.1) from the two reassembled byte streams of a TCP connection into
// typed events: greetings, commands (READY, HELLO, WELCOME, INITIATE, ERROR,
// SUBSCRIBE, CANCEL, PING, PONG), frames and messages, gaps and malformed input.
// It does no I/O, starts no goroutines and allocates nothing per frame in the
// steady state; frame bodies are never buffered beyond a small preview cap.
package dissect

// Package zmtp is zspy's wire vocabulary: the typed values every layer speaks
// of — a stream's direction, ZMTP versions, security mechanisms, socket types,
// commands, and the states of a connection and of its handshake. Each has a
// String method (the text the report, the events and the time series print)
// and MarshalText, so JSON carries the same text. It imports nothing of zspy;
// dissect, tracker, metrics, rules, report and ui all import it.
package zmtp

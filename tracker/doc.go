// Package tracker is zspy's model: it folds dissector events into connections
// (endpoints, socket types, identities, mechanism, subscriptions, counts,
// request/reply latency, TCP backlog) and hands out immutable snapshots to the
// sinks downstream (report, store, rules, ui).
package tracker

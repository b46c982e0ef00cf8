// Package ui is zspy's terminal dashboard (tview), the view people keep open
// beside their ZeroMQ services. It sits at the end of the pipeline, beside
// report, store and rules, and never touches live tracker state:
//
//	pipeline goroutine ──Update (tracker snapshot, counters, alerts)──▶ chan (1, latest wins)
//	    ──▶ model goroutine: Model.Apply → Frame (rows, rates, sparkline history)
//	    ──▶ UI goroutine: QueueUpdateDraw(Dashboard.SetFrame), at most a few times a second
//
// The pipeline goroutine owns the tracker and pushes immutable snapshots at a
// bounded rate; an update the model has not taken yet is replaced by the next
// one and counted, so a flood of traffic never queues work for the screen.
// Turning a connection into table cells, topology lines and detail text are
// pure functions of a Frame, tested without a terminal; the views are tested
// on tcell's simulation screen from replayed captures.
//
// Replays are paced by packet time through an injectable Clock (real time, N×,
// as fast as possible, pause and step), so tests never sleep.
package ui

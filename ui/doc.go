// Package ui is zspy's terminal dashboard (tview), the view people keep open
// beside their ZeroMQ services: Connections, Topology, Connection detail and
// its message Stream, Alerts, alert History, Warnings, a status bar and
// Help. A key (e) exports a connection's packets through the Exporter the
// command gives. It sits at the end of the pipeline, beside
// report, store and rules, and never touches live tracker state:
//
//	pipeline goroutine ──Update (tracker snapshot, counters, alerts)──▶ chan (1, latest wins)
//	    ──▶ model goroutine: Model.Apply → Frame (rows, rates, sparkline history)
//	    ──▶ UI goroutine: QueueUpdateDraw(Dashboard.SetFrame), at most 5 times a second
//
// The pipeline goroutine owns the tracker and sends immutable snapshots at a
// bounded rate; an update the model has not taken yet is replaced by the next
// one and counted, so a flood of traffic never queues work for the screen.
// Rates come from successive snapshots by packet time. Turning a connection
// into table cells (RenderRow), topology lines (RenderTopology) and detail
// text (RenderDetail) are pure functions of a Frame, tested without a
// terminal; the views are tested on tcell's simulation screen from replayed
// captures. A row holds the tracker's immutable Record of its connection and
// what the view derives from it; the JSON report plays no part. Keys are
// bound in one table (keys.go), which dispatch, the hint line, the help page
// and the header's tabs all read.
//
// Entry points: Replay and Live run the dashboard over a pipeline the command
// built (sinks, monitor logs and rules attached); RunReplay is Replay with a
// pipeline of its own. Replays are paced by packet time through an injectable
// Clock (real time, N×, as fast as possible, pause and step), so tests never
// sleep.
package ui

package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zspy/zspy/rules"
)

// AlertLogLen bounds the alert history the dashboard keeps (the oldest
// changes go first, counted).
const AlertLogLen = 1000

// AlertChange is one state change of one alert, as plain capture prints it
// on the console (rules.Console): the History view lists them.
type AlertChange struct {
	At       time.Time
	State    AlertState
	Severity Severity
	Rule     string
	Client   string
	Server   string
	Message  string
	// Resolution says why a resolved alert resolved (with the value then).
	Resolution string
	// Group and Root place the change in its alert's group: the History
	// view indents a group's children under their root.
	Group string
	Root  bool
}

func (c *AlertChange) child() bool { return c.Group != "" && !c.Root }

// alertLog derives the alerts' state changes from successive updates: the
// engine hands every alert instance in its latest state, so a change is a
// state not seen before. A change that came and went between two updates
// (pending, then fired and resolved) is still listed, from the times the
// alert keeps (PendingAt, FiredAt, ResolvedAt).
type alertLog struct {
	seen    map[string]int // stages listed per alert instance: 1 pending, 2 fired, 3 resolved
	changes []AlertChange
	cut     uint64
}

func alertKey(a *rules.Alert) string {
	return a.Rule + "\x00" + a.Client + "\x00" + a.Server + "\x00" + a.PendingAt.String()
}

// add lists the changes of as not seen yet and returns the history so far
// (a slice no later add changes).
func (l *alertLog) add(as []rules.Alert) []AlertChange {
	if l.seen == nil {
		l.seen = make(map[string]int)
	}
	now := make(map[string]int, len(as))
	first := len(l.changes)
	as = rules.Grouped(as) // a group's root before its children
	for i := range as {
		a := &as[i]
		k := alertKey(a)
		done := l.seen[k]
		put := func(stage int, at time.Time, st AlertState) {
			if done >= stage || at.IsZero() {
				return
			}
			done = stage
			l.changes = append(l.changes, AlertChange{At: at, State: st, Severity: Severity(a.Severity), Rule: a.Rule,
				Client: a.Client, Server: a.Server, Message: a.Message, Group: a.Group, Root: a.Root})
			if st == StateResolved || st == "cleared" {
				l.changes[len(l.changes)-1].Resolution = a.Resolution
			}
		}
		put(1, a.PendingAt, StatePending)
		if !a.FiredAt.IsZero() {
			put(2, a.FiredAt, StateFiring)
		}
		switch a.State {
		case rules.StateResolved:
			put(3, a.ResolvedAt, StateResolved)
		case rules.StateInactive:
			put(3, a.ResolvedAt, "cleared")
		}
		now[k] = done
	}
	// The changes of one update in time order, and of one time by stage
	// (pending, firing, resolved): a root's change first, then its
	// children's of the same stage.
	stage := func(st AlertState) int {
		switch st {
		case StatePending:
			return 0
		case StateFiring:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(l.changes[first:], func(x, y AlertChange) int {
		if c := x.At.Compare(y.At); c != 0 {
			return c
		}
		return stage(x.State) - stage(y.State)
	})
	l.seen = now // instances the engine no longer keeps are forgotten
	if n := len(l.changes); n > AlertLogLen {
		drop := n - AlertLogLen*3/4
		l.changes = slices.Clone(l.changes[drop:])
		l.cut += uint64(drop)
	}
	return l.changes[:len(l.changes):len(l.changes)]
}

// AlertChangeLine formats a change as rules.Line does the console's (a
// resolution first, then what the alert was).
func AlertChangeLine(c *AlertChange) string {
	conn := c.Server
	if c.Client != "" {
		conn = c.Client + " → " + c.Server
	}
	msg := c.Message
	if c.Resolution != "" {
		msg = "resolved: " + c.Resolution + "; it was: " + c.Message
	}
	return fmt.Sprintf("%s %-8s %-8s %s %s: %s", fmtTime(c.At), c.State, c.Severity, c.Rule, dashStr(conn), msg)
}

// historyRuns returns, for every change, how many children of its group
// follow it right after when it is a root's change (0 otherwise), and
// whether each change sits under such a root.
func historyRuns(cs []AlertChange) (runs []int, under []bool) {
	runs, under = make([]int, len(cs)), make([]bool, len(cs))
	for i := 0; i < len(cs); i++ {
		if !cs[i].Root || cs[i].Group == "" {
			continue
		}
		j := i + 1
		for j < len(cs) && cs[j].child() && cs[j].Group == cs[i].Group {
			under[j] = true
			j++
		}
		runs[i] = j - i - 1
	}
	return runs, under
}

// refreshAlertHistory renders the History view: every alert state change,
// newest last, with a cursor (⏎ opens the change's connection). A group's
// children that changed with their root are indented under it, and when the
// view is short of room each such run collapses to "+N blocked behind it".
func (d *Dashboard) refreshAlertHistory() {
	f := d.frame
	if f == nil || len(f.AlertLog) == 0 {
		d.alertHist.set([]string{"[gray]no alert has changed state yet (rules: --rules, zspy rules list)[-]"}, []int{-1}, nil, nil)
		return
	}
	head := fmt.Sprintf("[yellow::b]Alert history: %d changes, newest last", len(f.AlertLog))
	if f.AlertLogCut > 0 {
		head += fmt.Sprintf(" (%d older ones not kept here; all in the report on quit)", f.AlertLogCut)
	}
	runs, under := historyRuns(f.AlertLog)
	layout := func(collapse bool) ([]string, []int, []string, []uint64) {
		lines, item := []string{head + "[-::-]"}, []int{-1}
		keys := make([]string, 0, len(f.AlertLog))
		conns := make([]uint64, 0, len(f.AlertLog))
		root := -1 // the item of the last root listed
		for i := 0; i < len(f.AlertLog); i++ {
			c := &f.AlertLog[i]
			a := Alert{State: c.State, Severity: c.Severity, Client: c.Client, Server: c.Server}
			var id uint64
			for _, r := range f.Rows {
				if a.matches(r.C.Client, r.C.Server) {
					id = r.ID
					break
				}
			}
			keys = append(keys, fmt.Sprint(i+int(f.AlertLogCut)))
			conns = append(conns, id)
			n := len(keys) - 1
			indent, hang := "", 4
			if under[i] {
				indent, hang = " ├ ", 7
				if i+1 >= len(f.AlertLog) || !under[i+1] || f.AlertLog[i+1].Group != c.Group {
					indent = " └ "
				}
			}
			tag := alertTag(&a)
			for j, l := range wrapWords(AlertChangeLine(c), d.width()-2-len([]rune(indent)), 4) {
				l = esc(l)
				if j > 0 {
					l = strings.Repeat(" ", hang) + l
				} else {
					l = indent + strings.Replace(l, string(c.State), tag, 1) // the state coloured
				}
				lines = append(lines, " "+l)
				item = append(item, n)
			}
			if c.Root {
				root = n
			}
			if collapse && runs[i] > 1 {
				lines = append(lines, fmt.Sprintf("  └ [gray]+%d blocked behind it[-]", runs[i]))
				item = append(item, root)
				i += runs[i]
			}
		}
		return lines, item, keys, conns
	}
	lines, item, keys, conns := layout(false)
	if len(lines) > d.viewHeight() {
		lines, item, keys, conns = layout(true)
	}
	d.alertHist.set(lines, item, keys, conns)
}

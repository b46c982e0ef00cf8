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
}

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
				Client: a.Client, Server: a.Server, Message: a.Message})
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
	l.seen = now // instances the engine no longer keeps are forgotten
	if n := len(l.changes); n > AlertLogLen {
		drop := n - AlertLogLen*3/4
		l.changes = slices.Clone(l.changes[drop:])
		l.cut += uint64(drop)
	}
	return l.changes[:len(l.changes):len(l.changes)]
}

// AlertChangeLine formats a change as rules.Line does the console's.
func AlertChangeLine(c *AlertChange) string {
	conn := c.Server
	if c.Client != "" {
		conn = c.Client + " → " + c.Server
	}
	return fmt.Sprintf("%s %-8s %-8s %s %s: %s", fmtTime(c.At), c.State, c.Severity, c.Rule, dashStr(conn), c.Message)
}

// refreshAlertHistory renders the History view: every alert state change,
// newest last, with a cursor (⏎ opens the change's connection).
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
	lines, item := []string{head + "[-::-]"}, []int{-1}
	keys := make([]string, len(f.AlertLog))
	conns := make([]uint64, len(f.AlertLog))
	for i := range f.AlertLog {
		c := &f.AlertLog[i]
		keys[i] = fmt.Sprint(i + int(f.AlertLogCut))
		a := Alert{State: c.State, Severity: c.Severity, Client: c.Client, Server: c.Server}
		for _, r := range f.Rows {
			if a.matches(r.C.Client, r.C.Server) {
				conns[i] = r.ID
				break
			}
		}
		tag := alertTag(&a)
		for j, l := range wrapWords(AlertChangeLine(c), d.width()-2, 4) {
			l = esc(l)
			if j > 0 {
				l = "    " + l
			} else {
				l = strings.Replace(l, string(c.State), tag, 1) // the state coloured
			}
			lines = append(lines, " "+l)
			item = append(item, i)
		}
	}
	d.alertHist.set(lines, item, keys, conns)
}

package ui

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/session"
)

// DefaultRedrawInterval bounds the redraw rate (5 Hz).
const DefaultRedrawInterval = 200 * time.Millisecond

// Options configure Run. The zero value works.
type Options struct {
	// Live says the updates come from a live capture: pause freezes the
	// display and the replay keys do nothing.
	Live bool
	// Speed is the replay's initial speed, as the status line shows it.
	Speed float64
	// ShowSecrets shows PLAIN passwords instead of redacting them.
	ShowSecrets bool
	// RedrawInterval bounds the redraw rate.
	RedrawInterval time.Duration
	// Clock limits redraws (default: the wall clock).
	Clock session.Clock
	// Screen replaces the terminal (tests use tcell's simulation screen).
	Screen tcell.Screen
	// Export writes a connection's packets to a capture file (the e key;
	// nil: the key says it cannot).
	Export Exporter
	// Notes collects the warnings of the command's own goroutines (monitor
	// forwarders) for the Warnings view (nil: none).
	Notes *Notes

	// Test hooks: onFrame sees every frame after it is drawn (model
	// goroutine); keyDone receives after every key event; onDashboard sees
	// the dashboard before it runs.
	onFrame     func(f *Frame)
	keyDone     chan struct{}
	onDashboard func(d *Dashboard)
	exportDone  chan struct{}
}

// Steer is what the dashboard sends a run: the replay controls, and the
// connection whose detail it shows. *session.Session implements it.
type Steer interface {
	Control
	// Select makes id the connection the updates carry the detail of.
	Select(id uint64)
}

// Run shows the dashboard until the user quits or ctx ends. It renders the
// updates it receives (the latest one each redraw: the session's Latest
// listener drops those the screen is too slow for) and sends the user's
// controls to steer; it never runs the pipeline itself.
func Run(ctx context.Context, updates <-chan *session.Update, steer Steer, opt Options) error {
	if opt.RedrawInterval <= 0 {
		opt.RedrawInterval = DefaultRedrawInterval
	}
	if opt.Clock == nil {
		opt.Clock = session.WallClock{}
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	model := NewModel(ModelOptions{ShowSecrets: opt.ShowSecrets, Notes: opt.Notes})
	dopt := DashboardOptions{Speed: opt.Speed, History: model.History, Screen: opt.Screen, Select: steer.Select, Export: opt.Export}
	if !opt.Live {
		dopt.Control = steer
	}
	d := NewDashboard(dopt)
	d.keyDone, d.exportDone = opt.keyDone, opt.exportDone

	modelDone := make(chan struct{})
	go func() {
		defer close(modelDone)
		for {
			select {
			case <-ctx.Done():
				return
			case u := <-updates:
				f := model.Apply(u)
				d.App.QueueUpdateDraw(func() { d.SetFrame(f) })
				if opt.onFrame != nil {
					opt.onFrame(f)
				}
			}
			// Bound the redraw rate: updates arriving meanwhile replace each
			// other.
			select {
			case <-ctx.Done():
				return
			case <-opt.Clock.After(opt.RedrawInterval):
			}
		}
	}()
	// Quitting stops the model goroutine first: it may be waiting for the UI
	// goroutine to take an update, which only a running application does.
	var quitOnce sync.Once
	d.quit = func() {
		quitOnce.Do(func() {
			cancel()
			go func() {
				<-modelDone
				d.App.Stop()
			}()
		})
	}
	stopOnCtx := make(chan struct{})
	go func() {
		select {
		case <-parent.Done():
			d.quit()
		case <-stopOnCtx:
		}
	}()
	if opt.onDashboard != nil {
		opt.onDashboard(d)
	}
	err := d.Run()
	close(stopOnCtx)
	cancel()
	<-modelDone
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	return nil
}

// FromRules converts the rules engine's alerts for the Alerts view, in the
// report's order (rules.Grouped: each group's children right after their
// root); an alert takes the time of its latest state as Since.
func FromRules(as []rules.Alert) []Alert {
	out := make([]Alert, 0, len(as))
	for _, a := range rules.Grouped(as) {
		since := a.PendingAt
		switch a.State {
		case rules.StateFiring:
			since = a.FiredAt
		case rules.StateResolved, rules.StateInactive:
			since = a.ResolvedAt
		}
		st := AlertState(a.State.String())
		if a.State == rules.StateInactive {
			st = StateResolved // cleared before it fired
		}
		out = append(out, Alert{Rule: a.Rule, Severity: Severity(a.Severity), State: st, Client: a.Client,
			Server: a.Server, Sender: a.Sender, Receiver: a.Receiver, SenderSocket: a.SenderSocket,
			ReceiverSocket: a.ReceiverSocket, Group: a.Group, Root: a.Root, Message: a.Message,
			Resolution: a.Resolution, Since: since, Labels: a.Labels})
	}
	return out
}

// StoreState describes the time-series store for the status bar: "ok", or
// "down: <error>", with what waits in the spool or was dropped.
func StoreState(st *session.StoreStatus) string {
	if st == nil {
		return ""
	}
	var b strings.Builder
	if st.Name != "" {
		b.WriteString(st.Name + " ")
	}
	switch {
	case st.Up || (st.LastError == "" && st.Written > 0):
		b.WriteString("ok")
	case st.LastError != "":
		b.WriteString("down: " + st.LastError)
	default:
		b.WriteString("waiting")
	}
	if st.SpoolBytes > 0 {
		fmt.Fprintf(&b, ", spool %sB", fmtSI(float64(st.SpoolBytes)))
	}
	if st.Dropped > 0 {
		fmt.Fprintf(&b, ", %d dropped", st.Dropped)
	}
	return b.String()
}

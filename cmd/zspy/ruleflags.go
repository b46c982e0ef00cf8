package main

import (
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/store"
)

// ruleFlags are the alerting options shared by replay and capture.
type ruleFlags struct {
	rules      string
	alertsFile string
	webhook    string
	drain      time.Duration
	noRules    bool
}

func (f *ruleFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.rules, "rules", "", "rule file (default: the built-in rules; see zspy rules list)")
	fl.StringVar(&f.alertsFile, "alerts-file", "", "append alert state changes as JSON lines to this file")
	fl.StringVar(&f.webhook, "alert-webhook", "", "POST alert state changes as JSON to this URL")
	fl.DurationVar(&f.drain, "alert-webhook-drain", rules.DefaultWebhookDrain, "at exit, wait at most this long for the webhook to take queued alerts (0: not at all; the rest are counted as not delivered)")
	fl.BoolVar(&f.noRules, "no-rules", false, "evaluate no rules")
}

// attach builds the rules engine and runs it at every interval of p. Alert
// state changes go to console (when not nil), the JSON-lines file, the
// webhook and the time-series sink (when not nil). Monitor events reach the
// rules through the pipeline's monitor hook.
func (f *ruleFlags) attach(p *pipeline.Pipeline, console io.Writer, sink store.Sink, host string) (*rules.Engine, error) {
	if f.noRules {
		return nil, nil
	}
	eng, err := rules.NewEngine(f.rules)
	if err != nil {
		return nil, err
	}
	if console != nil {
		eng.AddOutput(&rules.Console{W: console})
	}
	if f.alertsFile != "" {
		j, err := rules.CreateJSONLines(f.alertsFile)
		if err != nil {
			return nil, err
		}
		eng.AddOutput(j)
	}
	if f.webhook != "" {
		drain := f.drain
		if drain <= 0 {
			drain = -1 // 0 on the command line: do not wait (0 in WebhookOptions is the default)
		}
		eng.AddOutput(rules.NewWebhook(f.webhook, rules.WebhookOptions{Drain: drain}))
	}
	if sink != nil {
		if host == "" {
			host, _ = os.Hostname()
		}
		eng.AddOutput(&rules.SinkOutput{Sink: sink, Host: host})
	}
	ms := &rules.MonitorState{}
	eng.SetMonitor(ms)
	p.AddMonitorHook(ms.Observe)
	p.AddIntervalHook(eng.Hook())
	return eng, nil
}

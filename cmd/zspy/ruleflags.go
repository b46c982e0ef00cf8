package main

import (
	"io"
	"os"

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
	noRules    bool
}

func (f *ruleFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.rules, "rules", "", "rule file (default: the built-in rules; see zspy rules list)")
	fl.StringVar(&f.alertsFile, "alerts-file", "", "append alert state changes as JSON lines to this file")
	fl.StringVar(&f.webhook, "alert-webhook", "", "POST alert state changes as JSON to this URL")
	fl.BoolVar(&f.noRules, "no-rules", false, "evaluate no rules")
}

// attach builds the rules engine and runs it at every interval of p. Alert
// state changes go to console (when not nil), the JSON-lines file, the
// webhook and the time-series sink (when not nil). Monitor events reach the
// rules as the interval's zspy_monitor points.
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
		eng.AddOutput(rules.NewWebhook(f.webhook, rules.WebhookOptions{}))
	}
	if sink != nil {
		if host == "" {
			host, _ = os.Hostname()
		}
		eng.AddOutput(&rules.SinkOutput{Sink: sink, Host: host})
	}
	p.AddIntervalHook(eng.Hook())
	return eng, nil
}

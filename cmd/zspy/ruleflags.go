package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/store"
)

// ruleFlags are the alerting options shared by replay and capture.
type ruleFlags struct {
	rules      string
	alertsFile string
	webhook    string
	format     string
	external   string
	drain      time.Duration
	noRules    bool
}

func (f *ruleFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.rules, "rules", "", "rule file (default: the built-in rules; see zspy rules list)")
	fl.StringVar(&f.alertsFile, "alerts-file", "", "append alert state changes as JSON lines to this file")
	fl.StringVar(&f.webhook, "alert-webhook", "", "POST alert state changes as JSON to this URL")
	fl.StringVar(&f.format, "alert-webhook-format", "zspy", "the webhook's payload: zspy (its own) or alertmanager (Alertmanager's webhook payload, version 4, for receivers written for Alertmanager)")
	fl.StringVar(&f.external, "alert-external-url", "", "with --alert-webhook-format alertmanager: the payload's externalURL and each alert's generatorURL (e.g. the Grafana dashboard)")
	fl.DurationVar(&f.drain, "alert-webhook-drain", rules.DefaultWebhookDrain, "at exit, wait at most this long for the webhook to take queued alerts (0: not at all; the rest are counted as not delivered)")
	fl.BoolVar(&f.noRules, "no-rules", false, "evaluate no rules")
}

// engine builds the rules engine the flags ask for (nil with --no-rules),
// with its outputs: console (when not nil), alerts file, webhook, and the
// alerts series in sink (when not nil). The session evaluates it.
func (f *ruleFlags) engine(console io.Writer, sink store.Sink, host string) (*rules.Engine, error) {
	if err := rules.CheckWebhookFormat(f.format); err != nil {
		return nil, fmt.Errorf("--alert-webhook-format: %w", err)
	}
	if f.noRules {
		return nil, nil
	}
	if host == "" {
		host, _ = os.Hostname()
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
		opt := rules.WebhookOptions{Drain: drain}
		if f.format == "alertmanager" {
			opt.Encode = rules.AlertmanagerEncoder(rules.AlertmanagerOptions{Host: host, ExternalURL: f.external})
		}
		eng.AddOutput(rules.NewWebhook(f.webhook, opt))
	}
	if sink != nil {
		eng.AddOutput(&rules.SinkOutput{Sink: sink, Host: host})
	}
	return eng, nil
}

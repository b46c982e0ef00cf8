package main

import (
	"github.com/spf13/pflag"

	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/tracing"
)

// traceFlags configure message tracing through brokers and proxies (on by
// default: the report shows the stages it recognises by forwarding, with
// per-hop times).
type traceFlags struct {
	off bool
}

func (f *traceFlags) register(fl *pflag.FlagSet) {
	fl.BoolVar(&f.off, "no-trace", false, "do not trace messages through brokers and proxies (stages by forwarding, per-hop latency)")
}

func (f *traceFlags) apply(cfg *session.Config) {
	if !f.off {
		cfg.Trace = &tracing.Config{}
	}
}

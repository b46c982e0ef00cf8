package main

import (
	"bufio"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/monitor"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/tracker"
)

func init() { subcommands = append(subcommands, newReplayCmd) }

type replayFlags struct {
	json        bool
	events      bool
	showSecrets bool
	idle        time.Duration
	monitorLogs []string
	ephemeral   tracker.PortRange
	store       storeFlags
	rules       ruleFlags
}

func newReplayCmd() *cobra.Command {
	var f replayFlags
	var uf *uiFlags
	cmd := &cobra.Command{
		Use:   "replay FILE...",
		Short: "decode the ZeroMQ traffic in capture files (pcap, pcapng, gzip)",
		Long: `Replay reads capture files (pcap or pcapng, optionally gzip-compressed) in
order, finds ZMTP on any TCP port, and reports every ZeroMQ connection: endpoints,
socket types, identities, mechanism, subscriptions and per-direction counts.
Several files are read as one capture, in the order given.`,
		Example: `  zspy replay testdata/pcaps/reqrep/capture.pcap
  zspy replay --json incident.pcapng.gz
  zspy replay --events capture.pcap | jq 'select(.event == "subscription")'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReplay(cmd, args, f, uf)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.json, "json", false, "print the report as one JSON document")
	fl.BoolVar(&f.events, "events", false, "print every decoded event as JSON lines, in packet order")
	fl.BoolVar(&f.showSecrets, "show-secrets", false, "print PLAIN passwords instead of redacting them")
	fl.StringArrayVar(&f.monitorLogs, "monitor-log", nil, "merge the socket-monitor events in `FILE`, recorded with zspy monitor --json (repeatable)")
	f.store.register(fl, false)
	f.rules.register(fl)
	fl.DurationVar(&f.idle, "idle-timeout", 2*time.Minute, "forget connections silent this long (packet time)")
	fl.Var(portRangeFlag{&f.ephemeral}, "ephemeral-ports", ephemeralUsage)
	uf = addUIFlags(fl, true)
	return cmd
}

func runReplay(cmd *cobra.Command, files []string, f replayFlags, uf *uiFlags) error {
	// Open every file first, so a missing one fails before any output.
	srcs := make([]*capture.FileSource, 0, len(files))
	defer func() {
		for _, s := range srcs {
			s.Close()
		}
	}()
	for _, name := range files {
		s, err := capture.OpenFile(name)
		if err != nil {
			return err
		}
		srcs = append(srcs, s)
	}
	out := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
	defer out.Flush()
	ropt := report.Options{ShowSecrets: f.showSecrets}
	p := pipeline.New(pipeline.Config{Report: ropt, IdleTimeout: f.idle, Interval: f.store.interval, Host: f.store.hostTag,
		Tracker: tracker.Options{Ephemeral: f.ephemeral}})
	sink, sinkName, err := f.store.openSink(false)
	if err != nil {
		return err
	}
	if sink != nil {
		attachSink(p, sink, p.Warn)
	}
	eng, err := f.rules.attach(p, nil, sink, f.store.hostTag)
	if err != nil {
		return err
	}
	var ew *report.EventWriter
	if f.events {
		ew = report.NewEventWriter(out, ropt)
		p.Tracker.SetListener(ew)
	}
	for _, name := range f.monitorLogs {
		// Read as the packets go: a log of any size costs one event of memory.
		lf, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("monitor log: %w", err)
		}
		defer lf.Close()
		p.AddMonitorLog(monitor.NewLogReader(lf, name, p.Warn))
	}
	if uf.enabled {
		err := runReplayUI(cmd.Context(), cmd, p, srcs, uf, uiInputs{showSecrets: f.showSecrets, sink: sink, sinkName: sinkName, rules: eng})
		if err != nil {
			return err
		}
	} else {
		for _, s := range srcs {
			if err := p.Run(s, nil); err != nil {
				p.Warn("%v", err) // it names the file
			}
		}
		p.Finish()
	}
	if eng != nil {
		if err := eng.Close(); err != nil {
			p.Warn("alerts: %v", err)
		}
	}
	var storeStats *report.StoreStats
	if sink != nil {
		storeStats = storeReport(sink, sinkName, 30*time.Second, p.Warn)
	}
	if ew != nil {
		if ew.Err != nil {
			return fmt.Errorf("write events: %w", ew.Err)
		}
		if ws, _ := p.Warnings(); len(ws) > 0 {
			for _, w := range ws {
				fmt.Fprintln(os.Stderr, "zspy: warning:", w)
			}
		}
		return nil
	}
	r := p.Report()
	r.Store = storeStats
	if eng != nil {
		r.Alerts = eng.ReportAlerts()
	}
	if f.json {
		return report.WriteJSON(out, r)
	}
	if err := report.WriteText(out, r); err != nil {
		return err
	}
	if eng != nil {
		for _, a := range eng.Alerts() {
			fmt.Fprintln(out, "alert:", rules.Line(&a))
		}
	}
	return nil
}

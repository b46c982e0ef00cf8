package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/textsafe"
	"github.com/zspy/zspy/monitor"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/reassembly"
	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/tracker"
)

func init() { subcommands = append(subcommands, newReplayCmd) }

type replayFlags struct {
	export      *exportConnFlags
	json        bool
	events      eventFlags
	showSecrets bool
	idle        time.Duration
	keepClosed  int
	workers     int
	maxConns    int
	monitorLogs []string
	ephemeral   tracker.PortRange
	store       storeFlags
	rules       ruleFlags
	trace       traceFlags
	merge       bool
}

func newReplayCmd() *cobra.Command {
	var f replayFlags
	var uf *uiFlags
	cmd := &cobra.Command{
		Use:   "replay FILE... (- for standard input)",
		Short: "decode the ZeroMQ traffic in capture files (pcap, pcapng, gzip)",
		Long: `Replay reads capture files (pcap or pcapng, optionally gzip-compressed) in
order, finds ZMTP on any TCP port, and reports every ZeroMQ connection: endpoints,
socket types, identities, mechanism, subscriptions and per-direction counts.
Several files are read as one capture, in the order given (the rotated files of
one capture); with --merge they are read at once and merged by packet time, as
mergecap does (captures taken on several hosts at the same time), and a packet
seen in two of them counts once (duplicates in the report). - reads a capture
from standard input (tcpdump -w - | zspy replay -).`,
		Example: `  zspy replay testdata/pcaps/reqrep/capture.pcap
  zspy replay --json incident.pcapng.gz
  ssh probe tcpdump -U -w - 'tcp port 5555' | zspy replay -
  zspy replay --events -Y 'command == "SUBSCRIBE"' capture.pcap
  zspy replay --events --json capture.pcap | jq 'select(.event == "subscription")'
  zspy replay --merge broker-host.pcap worker-host.pcap
  zspy replay incident.pcap --export-conn 3 -w conn3.pcap`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReplay(cmd, args, f, uf)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.json, "json", false, "print the report as one JSON document (with --events: the events as JSON lines)")
	f.events.register(fl, "print every decoded event, one line each in packet order (text; JSON lines with --json), instead of the report")
	fl.BoolVar(&f.merge, "merge", false, "merge the capture files by packet time (captures of several hosts at once, as mergecap does) instead of reading them one after the other; a packet seen in two of them counts once")
	fl.BoolVar(&f.showSecrets, "show-secrets", false, "print PLAIN passwords instead of redacting them")
	fl.StringArrayVar(&f.monitorLogs, "monitor-log", nil, "merge the socket-monitor events in `FILE`, recorded with zspy monitor --json (repeatable)")
	f.store.register(fl, false)
	f.rules.register(fl)
	f.trace.register(fl)
	fl.DurationVar(&f.idle, "idle-timeout", 2*time.Minute, idleUsage)
	fl.IntVar(&f.maxConns, "max-connections", reassembly.DefaultMaxConnections, maxConnsUsage)
	fl.IntVar(&f.keepClosed, "keep-closed", 10000, keepClosedUsage)
	fl.Var(portRangeFlag{&f.ephemeral}, "ephemeral-ports", ephemeralUsage)
	fl.IntVar(&f.workers, "workers", 1, "spread reassembly over this many goroutines (connections by 4-tuple hash), merged back in the file's order: the same report, on more cores")
	uf = addUIFlags(fl, true)
	f.export = addExportConnFlags(fl)
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
	stdin := false
	var openWarnings []string
	for _, name := range files {
		var s *capture.FileSource
		var err error
		if name == "-" {
			// As tcpdump -r - and tshark -r -: the capture comes on standard
			// input (read as it streams; gzip too).
			if stdin {
				return errors.New("replay: standard input (-) given twice")
			}
			stdin = true
			s, err = capture.NewReader(cmd.InOrStdin(), "stdin")
		} else {
			s, err = capture.OpenFile(name)
		}
		if err != nil {
			if f.merge && len(files) > 1 {
				// A capture of the merge that cannot be read is named in a
				// warning; the merge goes on with the others.
				openWarnings = append(openWarnings, fmt.Sprintf("merge: %v (left out of the merge)", err))
				continue
			}
			return err
		}
		srcs = append(srcs, s)
	}
	if len(srcs) == 0 {
		return fmt.Errorf("merge: no capture could be read: %s", strings.Join(openWarnings, "; "))
	}
	out := bufio.NewWriterSize(f.store.reportOut(cmd.OutOrStdout(), cmd.ErrOrStderr()), 64<<10)
	defer out.Flush()
	ropt := report.Options{ShowSecrets: f.showSecrets}
	ew, err := f.events.open(out, f.json, ropt)
	if err != nil {
		return err
	}
	if f.workers < 1 || f.workers > pipeline.MaxWorkers {
		return fmt.Errorf("--workers %d: want 1 to %d", f.workers, pipeline.MaxWorkers)
	}
	cfg := session.Config{
		Pipeline: pipeline.Config{Report: ropt, IdleTimeout: f.idle, Interval: f.store.interval, Host: f.store.hostTag, Workers: f.workers,
			Tracker: tracker.Options{KeepClosed: f.keepClosed, Ephemeral: f.ephemeral}, Reassembly: reassembly.Options{MaxConnections: f.maxConns}},
	}
	names := make([]string, len(srcs))
	for i, s := range srcs {
		cfg.Files = append(cfg.Files, s)
		names[i] = s.Name()
	}
	cfg.Name = strings.Join(names, " ")
	if f.merge {
		if f.export.enabled() {
			return errors.New("--merge: not yet with --export-conn: export from one of the captures, or merge them with mergecap first")
		}
		cfg.Files = []capture.Source{capture.NewMergeSource(cfg.Files, 0)}
		cfg.Name = strings.Join(names, " + ")
	}
	if f.export.enabled() {
		return f.export.run(context.Background(), files, cfg, cmd.ErrOrStderr())
	}
	f.trace.apply(&cfg)
	sink, sinkName, err := f.store.openSink(false, cmd.OutOrStdout())
	if err != nil {
		return err
	}
	cfg.Sink, cfg.SinkName = sink, sinkName
	eng, err := f.rules.engine(nil, sink, f.store.hostTag)
	if err != nil {
		return err
	}
	cfg.Rules = eng
	if ew != nil {
		cfg.Events = ew
	}
	if uf.enabled {
		if err := uf.check(cmd, &cfg); err != nil {
			return err
		}
	}
	sess := session.New(cfg)
	for _, w := range openWarnings {
		sess.Warn("%s", w)
	}
	for _, name := range f.monitorLogs {
		// Read as the packets go: a log of any size costs one event of memory.
		lf, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("monitor log: %w", err)
		}
		defer lf.Close()
		sess.AddMonitorLog(monitor.NewLogReader(lf, name, sess.Warn))
	}
	if uf.enabled {
		exporter := replayExporter(files)
		if f.merge {
			exporter = func(*tracker.Record) (string, error) {
				return "", errors.New("export: not yet from merged captures: replay without --merge to export from the capture that holds the connection")
			}
		}
		if err := runUI(cmd.Context(), sess, cfg, f.showSecrets, nil, exporter); err != nil {
			return err
		}
	} else if err := sess.Run(context.Background()); err != nil {
		return err
	}
	p := sess
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
		if err := ew.err(); err != nil {
			return fmt.Errorf("write events: %w", err)
		}
		if ws, _ := p.Warnings(); len(ws) > 0 {
			for _, w := range ws {
				fmt.Fprintln(os.Stderr, "zspy: warning:", textsafe.String(w))
			}
		}
		return nil
	}
	r := p.Report()
	r.NoteLowerBounds(0)
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
	printAlertChanges(out, eng)
	return nil
}

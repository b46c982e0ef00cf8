package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/textsafe"
	"github.com/zspy/zspy/monitor"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/reassembly"
	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/ui"
)

func init() { subcommands = append(subcommands, newCaptureCmd) }

type captureFlags struct {
	iface       string
	json        bool
	events      eventFlags
	showSecrets bool
	duration    time.Duration
	count       uint64
	statsEvery  time.Duration
	snaplen     int
	promisc     bool
	monitors    []string
	monSocket   string
	monAccess   monitorAccess
	idle        time.Duration
	keepClosed  int
	maxConns    int
	ephemeral   tracker.PortRange
	store       storeFlags
	rules       ruleFlags
	noStore     bool
	write       writeFlags
	filter      filterFlags
	ring        ringFlags
	priv        privFlags
	host        hostFlags
	trace       traceFlags
}

func newCaptureCmd() *cobra.Command {
	var f captureFlags
	var uf *uiFlags
	cmd := &cobra.Command{
		Use:   "capture -i IFACE",
		Short: "watch live ZeroMQ traffic on a network interface",
		Long: `Capture reads packets from a network interface (root or CAP_NET_RAW; no libpcap
needed) and runs them through the same dissector and tracker as replay. On
SIGINT/SIGTERM, --duration or --count it stops cleanly and prints the final
report, in the same text and --json forms as replay. Loopback and "any" show each
packet twice; zspy counts it once.`,
		Example: `  sudo zspy capture -i eth0
  sudo zspy capture -i any --port 5555 --duration 1m --json
  sudo zspy capture -i eth0 --events -Y 'event == "error" or command == "ERROR"'
  sudo zspy capture -i lo -w incident.pcap --rotate-size 100MB --stats-every 10s
  sudo zspy capture -i eth0 --monitor tcp://127.0.0.1:7777`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCapture(cmd, f, uf) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.iface, "interface", "i", "", "interface to capture on (\"any\" for all)")
	fl.BoolVar(&f.json, "json", false, "print the final report as one JSON document (with --events: the events as JSON lines)")
	f.events.register(fl, "print every decoded event as a line as it is decoded, as tcpdump -l does (text; JSON lines with --json); no report at the end")
	fl.BoolVar(&f.showSecrets, "show-secrets", false, "print PLAIN passwords instead of redacting them")
	fl.DurationVar(&f.duration, "duration", 0, "stop after this long")
	fl.Uint64Var(&f.count, "count", 0, "stop after this many TCP segments")
	fl.DurationVar(&f.statsEvery, "stats-every", 0, "print a status line to stderr at this period (packets, bytes, connections, drops)")
	fl.IntVar(&f.snaplen, "snaplen", capture.MaxRecordLen, "bytes kept of each packet (the default holds loopback's 64 KiB segments)")
	fl.BoolVar(&f.promisc, "promisc", false, "put the interface in promiscuous mode")
	fl.StringArrayVar(&f.monitors, "monitor", nil, "merge socket-monitor events from this forwarding endpoint (repeatable; see zspy monitor)")
	fl.StringVar(&f.monSocket, "monitor-socket", "sub", "socket for --monitor endpoints: sub, pair or pull")
	f.monAccess.register(cmd, "monitor-")
	fl.DurationVar(&f.idle, "idle-timeout", 2*time.Minute, idleUsage)
	fl.IntVar(&f.maxConns, "max-connections", reassembly.DefaultMaxConnections, maxConnsUsage)
	fl.Var(portRangeFlag{&f.ephemeral}, "ephemeral-ports", ephemeralUsage)
	fl.IntVar(&f.keepClosed, "keep-closed", 10000, keepClosedUsage)
	fl.BoolVar(&f.noStore, "no-store", false, "keep no time series (default: InfluxDB when configured, else the local data dir)")
	f.store.register(fl, true)
	f.rules.register(fl)
	f.write.register(fl)
	f.filter.register(fl)
	f.ring.register(fl)
	f.priv.register(fl)
	f.host.register(fl)
	f.trace.register(fl)
	uf = addUIFlags(fl, false)
	_ = cmd.MarkFlagRequired("interface")
	return cmd
}

func runCapture(cmd *cobra.Command, f captureFlags, uf *uiFlags) error {
	switch {
	case f.events.on && uf.enabled:
		return errors.New("--ui shows the events in the dashboard: it does not go with --events")
	}
	ropt := report.Options{ShowSecrets: f.showSecrets}
	// Standard output unbuffered: each event is one write, as it comes.
	ew, err := f.events.open(cmd.OutOrStdout(), f.json, ropt)
	if err != nil {
		return err
	}
	opts := capture.LiveOptions{SnapLen: f.snaplen, Promiscuous: f.promisc}
	if err := f.filter.apply(&opts); err != nil {
		return err
	}
	for _, r := range f.filter.resolved {
		fmt.Fprintln(os.Stderr, "zspy:", r)
	}
	if err := f.ring.apply(&opts); err != nil {
		return err
	}
	src, err := capture.OpenLive(f.iface, opts)
	if err != nil {
		return liveError(f.iface, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg := session.Config{
		Pipeline: pipeline.Config{Report: ropt, IdleTimeout: f.idle, Interval: f.store.interval, Host: f.store.hostTag, Workers: f.ring.fanout,
			Tracker: tracker.Options{KeepClosed: f.keepClosed, Ephemeral: f.ephemeral}, Reassembly: reassembly.Options{MaxConnections: f.maxConns}},
		Live:        src,
		LiveOptions: session.LiveOptions{Duration: f.duration, Count: f.count, DrainFor: time.Second},
		Name:        src.Name(),
	}
	if !uf.enabled && ew == nil { // the dashboard shows the warnings count; --events prints them at the end
		cfg.WarnTo = os.Stderr
	}
	var sinkName string
	var sink store.Sink
	if !f.noStore {
		s, name, err := f.store.openSink(true, cmd.OutOrStdout())
		if err != nil {
			src.Close()
			return err
		}
		sink, sinkName = s, name
		cfg.Sink, cfg.SinkName = sink, sinkName
		defer func() {
			if sink == nil { // closed for the report already
				return
			}
			if _, err := closeSink(sink, 10*time.Second); err != nil {
				fmt.Fprintln(os.Stderr, "zspy:", err)
			}
		}()
	}
	var console io.Writer = os.Stderr
	if uf.enabled {
		console = nil // the dashboard's alerts view shows them
	}
	eng, err := f.rules.engine(console, sink, f.store.hostTag)
	if err != nil {
		src.Close()
		return err
	}
	cfg.Rules = eng
	if f.statsEvery > 0 && !uf.enabled {
		cfg.StatsEvery = f.statsEvery
		cfg.OnStats = func(st session.LiveStats) {
			workers := ""
			if st.Workers > 1 {
				// Waits mean the model, not the workers, is behind.
				workers = fmt.Sprintf(", %d workers waited for the model %d times", st.Workers, st.WorkerWaits)
			}
			fmt.Fprintf(os.Stderr, "zspy: %s: %d packets, %d bytes, %d connections (%d open, %d evicted at the cap), kernel drops %d (ring full %d times), zspy drops %d, duplicates %d, cut by snaplen %d, bad tcp checksums %d, monitor events %d%s\n",
				st.Elapsed.Round(time.Second), st.Packets, st.Bytes, st.Connections, st.Open, st.Evicted, st.KernelDrops, st.RingFreezes, st.InternalDrops, st.Duplicates, st.Truncated, st.BadChecksums, st.MonitorEvents, workers)
		}
	}
	w, err := f.write.open(src)
	if err != nil {
		src.Close()
		return err
	}
	if w != nil {
		cfg.LiveOptions.OnSegment = w.segment
		cfg.Annotate = w.w.Annotate // the processes, into a pcapng (a pcap has no room: counted)
		defer func() {
			if err := w.close(); err != nil {
				fmt.Fprintln(os.Stderr, "zspy:", err)
			}
		}()
	}
	// The monitor forwarders' warnings go to standard error, or to the
	// dashboard's Warnings view, which draws over standard error.
	warn := func(s string) { fmt.Fprintln(os.Stderr, "zspy: warning:", s) }
	var notes *ui.Notes
	if uf.enabled {
		notes = &ui.Notes{}
		warn = notes.Add
	}
	if len(f.monitors) > 0 {
		evs, err := startMonitors(ctx, f.monitors, f.monSocket, f.monAccess, warn)
		if err != nil {
			src.Close()
			return err
		}
		cfg.Monitor = evs
	}
	f.trace.apply(&cfg)
	hs := f.host.apply(&cfg)
	if hs != nil {
		defer hs.Close()
	}
	after := afterDrop{hostView: hs != nil, createsIn: []string{f.store.filesIn}}
	if w != nil && (f.write.rotateSize != "" || f.write.rotateEvery > 0) {
		after.createsIn = append(after.createsIn, filepath.Dir(f.write.path))
	}
	if err := f.priv.drop(after, os.Stderr); err != nil {
		src.Close()
		return err
	}
	if ew != nil {
		cfg.Events = ew
	}
	sess := session.New(cfg)
	if uf.enabled {
		err = runUI(ctx, sess, cfg, f.showSecrets, notes, liveExporter(w))
	} else {
		// Tests and scripts wait for this line before they start traffic.
		fmt.Fprintf(os.Stderr, "zspy: capturing on %s", src.Name())
		if sinkName != "" {
			fmt.Fprintf(os.Stderr, ", time series to %s", sinkName)
		}
		fmt.Fprintln(os.Stderr)
		err = sess.Run(ctx)
	}
	p := sess
	if eng != nil {
		if err := eng.Close(); err != nil {
			p.Warn("alerts: %v", err)
		}
	}
	var storeStats *report.StoreStats
	if sink != nil {
		storeStats = storeReport(sink, sinkName, 10*time.Second, p.Warn)
		sink = nil
	}
	if ew != nil {
		if st := p.Stats(); st.Truncated > 0 {
			p.Warn("%d packets were cut by the snap length (%d bytes): frame sizes were followed across the missing bytes", st.Truncated, f.snaplen)
		}
		// As replay --events: the events were the output; the warnings go
		// to stderr.
		if werr := ew.err(); werr != nil {
			return fmt.Errorf("write events: %w", werr)
		}
		ws, _ := p.Warnings()
		for _, w := range ws {
			fmt.Fprintln(os.Stderr, "zspy: warning:", textsafe.String(w))
		}
		return err
	}
	r := p.Report()
	// Cut packets and lost frame sync: said once, in the warnings and the
	// summary line.
	r.NoteLowerBounds(f.snaplen)
	r.Store = storeStats
	if eng != nil {
		r.Alerts = eng.ReportAlerts()
	}
	out := bufio.NewWriter(f.store.reportOut(cmd.OutOrStdout(), cmd.ErrOrStderr()))
	defer out.Flush()
	var werr error
	if f.json {
		werr = report.WriteJSON(out, r)
	} else {
		werr = report.WriteText(out, r)
	}
	if uf.enabled && !f.json && werr == nil {
		// The dashboard took the console's place: list the alerts as
		// replay does.
		printAlertChanges(out, eng)
	}
	if err != nil {
		return err
	}
	return werr
}

// liveError turns a missing privilege, or an interface that does not exist,
// into one clear line.
func liveError(iface string, err error) error {
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("live capture needs the CAP_NET_RAW capability: run as root, or grant it once with `sudo setcap cap_net_raw,cap_net_admin=eip $(command -v zspy)` (%w)", err)
	}
	if iface != "any" {
		if _, ierr := net.InterfaceByName(iface); ierr != nil {
			var names []string
			if ifs, lerr := net.Interfaces(); lerr == nil {
				for _, i := range ifs {
					names = append(names, i.Name)
				}
			}
			return fmt.Errorf("no interface %q on this host; there are: %s, and any (all of them)", iface, strings.Join(names, ", "))
		}
	}
	return err
}

// startMonitors subscribes to socket-monitor forwarders and returns their
// events on one channel.
func startMonitors(ctx context.Context, endpoints []string, socket string, access monitorAccess, warn func(string)) (<-chan monitor.Event, error) {
	kind, err := monitor.ParseSocketKind(socket)
	if err != nil {
		return nil, err
	}
	mcfg := monitor.Config{Endpoints: endpoints, Socket: kind}
	if err := access.apply(&mcfg); err != nil {
		return nil, err
	}
	sub, err := monitor.NewSubscriber(mcfg)
	if err != nil {
		return nil, err
	}
	if err := sub.Bind(ctx); err != nil {
		return nil, fmt.Errorf("--monitor: %w", err)
	}
	for _, spec := range openToAnyone(sub, mcfg) {
		warn(fmt.Sprintf("--monitor %s accepts events from any host: bind 127.0.0.1, or add --monitor-allow or --monitor-plain-user", spec))
	}
	ch := make(chan monitor.Event, 4096)
	go func() {
		defer close(ch)
		err := sub.Run(ctx, monitor.Handler{
			Event: func(ev monitor.Event) {
				select {
				case ch <- ev:
				case <-ctx.Done():
				}
			},
			Malformed: func(m monitor.Malformed) { warn(fmt.Sprint(m)) },
			Link:      refusalWarnerTo(warn, "--monitor"),
		})
		if err != nil && ctx.Err() == nil {
			warn("monitor: " + err.Error())
		}
	}()
	return ch, nil
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/zspy/zspy/internal/textsafe"
	"github.com/zspy/zspy/monitor"
)

func init() { subcommands = append(subcommands, newMonitorCmd) }

type monitorFlags struct {
	socket      string
	json        bool
	duration    time.Duration
	byteOrder   string
	sourceFrame string
	quiet       bool
	access      monitorAccess
}

// monitorAccess are the flags that guard monitor endpoints, shared by zspy
// monitor and capture --monitor (there with a "monitor-" prefix).
type monitorAccess struct {
	plainUser        string
	passwordFile     string
	allow            []string
	handshakeTimeout time.Duration
}

// passwordEnv holds the PLAIN password when no file names it (a flag would
// show it to every user of ps).
const passwordEnv = "ZSPY_MONITOR_PASSWORD"

func (a *monitorAccess) register(cmd *cobra.Command, prefix string) {
	fl := cmd.Flags()
	fl.StringVar(&a.plainUser, prefix+"plain-user", "", "use ZMTP PLAIN with this username: forwarders connecting to a bound endpoint must present it and the password (from --"+prefix+"plain-password-file or $"+passwordEnv+")")
	fl.StringVar(&a.passwordFile, prefix+"plain-password-file", "", "file whose first line is the PLAIN password")
	fl.StringSliceVar(&a.allow, prefix+"allow", nil, "accept forwarders on bound tcp endpoints only from these addresses or CIDR networks (comma-separated, repeatable; default any)")
	fl.DurationVar(&a.handshakeTimeout, prefix+"handshake-timeout", monitor.HandshakeTimeout, "bound on each forwarder connection's handshake (they run concurrently)")
}

// apply sets cfg's access fields from the flags.
func (a *monitorAccess) apply(cfg *monitor.Config) error {
	for _, s := range a.allow {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			addr, err2 := netip.ParseAddr(s)
			if err2 != nil {
				return fmt.Errorf("allow %q: want an address or a CIDR network: %w", s, err)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		cfg.Allow = append(cfg.Allow, p.Masked())
	}
	cfg.HandshakeTimeout = a.handshakeTimeout
	if a.plainUser == "" {
		if a.passwordFile != "" {
			return errors.New("a PLAIN password file without a PLAIN user")
		}
		return nil
	}
	pass, ok := os.LookupEnv(passwordEnv)
	if a.passwordFile != "" {
		b, err := os.ReadFile(a.passwordFile)
		if err != nil {
			return fmt.Errorf("PLAIN password: %w", err)
		}
		pass, _, _ = strings.Cut(string(b), "\n")
		pass, ok = strings.TrimSuffix(pass, "\r"), true
	}
	if !ok {
		return fmt.Errorf("PLAIN user %q without a password: set $%s or a password file", a.plainUser, passwordEnv)
	}
	cfg.Plain = &monitor.PlainAuth{Username: a.plainUser, Password: pass}
	return nil
}

// openToAnyone says whether a bound tcp endpoint takes events from any host
// without credentials.
func openToAnyone(sub *monitor.Subscriber, cfg monitor.Config) []string {
	if cfg.Plain != nil || len(cfg.Allow) > 0 {
		return nil
	}
	var open []string
	for _, ep := range sub.Endpoints() {
		if !ep.Bind || ep.Transport != "tcp" {
			continue
		}
		host, _, _ := net.SplitHostPort(ep.Address)
		if a, err := netip.ParseAddr(host); err == nil && a.IsLoopback() {
			continue
		}
		open = append(open, ep.Spec)
	}
	return open
}

func newMonitorCmd() *cobra.Command {
	var f monitorFlags
	cmd := &cobra.Command{
		Use:   "monitor ENDPOINT...",
		Short: "print the libzmq socket-monitor events that applications forward",
		Long: `Monitor subscribes to libzmq socket-monitor events that applications forward
(contrib/python/zspy_monitor.py, contrib/c/zspy_monitor.c) and prints one line
per event: connected, retried, accepted, handshake failed and why, disconnected,
PIPES_STATS queue depths. It decodes the v1 (zmq_socket_monitor) and v2
(zmq_socket_monitor_versioned) formats, with or without a leading frame naming
the source application and socket, and reconnects on its own.

An ENDPOINT is [@|>][sub+|pair+|pull+](tcp|ipc)://address: zspy connects to it,
or with a leading "@" binds it for forwarders to connect to. The socket type
is --socket unless the endpoint names one. Unknown event codes print as hex;
malformed messages are reported on stderr and counted, never fatal. It runs
until SIGINT or SIGTERM, or for --duration, then prints its counters on stderr.

A bound endpoint hand-shakes each forwarder on its own, so a silent or hostile
connection delays no one. Guard it: bind loopback (the default in the examples),
--allow the forwarders' addresses, and/or --plain-user to require ZMTP PLAIN
credentials (password from --plain-password-file or $ZSPY_MONITOR_PASSWORD;
PLAIN crosses the network in clear text, and go-zeromq/zmq4 has no CURVE).`,
		Example: `  zspy monitor tcp://127.0.0.1:7777
  zspy monitor --json tcp://10.0.0.5:7777 tcp://10.0.0.6:7777 | jq 'select(.event == "HANDSHAKE_FAILED_AUTH")'
  zspy monitor --socket pull @tcp://127.0.0.1:7777  # forwarders connect with PUSH
  ZSPY_MONITOR_PASSWORD=s3cret zspy monitor --socket pull --plain-user zspy --allow 10.0.0.0/8 @tcp://10.0.0.2:7777
  zspy monitor pair+ipc:///run/billing/zspy.sock --duration 1m`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runMonitor(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), args, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.socket, "socket", "sub", "socket type for endpoints that name none: sub, pair or pull")
	fl.BoolVar(&f.json, "json", false, "print one JSON object per event")
	fl.DurationVar(&f.duration, "duration", 0, "stop after this long (0: until SIGINT/SIGTERM)")
	fl.StringVar(&f.byteOrder, "byte-order", "little", "byte order of the monitored processes: little or big")
	fl.StringVar(&f.sourceFrame, "source-frame", "auto", "leading source frame: auto (by frame shapes), always or never")
	fl.BoolVar(&f.quiet, "quiet", false, "do not report connection changes on stderr")
	f.access.register(cmd, "")
	return cmd
}

func runMonitor(ctx context.Context, stdout, stderr io.Writer, endpoints []string, f monitorFlags) error {
	kind, err := monitor.ParseSocketKind(f.socket)
	if err != nil {
		return err
	}
	bo, err := monitor.ParseByteOrder(f.byteOrder)
	if err != nil {
		return err
	}
	src, err := monitor.ParseSourceMode(f.sourceFrame)
	if err != nil {
		return err
	}
	if f.duration < 0 {
		return fmt.Errorf("negative --duration %v", f.duration)
	}
	cfg := monitor.Config{
		Endpoints: endpoints,
		Socket:    kind,
		Decode:    monitor.DecodeOptions{ByteOrder: bo, Source: src},
	}
	if err := f.access.apply(&cfg); err != nil {
		return err
	}
	sub, err := monitor.NewSubscriber(cfg)
	if err != nil {
		return err
	}
	// Bound endpoints are bound now: an address in use fails here, once,
	// instead of a retry that never ends.
	if err := sub.Bind(ctx); err != nil {
		return err
	}
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	ctx, cancel := context.WithCancel(ctx) // a broken stdout stops the run
	defer cancel()

	out := bufio.NewWriter(stdout)
	defer out.Flush()
	var (
		line    []byte
		outErr  error
		flushed = func() {
			if err := out.Flush(); err != nil && outErr == nil {
				outErr = err
			}
			if outErr != nil {
				cancel()
			}
		}
	)
	// say prints one line on stderr; link errors can quote what a
	// forwarder sent, so the line is made safe for the terminal.
	say := func(format string, args ...any) {
		fmt.Fprintln(stderr, "zspy monitor:", textsafe.String(fmt.Sprintf(format, args...)))
	}
	for _, spec := range openToAnyone(sub, cfg) {
		say("warning: %s accepts events from any host: bind 127.0.0.1, or add --allow or --plain-user", spec)
	}
	failing := map[string]bool{} // endpoints whose dials fail: report the first only
	refused := refusals{}
	h := monitor.Handler{
		Event: func(e monitor.Event) {
			if f.json {
				b, err := json.Marshal(e)
				if err == nil {
					line = append(append(line[:0], textsafe.JSON(b)...), '\n')
					_, _ = out.Write(line)
				} else if outErr == nil {
					outErr = err
				}
			} else {
				if len(endpoints) == 1 {
					e.Via = "" // no need to say which endpoint on every line
				}
				line = e.AppendText(line[:0])
				line = append(line, '\n')
				_, _ = out.Write(line)
			}
			flushed() // a live log: every event as it comes
		},
		Malformed: func(m monitor.Malformed) {
			say("%s", m)
		},
		Link: func(l monitor.LinkEvent) {
			if f.quiet {
				return
			}
			if l.State == monitor.LinkDialFailed {
				if failing[l.Via] {
					return
				}
				failing[l.Via] = true
				say("%s: %v (retrying)", l.Via, l.Err)
				return
			}
			failing[l.Via] = false
			switch {
			case l.State == monitor.LinkListening:
				say("%s: listening on %s", l.Via, l.Addr)
			case l.State == monitor.LinkAccepted:
				say("%s: forwarder %s connected", l.Via, l.Addr)
			case l.State == monitor.LinkRefused:
				if host, ok := refused.first(l.Addr); ok {
					say("%s: refused %s: %v (further refusals from %s are only counted)", l.Via, l.Addr, l.Err, host)
				}
			case l.State == monitor.LinkLost && strings.HasPrefix(l.Via, "@"):
				say("%s: forwarder %s disconnected: %v", l.Via, l.Addr, l.Err)
			case l.Err != nil:
				say("%s: %s: %v", l.Via, l.State, l.Err)
			default:
				say("%s: %s", l.Via, l.State)
			}
		},
	}
	if err := sub.Run(ctx, h); err != nil {
		return err
	}
	st := sub.Stats()
	fmt.Fprintf(stderr, "zspy monitor: %d messages received, %d events, %d malformed, %d reconnects, %d failed dials, %d connections lost, %d refused, %d failed handshakes (%d with wrong credentials)\n",
		st.Received, st.Events, st.Malformed, st.Reconnects, st.DialFailures, st.LinkErrors, st.Refused, st.HandshakeFailures, st.AuthFailures)
	if outErr != nil {
		return fmt.Errorf("writing events: %w", outErr)
	}
	return nil
}

// refusals remembers the source addresses whose refusal was reported: a
// flood of refusals would drown everything else, and the subscriber's
// counters have them all. It holds at most 1024 addresses.
type refusals map[string]bool

// first returns the host of addr and whether its refusal is the first one
// to report.
func (r refusals) first(addr string) (string, bool) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if r[host] || len(r) >= 1024 {
		return host, false
	}
	r[host] = true
	return host, true
}

// refusalWarnerTo returns a Link handler that hands warn, after via, the
// first refusal or failed handshake from each source address (standard
// error, or the dashboard's Warnings view under capture --ui).
func refusalWarnerTo(warn func(string), via string) func(monitor.LinkEvent) {
	seen := refusals{}
	if via != "" {
		via += " "
	}
	return func(l monitor.LinkEvent) {
		if l.State != monitor.LinkRefused {
			return
		}
		if host, ok := seen.first(l.Addr); ok {
			warn(via + textsafe.String(fmt.Sprintf("%s: refused %s: %v (further refusals from %s are only counted)", l.Via, l.Addr, l.Err, host)))
		}
	}
}

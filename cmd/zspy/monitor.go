package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
until SIGINT or SIGTERM, or for --duration, then prints its counters on stderr.`,
		Example: `  zspy monitor tcp://127.0.0.1:7777
  zspy monitor --json tcp://10.0.0.5:7777 tcp://10.0.0.6:7777 | jq 'select(.event == "HANDSHAKE_FAILED_AUTH")'
  zspy monitor --socket pull @tcp://*:7777          # forwarders connect with PUSH
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
	sub, err := monitor.NewSubscriber(monitor.Config{
		Endpoints: endpoints,
		Socket:    kind,
		Decode:    monitor.DecodeOptions{ByteOrder: bo, Source: src},
	})
	if err != nil {
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
	failing := map[string]bool{} // endpoints whose dials fail: report the first only
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
			case l.State == monitor.LinkLost && strings.HasPrefix(l.Via, "@"):
				say("%s: a forwarder disconnected: %v", l.Via, l.Err)
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
	fmt.Fprintf(stderr, "zspy monitor: %d messages received, %d events, %d malformed, %d reconnects, %d failed dials, %d connections lost\n",
		st.Received, st.Events, st.Malformed, st.Reconnects, st.DialFailures, st.LinkErrors)
	if outErr != nil {
		return fmt.Errorf("writing events: %w", outErr)
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/ui"
)

// exportConnFlags are replay's --export-conn and -w: hand one connection's
// packets on as a capture file (tshark -r in -w out with a stream filter,
// termshark's export).
type exportConnFlags struct {
	conn  string
	write string
}

func addExportConnFlags(fl *pflag.FlagSet) *exportConnFlags {
	f := &exportConnFlags{}
	fl.StringVar(&f.conn, "export-conn", "", "write the packets of one connection, both directions, to the -w file instead of reporting: its `ID` as the report numbers it, or CLIENT,SERVER endpoints (ip:port,ip:port)")
	fl.StringVarP(&f.write, "write", "w", "", "with --export-conn, the capture `FILE` to write (pcap; pcapng when it ends in .pcapng)")
	return f
}

func (f *exportConnFlags) enabled() bool { return f.conn != "" || f.write != "" }

// run writes the connection's packets from files to the -w file: the
// connection is looked up by ID with a replay of files under cfg (the
// report's numbering), or taken as the endpoints given; the files are then
// read again, filtered by its two ends (and, by ID, its time span). msg
// receives the summary line.
func (f *exportConnFlags) run(ctx context.Context, files []string, cfg session.Config, msg io.Writer) error {
	switch {
	case f.conn == "":
		return errors.New("-w: replay writes a capture only of one connection: add --export-conn ID")
	case f.write == "":
		return errors.New("--export-conn: name the capture file to write with -w FILE")
	}
	for _, name := range files {
		if name == "-" {
			return errors.New("--export-conn reads the capture twice, which standard input cannot be: save it to a file first")
		}
	}
	filter, what, err := f.resolve(ctx, cfg)
	if err != nil {
		return err
	}
	w, err := capture.NewWriter(capture.WriterOptions{Path: f.write})
	if err != nil {
		return fmt.Errorf("-w: %w", err)
	}
	st, err := exportFiles(files, filter, w)
	if cerr := w.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("-w: %w", cerr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(msg, "zspy: wrote %d packets of %s to %s (%d read", st.Written, what, f.write, st.Read)
	if st.Skipped > 0 {
		fmt.Fprintf(msg, ", %d unreadable skipped", st.Skipped)
	}
	fmt.Fprintln(msg, ")")
	if st.Written == 0 {
		return fmt.Errorf("--export-conn: no packet of %s in %s", what, strings.Join(files, " "))
	}
	return nil
}

// resolve turns --export-conn into a filter: endpoints as given, or the
// connection of that ID in a replay under cfg (its ends and time span).
func (f *exportConnFlags) resolve(ctx context.Context, cfg session.Config) (*capture.ConnFilter, string, error) {
	if a, b, ok := strings.Cut(f.conn, ","); ok {
		pa, err1 := netip.ParseAddrPort(strings.TrimSpace(a))
		pb, err2 := netip.ParseAddrPort(strings.TrimSpace(b))
		if err := errors.Join(err1, err2); err != nil {
			return nil, "", fmt.Errorf("--export-conn %q: want ID or CLIENT,SERVER as ip:port,ip:port: %w", f.conn, err)
		}
		return &capture.ConnFilter{A: pa, B: pb}, fmt.Sprintf("%s ↔ %s", pa, pb), nil
	}
	id, err := strconv.ParseUint(f.conn, 10, 64)
	if err != nil || id == 0 {
		return nil, "", fmt.Errorf("--export-conn %q: want a connection ID (as the report numbers them) or CLIENT,SERVER as ip:port,ip:port", f.conn)
	}
	cfg.OnInterval = nil
	sess := session.New(cfg)
	if err := sess.Run(ctx); err != nil {
		return nil, "", err
	}
	for _, c := range sess.Report().Connections {
		if c.ID == id {
			a, err1 := netip.ParseAddrPort(c.Client)
			b, err2 := netip.ParseAddrPort(c.Server)
			if err := errors.Join(err1, err2); err != nil {
				return nil, "", fmt.Errorf("--export-conn %d: %w", id, err)
			}
			// The span of the connection, to the packet: a later one on the
			// same ports is left out.
			return &capture.ConnFilter{A: a, B: b, From: c.Start, To: c.End.Add(time.Nanosecond)},
				fmt.Sprintf("connection %d (%s → %s)", id, c.Client, c.Server), nil
		}
	}
	return nil, "", fmt.Errorf("--export-conn %d: no connection %d in the capture (zspy replay lists them)", id, id)
}

// exportFiles writes the packets filter selects from every file, in the
// order given.
func exportFiles(files []string, filter *capture.ConnFilter, w *capture.Writer) (capture.ExportStats, error) {
	var total capture.ExportStats
	for _, name := range files {
		src, err := capture.OpenFile(name)
		if err != nil {
			return total, err
		}
		st, err := capture.ExportConn(src, filter, w)
		src.Close()
		total.Read += st.Read
		total.Written += st.Written
		total.Skipped += st.Skipped
		if err != nil {
			return total, fmt.Errorf("%s: %w", name, err)
		}
	}
	return total, nil
}

// exportName returns a file name for connection id's packets in the current
// directory that is not taken yet.
func exportName(id uint64) string {
	name := fmt.Sprintf("zspy-conn%d.pcap", id)
	for n := 2; ; n++ {
		if _, err := os.Stat(name); errors.Is(err, fs.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("zspy-conn%d-%d.pcap", id, n)
	}
}

// exportRecord writes r's packets (its two ends, within its time span) from
// files to a new file in the current directory.
func exportRecord(files []string, r *tracker.Record, note string) (string, error) {
	name := exportName(r.ID)
	w, err := capture.NewWriter(capture.WriterOptions{Path: name})
	if err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	filter := &capture.ConnFilter{A: r.Client, B: r.Server, From: r.Start, To: r.Last.Add(time.Nanosecond)}
	st, err := exportFiles(files, filter, w)
	if cerr := w.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	return fmt.Sprintf("wrote %d packets of connection %d to %s%s", st.Written, r.ID, name, note), nil
}

// replayExporter is replay --ui's export: the files are read again.
func replayExporter(files []string) ui.Exporter {
	return func(r *tracker.Record) (string, error) {
		for _, f := range files {
			if f == "-" {
				return "", errors.New("export: the capture came on standard input, which cannot be read again: replay it from a file")
			}
		}
		return exportRecord(files, r, "")
	}
}

// liveExporter is capture --ui's export: from the files -w writes (what
// the last flush put there), and refused without -w, as zspy keeps no
// packets of a live capture in memory.
func liveExporter(w *segmentWriter) ui.Exporter {
	return func(r *tracker.Record) (string, error) {
		if w == nil {
			return "", errors.New("export: zspy keeps no packets of a live capture: run capture with -w FILE (and --rotate-size) to export from the dashboard")
		}
		files := w.w.Files()
		if len(files) == 0 {
			return "", errors.New("export: -w has written no file yet")
		}
		return exportRecord(files, r, fmt.Sprintf(" (from %s; the last %s of packets may not be written yet)", strings.Join(files, " "), capture.DefaultFlushEvery))
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/zspy/zspy/store"
)

func init() { subcommands = append(subcommands, newExportCmd) }

type exportFlags struct {
	influxFlags
	dataDir   string
	batchSize int
	remove    bool
}

func newExportCmd() *cobra.Command {
	var f exportFlags
	cmd := &cobra.Command{
		Use:   "export [FILE...]",
		Short: "send time series kept locally (line-protocol files) to InfluxDB",
		Long: `Export sends the line-protocol files of zspy's local store (the data directory
used when no InfluxDB is configured) to an InfluxDB server, with the timestamps
the points were stored with (packet time), in gzipped batches with retries.
Files named on the command line are sent instead of the data directory; a spool
directory (DATA_DIR/spool) can be exported the same way.

The server is configured like the other commands: a YAML config file (--config,
influx section), then INFLUX_URL, INFLUX_TOKEN, INFLUX_ORG and INFLUX_BUCKET,
then flags. For InfluxDB 1.8 give the bucket as database/retention-policy and
the token as user:password (or anything without authentication).

Exporting twice is harmless: InfluxDB stores a point with the same series and
timestamp once. Lines InfluxDB refuses (malformed, or a field type conflict) are
counted and not retried; when it stores a request in part (a "partial write"),
the lines it stored count as exported and the others as rejected. Any rejected
line makes the exit status 1. With --remove each file is deleted once all its lines were sent;
--remove refuses a data directory a running zspy is still writing.`,
		Example: `  zspy export --influx-url http://127.0.0.1:8086 --influx-bucket zspy/autogen
  INFLUX_URL=http://influx:8086 INFLUX_TOKEN=... INFLUX_ORG=lab INFLUX_BUCKET=zspy zspy export --data-dir /var/lib/zspy --remove
  zspy export --config zspy.yaml ~/.local/share/zspy/spool/*.lp`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(cmd, args, f)
		},
	}
	fl := cmd.Flags()
	f.influxFlags.register(fl)
	fl.StringVar(&f.dataDir, "data-dir", "", "directory of line-protocol files to send (default: local.data_dir of --config, else "+defaultDataDir()+")")
	fl.IntVar(&f.batchSize, "batch-size", store.DefaultBatchSize, "lines per write request")
	fl.BoolVar(&f.remove, "remove", false, "delete each file once all its lines were sent")
	return cmd
}

func runExport(cmd *cobra.Command, files []string, f exportFlags) error {
	fc, cfg, err := f.resolve()
	if err != nil {
		return err
	}
	if !cfg.Enabled() {
		return errors.New("export: no InfluxDB to send to: give --influx-url, INFLUX_URL or influx.url in --config")
	}
	if cmd.Flags().Changed("batch-size") || cfg.BatchSize == 0 {
		cfg.BatchSize = f.batchSize
	}
	if err := cfg.Validate(); err != nil {
		return err
	}

	var dirs []string
	if len(files) == 0 {
		dir := f.dataDir
		if dir == "" {
			dir = fc.Local.DataDir
		}
		if dir == "" {
			dir = defaultDataDir()
		}
		var err error
		if files, err = store.DataFiles(dir); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		dirs = []string{dir}
	} else if f.remove {
		seen := map[string]bool{}
		for _, file := range files {
			if d := filepath.Dir(file); !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
		}
	}
	out := cmd.OutOrStdout()
	if len(files) == 0 {
		fmt.Fprintf(out, "nothing to export in %s\n", dirs[0])
		return nil
	}
	if f.remove {
		// A running zspy holds its data and spool directories: deleting the
		// file it writes would lose what it writes next.
		for _, d := range dirs {
			unlock, err := store.LockDir(d)
			if errors.Is(err, store.ErrDirInUse) {
				return fmt.Errorf("export --remove: %w; export without --remove, or stop that zspy first", err)
			}
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			defer unlock()
		}
	}

	base := cmd.Context()
	if base == nil {
		base = context.Background()
	}
	ctx, stop := signal.NotifyContext(base, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Ask InfluxDB first whether it takes points there, as replay and
	// capture do: a bucket that does not exist or a token it refuses stops
	// export before a file is read, with InfluxDB's words. A server that does
	// not answer is an error here (export has nothing to do without it).
	if err := checkTarget(ctx, cfg); err != nil {
		return fmt.Errorf("export: nothing sent: %w", err)
	}
	var prev uint64
	rep, err := store.Export(ctx, cfg, files, store.ExportOptions{
		Remove: f.remove,
		Progress: func(file string, r store.ExportReport) {
			fmt.Fprintf(out, "%s: %d points sent\n", file, r.Sent-prev)
			prev = r.Sent
		},
	})
	fmt.Fprintf(out, "exported %d points from %d of %d files to %s (bucket %s) in %d requests; %d retried, %d lines rejected, %d torn last lines skipped\n",
		rep.Sent, rep.Files, len(files), store.MaskURL(cfg.URL), cfg.Bucket, rep.Requests, rep.Retried, rep.Rejected, rep.Torn)
	if err != nil {
		return fmt.Errorf("export stopped (run it again to resume; points sent twice are stored once): %w", err)
	}
	if rep.Rejected > 0 {
		// The summary above counts what was stored; say what was not, and why.
		why := rep.LastRejection
		if why == "" {
			why = fmt.Sprintf("lines over %d bytes", store.MaxLineLen)
		}
		return fmt.Errorf("export: %d of %d lines not stored (%d requests stored in part); last reason: %s",
			rep.Rejected, rep.Rejected+rep.Sent, rep.Partial, why)
	}
	return nil
}

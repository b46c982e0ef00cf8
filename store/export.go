package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// MaxLineLen caps one line read back from a file; longer lines are counted as
// rejected and skipped rather than buffered.
const MaxLineLen = 1 << 20

// ExportOptions tunes Export.
type ExportOptions struct {
	Remove   bool                              // delete each file once all its lines were sent (or rejected)
	Progress func(file string, r ExportReport) // called after each file, if set
}

// ExportReport counts what Export did.
type ExportReport struct {
	Files    int    // files read to the end
	Sent     uint64 // lines (points) InfluxDB stored, including those of partial writes
	Rejected uint64 // lines refused (HTTP 400/413/422: malformed, type conflicts...) or too long
	Partial  int    // requests InfluxDB stored only in part (a "partial write")
	// LastRejection is InfluxDB's reason for the last lines it refused.
	LastRejection string
	Torn          int // incomplete last lines skipped (a file still being written)
	Requests      int // write requests that succeeded
	Retried       int // write requests repeated after a failure
}

// Export sends line-protocol files (from DataFiles: the local store's data
// directory or an Influx spool) to the InfluxDB in cfg, BatchSize lines per
// gzipped request, with the timestamps they were stored with. A request that
// still fails after MaxRetries retries stops the export with an error; since
// InfluxDB stores a point sent twice once, running the export again is safe.
func Export(ctx context.Context, cfg Config, files []string, opt ExportOptions) (ExportReport, error) {
	var rep ExportReport
	if err := cfg.Validate(); err != nil {
		return rep, err
	}
	hw := newHTTPWriter(&cfg)
	defer hw.close()
	chunk := make([]byte, 0, 128*cfg.BatchSize)
	for _, path := range files {
		if err := exportFile(ctx, &cfg, hw, path, chunk, &rep); err != nil {
			return rep, err
		}
		rep.Files++
		if opt.Remove {
			if err := os.Remove(path); err != nil {
				return rep, fmt.Errorf("export: %w", err)
			}
		}
		if opt.Progress != nil {
			opt.Progress(path, rep)
		}
	}
	return rep, nil
}

func exportFile(ctx context.Context, cfg *Config, hw *httpWriter, path string, chunk []byte, rep *ExportReport) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, MaxLineLen)
	lines := 0
	send := func() error {
		if lines == 0 {
			return nil
		}
		if err := postRetrying(ctx, cfg, hw, chunk, rep); err != nil {
			var we *writeError
			if !errors.As(err, &we) || we.retryable {
				return fmt.Errorf("export %s: %w", path, err)
			}
			rej := we.rejectedOf(lines)
			rep.Sent += uint64(lines - rej)
			rep.Rejected += uint64(rej)
			if rej < lines {
				rep.Partial++
			}
			rep.LastRejection = fmt.Sprintf("%s: %v", path, we)
		} else {
			rep.Sent += uint64(lines)
		}
		chunk, lines = chunk[:0], 0
		return nil
	}
	long := false // inside a line longer than MaxLineLen
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull) || (long && err == nil):
			if !long {
				rep.Rejected++
			}
			long = err != nil
			continue
		case err == io.EOF:
			if len(line) > 0 && !long {
				rep.Torn++
			}
			return send()
		case err != nil:
			return fmt.Errorf("export: %s: %w", path, err)
		}
		if len(bytes.TrimSpace(line)) == 0 || line[0] == '#' {
			continue
		}
		chunk = append(chunk, line...)
		lines++
		if lines >= cfg.BatchSize {
			if err := send(); err != nil {
				return err
			}
		}
	}
}

// postRetrying posts one chunk, retrying retryable failures with exponential backoff.
func postRetrying(ctx context.Context, cfg *Config, hw *httpWriter, chunk []byte, rep *ExportReport) error {
	delay := cfg.RetryInterval
	for attempt := 0; ; attempt++ {
		err := hw.post(ctx, chunk)
		if err == nil {
			rep.Requests++
			return nil
		}
		var we *writeError
		if !errors.As(err, &we) || !we.retryable || attempt >= cfg.MaxRetries {
			return err
		}
		rep.Retried++
		if we.retryAfter > delay {
			delay = we.retryAfter
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-t.C:
		}
		delay = min(2*delay, cfg.MaxRetryInterval)
	}
}

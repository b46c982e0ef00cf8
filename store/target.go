package store

import (
	"context"
	"errors"
	"fmt"
	nethttp "net/http"
)

// ErrTarget is a write target InfluxDB refuses whatever the points: a
// bucket or database that does not exist, a token without the right to
// write. Waiting does not fix it, so zspy says so at start.
var ErrTarget = errors.New("influxdb refuses the write target")

// ErrUnreachable is an InfluxDB that did not answer the target check. The
// points wait in the buffer and the spool until it does.
var ErrUnreachable = errors.New("influxdb does not answer")

// CheckTarget asks InfluxDB, with an empty write to the configured bucket
// (InfluxDB checks the bucket or database and the token before it reads a
// body, and stores nothing), whether points would be taken. It returns nil
// when they would; an error wrapping ErrTarget when the bucket, database or
// organisation does not exist (HTTP 404) or the token may not write there
// (401, 403); one wrapping ErrUnreachable when the server did not answer (a
// transport error, 5xx, 429). It uses a connection of its own: the sender
// is not held up.
func CheckTarget(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	hw := newHTTPWriter(&cfg)
	defer hw.close()
	err := hw.post(ctx, nil)
	var we *writeError
	if err == nil || !errors.As(err, &we) {
		return err
	}
	where := fmt.Sprintf("bucket %q", cfg.Bucket)
	if cfg.Org != "" {
		where += fmt.Sprintf(" of organisation %q", cfg.Org)
	}
	switch we.status {
	case nethttp.StatusNotFound:
		return fmt.Errorf("%w: %s at %s: it does not exist (%w); create it, or name another with --influx-bucket (db/rp for 1.8)", ErrTarget, where, MaskURL(cfg.URL), err)
	case nethttp.StatusUnauthorized, nethttp.StatusForbidden:
		return fmt.Errorf("%w: %s at %s: the token may not write there (%w); check --influx-token (user:password for 1.8)", ErrTarget, where, MaskURL(cfg.URL), err)
	case nethttp.StatusBadRequest:
		// A server that checks the body first (an empty one is "no
		// data") found the target; the points themselves are checked as
		// they are written.
		return nil
	}
	return fmt.Errorf("%w: %s: %w", ErrUnreachable, MaskURL(cfg.URL), err)
}

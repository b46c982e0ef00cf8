package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api/http"
)

// httpWriter posts line-protocol bodies to /api/v2/write (InfluxDB 2.x, and
// 1.8's compatibility endpoint) through influxdb-client-go's HTTP service,
// gzipping into a reused buffer. One request at a time: not for concurrent use.
type httpWriter struct {
	client  influxdb2.Client
	svc     http.Service
	url     string
	timeout time.Duration
	gzip    bool
	zw      *gzip.Writer
	zbuf    bytes.Buffer
	body    bytes.Reader
}

func newHTTPWriter(cfg *Config) *httpWriter {
	opts := influxdb2.DefaultOptions().
		SetLogLevel(0).
		SetPrecision(time.Nanosecond).
		SetUseGZip(!cfg.DisableGzip)
	if cfg.Timeout > 0 {
		// The client's own HTTP timeout (20 s by default) must not cut a longer Timeout.
		opts.SetHTTPRequestTimeout(uint((cfg.Timeout + time.Second - 1) / time.Second))
	}
	client := influxdb2.NewClientWithOptions(cfg.URL, cfg.Token, opts)
	q := url.Values{}
	if cfg.Org != "" {
		q.Set("org", cfg.Org)
	}
	q.Set("bucket", cfg.Bucket)
	q.Set("precision", "ns")
	w := &httpWriter{
		client:  client,
		svc:     client.HTTPService(),
		url:     client.HTTPService().ServerAPIURL() + "write?" + q.Encode(),
		timeout: cfg.Timeout,
		gzip:    !cfg.DisableGzip,
	}
	if w.gzip {
		w.zw, _ = gzip.NewWriterLevel(io.Discard, gzip.BestSpeed) // the level is valid
	}
	return w
}

// writeError is a failed write request, classified.
type writeError struct {
	status     int  // HTTP status, 0 for a transport error
	retryable  bool // worth sending again later (transport, 429, 5xx, auth, missing bucket)
	retryAfter time.Duration
	err        error
}

func (e *writeError) Error() string {
	if e.status != 0 {
		return fmt.Sprintf("influxdb write: HTTP %d: %v", e.status, e.err)
	}
	return fmt.Sprintf("influxdb write: %v", e.err)
}

func (e *writeError) Unwrap() error { return e.err }

// droppedRE finds the count of points InfluxDB refused in a partial write.
var droppedRE = regexp.MustCompile(`\bdropped=(\d+)`)

// rejectedOf returns how many of the lines of a refused request InfluxDB did
// not store. A partial write (HTTP 400 in 1.8, 422 in 2.x, "partial write:
// ... dropped=N") stored the others: N points it refused (field type
// conflicts, beyond retention) and the lines it could not parse (each
// "unable to parse '...'"). Any other refusal stored none.
func (e *writeError) rejectedOf(lines int) int {
	msg := e.err.Error()
	if !strings.Contains(msg, "partial write") {
		return lines
	}
	m := droppedRE.FindAllStringSubmatch(msg, -1)
	if len(m) == 0 {
		return lines
	}
	n := strings.Count(msg, "unable to parse '")
	for _, sm := range m {
		d, err := strconv.Atoi(sm[1])
		if err != nil {
			return lines
		}
		n += d
	}
	return min(n, lines)
}

// post sends one body of complete lines. The error, if any, is a *writeError.
func (w *httpWriter) post(ctx context.Context, body []byte) error {
	if w.gzip {
		w.zbuf.Reset()
		w.zw.Reset(&w.zbuf)
		if _, err := w.zw.Write(body); err != nil {
			return &writeError{err: fmt.Errorf("gzip: %w", err)}
		}
		if err := w.zw.Close(); err != nil {
			return &writeError{err: fmt.Errorf("gzip: %w", err)}
		}
		w.body.Reset(w.zbuf.Bytes())
	} else {
		w.body.Reset(body)
	}
	if w.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.timeout)
		defer cancel()
	}
	herr := w.svc.DoPostRequest(ctx, w.url, &w.body, func(req *nethttp.Request) {
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		if w.gzip {
			req.Header.Set("Content-Encoding", "gzip")
		}
	}, func(resp *nethttp.Response) error {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	})
	if herr == nil {
		return nil
	}
	return classify(herr)
}

func classify(h *http.Error) *writeError {
	e := &writeError{status: h.StatusCode, retryAfter: time.Duration(h.RetryAfter) * time.Second}
	switch {
	case h.StatusCode == 0:
		e.err = MaskURLError(h.Err)
		if e.err == nil {
			e.err = errors.New("no response")
		}
	case h.Message != "":
		e.err = errors.New(h.Message)
	default:
		e.err = errors.New(h.Error())
	}
	switch h.StatusCode {
	case nethttp.StatusBadRequest, nethttp.StatusRequestEntityTooLarge, nethttp.StatusUnprocessableEntity:
		// The data itself is refused: sending it again cannot help.
	default:
		// Transport errors, 429, 5xx, and also 401/403/404: the points are
		// fine, the server or its configuration is not (yet); keep them.
		e.retryable = true
	}
	return e
}

func (w *httpWriter) close() { w.client.Close() }

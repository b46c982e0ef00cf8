package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/internal/influxtest"
)

// conflictLines are n lines of zmtp_conn with the host tag, one a second
// from 1 March 2024, with an integer messages field except line bad, whose
// float conflicts.
func conflictLines(host string, n, bad int) []byte {
	var b []byte
	t0 := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	for i := 0; i < n; i++ {
		if i == bad {
			b = fmt.Appendf(b, "zmtp_conn,host=%s messages=1.5 %d\n", host, t0+int64(i)*1e9)
			continue
		}
		b = fmt.Appendf(b, "zmtp_conn,host=%s messages=%di %d\n", host, i, t0+int64(i)*1e9)
	}
	return b
}

// seedIntField stores one point so that the shard knows messages as an
// integer: a later float is then a partial write (dropped=1), not a refusal
// of the whole request.
func seedIntField(t *testing.T, cfg Config) {
	t.Helper()
	hw := newHTTPWriter(&cfg)
	defer hw.close()
	if err := hw.post(context.Background(), []byte("zmtp_conn,host=seed messages=1i 1709290000000000000\n")); err != nil {
		t.Fatal(err)
	}
}

// TestPartialWrite: InfluxDB stores all but one line of a request (a field
// type conflict), and says so ("partial write: ... dropped=1"). Export
// reports the lines stored as sent and the refused one as rejected, with the
// server's reason; the sink counts them as written and rejected. The server
// holds what they report. One influxd for both.
func TestPartialWrite(t *testing.T) {
	srv := influxtest.Start(t)
	cfg := testConfig(srv)
	seedIntField(t, cfg)

	t.Run("export", func(t *testing.T) {
		cfg := cfg
		cfg.BatchSize = 5000
		path := filepath.Join(t.TempDir(), "zspy-20240301-0001.lp")
		if err := os.WriteFile(path, conflictLines("export", 5000, 2500), 0o644); err != nil {
			t.Fatal(err)
		}
		rep, err := Export(context.Background(), cfg, []string{path}, ExportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Sent != 4999 || rep.Rejected != 1 || rep.Partial != 1 || rep.Files != 1 ||
			!strings.Contains(rep.LastRejection, "field type conflict") || !strings.Contains(rep.LastRejection, path) {
			t.Errorf("report %+v", rep)
		}
		if got := count(t, srv, `SELECT count(messages) FROM zmtp_conn WHERE host = 'export'`); got != 4999 {
			t.Errorf("InfluxDB holds %d points, want 4999", got)
		}
	})

	t.Run("sink", func(t *testing.T) {
		cfg := cfg
		cfg.BatchSize = 1000
		s, err := NewInflux(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		var ps []Point
		t0 := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
		for i := 0; i < 1000; i++ {
			p := Point{Measurement: "zmtp_conn", Time: t0.Add(time.Duration(i) * time.Second)}
			p.AddTag("host", "sink")
			if i == 10 {
				p.AddField(Float("messages", 1.5))
			} else {
				p.AddField(Int("messages", int64(i)))
			}
			ps = append(ps, p)
		}
		if err := s.Write(ps); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the batch sent", func() bool {
			st := s.Stats()
			return st.Written+st.Rejected == 1000
		})
		st := s.Stats()
		if st.Written != 999 || st.Rejected != 1 || !strings.Contains(st.LastError, "1 of 1000 points rejected") {
			t.Errorf("stats %+v", st)
		}
		if got := count(t, srv, `SELECT count(messages) FROM zmtp_conn WHERE host = 'sink'`); got != 999 {
			t.Errorf("InfluxDB holds %d points, want 999", got)
		}
	})
}

func TestRejectedOf(t *testing.T) {
	for _, c := range []struct {
		msg   string
		lines int
		want  int
	}{
		{`partial write: field type conflict: input field "messages" on measurement "zmtp_conn" is type float, already exists as type integer dropped=1`, 5000, 1},
		{"partial write: unable to parse 'bad line': invalid field format\nunable to parse 'x y': invalid field format dropped=0", 10, 2},
		{`failure writing points to database: partial write: points beyond retention policy dropped=7`, 100, 7},
		{`field type conflict`, 5000, 5000},       // refused whole
		{`partial write: something new`, 50, 50},  // no count: none assumed stored
		{`partial write: x dropped=999999`, 3, 3}, // never more than were sent
	} {
		we := &writeError{status: 400, err: errors.New(c.msg)}
		if got := we.rejectedOf(c.lines); got != c.want {
			t.Errorf("rejectedOf(%d) of %q = %d, want %d", c.lines, c.msg, got, c.want)
		}
	}
}

package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/clocktest"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/tracker"
)

// rateFiles are replayed one after another: short exchanges (pushpull,
// dealer_router, pair) whose connections close long before the last file
// (heartbeat, 1.5 s) ends.
var rateFiles = []string{"pushpull", "dealer_router", "pair", "heartbeat"}

// msgEvent is one message as the tracker reported it.
type msgEvent struct {
	key string // client server
	dir int
	ts  time.Time
}

type eventRecorder struct{ evs []msgEvent }

func (r *eventRecorder) TrackerEvent(e *tracker.Event) {
	if e.Type == tracker.EvMessage && e.ConnID != 0 {
		r.evs = append(r.evs, msgEvent{e.Client + " " + e.Server, int(e.Dir), e.TS})
	}
}

// recordMessages replays files through a pipeline of its own and returns
// every message event and each connection's last packet time.
func recordMessages(t *testing.T, files []string) ([]msgEvent, map[string]time.Time) {
	rec := &eventRecorder{}
	p := pipeline.New(pipeline.Config{})
	p.Tracker.SetListener(rec)
	for _, f := range files {
		s, err := capture.OpenFile(f)
		if err != nil {
			t.Skipf("capture: %v", err)
		}
		if err := p.Run(s, nil); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	p.Finish()
	last := map[string]time.Time{}
	for _, c := range p.Tracker.Snapshot(time.Time{}).Records {
		last[c.ClientName+" "+c.ServerName] = c.Last
	}
	return rec.evs, last
}

// countIn counts the messages of key in direction dir with from <= ts <= to.
func countIn(evs []msgEvent, key string, dir int, from, to time.Time) int {
	n := 0
	for _, e := range evs {
		if e.key == key && e.dir == dir && !e.ts.Before(from) && !e.ts.After(to) {
			n++
		}
	}
	return n
}

// startFiles is startReplay over several files.
func startFiles(t *testing.T, files []string, w, h int, opt runOpts) *harness {
	t.Helper()
	opt.Clock = clocktest.New(t0)
	hs := newHarness(t, w, h, 100000, &opt)
	return hs.start(func(ctx context.Context) error { return runReplay(ctx, files, opt) })
}

// screenRates reads the ↑MSG/S and ↓MSG/S cells of every connection row on
// screen, by client and server.
func screenRates(t *testing.T, lines []string) map[string][2]string {
	hdr := strings.Fields(lines[1])
	up, down, cl, sv := -1, -1, -1, -1
	for i, h := range hdr {
		switch strings.TrimRight(h, "▲▼") {
		case "↑MSG/S":
			up = i
		case "↓MSG/S":
			down = i
		case "CLIENT":
			cl = i
		case "SERVER":
			sv = i
		}
	}
	if up < 0 || down < 0 || cl < 0 || sv < 0 || up < sv {
		t.Fatalf("header %q lacks the rate columns", lines[1])
	}
	out := map[string][2]string{}
	for _, l := range tableRows(lines) {
		f := strings.Fields(l)
		if len(f) > down {
			out[f[cl]+" "+f[sv]] = [2]string{f[up], f[down]}
		}
	}
	return out
}

// Rates are per second of packet time over the last second: the same
// replay at full speed, at 1× and 10×, a packet at a time (n) and a second at a
// time (N) shows the same rates at the same packet time; every rate counts
// the messages of the last second (give or take the 100 ms the window
// slides by), and a connection closed for longer shows 0 on screen.
func TestRatesSameAtAnySpeed(t *testing.T) {
	var files []string
	for _, c := range rateFiles {
		files = append(files, pcap(t, c))
	}
	evs, lastPkt := recordMessages(t, files)
	type run struct {
		name   string
		opt    runOpts
		key    rune
		frames []*Frame
	}
	runs := []*run{
		{name: "max", opt: runOpts{Speed: 0}},
		{name: "1x", opt: runOpts{Speed: 1}},
		{name: "10x", opt: runOpts{Speed: 10}},
		{name: "n", opt: runOpts{Speed: 1, StartPaused: true}, key: 'n'},
		{name: "N", opt: runOpts{Speed: 1, StartPaused: true}, key: 'N'},
	}
	zeroChecked := 0
	for _, r := range runs {
		h := startFiles(t, files, 200, 40, r.opt)
		take := func() *Frame {
			f := h.waitFrame(func(*Frame) bool { return true })
			r.frames = append(r.frames, f)
			return f
		}
		var f *Frame
		if r.key == 0 {
			for f = take(); !f.Status.Player.Done; f = take() {
			}
		} else {
			f = take()
			for !f.Status.Player.Done {
				before := f
				h.key(tcell.KeyRune, r.key)
				// Wait for the step's end: one more packet read (n), one
				// more second on screen (N), or the end.
				for f = take(); !f.Status.Player.Done; f = take() {
					if r.key == 'n' && f.Status.Stats.Packets > before.Status.Stats.Packets {
						break
					}
					if r.key == 'N' && !f.Time.Before(before.Time.Add(time.Second)) {
						break
					}
				}
				if r.key != 'N' || f.Status.Player.Done {
					continue
				}
				// Paused at the step's end: what the screen shows is this
				// frame. A connection quiet for over a second shows 0.
				h.sync()
				shown := screenRates(t, h.lines())
				for _, row := range f.Rows {
					k := row.C.Client + " " + row.C.Server
					if f.Time.Sub(lastPkt[k]) <= session.RateWindow+session.RateBucket || row.C.State == "open" {
						continue
					}
					zeroChecked++
					if shown[k] != [2]string{"0", "0"} || row.MsgRate != [2]float64{} || row.ByteRate != [2]float64{} {
						t.Errorf("N at %s: %s closed %v ago shows %v msg/s (row %v, %v B/s)", fmtTime(f.Time), k,
							f.Time.Sub(lastPkt[k]), shown[k], row.MsgRate, row.ByteRate)
					}
				}
			}
		}
		// The last frame on screen: every closed connection is long quiet
		// but the last file's, and the screen shows the frame's rates.
		h.sync()
		shown := screenRates(t, h.lines())
		for _, row := range f.Rows {
			k := row.C.Client + " " + row.C.Server
			want := [2]string{fmtSI(row.MsgRate[0]), fmtSI(row.MsgRate[1])}
			if shown[k] != want {
				t.Errorf("%s: end: %s shows %v, frame says %v", r.name, k, shown[k], want)
			}
			if f.Time.Sub(lastPkt[k]) > session.RateWindow+session.RateBucket {
				zeroChecked++
				if shown[k] != [2]string{"0", "0"} {
					t.Errorf("%s: end: %s closed %v before shows %v msg/s", r.name, k, f.Time.Sub(lastPkt[k]), shown[k])
				}
			}
		}
		h.quit()
	}
	if zeroChecked < 10 {
		t.Errorf("only %d closed connections checked for 0", zeroChecked)
	}

	// Every frame of every run counts the last second's messages.
	buckets := int64(session.RateWindow / session.RateBucket)
	for _, r := range runs {
		for _, f := range r.frames {
			k := f.Time.UnixNano() / int64(session.RateBucket)
			lo := time.Unix(0, (k-buckets+1)*int64(session.RateBucket))
			hi := time.Unix(0, (k-buckets)*int64(session.RateBucket))
			for _, row := range f.Rows {
				key := row.C.Client + " " + row.C.Server
				for d := range 2 {
					min, max := countIn(evs, key, d, lo, f.Time), countIn(evs, key, d, hi, f.Time)
					if got := row.MsgRate[d]; got < float64(min)-1e-9 || got > float64(max)+1e-9 {
						t.Errorf("%s at %s: %s dir %d: %g msg/s, want %d..%d (messages in the last second)",
							r.name, fmtTime(f.Time), key, d, got, min, max)
					}
				}
			}
		}
	}
	// Frames of different runs at the same packet time, with the same
	// messages counted, show the same rates.
	type state struct {
		at   time.Time
		msgs uint64
	}
	seen := map[state]*Frame{}
	from := map[state]string{}
	compared, mid := 0, 0
	end := runs[0].frames[len(runs[0].frames)-1].Time
	for _, r := range runs {
		for _, f := range r.frames {
			var n uint64
			for _, row := range f.Rows {
				n += row.Msgs[0] + row.Msgs[1]
			}
			s := state{f.Time, n}
			g, ok := seen[s]
			if !ok {
				seen[s], from[s] = f, r.name
				continue
			}
			if from[s] == r.name {
				continue
			}
			compared++
			if !f.Time.Equal(end) {
				mid++
			}
			for _, row := range f.Rows {
				o := g.Row(row.ID)
				if o == nil || o.MsgRate != row.MsgRate || o.ByteRate != row.ByteRate {
					t.Errorf("at %s: %s %d: %s shows %v msg/s %v B/s, %s shows %+v", fmtTime(f.Time), row.C.Client, row.ID,
						r.name, row.MsgRate, row.ByteRate, from[s], o)
				}
			}
		}
	}
	// Every run ends at the same packet time with the same counts, so the
	// last frames always meet; which frames meet before the end depends on
	// how the updates fell (latest wins), so those are counted, not required.
	if compared < len(runs)-1 {
		t.Errorf("only %d frames compared across runs (%d before the end)", compared, mid)
	}
	t.Logf("%d frames compared across runs (%d before the end), %d zero rates of closed connections checked", compared, mid, zeroChecked)
}

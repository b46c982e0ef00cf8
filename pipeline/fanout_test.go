package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/pcaptest"
	"github.com/zspy/zspy/reassembly"
	"github.com/zspy/zspy/tracker"
)

// eventLog writes down every tracker event as it comes (its slices copied
// by the formatting).
type eventLog struct{ lines []string }

func (l *eventLog) TrackerEvent(e *tracker.Event) {
	l.lines = append(l.lines, fmt.Sprintf("%+v", *e))
}

// spreadRun replays the files, in order, through a pipeline with the given
// workers and returns its report as JSON and its tracker events.
func spreadRun(t *testing.T, workers int, opts Config, paths ...string) (string, []string) {
	t.Helper()
	opts.Workers = workers
	p := New(opts)
	var l eventLog
	p.Tracker.SetListener(&l)
	var admitted []uint64
	for _, path := range paths {
		src, err := capture.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.RunSpread(src, func(seg *capture.Segment) { admitted = append(admitted, seg.Num) }, nil); err != nil {
			t.Fatal(err)
		}
		src.Close()
	}
	p.Finish()
	if want := p.Packets(); uint64(len(admitted)) != want {
		t.Fatalf("%d workers: admit saw %d packets, the tracker %d", workers, len(admitted), want)
	}
	js, err := json.MarshalIndent(p.Report(), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(js), l.lines
}

// TestWorkersSameReport replays every corpus capture with one reassembler
// and with two and three workers: the report and every tracker event, in
// order, must be the same.
func TestWorkersSameReport(t *testing.T) {
	dirs, err := os.ReadDir(corpus)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		path := filepath.Join(corpus, d.Name(), "capture.pcap")
		if _, err := os.Stat(path); err != nil {
			continue
		}
		n++
		t.Run(d.Name(), func(t *testing.T) {
			base, baseEvents := spreadRun(t, 1, Config{}, path)
			for _, w := range []int{2, 3} {
				got, events := spreadRun(t, w, Config{}, path)
				if got != base {
					t.Errorf("%d workers: report differs from one reassembler's:\n%s", w, firstDiff(base, got))
				}
				compareEvents(t, w, baseEvents, events)
			}
		})
	}
	if n < 40 {
		t.Fatalf("only %d corpus captures", n)
	}
}

// TestWorkersSameReportUnderPressure: the same with a short idle timeout
// (so connections close idle), several files read as one capture. (Not
// under a cap of connections that evicts: each worker has its share of the
// cap, so which connection goes first differs; TestWorkersEvict.)
func TestWorkersSameReportUnderPressure(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cases []string
		cap   int
		idle  time.Duration
	}{
		{"idle", []string{"span_skew", "veth_reorder", "rules_late_bind"}, 0, 2 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var paths []string
			for _, c := range tc.cases {
				paths = append(paths, filepath.Join(corpus, c, "capture.pcap"))
			}
			cfg := Config{IdleTimeout: tc.idle}
			cfg.Reassembly.MaxConnections = tc.cap
			base, baseEvents := spreadRun(t, 1, cfg, paths...)
			var r struct {
				Stats struct {
					Lifetime struct {
						Evicted    uint64 `json:"evicted"`
						IdleClosed uint64 `json:"idle_closed"`
					} `json:"lifetime"`
				} `json:"stats"`
			}
			if err := json.Unmarshal([]byte(base), &r); err != nil {
				t.Fatal(err)
			}
			if (tc.cap > 0 && r.Stats.Lifetime.Evicted == 0) || (tc.idle > 0 && r.Stats.Lifetime.IdleClosed == 0) {
				t.Fatalf("the test wants evictions or idle closes: %+v", r.Stats.Lifetime)
			}
			for _, w := range []int{2, 3} {
				got, events := spreadRun(t, w, cfg, paths...)
				if got != base {
					t.Errorf("%d workers: report differs from one reassembler's:\n%s", w, firstDiff(base, got))
				}
				compareEvents(t, w, baseEvents, events)
			}
		})
	}
}

// TestWorkersEvict: with workers, each has its share of the cap on
// connections; evictions are counted and the report says the cap in all.
func TestWorkersEvict(t *testing.T) {
	cfg := Config{}
	cfg.Reassembly.MaxConnections = 4
	got, _ := spreadRun(t, 2, cfg, filepath.Join(corpus, "broker", "capture.pcap"), filepath.Join(corpus, "pubsub", "capture.pcap"))
	var r struct {
		Stats struct {
			Lifetime struct {
				MaxConnections int    `json:"max_connections"`
				Evicted        uint64 `json:"evicted"`
			} `json:"lifetime"`
		} `json:"stats"`
	}
	if err := json.Unmarshal([]byte(got), &r); err != nil {
		t.Fatal(err)
	}
	if r.Stats.Lifetime.MaxConnections != 4 || r.Stats.Lifetime.Evicted == 0 {
		t.Fatalf("lifetime %+v, want a cap of 4 and evictions", r.Stats.Lifetime)
	}
}

// TestWorkersBulkOneConnection: one connection carrying 24 MiB in 3,000
// segments (one worker's, the others idle) goes through with workers as
// without: the reader hands batches to every worker in rounds, so an idle
// worker always has the promise the merge waits for while the busy one's
// batches fill. (Batches sent to one worker alone stalled reader, worker
// and merge together; this test then ran into its timeout.)
func TestWorkersBulkOneConnection(t *testing.T) {
	path := bulkPcap(t, 3000)
	base, baseEvents := spreadRun(t, 1, Config{}, path)
	if !strings.Contains(base, `"messages": 3000`) {
		t.Fatalf("the test wants 3000 messages counted: %s", base)
	}
	for _, w := range []int{2, 3} {
		got, events := spreadRun(t, w, Config{}, path)
		if got != base {
			t.Errorf("%d workers: report differs:\n%s", w, firstDiff(base, got))
		}
		compareEvents(t, w, baseEvents, events)
	}
}

// bulkPcap writes a capture of one PUSH connection carrying n messages
// of 8,183 bytes (a long frame header and its body, one a segment) and
// returns its path.
func bulkPcap(t *testing.T, n int) string {
	s := pushStream(t)
	body := bytes.Repeat([]byte("0123456789abcdef"), 512)
	frame := append([]byte{2, 0, 0, 0, 0, 0, 0, 0x1f, 0xf7}, body[:8183]...)
	for range n {
		s.add(t, 0, "A", frame)
	}
	s.add(t, 0, "FA", nil)
	s.add(t, 1, "FA", nil)
	path := filepath.Join(t.TempDir(), "bulk.pcap")
	writePcap(t, path, layers.LinkTypeEthernet, 262144, s.pkts, s.cis)
	return path
}

// TestWorkersBadInput: packets damaged at random (some the source cannot
// decode: warnings in their place) give the same report and events with
// workers as without.
func TestWorkersBadInput(t *testing.T) {
	for _, name := range []string{"dealer_router", "pubsub", "curve"} {
		data, cis, link := pcaptest.ReadPackets(t, filepath.Join(corpus, name, "capture.pcap"))
		rng := rand.New(rand.NewSource(int64(len(data))))
		for round := range 5 {
			damaged := damage(rng, data)
			path := filepath.Join(t.TempDir(), "damaged.pcap")
			writePcap(t, path, link, 262144, damaged, cis)
			base, baseEvents := spreadRun(t, 1, Config{}, path)
			if !strings.Contains(base, "warnings") {
				t.Fatalf("%s round %d: no warnings in %s", name, round, base)
			}
			for _, w := range []int{2, 3} {
				got, events := spreadRun(t, w, Config{}, path)
				if got != base {
					t.Errorf("%s round %d, %d workers: report differs:\n%s", name, round, w, firstDiff(base, got))
				}
				compareEvents(t, w, baseEvents, events)
			}
		}
	}
}

// compareEvents wants the same events in the same order, but for one
// thing: holes of several connections in different workers given up at the
// same packet (their grace ended together) may come in another order among
// themselves — the events of each packet are then compared as a set.
func compareEvents(t *testing.T, workers int, want, got []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d workers: %d events, one reassembler %d", workers, len(got), len(want))
		return
	}
	if slices.Equal(got, want) {
		return
	}
	byPacket := func(evs []string) map[string][]string {
		m := map[string][]string{}
		for _, e := range evs {
			k := e[strings.Index(e, " Packet:"):strings.Index(e, " ConnID:")]
			m[k] = append(m[k], e)
		}
		for _, v := range m {
			slices.Sort(v)
		}
		return m
	}
	w, g := byPacket(want), byPacket(got)
	for k, v := range w {
		if !slices.Equal(v, g[k]) {
			t.Errorf("%d workers: the events of%s differ:\n got %q\nwant %q", workers, k, g[k], v)
			return
		}
	}
}

// TestStatsAddEveryCounter: reassembly.Stats.Add adds every field, so the
// workers' counters sum to what one reassembler counts.
func TestStatsAddEveryCounter(t *testing.T) {
	var one, sum reassembly.Stats
	v := reflect.ValueOf(&one).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Int:
			f.SetInt(int64(i + 1))
		case reflect.Uint64:
			f.SetUint(uint64(i + 1))
		default:
			t.Fatalf("field %s of kind %s: teach this test and Add", v.Type().Field(i).Name, f.Kind())
		}
	}
	sum.Add(one)
	sum.Add(one)
	s := reflect.ValueOf(sum)
	for i := range s.NumField() {
		if got := fmt.Sprint(s.Field(i).Interface()); got != fmt.Sprint(2*(i+1)) {
			t.Errorf("%s: sum %s, want %d", s.Type().Field(i).Name, got, 2*(i+1))
		}
	}
}

// FuzzWorkersSameReport: whatever a capture file holds, replaying it with
// two workers gives the report one reassembler gives (or the same error).
func FuzzWorkersSameReport(f *testing.F) {
	for _, c := range []string{"mismatch", "plain_badpass", "late_bind", "rules_lone_sub", "rules_hb_timeout"} {
		b, err := os.ReadFile(filepath.Join(corpus, c, "capture.pcap"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		report := func(workers int) string {
			src, err := capture.NewReader(bytes.NewReader(data), "fuzz.pcap")
			if err != nil {
				return "error: " + err.Error()
			}
			p := New(Config{Workers: workers})
			err = p.RunSpread(src, nil, nil)
			p.Finish()
			js, jerr := json.Marshal(p.Report())
			if jerr != nil {
				t.Fatal(jerr)
			}
			return fmt.Sprintf("%v %s", err, js)
		}
		if one, two := report(1), report(2); one != two {
			t.Fatalf("two workers differ from one:\n%s", firstDiff(one, two))
		}
	})
}

// fileRing is a capture file standing in for a ring: always ready, to its
// end.
type fileRing struct{ *capture.FileSource }

func (r fileRing) NextReady(seg *capture.Segment) error { return r.Next(seg) }
func (r fileRing) Wait() error                          { return nil }
func (r fileRing) Raw() ([]byte, int)                   { return nil, 0 }

// TestLiveWorkerWaits: a worker whose batches are all with a model that
// has not done them waits, and says so (WorkerWaits); the merge then does
// every packet, in time order, and the report is the file's.
func TestLiveWorkerWaits(t *testing.T) {
	path := bulkPcap(t, 600)
	want, _ := spreadRun(t, 1, Config{}, path)

	var rings []Ring
	for range 2 {
		src, err := capture.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		rings = append(rings, fileRing{src})
	}
	// The second ring is the same file: skip it whole, so it ends at once.
	var seg capture.Segment
	for rings[1].NextReady(&seg) == nil {
	}
	p := New(Config{Workers: 2})
	if err := p.StartLive(rings, LiveInput{}); err != nil {
		t.Fatal(err)
	}
	w := p.fan.workers[0]
	// Hold the model until the busy worker has handed over every batch.
	for len(w.out) < batchesPerWorker {
		<-p.LiveWake()
	}
	for {
		p.StepLive(1 << 30)
		if done, err := p.LiveDone(); done {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		<-p.LiveWake()
	}
	p.Finish()
	if p.WorkerWaits() == 0 {
		t.Errorf("the worker never waited, though the model held all its batches")
	}
	// The connections as the file's replay has them (the source's counters
	// aside: no source is attached here); live numbering is the merged
	// order's, which is the file's here.
	var wantR struct {
		Connections json.RawMessage `json:"connections"`
	}
	if err := json.Unmarshal([]byte(want), &wantR); err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(p.Report().Connections, " ", " ")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(wantR.Connections) {
		t.Errorf("connections differ from the file's:\n%s", firstDiff(string(wantR.Connections), string(got)))
	}
}

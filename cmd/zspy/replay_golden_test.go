package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zspy/zspy/metrics"
	"github.com/zspy/zspy/store"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden from zspy's output")

// goldenCase is one replay whose outputs are held byte for byte: a capture of
// the corpus, or a recorded monitor log merged with its capture.
type goldenCase struct {
	name string
	args []string // files and --monitor-log flags
}

func goldenCases(t *testing.T) []goldenCase {
	t.Helper()
	dirs, err := filepath.Glob(pcaps + "*")
	if err != nil {
		t.Fatal(err)
	}
	var cs []goldenCase
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join(d, "capture.*"))
		if len(files) != 1 {
			continue
		}
		cs = append(cs, goldenCase{name: filepath.Base(d), args: files})
	}
	for _, m := range []string{"merge", "contention"} {
		d := "../../monitor/testdata/" + m
		cs = append(cs, goldenCase{name: "monitor_" + m, args: []string{d + "/capture.pcap", "--monitor-log", d + "/events.jsonl"}})
	}
	if len(cs) < 30 {
		t.Fatalf("only %d golden cases found", len(cs))
	}
	return cs
}

// TestReplayOutputsGolden holds what replay prints — the text report, the
// JSON report (with its alerts), the --events lines and the line protocol of
// the time series — for every capture of the corpus to the reviewed outputs
// in testdata/golden. A refactor must leave them byte for byte the same; a
// change meant to alter them is made with -update and its diff reviewed.
func TestReplayOutputsGolden(t *testing.T) {
	for _, gc := range goldenCases(t) {
		t.Run(gc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			outputs := map[string][]string{
				"report.txt":   append([]string{"replay", "--host-tag", "golden"}, gc.args...),
				"report.json":  append([]string{"replay", "--json", "--host-tag", "golden", "--data-dir", dataDir}, gc.args...),
				"events.jsonl": append([]string{"replay", "--events", "--json"}, gc.args...),
			}
			got := map[string][]byte{}
			for name, args := range outputs {
				out, err := runZspyStdout(t, args...)
				if err != nil {
					t.Fatalf("zspy %v: %v", args, err)
				}
				// The data directory is a fresh temporary one each run.
				got[name] = bytes.ReplaceAll(out, []byte(dataDir), []byte("DATA_DIR"))
			}
			lp := readPoints(t, dataDir)
			if len(lp) == 0 {
				t.Fatal("no points written")
			}
			got["points.lp"] = lp
			for name, b := range got {
				checkGolden(t, filepath.Join("testdata", "golden", gc.name, name+".gz"), b)
			}
		})
	}
}

// TestReplayWorkersGolden: replay --workers 3 gives every corpus capture's
// golden report (text and JSON, with its alerts), events and time series
// byte for byte, as one reassembler does.
func TestReplayWorkersGolden(t *testing.T) {
	if *updateGolden {
		t.Skip("the golden files are made without workers")
	}
	for _, gc := range goldenCases(t) {
		t.Run(gc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			outputs := map[string][]string{
				"report.txt":   append([]string{"replay", "--workers", "3", "--host-tag", "golden"}, gc.args...),
				"report.json":  append([]string{"replay", "--workers", "3", "--json", "--host-tag", "golden", "--data-dir", dataDir}, gc.args...),
				"events.jsonl": append([]string{"replay", "--workers", "3", "--events", "--json"}, gc.args...),
			}
			for name, args := range outputs {
				out, err := runZspyStdout(t, args...)
				if err != nil {
					t.Fatalf("zspy %v: %v", args, err)
				}
				checkGolden(t, filepath.Join("testdata", "golden", gc.name, name+".gz"), bytes.ReplaceAll(out, []byte(dataDir), []byte("DATA_DIR")))
			}
			checkGolden(t, filepath.Join("testdata", "golden", gc.name, "points.lp.gz"), readPoints(t, dataDir))
		})
	}
}

// readPoints returns the line protocol the local store wrote in dataDir.
func readPoints(t *testing.T, dataDir string) []byte {
	t.Helper()
	files, err := store.DataFiles(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	var lp bytes.Buffer
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lp.Write(b)
	}
	return lp.Bytes()
}

// runZspyStdout runs zspy in-process and returns what it printed on its
// standard output only.
func runZspyStdout(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.Bytes(), err
}

// checkGolden compares b with the gzip-compressed file at path, or rewrites
// it with -update.
func checkGolden(t *testing.T, path string, b []byte) {
	t.Helper()
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		var z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		w.Write(b)
		w.Close()
		if err := os.WriteFile(path, z.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no golden output (run go test ./cmd/zspy -run Golden -update and review the diff): %v", err)
	}
	defer f.Close()
	r, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	want, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if !bytes.Equal(want, b) {
		t.Errorf("%s differs: %s", path, lineDiff(string(want), string(b)))
	}
}

func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths differ: %d vs %d lines", len(al), len(bl))
}

// TestGoldenPointsTagSets: every line zspy wrote for the corpus (the golden
// points.lp of every case: interval series, monitor events and alerts)
// carries exactly the tags metrics.Schema declares for its measurement, each
// with a value, and no field is named as one of its tags.
func TestGoldenPointsTagSets(t *testing.T) {
	seen := map[string]int{}
	for _, gc := range goldenCases(t) {
		f, err := os.Open(filepath.Join("testdata", "golden", gc.name, "points.lp.gz"))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			// The corpus's tag values hold no escaped spaces or commas.
			key, rest, _ := strings.Cut(line, " ")
			parts := strings.Split(key, ",")
			m := metrics.Schema.Lookup(parts[0])
			if m == nil {
				t.Fatalf("%s: unknown measurement: %s", gc.name, line)
			}
			var tags []string
			for _, kv := range parts[1:] {
				k, v, _ := strings.Cut(kv, "=")
				if v == "" {
					t.Errorf("%s: empty tag %s: %s", gc.name, k, line)
				}
				tags = append(tags, k)
			}
			want := m.TagNames()
			slices.Sort(want)
			if !slices.Equal(tags, want) {
				t.Errorf("%s: tags %v, the schema declares %v: %s", gc.name, tags, want, line)
			}
			for _, tag := range want {
				if strings.Contains(","+rest, ","+tag+"=") {
					t.Errorf("%s: %s is a tag and a field: %s", gc.name, tag, line)
				}
			}
			seen[m.Name]++
		}
	}
	for _, m := range metrics.Schema {
		if seen[m.Name] == 0 && !m.Live {
			t.Errorf("no golden line of %s", m.Name)
		}
	}
	t.Logf("lines per measurement: %v", seen)
}

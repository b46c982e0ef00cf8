package tracing_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/truth"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/tracing"
)

// No capture of the corpus but the broker's shows a stage: fan-out (a PUB
// to its SUBs, a PUSH round-robining to PULLs), DEALER/ROUTER exchanges,
// XPUB/XSUB without a proxy, 50 clients with the same request, CURVE,
// mid-stream joins and hostile streams forward nothing.
func TestCorpusStages(t *testing.T) {
	cases, err := truth.LoadAll("../testdata/pcaps")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 30 {
		t.Fatalf("%d corpus cases", len(cases))
	}
	for _, c := range cases {
		src, err := capture.OpenFile(filepath.Join(c.Dir, c.Capture))
		if err != nil {
			t.Fatal(err)
		}
		s := session.New(session.Config{Files: []capture.Source{src}, Trace: &tracing.Config{}})
		if err := s.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		src.Close()
		n := 0
		if tr := s.Report().Tracing; tr != nil {
			n = len(tr.Stages)
		}
		want := 0
		if c.Case == "broker" {
			want = 1
		}
		if n != want {
			t.Errorf("%s: %d stages traced, want %d", c.Case, n, want)
		}
	}
}

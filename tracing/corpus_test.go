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

// Plain pcaps, no process: the proxy's capture shows one forwarder (XSUB
// front, XPUB back) that forwarded each of the 20 messages, the broker's one
// broker (TestBrokerTracedOffline looks closer), the stalled pipeline's
// three workers each a pipeline worker (PULL → PUSH); no other capture of the
// corpus shows a stage: fan-out (a PUB to its SUBs, a PUSH round-robining to
// PULLs), DEALER/ROUTER exchanges, XPUB/XSUB without a proxy, 50 clients
// with the same request, CURVE, mid-stream joins and hostile streams
// forward nothing.
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
		tr := s.Report().Tracing
		n := 0
		if tr != nil {
			n = len(tr.Stages)
		}
		want := 0
		switch c.Case {
		case "broker", "proxy":
			want = 1
		case "rules_pipeline_stall": // ventilator → 3 workers (PULL → PUSH each) → sink
			want = 3
		}
		if n != want {
			t.Errorf("%s: %d stages traced, want %d", c.Case, n, want)
			continue
		}
		if c.Case == "rules_pipeline_stall" {
			for _, st := range tr.Stages {
				if st.Kind != "pipeline worker" || len(st.Front) != 1 || st.Front[0].Socket != "PULL" || len(st.Back) != 1 || st.Back[0].Socket != "PUSH" {
					t.Errorf("rules_pipeline_stall: stage %+v, want a pipeline worker PULL → PUSH", st)
				}
			}
		}
		if c.Case == "proxy" {
			st := tr.Stages[0]
			if st.Kind != "forwarder" || len(st.Front) != 1 || st.Front[0].Addr != "127.0.0.1:16540" || st.Front[0].Socket != "XSUB" ||
				len(st.Back) != 1 || st.Back[0].Addr != "127.0.0.1:16541" || st.Back[0].Socket != "XPUB" ||
				len(st.Hops) != 1 || st.Hops[0].Name != tracing.HopNames[tracing.HopQueuedFront] || st.Hops[0].Count != 20 ||
				st.NeverLeft != 0 || st.Waiting != 0 {
				t.Errorf("proxy: stage %+v, want the forwarder XSUB 127.0.0.1:16540 → XPUB 127.0.0.1:16541 with 20 messages queued front→back", st)
			}
		}
	}
}

package rules_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/internal/truth"
	"github.com/zspy/zspy/pipeline"
	"github.com/zspy/zspy/rules"
	"github.com/zspy/zspy/session"
)

const corpus = "../testdata/pcaps"

// replay runs a capture through a pipeline with the engine on its interval
// hook, as `zspy replay` does, and returns the alerts.
func replay(t testing.TB, path string, e *rules.Engine, interval time.Duration) []rules.Alert {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s := session.New(session.Config{Pipeline: pipeline.Config{Interval: interval, Host: "test"},
		Files: []capture.Source{src}, Rules: e})
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e.Alerts()
}

// want is an alert a case must raise: the rule and the truth connection it
// names (by id; "" for an alert tied to a server endpoint only).
type want struct {
	rule, conn string
	// optional alerts may or may not fire (timing-dependent evidence); when
	// they do, they must name this connection.
	optional bool
}

// expected lists the alerts of the faulty captures; every other case in the
// corpus is healthy and must raise none.
var expected = map[string][]want{
	// The slow SUB's delivered rate is a few percent of the fast one's. Its
	// zero window lasts about as long as the publisher keeps sending (tens of
	// ms in this capture, timing-dependent), so HWM saturation is optional here;
	// rules_hwm_stall holds a stall long enough to require it.
	"slow_subscriber": {{rule: "slow_subscriber", conn: "sub-slow"}, {rule: "hwm_saturation", conn: "sub-slow", optional: true}},
	"rep_noanswer":    {{rule: "stuck_request", conn: "req-rep"}},
	"plain_badpass":   {{rule: "handshake_failure", conn: "plain-rejected"}},
	"mismatch":        {{rule: "incompatible_sockets", conn: "pub-to-push"}},
	// Cases generated for the rules (testdata/gen/scenarios/rules_*.py).
	"rules_hwm_stall":  {{rule: "hwm_saturation", conn: "pull-stalled"}},
	"rules_hb_timeout": {{rule: "heartbeat_timeout", conn: "hb-unanswered"}},
	"rules_nosub":      {{rule: "pub_no_subscribers", conn: "sub-none"}},
	"rules_lone_sub":   {{rule: "pub_no_subscribers", conn: "sub-none"}},
	// Connects refused for 12 s are a storm; late_bind's and
	// rules_late_bind's 3 s before the server binds are ZeroMQ's start-up
	// (healthy cases: no alert).
	"rules_reconnect_storm": {{rule: "reconnect_storm", conn: "refused-1"}},
	// Retrying 100 times a second (RECONNECT_IVL 10 ms) is a storm after a
	// second, however soon the client gets through.
	"rules_reconnect_fast": {{rule: "reconnect_storm", conn: "refused-1"}},
	"rules_slow_drain":     {{rule: "slow_subscriber", conn: "sub-slow"}, {rule: "hwm_saturation", conn: "sub-slow", optional: true}},
	// Six stalled connections under one root (TestGroupedStall).
	"rules_pipeline_stall": {{rule: "hwm_saturation", conn: "*"}},
}

func endpoint(p truth.Peer) string {
	return netip.AddrPortFrom(netip.MustParseAddr(p.Addr), uint16(p.Port)).String()
}

// TestCorpus replays every real capture with the built-in rules: the faulty
// ones raise exactly their expected alerts, naming the right connection, and
// the healthy ones raise none.
func TestCorpus(t *testing.T) {
	cases, err := truth.LoadAll(corpus)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 10 {
		t.Fatalf("only %d cases in the corpus", len(cases))
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.Case, func(t *testing.T) {
			if _, err := os.Stat(tc.CapturePath()); err != nil {
				t.Skipf("capture not there (being generated?): %v", err)
			}
			seen[tc.Case] = true
			alerts := replay(t, tc.CapturePath(), rules.New(rules.Builtins()), 0)
			wants := expected[tc.Case]
			matched := make([]bool, len(alerts))
			for _, w := range wants {
				found := false
				for i := range alerts {
					a := &alerts[i]
					if a.Rule != w.rule {
						continue
					}
					matched[i] = true
					found = true
					if a.State != rules.StateFiring && a.State != rules.StateResolved {
						t.Errorf("%s: state %s, want firing or resolved", w.rule, a.State)
					}
					if w.conn == "*" {
						continue // the case's own test checks them
					}
					c := tc.Conn(w.conn)
					if c == nil {
						t.Fatalf("truth has no connection %s", w.conn)
					}
					if a.Server != endpoint(c.Server) || (a.Client != "" && a.Client != endpoint(c.Client)) {
						t.Errorf("%s names %s → %s, want %s → %s", w.rule, a.Client, a.Server, endpoint(c.Client), endpoint(c.Server))
					}
					if a.FiredAt.IsZero() || a.PendingAt.IsZero() || a.FiredAt.Before(a.PendingAt) {
						t.Errorf("%s: pending %v fired %v", w.rule, a.PendingAt, a.FiredAt)
					}
					if !strings.Contains(a.Message, a.Server) {
						t.Errorf("%s: message does not name the server %s: %s", w.rule, a.Server, a.Message)
					}
					t.Logf("%s", rules.Line(a))
				}
				if !found && !w.optional {
					t.Errorf("no %s alert", w.rule)
				}
			}
			for i := range alerts {
				if !matched[i] {
					t.Errorf("unexpected alert: %s", rules.Line(&alerts[i]))
				}
			}
		})
	}
	for c := range expected {
		if !seen[c] {
			t.Errorf("faulty case %s missing from the corpus", c)
		}
	}
}

// TestCorpusDeterministic replays the faulty captures twice, and with another
// interval: the same file gives the same alerts every run.
func TestCorpusDeterministic(t *testing.T) {
	for c := range expected {
		tc, err := truth.Load(filepath.Join(corpus, c))
		if err != nil {
			t.Fatal(err)
		}
		path := tc.CapturePath()
		if _, err := os.Stat(path); err != nil {
			continue
		}
		a := replay(t, path, rules.New(rules.Builtins()), 0)
		b := replay(t, path, rules.New(rules.Builtins()), 0)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%s: two runs differ:\n%v\n%v", c, a, b)
		}
		if len(a) == 0 {
			t.Errorf("%s: no alerts", c)
		}
		names := func(as []rules.Alert) []string {
			var n []string
			for _, a := range as {
				n = append(n, a.Rule+" "+a.Client+" "+a.Server)
			}
			slices.Sort(n)
			return n
		}
		// A finer interval evaluates more often; the same faults are found
		// (a slow subscriber read at 150 msg/s flaps at 100 ms).
		if fine := replay(t, path, rules.New(rules.Builtins()), 100*time.Millisecond); c != "slow_subscriber" && c != "rules_slow_drain" && !slices.Equal(names(fine), names(a)) {
			t.Errorf("%s: 100ms interval gives %v, 1s gives %v", c, names(fine), names(a))
		}
	}
}

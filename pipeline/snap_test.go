package pipeline

import (
	"fmt"
	"testing"

	"github.com/zspy/zspy/internal/truth"
	"github.com/zspy/zspy/report"
)

// TestCorpusShortSnapLength replays every real capture cut to short snap
// lengths, as tcpdump -s would write it. Where a direction reports no lost
// sync (every gap fell inside frame bodies or a greeting), its messages,
// frames and bytes must equal the full capture's exactly: the frames are
// followed across the missing bytes by their sizes. Where a gap hid a frame
// header, lost_sync says so and no count may exceed the full capture's.
// The ZMTP version survives every cut; mechanism and socket types survive
// the cuts that leave them on the wire. A steady stream (steadyCases) is
// counted exactly at every snap length, most frames derived.
func TestCorpusShortSnapLength(t *testing.T) {
	cases, err := truth.LoadAll(corpus)
	if err != nil {
		t.Fatal(err)
	}
	exact, uncertain, derived := 0, 0, 0
	for _, tc := range cases {
		pf, ok := readPcap(t, tc.CapturePath())
		if !ok {
			continue
		}
		full := replayBytes(t, tc.Case, pf.write(pf.recs, 0), nil)
		for _, snap := range []int{96, 200, 400} {
			t.Run(fmt.Sprintf("%s/%d", tc.Case, snap), func(t *testing.T) {
				cut := replayBytes(t, tc.Case, pf.write(pf.recs, snap), nil)
				if len(cut.Connections) != len(full.Connections) {
					t.Fatalf("%d connections, full capture %d", len(cut.Connections), len(full.Connections))
				}
				// Connections are numbered in order of their first packet, in
				// both replays (refused attempts repeat the same endpoints).
				for k, c := range cut.Connections {
					f := full.Connections[k]
					if c.Client != f.Client || c.Server != f.Server || c.State != f.State {
						t.Fatalf("connection %d: %s→%s %s, full capture %s→%s %s", k, c.Client, c.Server, c.State, f.Client, f.Server, f.State)
					}
					// 96 bytes can cut a READY's Socket-Type (after 72 bytes
					// of SLL2, IP and TCP headers); 200 keep every one here.
					if c.ZMTP != f.ZMTP || snap >= 200 && (c.ClientSocket != f.ClientSocket || c.ServerSocket != f.ServerSocket || c.Mechanism != f.Mechanism) {
						t.Errorf("%s: zmtp %q sockets %q/%q, full capture %q %q/%q", c.Client, c.ZMTP, c.ClientSocket, c.ServerSocket, f.ZMTP, f.ClientSocket, f.ServerSocket)
					}
					if c.MidStream != f.MidStream {
						t.Errorf("%s: mid_stream %v, full %v", c.Client, c.MidStream, f.MidStream)
					}
					for _, d := range []struct {
						name string
						c, f report.Counts
					}{{"c2s", c.C2S, f.C2S}, {"s2c", c.S2C, f.S2C}} {
						where := fmt.Sprintf("%s %s→%s", d.name, c.Client, c.Server)
						if d.c.DerivedFrames > 0 {
							derived++
						}
						if steadyCases[tc.Case] && d.f.Frames > 100 && (d.c.LostSync != 0 || d.c.DerivedFrames == 0) {
							t.Errorf("%s: a steady stream: lost sync %d, derived frames %d; want its frames followed across the cuts", where, d.c.LostSync, d.c.DerivedFrames)
						}
						if d.c.LostSync == 0 {
							exact++
							if !sameCounts(d.c, d.f) {
								t.Errorf("%s: no lost sync, yet counts %s differ from the full capture's %s", where, counts(d.c), counts(d.f))
							}
							continue
						}
						uncertain++
						if d.c.LostBytes == 0 {
							t.Errorf("%s: lost sync without lost bytes", where)
						}
						if d.c.Frames > d.f.Frames || d.c.Bytes > d.f.Bytes ||
							(d.c.Messages != nil && d.f.Messages != nil && *d.c.Messages > *d.f.Messages) {
							t.Errorf("%s: counts %s exceed the full capture's %s", where, counts(d.c), counts(d.f))
						}
					}
				}
			})
		}
	}
	t.Logf("directions counted exactly: %d (%d with derived frames); with frames lost to cut headers (reported as lost_sync): %d", exact, derived, uncertain)
}

// steadyCases are captures of a steady stream (equal single-frame messages)
// whose frames a short snap length must not lose.
var steadyCases = map[string]bool{"snap_steady": true}

func sameCounts(a, b report.Counts) bool {
	if (a.Messages == nil) != (b.Messages == nil) || (a.Messages != nil && *a.Messages != *b.Messages) {
		return false
	}
	return a.Frames == b.Frames && a.Bytes == b.Bytes && a.Commands == b.Commands
}

func counts(c report.Counts) string {
	m := "null"
	if c.Messages != nil {
		m = fmt.Sprint(*c.Messages)
	}
	return fmt.Sprintf("{messages %s frames %d bytes %d commands %d}", m, c.Frames, c.Bytes, c.Commands)
}

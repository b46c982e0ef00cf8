package ui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"
	"github.com/zspy/zspy/session"
	"github.com/zspy/zspy/zmtp"
)

// Text cut to fit ends in '…' in every view at every size: a cut value
// must not read as another (C1-job-1 for C1-job-1000…). A line that reaches
// the screen's right edge is either whole or ends in '…'.
func TestCutTextEndsInEllipsisAtEverySize(t *testing.T) {
	long := "C1-job-1" + strings.Repeat("0", 40)
	a := handConn(1, "10.0.0.1:40000", "10.0.0.2:5555", zmtp.DEALER, zmtp.ROUTER, 5, 5)
	a.Sides[0].Identity = []byte(long)
	a.PlainUsername = "user-" + strings.Repeat("x", 150)
	b := handConn(2, "10.0.0.1:40001", "10.0.0.2:5555", zmtp.DEALER, zmtp.ROUTER, 5, 5)
	b.Sides[0].Identity = []byte("C1-job-1")
	c := handConn(3, "10.0.0.3:40000", "10.0.0.2:6000", zmtp.SUB, zmtp.PUB, 0, 5)
	for i := range 40 {
		c.Subscriptions = append(c.Subscriptions, fmt.Sprintf("topic-%03d", i))
	}
	for _, z := range sizes {
		t.Run(fmt.Sprintf("%dx%d", z.w, z.h), func(t *testing.T) {
			m := NewModel(ModelOptions{})
			u := snapAt(t0.Add(3e9), a, b, c)
			u.Warnings, u.LastWarning = 1, "capture.pcap: "+strings.Repeat("a long warning that goes on ", 30)+"END"
			u.Store = &session.StoreStatus{Name: "influx", LastError: strings.Repeat("refused ", 40)}
			d, s := newDash(t, z.w, z.h, DashboardOptions{History: m.History})
			d.SetFrame(m.Apply(u))
			lines := draw(d, s)
			// The identity column: the long one cut with '…', the short one whole.
			if k := findLine(lines, "10.0.0.1:40000"); z.w >= 120 && (k < 0 || !strings.Contains(lines[k], "C1-job-1000") || !strings.Contains(lines[k], "…")) {
				t.Errorf("long identity not cut with …:\n%s", strings.Join(lines, "\n"))
			}
			if k := findLine(lines, "10.0.0.1:40001"); z.w >= 120 && (k < 0 || !strings.Contains(lines[k], "C1-job-1 ") && !strings.HasSuffix(lines[k], "C1-job-1")) {
				t.Errorf("short identity:\n%s", lines[k])
			}
			// The warning above the status bar: three lines at most, the
			// last ending in … (the Warnings view has it whole).
			if findLine(lines, "END") >= 0 || findLine(lines, "a long warning") < 0 {
				t.Errorf("warning line:\n%s", strings.Join(lines, "\n"))
			} else if k := z.h - 3; !strings.HasSuffix(lines[k], "…") {
				t.Errorf("warning's last line %q does not end in …", lines[k])
			}
			// A line showing part of a long value ends in …: the user, the
			// subscriptions.
			check := func(view string) {
				t.Helper()
				lines := draw(d, s)
				for _, part := range []struct{ some, all string }{{"xxxxxxxxxx", a.PlainUsername}, {"topic-00", "topic-039"}} {
					for i, l := range lines {
						if strings.Contains(l, part.some) && !strings.Contains(l, part.all) && !strings.HasSuffix(l, "…") {
							t.Errorf("%s, line %d shows part of %q without …: %q", view, i, part.all, l)
						}
					}
				}
			}
			pressKey(d, tcell.KeyRune, 't')
			check("topology")
			d.openDetail(1)
			check("detail 1")
			d.openDetail(3)
			check("detail 3")
			if text := strings.Join(RenderWarnings(d.frame, z.w), ""); !strings.Contains(text, "END") {
				t.Errorf("the Warnings view lacks the warning's end")
			}
		})
	}
}

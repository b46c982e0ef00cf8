package ui

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// FuzzRender feeds hostile identities, topics and filter expressions (what a
// peer or a user controls) through the model, the filter and every view. It
// must never panic, and text from the wire must reach the screen as text:
// tview's colour tags in it are shown, not obeyed.
func FuzzRender(f *testing.F) {
	f.Add([]byte("worker-1"), []byte("weather"), "weather")
	f.Add([]byte("[red]x[-]"), []byte("[::b]"), "!\\[")
	f.Add([]byte("\x1b[2J\x00\xff"), []byte(""), "(")
	f.Add([]byte("[\"region\"]"), []byte("a|b"), "^$")
	d, s := newDash(f, 100, 60, DashboardOptions{History: NewHistory()})
	f.Fuzz(func(t *testing.T, ident, topic []byte, expr string) {
		v := handConn(1, "10.0.0.1:40000", "10.0.0.2:5555", zmtp.SUB, zmtp.PUB, 0, 3)
		v.Sides[0].Identity, v.Sides[0].HasIdent = ident, true
		v.Sides[0].Metadata = []tracker.Property{{Name: "Identity", Value: ident}}
		v.Subscriptions = []string{string(topic)}
		fr := NewModel(ModelOptions{}).Apply(snapAt(t0.Add(2e9), v))
		r := fr.Rows[0]
		RenderRow(r, []int{0, 1, 2, 3})
		RenderTopology(BuildTopology(fr.Rows), 100)
		ParseFilter(expr).Apply(fr.Rows)
		d.SetFrame(fr)
		d.SetFilter(expr)
		d.SetFilter("")
		d.openDetail(r.ID)
		text := strings.Join(draw(d, s), "\n")
		id := visible(tracker.Printable(ident))
		if utf8.RuneCountInString(id) <= 40 && !strings.Contains(text, "identity "+id) {
			t.Errorf("identity %q not shown as text:\n%s", id, text)
		}
	})
}

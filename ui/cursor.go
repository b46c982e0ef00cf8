package ui

import (
	"strings"

	"github.com/rivo/tview"
)

// cursorText is a text view whose lines belong to items (a topology peer, an
// alert change), one of which is selected: the cursor moves from item to
// item, the view scrolls to keep it in sight, and ⏎ opens the selected
// item's connection. The cursor stays on the same item (by key) across
// updates.
type cursorText struct {
	*tview.TextView
	lines []string
	item  []int    // item of each line, -1 for none
	keys  []string // per item: what keeps the cursor on it across updates
	conns []uint64 // per item: its connection (0: none)
	sel   int      // selected item (-1: none)
	selK  string
	off   int
	// atEnd selects the last item when the cursor's item is gone (a list
	// newest last).
	atEnd bool
}

func newCursorText(atEnd bool) *cursorText {
	return &cursorText{TextView: tview.NewTextView().SetDynamicColors(true).SetScrollable(true).SetWrap(false), sel: -1, atEnd: atEnd}
}

// set replaces the lines (tview-tagged), their items, and each item's key
// and connection.
func (c *cursorText) set(lines []string, item []int, keys []string, conns []uint64) {
	c.lines, c.item, c.keys, c.conns = lines, item, keys, conns
	c.sel = -1
	for i, k := range keys {
		if k == c.selK && c.selK != "" {
			c.sel = i
			break
		}
	}
	if c.sel < 0 && len(keys) > 0 {
		c.sel = 0
		if c.atEnd {
			c.sel = len(keys) - 1
		}
		c.selK = keys[c.sel]
	}
	c.render()
}

// selected returns the selected item's connection (0: none).
func (c *cursorText) selected() uint64 {
	if c.sel < 0 || c.sel >= len(c.conns) {
		return 0
	}
	return c.conns[c.sel]
}

// move moves the cursor n items (negative: up), within the list.
func (c *cursorText) move(n int) {
	if len(c.keys) == 0 {
		return
	}
	c.sel = max(0, min(len(c.keys)-1, c.sel+n))
	c.selK = c.keys[c.sel]
	c.render()
}

func (c *cursorText) height() int {
	_, _, _, h := c.GetInnerRect()
	return max(h, 1)
}

func (c *cursorText) render() {
	var b strings.Builder
	first, last := -1, -1
	for i, l := range c.lines {
		if c.sel >= 0 && c.item[i] == c.sel {
			if first < 0 {
				first = i
			}
			last = i
			l = "[::r]" + strings.ReplaceAll(l, "[::-]", "[::r]") + "[::-]"
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	c.SetText(b.String())
	h := c.height()
	if c.sel == 0 && last < h {
		c.off = 0 // the first item: the lines above it (a head) too
	}
	if first >= 0 {
		if first < c.off {
			c.off = first
		}
		if last >= c.off+h {
			c.off = min(max(last-h+1, 0), first)
		}
	}
	c.off = max(0, min(c.off, len(c.lines)-1))
	c.ScrollTo(c.off, 0)
}

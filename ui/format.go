package ui

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rivo/tview"
)

// appendSI appends v in at most 5 characters: 0, 7, 0.5, 12, 999, 1.2k, 12k,
// 123k, 1.2M, ... Fractions show only below 10.
func appendSI(dst []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return append(dst, '-')
	}
	if v == 0 {
		return append(dst, '0')
	}
	const units = "kMGTPE"
	if v < 999.5 {
		if v < 9.95 && v != math.Trunc(v) {
			return strconv.AppendFloat(dst, v, 'f', 1, 64)
		}
		return strconv.AppendFloat(dst, v, 'f', 0, 64)
	}
	u := -1
	for v >= 999.5 && u < len(units)-1 {
		v /= 1000
		u++
	}
	if v < 9.95 {
		dst = strconv.AppendFloat(dst, v, 'f', 1, 64)
	} else {
		dst = strconv.AppendFloat(dst, v, 'f', 0, 64)
	}
	return append(dst, units[u])
}

// fmtSI returns appendSI's text.
func fmtSI(v float64) string { return string(appendSI(nil, v)) }

// appendDur appends a latency compactly: 85µs, 1.2ms, 12ms, 1.5s, 2m3s.
func appendDur(dst []byte, d time.Duration) []byte {
	switch {
	case d <= 0:
		return append(dst, '0')
	case d < time.Millisecond:
		dst = strconv.AppendInt(dst, int64(d/time.Microsecond), 10)
		return append(dst, "µs"...)
	case d < 10*time.Millisecond:
		dst = strconv.AppendFloat(dst, float64(d)/float64(time.Millisecond), 'f', 1, 64)
		return append(dst, "ms"...)
	case d < time.Second:
		dst = strconv.AppendInt(dst, int64(d/time.Millisecond), 10)
		return append(dst, "ms"...)
	case d < time.Minute:
		dst = strconv.AppendFloat(dst, d.Seconds(), 'f', 1, 64)
		return append(dst, 's')
	}
	return append(dst, d.Round(time.Second).String()...)
}

// fmtDur returns appendDur's text.
func fmtDur(d time.Duration) string { return string(appendDur(nil, d)) }

// sparkTicks are the eight levels of a sparkline.
var sparkTicks = []rune("▁▂▃▄▅▆▇█")

// Sparkline renders the last width values as block characters scaled to their
// maximum (a flat zero series is a row of the lowest block).
func Sparkline(vals []float32, width int) string {
	if width <= 0 {
		return ""
	}
	if len(vals) > width {
		vals = vals[len(vals)-width:]
	}
	var hi float32
	for _, v := range vals {
		if v > hi {
			hi = v
		}
	}
	out := make([]rune, len(vals))
	for i, v := range vals {
		k := 0
		if hi > 0 && v > 0 {
			k = int(v / hi * float32(len(sparkTicks)-1))
			if k < 1 {
				k = 1 // anything above zero shows
			}
			if k >= len(sparkTicks) {
				k = len(sparkTicks) - 1
			}
		}
		out[i] = sparkTicks[k]
	}
	return string(out)
}

const hexDigits = "0123456789abcdef"

// HexPreview renders up to n bytes of b as space-separated hex pairs, with
// "…" when b was longer.
func HexPreview(b []byte, n int) string {
	cut := len(b) > n
	if cut {
		b = b[:n]
	}
	out := make([]byte, 0, len(b)*3+3)
	for i, c := range b {
		if i > 0 {
			out = append(out, ' ')
		}
		out = append(out, hexDigits[c>>4], hexDigits[c&15])
	}
	if cut {
		out = append(out, "…"...)
	}
	return string(out)
}

// TextPreview renders b for people: printable ASCII as is, anything else '.'.
func TextPreview(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		out[i] = c
	}
	return string(out)
}

// truncate cuts s to at most w runes, marking the cut with '…'.
func truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= w {
		return s
	}
	r := []rune(s)
	return string(r[:w-1]) + "…"
}

// cutTagged cuts a tview-tagged line to at most w cells, marking the cut
// with '…' (a text view that does not wrap would cut it silently at the
// screen's edge, and a cut value reads as another: C1-job-1 for C1-job-10).
// It never cuts inside a tag.
func cutTagged(s string, w int) string {
	if w <= 0 || tview.TaggedStringWidth(s) <= w {
		return s
	}
	// The longest prefix that fits with the '…', scanning forward: a
	// prefix's width only shrinks when a tag closes (by the tag's length),
	// so the scan stops well past w.
	best := -1
	for k := 1; k <= len(s); k++ {
		if k < len(s) && !utf8.RuneStart(s[k]) {
			continue
		}
		p := s[:k]
		if open := strings.LastIndexByte(p, '['); open > strings.LastIndexByte(p, ']') {
			continue // inside a tag (or an escaped bracket)
		}
		n := tview.TaggedStringWidth(p)
		if n <= w-1 {
			best = k
		} else if n > w+64 {
			break
		}
	}
	if best > 0 {
		return s[:best] + "…[-:-:-]"
	}
	return "…"
}

package ui

import (
	"testing"
	"time"
)

func TestAppendSI(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {7, "7"}, {0.5, "0.5"}, {9.94, "9.9"}, {12.4, "12"}, {999, "999"}, {999.6, "1.0k"},
		{1234, "1.2k"}, {12345, "12k"}, {123456, "123k"}, {1.5e6, "1.5M"}, {2e9, "2.0G"}, {-1, "-"},
	} {
		if got := fmtSI(c.v); got != c.want {
			t.Errorf("fmtSI(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}

func TestAppendDur(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0"}, {85 * time.Microsecond, "85µs"}, {1250 * time.Microsecond, "1.2ms"}, {12 * time.Millisecond, "12ms"},
		{1500 * time.Millisecond, "1.5s"}, {123 * time.Second, "2m3s"},
	} {
		if got := fmtDur(c.d); got != c.want {
			t.Errorf("fmtDur(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestSparkline(t *testing.T) {
	// Anything above zero is at least the second level.
	if got := Sparkline([]float32{0, 1, 2, 4, 8}, 10); got != "▁▂▂▄█" {
		t.Errorf("sparkline = %q", got)
	}
	// Only the last width points show.
	if got := Sparkline([]float32{8, 0, 0, 8}, 2); got != "▁█" {
		t.Errorf("cut sparkline = %q", got)
	}
	if got := Sparkline([]float32{0, 0}, 5); got != "▁▁" {
		t.Errorf("flat sparkline = %q", got)
	}
}

func TestPreviews(t *testing.T) {
	if got := HexPreview([]byte{0, 0xab, 'A'}, 8); got != "00 ab 41" {
		t.Errorf("hex = %q", got)
	}
	if got := HexPreview([]byte("abcdef"), 2); got != "61 62…" {
		t.Errorf("cut hex = %q", got)
	}
	if got := TextPreview([]byte("a\x00b\xffc")); got != "a.b.c" {
		t.Errorf("text = %q", got)
	}
}

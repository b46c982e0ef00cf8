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

func TestParseSpeed(t *testing.T) {
	for in, want := range map[string]float64{"1": 1, "10": 10, "10x": 10, "0.5": 0.5, "max": 0, "MAX": 0, "0": 0} {
		got, err := ParseSpeed(in)
		if err != nil || got != want {
			t.Errorf("ParseSpeed(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "fast-ish", "-1", "NaN", "1e9"} {
		if _, err := ParseSpeed(in); err == nil {
			t.Errorf("ParseSpeed(%q) took it", in)
		}
	}
}

func TestPacer(t *testing.T) {
	p := NewPacer(2)
	wall := t0.Add(time.Hour)
	if w := p.Wait(t0, wall); w != 0 {
		t.Fatalf("first packet waits %v", w)
	}
	// 1 s of packet time at 2× is due 500 ms after the base.
	if w := p.Wait(t0.Add(time.Second), wall.Add(100*time.Millisecond)); w != 400*time.Millisecond {
		t.Errorf("wait = %v, want 400ms", w)
	}
	// Late or earlier packets go at once.
	if w := p.Wait(t0.Add(time.Second), wall.Add(time.Second)); w != 0 {
		t.Errorf("late packet waits %v", w)
	}
	if w := p.Wait(t0.Add(-time.Second), wall); w != 0 {
		t.Errorf("packet from the past waits %v", w)
	}
	// A new speed rebases on the next packet.
	p.SetSpeed(10)
	if w := p.Wait(t0.Add(5*time.Second), wall.Add(2*time.Second)); w != 0 {
		t.Errorf("rebasing packet waits %v", w)
	}
	if w := p.Wait(t0.Add(6*time.Second), wall.Add(2*time.Second)); w != 100*time.Millisecond {
		t.Errorf("at 10×: wait = %v, want 100ms", w)
	}
	p.SetSpeed(0)
	if w := p.Wait(t0.Add(time.Hour), wall); w != 0 {
		t.Errorf("as fast as possible waits %v", w)
	}
}

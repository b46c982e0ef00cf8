package session

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

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

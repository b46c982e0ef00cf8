package tracker

import (
	"testing"
	"time"
)

func TestLatencyQuantiles(t *testing.T) {
	var l Latency
	for i := 1; i <= 1000; i++ {
		l.Add(time.Duration(i) * time.Microsecond)
	}
	if l.Count != 1000 || l.Min != time.Microsecond || l.Max != time.Millisecond {
		t.Fatalf("count %d min %v max %v", l.Count, l.Min, l.Max)
	}
	for _, q := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}} {
		got := l.Quantile(q.q)
		if diff := float64(got-q.want) / float64(q.want); diff > 0.13 || diff < -0.13 {
			t.Errorf("q%.2f = %v, want %v ±13%%", q.q, got, q.want)
		}
	}
	if l.Quantile(1) != l.Max {
		t.Errorf("q1 = %v", l.Quantile(1))
	}
	var huge Latency
	huge.Add(1000 * time.Hour)
	if huge.Quantile(0.5) != 1000*time.Hour {
		t.Errorf("clamped quantile %v", huge.Quantile(0.5))
	}
}

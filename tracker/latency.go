package tracker

import (
	"math"
	"math/bits"
	"time"
)

// Latency summarises request→reply times with a fixed-size log histogram:
// buckets of 1/8 of a power of two of nanoseconds, so quantiles are within
// 12.5% whatever the number of samples, in constant memory.
type Latency struct {
	Count    uint64
	Sum      time.Duration
	Min, Max time.Duration
	buckets  *[64 * 8]uint32 // allocated with the first sample
}

func bucketOf(d time.Duration) int {
	v := uint64(d)
	if v < 8 {
		return int(v)
	}
	e := bits.Len64(v) - 1 // v in [2^e, 2^(e+1))
	sub := (v >> (e - 3)) & 7
	return e*8 + int(sub)
}

func bucketLow(i int) time.Duration {
	if i < 8 {
		return time.Duration(i)
	}
	e, sub := i/8, uint64(i%8)
	return time.Duration((8 + sub) << (e - 3))
}

// Add records one sample.
func (l *Latency) Add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	if l.Count == 0 || d < l.Min {
		l.Min = d
	}
	if d > l.Max {
		l.Max = d
	}
	l.Count++
	l.Sum += d
	if l.buckets == nil {
		l.buckets = new([64 * 8]uint32)
	}
	b := bucketOf(d)
	if b >= len(l.buckets) {
		b = len(l.buckets) - 1
	}
	if l.buckets[b] < math.MaxUint32 {
		l.buckets[b]++
	}
}

// Quantile returns an estimate of quantile q (0..1), clamped to [Min, Max].
func (l *Latency) Quantile(q float64) time.Duration {
	if l.Count == 0 {
		return 0
	}
	if l.buckets == nil {
		return 0
	}
	var total uint64
	for _, n := range l.buckets {
		total += uint64(n)
	}
	rank := uint64(math.Ceil(q * float64(total)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i, n := range l.buckets {
		seen += uint64(n)
		if seen >= rank {
			v := bucketLow(i)
			if v < l.Min {
				v = l.Min
			}
			if v > l.Max {
				v = l.Max
			}
			return v
		}
	}
	return l.Max
}

// Mean returns the mean latency.
func (l *Latency) Mean() time.Duration {
	if l.Count == 0 {
		return 0
	}
	return l.Sum / time.Duration(l.Count)
}

func (l *Latency) clearBuckets() *[64 * 8]uint32 {
	if l.buckets != nil {
		*l.buckets = [64 * 8]uint32{}
	}
	return l.buckets
}

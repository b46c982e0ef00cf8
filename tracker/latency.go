package tracker

import (
	"math"
	"math/bits"
	"slices"
	"time"
)

// Latency summarises request→reply times with a fixed-size log histogram:
// four buckets per power of two of nanoseconds (up to 2^41 ns, about 36
// minutes), each reported by its midpoint, so quantiles are within about 12%
// whatever the number of samples, in 660 bytes allocated with the first sample.
type Latency struct {
	Count    uint64
	Sum      time.Duration
	Min, Max time.Duration
	// The first few samples are kept as they are (exact quantiles, no
	// allocation); past them, the histogram takes over.
	small   [smallSamples]time.Duration
	buckets *[nBuckets]uint32
}

const smallSamples = 8

const nBuckets = 42 * 4

func bucketOf(d time.Duration) int {
	v := uint64(d)
	if v < 4 {
		return int(v)
	}
	e := bits.Len64(v) - 1 // v in [2^e, 2^(e+1))
	sub := (v >> (e - 2)) & 3
	return e*4 + int(sub)
}

// bucketMid returns the middle of bucket i.
func bucketMid(i int) time.Duration {
	if i < 4 {
		return time.Duration(i)
	}
	e, sub := i/4, uint64(i%4)
	lo := (4 + sub) << (e - 2)
	return time.Duration(lo + (uint64(1)<<(e-2))/2)
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
	if l.buckets == nil && l.Count < smallSamples {
		l.small[l.Count] = d
		l.Count++
		l.Sum += d
		return
	}
	l.Count++
	l.Sum += d
	if l.buckets == nil {
		l.buckets = new([nBuckets]uint32)
		for _, v := range l.small {
			l.bump(v)
		}
	}
	l.bump(d)
}

func (l *Latency) bump(d time.Duration) {
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
	if q >= 1 {
		return l.Max
	}
	if l.buckets == nil {
		// Few samples: exact.
		v := l.small
		s := v[:l.Count]
		slices.Sort(s)
		rank := int(math.Ceil(q*float64(len(s)))) - 1
		return s[max(rank, 0)]
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
			v := bucketMid(i)
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

func (l *Latency) clearBuckets() *[nBuckets]uint32 {
	l.small = [smallSamples]time.Duration{}
	if l.buckets != nil {
		*l.buckets = [nBuckets]uint32{}
	}
	return l.buckets
}

// clone returns a copy of l that shares no histogram with it.
func (l Latency) clone() Latency {
	if l.buckets != nil {
		b := *l.buckets
		l.buckets = &b
	}
	return l
}

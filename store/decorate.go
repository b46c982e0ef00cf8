package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Decoration is what Decorate adds to every point on its way to a sink.
type Decoration struct {
	// Tags are added to every point (Telegraf's global_tags: dc, rack,
	// env...). A point's own tag of the same key wins.
	Tags []Tag
	// Precision truncates every point's time to a multiple of it (Telegraf's
	// precision: 1ns, 1µs, 1ms or 1s); 0 keeps nanoseconds. Points of one
	// series closer than Precision then share a timestamp, and InfluxDB
	// keeps the last.
	Precision time.Duration
}

// ParsePrecision reads a timestamp precision as InfluxDB names it (ns, us,
// ms, s) or as a Go duration of one of those units.
func ParsePrecision(s string) (time.Duration, error) {
	switch s {
	case "ns", "1ns", "n":
		return time.Nanosecond, nil
	case "us", "µs", "u", "1us", "1µs":
		return time.Microsecond, nil
	case "ms", "1ms":
		return time.Millisecond, nil
	case "s", "1s":
		return time.Second, nil
	}
	return 0, fmt.Errorf("bad precision %q (want ns, us, ms or s)", s)
}

// Decorate returns a sink that adds d's tags to every point and truncates its
// time before handing it to sink; with nothing to add it returns sink. It
// copies the points into memory of its own, reused from one Write to the
// next, so the caller's points are never changed.
func Decorate(sink Sink, d Decoration) Sink {
	if len(d.Tags) == 0 && d.Precision <= time.Nanosecond {
		return sink
	}
	tags := slices.Clone(d.Tags)
	slices.SortFunc(tags, func(a, b Tag) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	return &decorated{sink: sink, tags: tags, prec: d.Precision}
}

type decorated struct {
	sink Sink
	tags []Tag
	prec time.Duration

	mu  sync.Mutex
	buf []Point
}

func (d *decorated) Write(points []Point) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if cap(d.buf) < len(points) {
		d.buf = append(d.buf[:cap(d.buf)], make([]Point, len(points)-cap(d.buf))...)
	}
	d.buf = d.buf[:len(points)]
	for i := range points {
		dst := &d.buf[i]
		points[i].copyInto(dst)
		for _, t := range d.tags {
			if _, ok := dst.Tag(t.Key); !ok {
				dst.AddTag(t.Key, t.Value)
			}
		}
		if d.prec > time.Nanosecond {
			dst.Time = dst.Time.Truncate(d.prec)
		}
	}
	return d.sink.Write(d.buf)
}

func (d *decorated) Flush(ctx context.Context) error { return d.sink.Flush(ctx) }
func (d *decorated) Close(ctx context.Context) error { return d.sink.Close(ctx) }

// Stats, SetWarn: the decorated sink's, when it has them.
func (d *decorated) Stats() Stats {
	if s, ok := d.sink.(Stater); ok {
		return s.Stats()
	}
	return Stats{}
}

func (d *decorated) SetWarn(fn func(msg string)) {
	if w, ok := d.sink.(Warner); ok {
		w.SetWarn(fn)
	}
}

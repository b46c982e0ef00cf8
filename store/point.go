package store

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Tag is one key/value pair that identifies a series (host, endpoint, peer...).
type Tag struct {
	Key   string
	Value string
}

// FieldKind says which of a Field's values is set.
type FieldKind uint8

// The field kinds line protocol carries.
const (
	KindInt FieldKind = iota + 1
	KindFloat
	KindBool
	KindString
)

// Field is one named value of a point. It is a small tagged union rather than
// an interface so that building points does not allocate.
type Field struct {
	Key  string
	Kind FieldKind
	num  uint64 // int64 or float64 bits, or 0/1 for a bool
	str  string
}

// Int returns an integer field (written with the "i" suffix).
func Int(key string, v int64) Field { return Field{Key: key, Kind: KindInt, num: uint64(v)} }

// Float returns a float field; NaN and ±Inf cannot be stored and make the point invalid.
func Float(key string, v float64) Field {
	return Field{Key: key, Kind: KindFloat, num: math.Float64bits(v)}
}

// Bool returns a boolean field.
func Bool(key string, v bool) Field {
	f := Field{Key: key, Kind: KindBool}
	if v {
		f.num = 1
	}
	return f
}

// String returns a string field.
func String(key, v string) Field { return Field{Key: key, Kind: KindString, str: v} }

// IntValue returns the value of an integer field.
func (f Field) IntValue() int64 { return int64(f.num) }

// FloatValue returns the value of a float field.
func (f Field) FloatValue() float64 { return math.Float64frombits(f.num) }

// BoolValue returns the value of a boolean field.
func (f Field) BoolValue() bool { return f.num != 0 }

// StringValue returns the value of a string field.
func (f Field) StringValue() string { return f.str }

// Value returns the field's value as int64, float64, bool or string (it allocates; for tests and tools).
func (f Field) Value() any {
	switch f.Kind {
	case KindInt:
		return f.IntValue()
	case KindFloat:
		return f.FloatValue()
	case KindBool:
		return f.BoolValue()
	case KindString:
		return f.str
	}
	return nil
}

// String formats the field as key=value for messages and tests.
func (f Field) String() string { return fmt.Sprintf("%s=%v", f.Key, f.Value()) }

// Point is one sample of one series: a measurement, tags sorted by key, at
// least one field, and the time the sample describes (packet time, not the
// time it is written). Sinks never keep a Point or its slices after Write
// returns, so a caller may reuse them.
type Point struct {
	Measurement string
	Tags        []Tag
	Fields      []Field
	Time        time.Time
}

// AddTag sets a tag, keeping Tags sorted by key; an existing key is overwritten.
func (p *Point) AddTag(key, value string) {
	i := sort.Search(len(p.Tags), func(i int) bool { return p.Tags[i].Key >= key })
	if i < len(p.Tags) && p.Tags[i].Key == key {
		p.Tags[i].Value = value
		return
	}
	p.Tags = append(p.Tags, Tag{})
	copy(p.Tags[i+1:], p.Tags[i:])
	p.Tags[i] = Tag{Key: key, Value: value}
}

// AddField appends a field.
func (p *Point) AddField(f Field) { p.Fields = append(p.Fields, f) }

// Tag returns the value of the tag key and whether it is set.
func (p *Point) Tag(key string) (string, bool) {
	for _, t := range p.Tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

// Field returns the field named key and whether it is set.
func (p *Point) Field(key string) (Field, bool) {
	for _, f := range p.Fields {
		if f.Key == key {
			return f, true
		}
	}
	return Field{}, false
}

// Validate reports why the point cannot be written, or nil. Tags with an
// empty value are allowed (they are left out, as InfluxDB does).
func (p *Point) Validate() error {
	switch {
	case p.Measurement == "":
		return fmt.Errorf("%w: empty measurement", ErrInvalidPoint)
	case p.Measurement[0] == '#':
		return fmt.Errorf("%w: measurement %q starts with '#' (a comment in line protocol)", ErrInvalidPoint, p.Measurement)
	case len(p.Fields) == 0:
		return fmt.Errorf("%w: %s has no fields", ErrInvalidPoint, p.Measurement)
	case p.Time.IsZero():
		return fmt.Errorf("%w: %s has no timestamp", ErrInvalidPoint, p.Measurement)
	}
	sorted := true
	for i := range p.Tags {
		if p.Tags[i].Key == "" {
			return fmt.Errorf("%w: %s has a tag with an empty key", ErrInvalidPoint, p.Measurement)
		}
		// While the keys strictly increase (AddTag keeps them sorted) none can
		// repeat; from the first step that does not, every key is checked
		// against all before it.
		if i > 0 && p.Tags[i-1].Key >= p.Tags[i].Key {
			sorted = false
		}
		if !sorted {
			for j := 0; j < i; j++ {
				if p.Tags[j].Key == p.Tags[i].Key {
					return fmt.Errorf("%w: %s has tag %s twice", ErrInvalidPoint, p.Measurement, p.Tags[i].Key)
				}
			}
		}
	}
	var hs [64]uint32 // hashes of the field keys seen so far (the first 64)
	for i := range p.Fields {
		f := &p.Fields[i]
		if f.Key == "" {
			return fmt.Errorf("%w: %s has a field with an empty key", ErrInvalidPoint, p.Measurement)
		}
		if dupField(p.Fields[:i], f.Key, &hs, i) {
			return fmt.Errorf("%w: %s has field %s twice", ErrInvalidPoint, p.Measurement, f.Key)
		}
		switch f.Kind {
		case KindInt, KindBool, KindString:
		case KindFloat:
			if v := f.FloatValue(); math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: %s field %s is %v", ErrInvalidPoint, p.Measurement, f.Key, v)
			}
		default:
			return fmt.Errorf("%w: %s field %s has no value", ErrInvalidPoint, p.Measurement, f.Key)
		}
	}
	return nil
}

// Clone returns a deep copy of the point's slices (the strings are shared, being immutable).
func (p *Point) Clone() Point {
	c := *p
	c.Tags = append([]Tag(nil), p.Tags...)
	c.Fields = append([]Field(nil), p.Fields...)
	return c
}

// copyInto makes dst a copy of p, reusing dst's slices.
func (p *Point) copyInto(dst *Point) {
	dst.Measurement = p.Measurement
	dst.Tags = append(dst.Tags[:0], p.Tags...)
	dst.Fields = append(dst.Fields[:0], p.Fields...)
	dst.Time = p.Time
}

// dupField reports whether key is among the keys of seen. hs holds a hash of
// each of the first 64 keys, so most pairs are told apart without comparing
// strings; dupField adds key's hash at index i.
func dupField(seen []Field, key string, hs *[64]uint32, i int) bool {
	h := uint32(2166136261)
	for k := 0; k < len(key); k++ {
		h = (h ^ uint32(key[k])) * 16777619
	}
	for j := range seen {
		if j < len(hs) && hs[j] != h {
			continue
		}
		if seen[j].Key == key {
			return true
		}
	}
	if i < len(hs) {
		hs[i] = h
	}
	return false
}

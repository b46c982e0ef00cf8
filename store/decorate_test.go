package store

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

// Decorate adds the global tags in key order (a point's own tag wins),
// truncates times to the precision, and leaves the caller's points alone.
func TestDecorate(t *testing.T) {
	var out bytes.Buffer
	lw := NewLineWriter(&out)
	s := Decorate(lw, Decoration{Tags: []Tag{{"rack", "r1"}, {"dc", "fra"}, {"host", "ignored"}}, Precision: time.Millisecond})
	p := Point{Measurement: "m", Time: time.Unix(1, 123456789)}
	p.AddTag("host", "h")
	p.AddTag("zone", "z")
	p.AddField(Int("n", 1))
	if err := s.Write([]Point{p}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "m,dc=fra,host=h,rack=r1,zone=z n=1i 1123000000\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if len(p.Tags) != 2 || p.Time.Nanosecond() != 123456789 {
		t.Errorf("the caller's point changed: %+v", p)
	}
	if st := s.(Stater).Stats(); st.Written != 1 {
		t.Errorf("stats %+v", st)
	}
	if Decorate(lw, Decoration{Precision: time.Nanosecond}) != Sink(lw) {
		t.Error("nothing to add, yet a wrapper")
	}
	for in, want := range map[string]time.Duration{"ns": time.Nanosecond, "us": time.Microsecond, "ms": time.Millisecond, "s": time.Second} {
		if got, err := ParsePrecision(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	if _, err := ParsePrecision("m"); err == nil {
		t.Error("precision m accepted")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// A LineWriter whose output fails counts the points dropped and says so once.
func TestLineWriterFailure(t *testing.T) {
	lw := NewLineWriter(failWriter{})
	var warned []string
	lw.SetWarn(func(m string) { warned = append(warned, m) })
	p := Point{Measurement: "m", Time: time.Unix(1, 0), Fields: []Field{Int("n", 1)}}
	bad := Point{Measurement: "m", Time: time.Unix(1, 0)} // no field
	for i := 0; i < 2; i++ {
		if err := lw.Write([]Point{p, bad, p}); err == nil {
			t.Fatal("write to a broken writer succeeded")
		}
	}
	st := lw.Stats()
	if st.Dropped != 4 || st.Invalid != 2 || st.Written != 0 || st.DropEpisodes != 1 || len(warned) != 1 {
		t.Errorf("stats %+v, warnings %q", st, warned)
	}
}

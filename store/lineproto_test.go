package store

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	protocol "github.com/influxdata/line-protocol"
)

func TestAppendLine(t *testing.T) {
	ts := time.Unix(1700000000, 123456789)
	cases := []struct {
		name string
		p    Point
		want string
	}{
		{"every field kind", Point{Measurement: "zmtp_conn", Time: ts,
			Tags:   []Tag{{"conn", "10.0.0.1:5555>10.0.0.2:40000"}, {"host", "lab-1"}},
			Fields: []Field{Int("messages", -42), Float("rate", 1.5), Bool("stalled", true), Bool("up", false), String("peer", "ROUTER")}},
			`zmtp_conn,conn=10.0.0.1:5555>10.0.0.2:40000,host=lab-1 messages=-42i,rate=1.5,stalled=true,up=false,peer="ROUTER" 1700000000123456789` + "\n"},
		{"escapes", Point{Measurement: "a b,c=d", Time: ts,
			Tags:   []Tag{{"k y", "v,w=x"}},
			Fields: []Field{Int("f=g h,i", 1), String("s", `say "hi" \o/`)}},
			`a\ b\,c=d,k\ y=v\,w\=x f\=g\ h\,i=1i,s="say \"hi\" \\o/" 1700000000123456789` + "\n"},
		{"backslashes in names", Point{Measurement: `m\`, Time: ts,
			Tags:   []Tag{{`k\`, `a\b`}, {"t", `x\,y\ z\`}},
			Fields: []Field{Int(`f\=`, 1)}},
			`m/,k/=a\b,t=x/\,y/\ z/ f/\==1i 1700000000123456789` + "\n"},
		{"control characters", Point{Measurement: "m\n", Time: ts,
			Tags:   []Tag{{"k", "a\tb\r\nc"}},
			Fields: []Field{String("s", "l1\nl2\r\tx")}},
			`m\ ,k=a\ b\ \ c s="l1\\nl2\\r` + "\t" + `x" 1700000000123456789` + "\n"},
		{"empty tag value left out", Point{Measurement: "m", Time: ts,
			Tags:   []Tag{{"a", ""}, {"b", "1"}},
			Fields: []Field{Float("f", 3)}},
			"m,b=1 f=3 1700000000123456789\n"},
		{"floats", Point{Measurement: "m", Time: time.Unix(0, -5),
			Fields: []Field{Float("a", 1e21), Float("b", -0.000001), Float("c", math.MaxFloat64), Int("d", math.MinInt64)}},
			"m a=1e+21,b=-1e-06,c=1.7976931348623157e+308,d=-9223372036854775808i -5\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := AppendLine([]byte("prefix\n"), &c.p)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "prefix\n"+c.want {
				t.Errorf("got  %q\nwant %q", got, "prefix\n"+c.want)
			}
		})
	}
}

func TestAppendLineInvalid(t *testing.T) {
	ts := time.Unix(1, 0)
	cases := map[string]Point{
		"no measurement":  {Time: ts, Fields: []Field{Int("f", 1)}},
		"comment":         {Measurement: "#m", Time: ts, Fields: []Field{Int("f", 1)}},
		"no fields":       {Measurement: "m", Time: ts},
		"no time":         {Measurement: "m", Fields: []Field{Int("f", 1)}},
		"empty tag key":   {Measurement: "m", Time: ts, Tags: []Tag{{"", "v"}}, Fields: []Field{Int("f", 1)}},
		"duplicate tag":   {Measurement: "m", Time: ts, Tags: []Tag{{"a", "1"}, {"a", "2"}}, Fields: []Field{Int("f", 1)}},
		"empty field key": {Measurement: "m", Time: ts, Fields: []Field{Int("", 1)}},
		"duplicate field": {Measurement: "m", Time: ts, Fields: []Field{Int("f", 1), Bool("f", true)}},
		"NaN":             {Measurement: "m", Time: ts, Fields: []Field{Float("f", math.NaN())}},
		"Inf":             {Measurement: "m", Time: ts, Fields: []Field{Float("f", math.Inf(-1))}},
		"no value":        {Measurement: "m", Time: ts, Fields: []Field{{Key: "f"}}},
	}
	for name, p := range cases {
		got, err := AppendLine([]byte("keep"), &p)
		if !errors.Is(err, ErrInvalidPoint) {
			t.Errorf("%s: err = %v, want ErrInvalidPoint", name, err)
		}
		if string(got) != "keep" {
			t.Errorf("%s: dst changed to %q", name, got)
		}
	}
}

func TestAddTagKeepsOrder(t *testing.T) {
	var p Point
	for _, k := range []string{"m", "c", "x", "a", "c"} {
		p.AddTag(k, "v"+k)
	}
	p.AddTag("c", "new")
	var keys []string
	for _, tg := range p.Tags {
		keys = append(keys, tg.Key+"="+tg.Value)
	}
	if got := strings.Join(keys, ","); got != "a=va,c=new,m=vm,x=vx" {
		t.Errorf("tags = %s", got)
	}
	if v, ok := p.Tag("m"); !ok || v != "vm" {
		t.Errorf("Tag(m) = %q %v", v, ok)
	}
}

func TestAppendLineDoesNotAllocate(t *testing.T) {
	p := benchPoint()
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(1000, func() {
		buf, _ = AppendLine(buf[:0], &p)
	})
	if allocs != 0 {
		t.Errorf("AppendLine allocates %v times per point", allocs)
	}
}

// sanitizeName is what a name or tag value reads back as (see AppendLine).
func sanitizeName(s string, eq bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case control(c):
			b.WriteByte(' ')
		case c == '\\' && (i+1 == len(s) || special(s[i+1], eq) || control(s[i+1])):
			b.WriteByte('/')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// FuzzAppendLine encodes arbitrary points and parses the line back with
// InfluxData's line-protocol parser: one point is exactly one line, and
// every name and value reads back as documented.
func FuzzAppendLine(f *testing.F) {
	f.Add("zmtp_conn", "host", "lab-1", "messages", "ROUTER", int64(7), 1.5, true, int64(1700000000123456789))
	f.Add("a b,c=d", "k y", "v,w=x", "f=g h", `say "hi" \o/`, int64(-1), math.Copysign(0, -1), false, int64(-5))
	f.Add(`m\`, `k\`, `x\,y\ z\`, `f\=`, "l1\nl2\r", int64(math.MinInt64), 1e300, true, int64(0))
	f.Add("#c", "", "", "", "", int64(0), math.NaN(), false, int64(1))
	f.Fuzz(func(t *testing.T, meas, tk, tv, fk, sv string, iv int64, fv float64, bv bool, ts int64) {
		if tk == "zz" {
			return
		}
		p := Point{Measurement: meas, Time: time.Unix(0, ts)}
		p.AddTag(tk, tv)
		p.AddTag("zz", "fixed")
		p.AddField(Int(fk, iv))
		p.AddField(Float(fk+"_f", fv))
		p.AddField(Bool(fk+"_b", bv))
		p.AddField(String(fk+"_s", sv))
		line, err := AppendLine([]byte("x"), &p)
		if err != nil {
			if !errors.Is(err, ErrInvalidPoint) || string(line) != "x" {
				t.Fatalf("invalid point: err %v, dst %q", err, line)
			}
			return
		}
		line = line[1:]
		if bytes.IndexByte(line, '\n') != len(line)-1 {
			t.Fatalf("not exactly one line: %q", line)
		}
		h := protocol.NewMetricHandler()
		ms, err := protocol.NewParser(h).Parse(line)
		if err != nil || len(ms) != 1 {
			t.Fatalf("parse %q: %v (%d metrics)", line, err, len(ms))
		}
		m := ms[0]
		// This parser stands in for InfluxDB, but treats backslashes its own
		// way: InfluxDB 1.8 keeps a backslash as it is except before the
		// characters it escapes, while this parser drops some backslashes
		// depending on the rest of the name or value. So names and tag
		// values are compared without backslashes; what InfluxDB itself
		// stores is TestInfluxEscapingRoundTrip's job, against a real server.
		norm := func(s string) string { return strings.ReplaceAll(s, `\`, "") }
		if want := sanitizeName(meas, false); norm(m.Name()) != norm(want) {
			t.Errorf("measurement %q read back as %q, want %q (line %q)", meas, m.Name(), want, line)
		}
		wantTags := map[string]string{"zz": "fixed"}
		if tv != "" {
			wantTags[norm(sanitizeName(tk, true))] = norm(sanitizeName(tv, true))
		}
		gotTags := map[string]string{}
		for _, tg := range m.TagList() {
			gotTags[norm(tg.Key)] = norm(tg.Value)
		}
		if len(gotTags) != len(wantTags) {
			t.Errorf("tags %v, want %v (line %q)", gotTags, wantTags, line)
		}
		for k, v := range wantTags {
			if gotTags[k] != v {
				t.Errorf("tag %q = %q, want %q (line %q)", k, gotTags[k], v, line)
			}
		}
		fl := m.FieldList()
		if len(fl) != 4 {
			t.Fatalf("%d fields, want 4 (line %q)", len(fl), line)
		}
		wantS := strings.NewReplacer("\n", `\n`, "\r", `\r`, "\f", `\f`).Replace(sv)
		for i, want := range []any{iv, fv, bv, wantS} {
			wantKey := norm(sanitizeName(fk+[]string{"", "_f", "_b", "_s"}[i], true))
			if norm(fl[i].Key) != wantKey || fl[i].Value != want {
				t.Errorf("field %d = %q:%#v, want %q:%#v (line %q)", i, fl[i].Key, fl[i].Value, wantKey, want, line)
			}
		}
		if m.Time().UnixNano() != ts {
			t.Errorf("time %d, want %d", m.Time().UnixNano(), ts)
		}
	})
}

// benchPoint is a typical connection sample: three tags, six fields.
func benchPoint() Point {
	return Point{
		Measurement: "zmtp_conn",
		Tags:        []Tag{{"conn", "10.0.0.1:5555>10.0.0.2:40000"}, {"dir", "out"}, {"host", "lab-1"}},
		Fields: []Field{Int("messages", 1234), Int("frames", 2468), Int("bytes", 987654),
			Float("msg_rate", 1234.5), Int("outstanding", 3), String("socket", "DEALER")},
		Time: time.Unix(1700000000, 123456789),
	}
}

func BenchmarkAppendLine(b *testing.B) {
	p := benchPoint()
	buf := make([]byte, 0, 4096)
	buf, _ = AppendLine(buf, &p)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Time = p.Time.Add(time.Millisecond)
		buf, _ = AppendLine(buf[:0], &p)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
}

// Validate refuses a repeated tag or field key, whether the tags were sorted
// by AddTag or set by hand, and for fields beyond the first 64 too.
func TestValidateRepeatedKeys(t *testing.T) {
	at := time.Unix(1, 0)
	cases := []Point{
		{Measurement: "m", Time: at, Tags: []Tag{{"a", "1"}, {"a", "2"}}, Fields: []Field{Int("f", 1)}},
		{Measurement: "m", Time: at, Tags: []Tag{{"b", "1"}, {"a", "2"}, {"b", "3"}}, Fields: []Field{Int("f", 1)}},
		{Measurement: "m", Time: at, Fields: []Field{Int("f", 1), Int("g", 2), Float("f", 3)}},
	}
	var many []Field
	for i := 0; i < 70; i++ {
		many = append(many, Int(fmt.Sprintf("f%d", i), int64(i)))
	}
	cases = append(cases, Point{Measurement: "m", Time: at, Fields: append(slices.Clone(many), Int("f68", 1))})
	for i, p := range cases {
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "twice") {
			t.Errorf("case %d: %v", i, err)
		}
	}
	ok := Point{Measurement: "m", Time: at, Tags: []Tag{{"b", "1"}, {"a", "2"}}, Fields: many}
	if err := ok.Validate(); err != nil {
		t.Errorf("distinct keys refused: %v", err)
	}
}

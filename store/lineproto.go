package store

import (
	"math"
	"strconv"
)

// AppendLine appends p to dst as one line of InfluxDB line protocol, ending
// in '\n', with a nanosecond timestamp, and returns the extended buffer. An
// invalid point (see Point.Validate) leaves dst unchanged and returns an
// error wrapping ErrInvalidPoint. It does not allocate when dst has room.
//
// Escaping follows the line-protocol rules: in the measurement ',' and ' '
// get a backslash, in tag keys, tag values and field keys ',', '=' and ' '
// do; string field values are quoted with '"' and '\' escaped. What line
// protocol cannot carry in a name or tag value is replaced: a control
// character (line break, tab...) by a space, and a backslash that would come
// right before an escaped byte or end the name by '/'. In a string field
// '\n', '\r' and '\f' read back as the two characters `\n`, `\r`, `\f`. One
// point is therefore always exactly one line.
func AppendLine(dst []byte, p *Point) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return dst, err
	}
	dst = appendName(dst, p.Measurement, false)
	for i := range p.Tags {
		t := &p.Tags[i]
		if t.Value == "" {
			continue
		}
		dst = append(dst, ',')
		dst = appendName(dst, t.Key, true)
		dst = append(dst, '=')
		dst = appendName(dst, t.Value, true)
	}
	for i := range p.Fields {
		f := &p.Fields[i]
		if i == 0 {
			dst = append(dst, ' ')
		} else {
			dst = append(dst, ',')
		}
		dst = appendName(dst, f.Key, true)
		dst = append(dst, '=')
		switch f.Kind {
		case KindInt:
			dst = strconv.AppendInt(dst, int64(f.num), 10)
			dst = append(dst, 'i')
		case KindFloat:
			dst = appendFloat(dst, math.Float64frombits(f.num))
		case KindBool:
			if f.num != 0 {
				dst = append(dst, "true"...)
			} else {
				dst = append(dst, "false"...)
			}
		case KindString:
			dst = appendQuoted(dst, f.str)
		}
	}
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, p.Time.UnixNano(), 10)
	return append(dst, '\n'), nil
}

// appendFloat writes v in the shortest form that reads back exactly; without
// an "i" suffix line protocol reads even "3" as a float, and both 1.8 and 2.x
// accept exponents such as 1e+21.
func appendFloat(dst []byte, v float64) []byte {
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}

// control reports whether c is an ASCII control character, which line
// protocol cannot carry in a name or tag value (parsers differ on tabs, and
// a line break ends the point).
func control(c byte) bool { return c < 0x20 || c == 0x7f }

// special reports whether c must be escaped in a name: ',' and ' ' always,
// '=' in tag keys, tag values and field keys.
func special(c byte, eq bool) bool {
	return c == ',' || c == ' ' || (eq && c == '=')
}

// appendName appends a measurement (eq false) or a tag key, tag value or
// field key (eq true), escaped.
func appendName(dst []byte, s string, eq bool) []byte {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; special(c, eq) || c == '\\' || control(c) {
			clean = false
			break
		}
	}
	if clean {
		return append(dst, s...)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case control(c):
			dst = append(dst, '\\', ' ')
		case special(c, eq):
			dst = append(dst, '\\', c)
		case c == '\\':
			// InfluxDB's parser takes any byte after a backslash as escaped
			// and has no escape for the backslash itself: one cannot come
			// right before an escaped byte or the separator after the name.
			if i+1 == len(s) || special(s[i+1], eq) || control(s[i+1]) {
				dst = append(dst, '/')
			} else {
				dst = append(dst, '\\')
			}
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendQuoted appends a string field value in double quotes.
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		var esc byte
		switch s[i] {
		case '"', '\\':
			esc = s[i]
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		case '\f':
			esc = 'f'
		default:
			continue
		}
		dst = append(dst, s[start:i]...)
		if esc != s[i] {
			// A line break is written as an escaped backslash and a letter:
			// it reads back as the two characters `\n`.
			dst = append(dst, '\\')
		}
		dst = append(dst, '\\', esc)
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Package textsafe makes text that came off the wire, or from a monitor
// forwarder, safe to print on an operator's terminal.
//
// A PLAIN username, an ERROR reason, a metadata value, an endpoint in a
// forwarded monitor event: any of them may hold bytes a terminal acts on
// instead of showing. ESC starts sequences that set the window title
// (ESC ] 0 ; ... BEL), clear the screen (ESC [ 2 J) or move the cursor; the
// C1 controls (U+0080-U+009F) do the same on terminals that honour them;
// carriage returns, newlines and tabs rewrite or forge report lines; and the
// bidirectional controls (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F,
// U+061C) reorder what follows them, so that text reads as something else.
//
// String escapes every rune that is not a printable character in Go's sense
// (unicode.IsPrint, plus the ASCII space) and every byte that is not UTF-8,
// in Go's escape notation: \x1b, \x07, \u009b, \u202e, \xff. Printable text,
// including letters of any script and emoji, passes unchanged. A backslash
// is not escaped, so a string that already reads "\x1b" prints as itself:
// the output is for people, not for parsing back.
//
// JSON does the same for JSON text (what encoding/json wrote): encoding/json
// escapes the ASCII controls but writes C1 controls and bidirectional
// overrides as they are, which reorder a terminal showing `zspy replay
// --json`. JSON escapes those as \uXXXX, so the document decodes to the
// same strings.
package textsafe

import (
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// Safe reports whether s prints as itself: valid UTF-8 of printable runes
// and spaces only.
func Safe(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || !unicode.IsPrint(r) {
			return false
		}
		i += n
	}
	return true
}

// String returns s with every control, format, separator or unassigned rune
// and every invalid byte escaped; s itself when there is none (no copy).
func String(s string) string {
	if Safe(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			writeHex(&b, 'x', uint32(s[i]), 2)
		case r < utf8.RuneSelf && (r < 0x20 || r == 0x7f):
			writeHex(&b, 'x', uint32(r), 2)
		case r >= utf8.RuneSelf && !unicode.IsPrint(r):
			if r > 0xffff {
				writeHex(&b, 'U', uint32(r), 8)
			} else {
				writeHex(&b, 'u', uint32(r), 4)
			}
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func writeHex(b *strings.Builder, kind byte, v uint32, digits int) {
	b.WriteByte('\\')
	b.WriteByte(kind)
	for shift := 4 * (digits - 1); shift >= 0; shift -= 4 {
		b.WriteByte(hexDigits[v>>uint(shift)&0xf])
	}
}

// JSON returns the JSON text b with every non-ASCII rune that is not
// printable written as a \uXXXX escape (a surrogate pair above U+FFFF), and
// every invalid byte as \ufffd; b itself when there is none. Outside strings
// JSON text is ASCII, so the result is the same document.
func JSON(b []byte) []byte {
	i := 0
	for i < len(b) {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 || !unicode.IsPrint(r) {
			break
		}
		i += n
	}
	if i == len(b) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	out = append(out, b[:i]...)
	for i < len(b) {
		if b[i] < utf8.RuneSelf {
			out = append(out, b[i])
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			out = appendU(out, utf8.RuneError)
		case !unicode.IsPrint(r) && r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			out = appendU(appendU(out, r1), r2)
		case !unicode.IsPrint(r):
			out = appendU(out, r)
		default:
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return out
}

func appendU(b []byte, r rune) []byte {
	b = append(b, '\\', 'u')
	for shift := 12; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[r>>uint(shift)&0xf])
	}
	return b
}

package textsafe

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"admin", "admin"},
		{"tcp://127.0.0.1:5555", "tcp://127.0.0.1:5555"},
		{"Grüße, 東京 🚀 a b", "Grüße, 東京 🚀 a b"},
		// The probe's username: set the title, clear the screen.
		{"\x1b]0;zspy-pwned\x07\x1b[2Jadmin", `\x1b]0;zspy-pwned\x07\x1b[2Jadmin`},
		{"a\tb\nc\rd\x00e\x7f", `a\x09b\x0ac\x0dd\x00e\x7f`},
		// C1 CSI, right-to-left override, isolates, marks, separators.
		{"\u009b31m", `\u009b31m`},
		{"user\u202etxt.exe", `user\u202etxt.exe`},
		{"\u2066x\u2069\u200e\u200f\u061c", `\u2066x\u2069\u200e\u200f\u061c`},
		{"a\u2028b\u2029c\ufeff", `a\u2028b\u2029c\ufeff`},
		{"\U000e0001tag", `\U000e0001tag`},
		// Bytes that are not UTF-8 (a cut rune, a lone continuation byte).
		{"ok\xff\xe2\x80", `ok\xff\xe2\x80`},
	} {
		if got := String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if Safe(tc.in) != (tc.in == tc.want) {
			t.Errorf("Safe(%q) = %v", tc.in, Safe(tc.in))
		}
	}
}

// FuzzString: whatever goes in, what comes out is valid UTF-8 of printable
// runes and spaces, and safe text comes out unchanged.
func FuzzString(f *testing.F) {
	f.Add("\x1b]0;title\x07")
	f.Add("\u202e\u009b\xff")
	f.Add("plain text")
	f.Fuzz(func(t *testing.T, s string) {
		out := String(s)
		if !utf8.ValidString(out) || !Safe(out) {
			t.Fatalf("String(%q) = %q is not safe", s, out)
		}
		if Safe(s) != (out == s) {
			t.Fatalf("Safe(%q) = %v but String gives %q", s, Safe(s), out)
		}
		if !strings.Contains(s, "\\") && strings.Count(out, "\\") == 0 && out != s {
			t.Fatalf("String(%q) = %q changed without escaping", s, out)
		}
	})
}

func BenchmarkStringSafe(b *testing.B) {
	s := "user-255-abcdefghijklmnopqrstuvwxyz0123456789 tcp://127.0.0.1:5555"
	b.ReportAllocs()
	for b.Loop() {
		_ = String(s)
	}
}

func TestJSON(t *testing.T) {
	in := map[string]string{"user": "\x1b]0;t\x07\u009b\u202eadmin", "ok": "東京 🚀", "tag": "\U000e0001"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out := JSON(b)
	if want := `{"ok":"東京 🚀","tag":"\udb40\udc01","user":"\u001b]0;t\u0007\u009b\u202eadmin"}`; string(out) != want {
		t.Fatalf("JSON(%s) = %s, want %s", b, out, want)
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil || !maps.Equal(back, in) {
		t.Fatalf("decodes to %q (%v), want %q", back, err, in)
	}
	safe := []byte(`{"ok":"東京"}`)
	if got := JSON(safe); &got[0] != &safe[0] {
		t.Error("safe JSON was copied")
	}
}

package textcut

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestBytes(t *testing.T) {
	for _, tc := range []struct {
		name, s string
		n       int
		mark    string
		want    string
	}{
		{"short enough", "abc", 3, Ellipsis, "abc"},
		{"empty", "", 0, Ellipsis, ""},
		{"ascii with mark", "abcdefgh", 6, Ellipsis, "abc…"},
		{"ascii without mark", "abcdefgh", 6, "", "abcdef"},
		{"backs off a split rune", "aéééé", 4, "", "aé"},
		{"backs off a split rune before the mark", "aéééé", 7, Ellipsis, "aé…"},
		{"four-byte rune", "a😀b", 4, "", "a"},
		{"other mark", "abcdefgh", 6, "~", "abcde~"},
		{"mark longer than n", "abcdefgh", 2, Ellipsis, Ellipsis},
		{"zero", "abc", 0, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Bytes(tc.s, tc.n, tc.mark)
			if got != tc.want {
				t.Fatalf("Bytes(%q, %d, %q) = %q, want %q", tc.s, tc.n, tc.mark, got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Fatalf("Bytes(%q, %d, %q) = %q: not valid UTF-8", tc.s, tc.n, tc.mark, got)
			}
		})
	}
}

func TestUTF16(t *testing.T) {
	for _, tc := range []struct {
		name, s string
		n       int
		mark    string
		want    string
	}{
		{"short enough", "жжж", 3, Ellipsis, "жжж"},
		{"counts characters, not bytes", "жжжжж", 4, Ellipsis, "жжж…"},
		{"an emoji counts two", "a😀b", 3, "", "a😀"},
		{"never splits an emoji", "a😀b", 2, "", "a"},
		{"mark longer than n", "abc", 0, Ellipsis, Ellipsis},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := UTF16(tc.s, tc.n, tc.mark)
			if got != tc.want || !utf8.ValidString(got) {
				t.Fatalf("UTF16(%q, %d, %q) = %q, want %q", tc.s, tc.n, tc.mark, got, tc.want)
			}
		})
	}
	if n := UTF16Len("aж😀"); n != 4 {
		t.Fatalf("UTF16Len = %d, want 4", n)
	}
}

func TestLine(t *testing.T) {
	for _, tc := range []struct {
		name, s string
		n       int
		want    string
	}{
		{"plain", "Carol Smith", 100, "Carol Smith"},
		{"ends trimmed", "  Carol \t", 100, "Carol"},
		{"newlines and tabs are spaces", "on it\n\nrebooting\tdb1", 100, "on it rebooting db1"},
		{"a forged log line", "ok\r\n2026-12-05 INFO acknowledged by bob", 100, "ok 2026-12-05 INFO acknowledged by bob"},
		{"escape sequences", "\x1b[31mred\x1b[0m", 100, "[31mred [0m"},
		{"bidirectional override", "evil\u202Egnp.exe", 100, "evilgnp.exe"},
		{"zero-width space", "Ca\u200Brol", 100, "Carol"},
		{"invalid UTF-8", "a\xffb", 100, "a\uFFFDb"},
		{"cut", "abcdefgh", 6, "abc…"},
		{"only controls", "\x00\x01\n", 10, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Line(tc.s, tc.n); got != tc.want {
				t.Fatalf("Line(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
			}
		})
	}
	big := strings.Repeat("x", 1<<20)
	if got := Line(big, 2000); len(got) != 2000 || !strings.HasSuffix(got, Ellipsis) {
		t.Fatalf("a 1 MB note is kept as %d bytes", len(got))
	}
}

package textcut

import (
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

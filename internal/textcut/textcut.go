// Package textcut cuts text to a limit counted in bytes (a provider's
// field size, a stored label's), never inside a UTF-8 sequence, so that
// what is kept is still valid text. One copy, because each of the places
// that cut text had grown its own and they had begun to differ.
package textcut

import (
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Ellipsis is the mark that says text was cut.
const Ellipsis = "…"

// Bytes returns s when it is at most n bytes long. Otherwise it returns
// the longest prefix of s that ends on a rune boundary and leaves room for
// mark, followed by mark: at most n bytes in all (mark alone when n is
// shorter than it). An empty mark cuts without saying so.
func Bytes(s string, n int, mark string) string {
	if len(s) <= n {
		return s
	}
	i := max(n-len(mark), 0)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + mark
}

// UTF16Len is how long s is in UTF-16 code units: how Twilio counts an
// SMS body's 1,600 characters (a character outside the Basic Multilingual
// Plane, an emoji, counts two).
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// UTF16 is Bytes counted in UTF-16 code units (UTF16Len): s when it is at
// most n units long, else its longest prefix of whole runes that leaves
// room for mark, followed by mark (mark alone when n is shorter than it).
func UTF16(s string, n int, mark string) string {
	if UTF16Len(s) <= n {
		return s
	}
	room := n - UTF16Len(mark)
	if room < 0 {
		return mark
	}
	used := 0
	for i, r := range s {
		if used+utf16.RuneLen(r) > room {
			return s[:i] + mark
		}
		used += utf16.RuneLen(r)
	}
	return s + mark // not reached: s is longer than n
}

// Line is text another system passes on (a name, a note) made fit to keep
// and show as one line: control characters (newlines and tabs among them)
// become spaces, runs of spaces one, the ends trimmed; the format
// characters that reorder or hide text (bidirectional overrides,
// zero-width spaces) are dropped; what is longer than n bytes is cut
// (Bytes, with Ellipsis). Invalid UTF-8 becomes U+FFFD. A 1 MB note is
// thus kept as its first n bytes, and nothing in it can forge a second
// line of a log or a timeline.
func Line(s string, n int) string {
	if len(s) > 4*n+1024 {
		// What lies past this is cut anyway (unless nearly all before
		// it is dropped), and need not be read.
		s = s[:4*n+1024]
	}
	var b strings.Builder
	b.Grow(min(len(s), n+len(Ellipsis)))
	space := false
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if unicode.Is(unicode.Cf, r) {
			continue
		}
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
		if b.Len() > n {
			break
		}
	}
	return Bytes(b.String(), n, Ellipsis)
}

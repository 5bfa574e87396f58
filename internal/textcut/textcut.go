// Package textcut cuts text to a limit counted in bytes (a provider's
// field size, a stored label's), never inside a UTF-8 sequence, so that
// what is kept is still valid text. One copy, because each of the places
// that cut text had grown its own and they had begun to differ.
package textcut

import "unicode/utf8"

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

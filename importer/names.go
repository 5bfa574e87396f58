package importer

import (
	"fmt"
	"strings"
	"unicode"
)

// ident turns a vendor name into a pagerd name (letters, digits, '.', '_'
// and '-', starting with a letter or digit): lower case, every other run of
// characters one '-'. fallback is used when nothing is left.
func ident(s, fallback string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
			dash = false
		case r == '.' || r == '_' || r == '-':
			b.WriteRune(r)
			dash = r == '-'
		default:
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	out := strings.Trim(b.String(), "-._")
	if out == "" {
		return fallback
	}
	return out
}

// namespace hands out unique names within one list of the config (user ids,
// schedule names...): a second "platform" becomes "platform-2".
type namespace map[string]bool

func (n namespace) take(want string) string {
	name := want
	for i := 2; n[name]; i++ {
		name = fmt.Sprintf("%s-%d", want, i)
	}
	n[name] = true
	return name
}

// envName is an environment variable name for a secret of a pagerd entity:
// PAGERD_<NAME>_<WHAT>, upper case, other characters '_'.
func envName(name, what string) string {
	var b strings.Builder
	b.WriteString("PAGERD_")
	for _, r := range strings.ToUpper(name) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	b.WriteString("_" + what)
	return b.String()
}

// takeEnv hands out a unique environment variable name: a second
// PAGERD_X_KEY becomes PAGERD_X_KEY_2 (a '-' would not be a shell name).
func (n namespace) takeEnv(want string) string {
	name := want
	for i := 2; n[name]; i++ {
		name = fmt.Sprintf("%s_%d", want, i)
	}
	n[name] = true
	return name
}

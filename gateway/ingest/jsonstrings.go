package ingest

import (
	"bytes"
	"encoding/json"
	"slices"
	"unicode/utf8"
)

// jsonStrings is a map of strings in an incident's details (labels,
// annotations) that marshals itself: encoding/json marshals a map by
// reflection, copying each key and value out into a value of its own
// before sorting the keys, three allocations an entry, and the details of
// every alert hold four such maps. It writes what encoding/json writes,
// byte for byte: the keys sorted, the strings escaped as it escapes them
// (TestJSONStringsIsEncodingJSON). Whether <, > and & are escaped is left
// to the encoder that calls it, which escapes them in a Marshaler's
// output as in its own.
type jsonStrings map[string]string

// MarshalJSON writes m as encoding/json would.
func (m jsonStrings) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("null"), nil
	}
	var small [8]string
	keys := small[:0]
	size := 2
	for k, v := range m {
		keys = append(keys, k)
		size += len(k) + len(v) + 6
	}
	slices.Sort(keys)
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}'), nil
}

// appendJSONString appends s quoted as encoding/json quotes it with HTML
// escaping off. Text that needs no escaping (printable ASCII but the quote
// and backslash, and valid UTF-8 but U+2028 and U+2029), as nearly all
// labels are, is copied; anything else is left to encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' {
				return appendEscaped(b, s)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return appendEscaped(b, s)
		}
		i += size
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendEscaped is appendJSONString's slow way, through encoding/json.
func appendEscaped(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always marshals
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

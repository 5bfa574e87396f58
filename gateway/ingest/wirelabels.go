package ingest

import "encoding/json"

// wireLabels is a map of strings (labels, annotations) as decodeValid
// reads it from a notification: encoding/json decodes a map by
// reflection, a new key value, a key string and a value string an entry
// and the map grown as it goes, and a notification of one alert carries
// five such maps. An object whose keys and values are all plain strings
// (printable ASCII with no escapes, as labels nearly always are) is read
// here into a map made at its size, its keys and values cut from one copy
// of the object's text; anything else is left to encoding/json, which
// decodes it as before. What it decodes is what encoding/json decodes
// (TestWireLabelsIsEncodingJSON).
type wireLabels map[string]string

// UnmarshalJSON decodes data as encoding/json decodes it into a
// map[string]string: null makes the map nil, and the entries of an object
// are added to the map already there, if any.
func (m *wireLabels) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*m = nil
		return nil
	}
	n, ok := plainStrings(data, nil)
	if !ok {
		return json.Unmarshal(data, (*map[string]string)(m))
	}
	if *m == nil {
		*m = make(wireLabels, n)
	}
	if n > 0 {
		into := *m
		plainStrings(string(data), func(k, v string) { into[k] = v })
	}
	return nil
}

// plainStrings reads s as a JSON object whose keys and values are all
// plain strings, calling put (if not nil) with each pair in order, and
// says how many there are. ok is false if s is anything else.
func plainStrings[T string | []byte](s T, put func(k, v T)) (n int, ok bool) {
	i := skipJSONSpace(s, 0)
	if i == len(s) || s[i] != '{' {
		return 0, false
	}
	i = skipJSONSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return 0, skipJSONSpace(s, i+1) == len(s)
	}
	for {
		ks, ke, ok := plainString(s, i)
		if !ok {
			return 0, false
		}
		i = skipJSONSpace(s, ke+1)
		if i == len(s) || s[i] != ':' {
			return 0, false
		}
		vs, ve, ok := plainString(s, skipJSONSpace(s, i+1))
		if !ok {
			return 0, false
		}
		if put != nil {
			put(s[ks:ke], s[vs:ve])
		}
		n++
		i = skipJSONSpace(s, ve+1)
		if i == len(s) {
			return 0, false
		}
		switch s[i] {
		case ',':
			i = skipJSONSpace(s, i+1)
		case '}':
			return n, skipJSONSpace(s, i+1) == len(s)
		default:
			return 0, false
		}
	}
}

// plainString finds the JSON string at s[i]: its text is s[start:end],
// and s[end] its closing quote. ok is false if there is none there, or it
// holds an escape, a control character or a byte that is not ASCII.
func plainString[T string | []byte](s T, i int) (start, end int, ok bool) {
	if i >= len(s) || s[i] != '"' {
		return 0, 0, false
	}
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return i + 1, j, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

func skipJSONSpace[T string | []byte](s T, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

package ingest

import (
	"strings"
	"unicode/utf8"
)

// scanValid reads a notification into w as json.Unmarshal does, without
// reflection and in one pass over the text, when it is in the shape
// Alertmanager writes: an object of the known fields, each once and none
// null, strings whose only escapes are \", \\ and \/, a count that is a
// plain integer, maps read by wireLabels, nothing after it. It says false
// at anything else (w is then left in any state), and json.Unmarshal
// reads it as before: what it reads is what json.Unmarshal reads
// (TestScanValidIsUnmarshal). encoding/json scanned each notification
// twice (to check it, then to decode it) a byte at a time and set each
// field by reflection, the most of what decoding one cost.
func scanValid(body []byte, w *validMessage) bool {
	s := amScan{b: body}
	if !s.byte('{') {
		return false
	}
	var seen uint16
	for first := true; ; first = false {
		if s.byte('}') {
			if first {
				return false // {} is refused later anyway
			}
			break
		}
		if !first && !s.byte(',') {
			return false
		}
		k, ok := s.key()
		if !ok {
			return false
		}
		var bit uint16
		switch string(k) {
		case "version":
			bit = 1 << 0
			w.Version, ok = s.str()
		case "groupKey":
			bit = 1 << 1
			w.GroupKey, ok = s.str()
		case "truncatedAlerts":
			bit = 1 << 2
			w.TruncatedAlerts, ok = s.uint()
		case "status":
			bit = 1 << 3
			w.Status, ok = s.str()
		case "receiver":
			bit = 1 << 4
			w.Receiver, ok = s.str()
		case "groupLabels":
			bit = 1 << 5
			ok = s.labels(&w.GroupLabels)
		case "commonLabels":
			bit = 1 << 6
			ok = s.labels(&w.CommonLabels)
		case "commonAnnotations":
			bit = 1 << 7
			ok = s.labels(&w.CommonAnnotations)
		case "externalURL":
			bit = 1 << 8
			w.ExternalURL, ok = s.str()
		case "alerts":
			bit = 1 << 9
			ok = s.alerts(&w.Alerts)
		default:
			ok = s.unknown(k, messageFields)
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
	s.space()
	return s.i == len(s.b)
}

// messageFields and alertFields are the names encoding/json matches
// without regard to case.
var (
	messageFields = []string{"version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels", "commonLabels",
		"commonAnnotations", "externalURL", "alerts"}
	alertFields = []string{"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}
)

// unknown skips the value of a field not decoded (Alertmanager adds
// some: silenceURL, groupID, routeLabels), checking it is JSON as
// encoding/json does. A name that is one of fields but for case is one
// encoding/json would decode into it: false.
func (s *amScan) unknown(k []byte, fields []string) bool {
	for _, f := range fields {
		if strings.EqualFold(string(k), f) {
			return false
		}
	}
	return s.skip(0)
}

// skip passes over one JSON value, false if it is not valid JSON (or is
// nested past 64 levels).
func (s *amScan) skip(depth int) bool {
	if depth > 64 {
		return false
	}
	s.space()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		for j := s.i + 1; j < len(s.b); j++ {
			switch c := s.b[j]; {
			case c == '"':
				s.i = j + 1
				return true
			case c < 0x20:
				return false
			case c == '\\':
				if j+1 == len(s.b) {
					return false
				}
				switch s.b[j+1] {
				case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
					j++
				case 'u':
					if j+6 > len(s.b) {
						return false
					}
					for _, h := range s.b[j+2 : j+6] {
						if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
							return false
						}
					}
					j += 5
				default:
					return false
				}
			}
		}
		return false
	case c == '{':
		s.i++
		if s.byte('}') {
			return true
		}
		for {
			s.space()
			if !s.skipString() || !s.byte(':') || !s.skip(depth+1) {
				return false
			}
			if s.byte('}') {
				return true
			}
			if !s.byte(',') {
				return false
			}
		}
	case c == '[':
		s.i++
		if s.byte(']') {
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			if s.byte(']') {
				return true
			}
			if !s.byte(',') {
				return false
			}
		}
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
				s.i += len(lit)
				return true
			}
		}
		return false
	}
}

// skipString passes over a string, as skip does.
func (s *amScan) skipString() bool {
	return s.i < len(s.b) && s.b[s.i] == '"' && s.skip(0)
}

// number passes over a JSON number.
func (s *amScan) number() bool {
	j := s.i
	digits := func() int {
		n := 0
		for j < len(s.b) && '0' <= s.b[j] && s.b[j] <= '9' {
			j++
			n++
		}
		return n
	}
	if j < len(s.b) && s.b[j] == '-' {
		j++
	}
	if j < len(s.b) && s.b[j] == '0' {
		j++
	} else if digits() == 0 {
		return false
	}
	if j < len(s.b) && s.b[j] == '.' {
		j++
		if digits() == 0 {
			return false
		}
	}
	if j < len(s.b) && (s.b[j] == 'e' || s.b[j] == 'E') {
		j++
		if j < len(s.b) && (s.b[j] == '+' || s.b[j] == '-') {
			j++
		}
		if digits() == 0 {
			return false
		}
	}
	s.i = j
	return true
}

// amScan is scanValid's place in the text.
type amScan struct {
	b []byte
	i int
}

func (s *amScan) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// byte reads c, after any space.
func (s *amScan) byte(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// key reads a field name of plain ASCII and the colon after it.
func (s *amScan) key() ([]byte, bool) {
	s.space()
	start, end, ok := plainString(s.b, s.i)
	if !ok {
		return nil, false
	}
	s.i = end + 1
	return s.b[start:end], s.byte(':')
}

// str reads a string as encoding/json does: its text copied, \", \\ and
// \/ unescaped. Any other escape, a control character or bytes that are
// not UTF-8 (which encoding/json would replace) make it false.
func (s *amScan) str() (string, bool) {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return "", false
	}
	start := s.i + 1
	var out []byte // the text, once an escape is met
	ascii := true
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			if out == nil {
				t := s.b[start:j]
				if !ascii && !utf8.Valid(t) {
					return "", false
				}
				return string(t), true
			}
			out = append(out, s.b[start:j]...)
			if !ascii && !utf8.Valid(out) {
				return "", false
			}
			return string(out), true
		case c == '\\':
			if j+1 == len(s.b) {
				return "", false
			}
			switch e := s.b[j+1]; e {
			case '"', '\\', '/':
				out = append(append(out, s.b[start:j]...), e)
			default:
				return "", false
			}
			j++
			start = j + 1
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// uint reads a count as encoding/json reads it into a uint64: digits
// only, no leading zero, no fraction or exponent, no overflow.
func (s *amScan) uint() (uint64, bool) {
	s.space()
	j := s.i
	var n uint64
	for j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9' {
		d := uint64(s.b[j] - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
		j++
	}
	if j == s.i || s.b[s.i] == '0' && j-s.i > 1 {
		return 0, false
	}
	if j < len(s.b) && (s.b[j] == '.' || s.b[j] == 'e' || s.b[j] == 'E') {
		return 0, false
	}
	s.i = j
	return n, true
}

// labels reads an object of strings into m by wireLabels, which reads it
// as encoding/json does: the object's end is its first closing brace
// outside a string, and any object or array inside makes it false.
func (s *amScan) labels(m *wireLabels) bool {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return false
	}
	for j := s.i + 1; j < len(s.b); j++ {
		switch s.b[j] {
		case '"':
			for j++; j < len(s.b) && s.b[j] != '"'; j++ {
				if s.b[j] == '\\' {
					j++
				}
			}
		case '{', '[':
			return false
		case '}':
			if m.UnmarshalJSON(s.b[s.i:j+1]) != nil {
				return false
			}
			s.i = j + 1
			return true
		}
	}
	return false
}

// alerts reads a non-empty array of alerts.
func (s *amScan) alerts(as *[]validAlert) bool {
	if !s.byte('[') {
		return false
	}
	out := make([]validAlert, 0, 1)
	for first := true; ; first = false {
		if s.byte(']') {
			if first {
				return false // refused later anyway
			}
			*as = out
			return true
		}
		if !first && !s.byte(',') {
			return false
		}
		out = append(out, validAlert{})
		if !s.alert(&out[len(out)-1]) {
			return false
		}
	}
}

// alert reads one alert, each known field once and no other.
func (s *amScan) alert(a *validAlert) bool {
	if !s.byte('{') {
		return false
	}
	var seen uint8
	for first := true; ; first = false {
		if s.byte('}') {
			return true
		}
		if !first && !s.byte(',') {
			return false
		}
		k, ok := s.key()
		if !ok {
			return false
		}
		var bit uint8
		switch string(k) {
		case "status":
			bit = 1 << 0
			a.Status, ok = s.str()
		case "labels":
			bit = 1 << 1
			ok = s.labels(&a.Labels)
		case "annotations":
			bit = 1 << 2
			ok = s.labels(&a.Annotations)
		case "startsAt":
			bit = 1 << 3
			a.StartsAt, ok = s.strPtr()
		case "endsAt":
			bit = 1 << 4
			a.EndsAt, ok = s.strPtr()
		case "generatorURL":
			bit = 1 << 5
			a.GeneratorURL, ok = s.str()
		case "fingerprint":
			bit = 1 << 6
			a.Fingerprint, ok = s.str()
		default:
			ok = s.unknown(k, alertFields)
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
}

func (s *amScan) strPtr() (*string, bool) {
	v, ok := s.str()
	if !ok {
		return nil, false
	}
	return &v, true
}

package ingest

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// jsonStrings is a map of strings in an incident's details (labels,
// annotations), written by appendJSON as encoding/json writes a
// map[string]string with HTML escaping off, byte for byte: the keys
// sorted, the strings escaped as it escapes them
// (TestJSONStringsIsEncodingJSON). encoding/json marshalled a map by
// reflection, copying each key and value out into a value of its own
// before sorting the keys, three allocations an entry, and the details of
// every alert hold four such maps. It has no MarshalJSON of its own: the
// details are written by amDetails.json, and encoding/json, which reads
// them back and writes them in tests as the reference, sees a map.
type jsonStrings map[string]string

// appendJSON appends m as encoding/json writes it.
func (m jsonStrings) appendJSON(b []byte) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var small [8]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

// appendJSONString appends s quoted as encoding/json quotes it with HTML
// escaping off. Quotes and backslashes (a group key is full of them) are
// escaped here; text with anything else to escape (a control character,
// bytes that are not UTF-8, U+2028 or U+2029) is left to encoding/json
// itself. Other text, as nearly all labels are, is copied.
func appendJSONString(b []byte, s string) []byte {
	mark := len(b)
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, s[start:i]...)
				b = append(b, '\\', c)
				start = i + 1
			case c < 0x20:
				return appendEscaped(b[:mark], s)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return appendEscaped(b[:mark], s)
		}
		i += size
	}
	b = append(b, s[start:]...)
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

// json is d as compactJSON writes it, byte for byte
// (TestAMDetailsJSONIsCompactJSON), written without reflection: through
// encoding/json each map of labels was marshalled by its MarshalJSON and
// then scanned again to be compacted, and the buffer grown as it filled;
// the details of every notification are written at least once.
func (d *amDetails) json() json.RawMessage {
	size := 256 + len(d.Receiver) + len(d.GroupKey) + len(d.ExternalURL) +
		stringsSize(d.GroupLabels) + stringsSize(d.CommonLabels) + stringsSize(d.CommonAnnotations)
	for i := range d.Alerts {
		a := &d.Alerts[i]
		size += 128 + len(a.StartsAt) + len(a.EndsAt) + len(a.GeneratorURL) + len(a.Fingerprint) +
			stringsSize(a.Labels) + stringsSize(a.Annotations)
	}
	for _, t := range d.Truncated {
		size += len(t) + 3
	}
	b := make([]byte, 0, size)
	b = append(b, `{"source":`...)
	b = appendJSONString(b, d.Source)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, d.Status)
	b = append(b, `,"receiver":`...)
	b = appendJSONString(b, d.Receiver)
	b = append(b, `,"group_key":`...)
	b = appendJSONString(b, d.GroupKey)
	if len(d.GroupLabels) > 0 {
		b = d.GroupLabels.appendJSON(append(b, `,"group_labels":`...))
	}
	if len(d.CommonLabels) > 0 {
		b = d.CommonLabels.appendJSON(append(b, `,"common_labels":`...))
	}
	if len(d.CommonAnnotations) > 0 {
		b = d.CommonAnnotations.appendJSON(append(b, `,"common_annotations":`...))
	}
	if d.ExternalURL != "" {
		b = appendJSONString(append(b, `,"external_url":`...), d.ExternalURL)
	}
	if d.TruncatedAlerts != 0 {
		b = strconv.AppendUint(append(b, `,"truncated_alerts":`...), d.TruncatedAlerts, 10)
	}
	b = strconv.AppendInt(append(b, `,"alerts_total":`...), int64(d.AlertsTotal), 10)
	if d.AlertsFiring != nil {
		b = strconv.AppendInt(append(b, `,"alerts_firing":`...), int64(*d.AlertsFiring), 10)
	}
	if d.AlertsUnread != 0 {
		b = strconv.AppendInt(append(b, `,"alerts_unread":`...), int64(d.AlertsUnread), 10)
	}
	if d.AlertsOmitted != 0 {
		b = strconv.AppendInt(append(b, `,"alerts_omitted":`...), int64(d.AlertsOmitted), 10)
	}
	b = append(b, `,"alerts":`...)
	if d.Alerts == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range d.Alerts {
			if i > 0 {
				b = append(b, ',')
			}
			b = d.Alerts[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	if len(d.Truncated) > 0 {
		b = append(b, `,"truncated_by_pagerd":[`...)
		for i, t := range d.Truncated {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, t)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendJSON appends a as encoding/json writes it.
func (a *amAlertDetails) appendJSON(b []byte) []byte {
	b = append(b, `{"status":`...)
	b = appendJSONString(b, a.Status)
	b = a.Labels.appendJSON(append(b, `,"labels":`...))
	if len(a.Annotations) > 0 {
		b = a.Annotations.appendJSON(append(b, `,"annotations":`...))
	}
	if a.StartsAt != "" {
		b = appendJSONString(append(b, `,"starts_at":`...), a.StartsAt)
	}
	if a.EndsAt != "" {
		b = appendJSONString(append(b, `,"ends_at":`...), a.EndsAt)
	}
	if a.GeneratorURL != "" {
		b = appendJSONString(append(b, `,"generator_url":`...), a.GeneratorURL)
	}
	b = appendJSONString(append(b, `,"fingerprint":`...), a.Fingerprint)
	return append(b, '}')
}

// stringsSize is about what m takes written as JSON.
func stringsSize(m jsonStrings) int {
	n := 2
	for k, v := range m {
		n += len(k) + len(v) + 6
	}
	return n
}

package ingest

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestJSONStringsIsEncodingJSON: a jsonStrings marshals to the bytes
// encoding/json writes for the same map[string]string, HTML escaping on
// (json.Marshal) and off (compactJSON), whatever its keys and values hold:
// quotes, backslashes, control characters, HTML, non-ASCII, U+2028 and
// U+2029, invalid UTF-8; and it allocates less.
func TestJSONStringsIsEncodingJSON(t *testing.T) {
	pieces := []string{"a", "Z", "0", " ", "alertname", "db-1:9100", `"`, `\`, "<", ">", "&", "\x00", "\x1f", "\x7f", "\n", "\r", "\t",
		"\b", "\f", "é", "…", "日本", "😀", "\u2028", "\u2029", "\xff", "\xe2\x80", "\xed\xa0\x80", "{}", "[", ":", ","}
	rng := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		var b strings.Builder
		for range rng.IntN(6) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	encode := func(v any, html bool) string {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(html)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	cases := []map[string]string{nil, {}, {"": ""}}
	for range 3000 {
		m := map[string]string{}
		for range rng.IntN(6) {
			m[word()] = word()
		}
		cases = append(cases, m)
	}
	type plain struct {
		M map[string]string `json:"m"`
		O map[string]string `json:"o,omitempty"`
	}
	type ours struct {
		M jsonStrings `json:"m"`
		O jsonStrings `json:"o,omitempty"`
	}
	for _, m := range cases {
		for _, html := range []bool{false, true} {
			want, got := encode(plain{m, m}, html), encode(ours{m, m}, html)
			if got != want {
				t.Fatalf("%q (escape HTML %v):\n got %s\nwant %s", m, html, got, want)
			}
		}
	}
	m := map[string]string{"alertname": "DiskFull", "instance": "db1:9100", "severity": "critical"}
	before := testing.AllocsPerRun(100, func() { compactJSON(plain{M: m}) })
	after := testing.AllocsPerRun(100, func() { compactJSON(ours{M: m}) })
	if after > before-4 {
		t.Errorf("a map of three labels takes %.0f allocations to marshal, %.0f as a map[string]string: want at least 4 fewer", after, before)
	}
}

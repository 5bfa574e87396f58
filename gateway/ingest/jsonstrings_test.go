package ingest

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestJSONStringsIsEncodingJSON: a jsonStrings is written (appendJSON) as
// encoding/json writes the same map[string]string with HTML escaping off
// (compactJSON), whatever its keys and values hold: quotes, backslashes,
// control characters, HTML, non-ASCII, U+2028 and U+2029, invalid UTF-8;
// and it allocates less.
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
	cases := []map[string]string{nil, {}, {"": ""}}
	for range 3000 {
		m := map[string]string{}
		for range rng.IntN(6) {
			m[word()] = word()
		}
		cases = append(cases, m)
	}
	for _, m := range cases {
		if got, want := jsonStrings(m).appendJSON(nil), compactJSON(m); !bytes.Equal(got, want) {
			t.Fatalf("%q:\n got %s\nwant %s", m, got, want)
		}
	}
	m := map[string]string{"alertname": "DiskFull", "instance": "db1:9100", "severity": "critical"}
	before := testing.AllocsPerRun(100, func() { compactJSON(m) })
	after := testing.AllocsPerRun(100, func() { jsonStrings(m).appendJSON(make([]byte, 0, stringsSize(m))) })
	if after > before-4 {
		t.Errorf("a map of three labels takes %.0f allocations to write, %.0f through encoding/json: want at least 4 fewer", after, before)
	}
}

// TestAMDetailsJSONIsCompactJSON: amDetails.json writes what compactJSON
// (encoding/json, HTML escaping off) writes, byte for byte, with fields
// empty, zero, nil and set, and strings that need escaping; and it writes
// a one-alert notification's details in one allocation.
func TestAMDetailsJSONIsCompactJSON(t *testing.T) {
	firing, zero, big := 3, 0, -7
	odd := "q\"\\ <b>&amp;</b> \u2028\u2029 \x01\n\t é \xff ok"
	alert := amAlertDetails{Status: "firing", Labels: jsonStrings{"alertname": "A", "instance": "db1", odd: odd},
		Annotations: jsonStrings{"summary": odd}, StartsAt: "2025-09-10T05:59:00Z", EndsAt: "2025-09-10T06:59:00.123+02:00",
		GeneratorURL: "http://prom/graph?g0.expr=up&x=<1>", Fingerprint: "a1b2c3d4e5f60718"}
	full := amDetails{Source: "alertmanager", Status: "resolved", Receiver: odd, GroupKey: `{}:{alertname="A"}`,
		GroupLabels: jsonStrings{"alertname": "A"}, CommonLabels: jsonStrings{"a": "b", "c": odd}, CommonAnnotations: jsonStrings{"x": "y"},
		ExternalURL: "http://am:9093", TruncatedAlerts: 1<<64 - 1, AlertsTotal: 2, AlertsFiring: &firing, AlertsUnread: 4, AlertsOmitted: 5,
		Alerts: []amAlertDetails{alert, {}, {Status: "resolved", Labels: jsonStrings{}, Annotations: jsonStrings{}}}, Truncated: []string{"one", odd}}
	cases := []amDetails{{}, full, {Alerts: []amAlertDetails{}, AlertsFiring: &zero, AlertsUnread: big, AlertsOmitted: big, AlertsTotal: big,
		GroupLabels: jsonStrings{}, CommonLabels: jsonStrings{}, CommonAnnotations: jsonStrings{}, Truncated: []string{}}}
	for i, d := range cases {
		if got, want := d.json(), compactJSON(d); !bytes.Equal(got, want) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
	one := amDetails{Source: "alertmanager", Status: "firing", Receiver: "pagerd", GroupKey: `{}:{alertname="A"}`,
		GroupLabels: jsonStrings{"alertname": "A"}, CommonLabels: alert.Labels, ExternalURL: "http://am:9093", AlertsTotal: 1,
		AlertsFiring: &firing, Alerts: []amAlertDetails{alert}}
	alert.Annotations, alert.Labels = jsonStrings{"summary": "disk full"}, jsonStrings{"alertname": "A", "instance": "db1"}
	one.Alerts[0], one.CommonLabels = alert, alert.Labels
	if n := testing.AllocsPerRun(100, func() { _ = one.json() }); n > 1 {
		t.Errorf("one alert's details take %.0f allocations, want 1", n)
	}
}

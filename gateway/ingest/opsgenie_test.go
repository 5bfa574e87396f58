package ingest

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// amOpsgenieBody is a create request as Alertmanager's opsgenie_configs
// send it (notify/opsgenie: the alias is the SHA-256 of the group key, the
// details the group's common labels).
const amOpsgenieBody = `{"alias":"8c7b1f2e...","message":"[FIRING:1] DiskFull (db1 critical)",
"description":"disk full on db1","details":{"alertname":"DiskFull","instance":"db1","severity":"critical","team":"db"},
"source":"http://am:9093","tags":["env:prod","db"],"priority":"P1","responders":[{"name":"db","type":"team"}]}`

func TestDecodeOpsgenieAlert(t *testing.T) {
	a, p := DecodeOpsgenieAlert([]byte(amOpsgenieBody))
	if p != nil {
		t.Fatal(p)
	}
	if a.Message != "[FIRING:1] DiskFull (db1 critical)" || a.Priority != "P1" || a.Source != "http://am:9093" || len(a.Tags) != 2 {
		t.Fatalf("decoded %+v", a)
	}
	want := map[string]string{"alertname": "DiskFull", "instance": "db1", "severity": "critical", "team": "db",
		"priority": "P1", "tags": "env:prod,db", "env": "prod", "source": "http://am:9093"}
	if got := a.Labels("severity"); !reflect.DeepEqual(got, want) {
		t.Errorf("labels\n got %v\nwant %v", got, want)
	}
	var d struct {
		Source string            `json:"source"`
		Labels map[string]string `json:"labels"`
		Alert  struct {
			Responders json.RawMessage `json:"responders"`
		} `json:"alert"`
	}
	if err := json.Unmarshal(a.IncidentDetails(a.Labels("severity")), &d); err != nil || d.Source != "opsgenie" || d.Labels["team"] != "db" ||
		!strings.Contains(string(d.Alert.Responders), `"team"`) {
		t.Errorf("details %s (%v)", a.IncidentDetails(nil), err)
	}
	sets, complete := LabelSets(a.IncidentDetails(a.Labels("severity")))
	if !complete || len(sets) != 1 || sets[0]["team"] != "db" {
		t.Errorf("label sets read back: %v %v", sets, complete)
	}
}

// TestOpsgeniePriorityToSeverity: without a severity, the priority gives
// the severity word of the same rank (the published table); a severity
// sent as a detail is kept; the priority field beats a detail named
// priority; a service's own severity label is the one set. A tag that
// names a severity sets it when the sender gave no priority (the default
// P3's warning would route a tagged critical alert as a warning: a push
// at night instead of a page), not over a priority it gave.
func TestOpsgeniePriorityToSeverity(t *testing.T) {
	for _, tc := range []struct {
		body, label string
		want        map[string]string
	}{
		{`{"message":"m"}`, "severity", map[string]string{"priority": "P3", "severity": "warning"}},
		{`{"message":"m","priority":"P1"}`, "severity", map[string]string{"priority": "P1", "severity": "critical"}},
		{`{"message":"m","priority":"P2"}`, "severity", map[string]string{"priority": "P2", "severity": "error"}},
		{`{"message":"m","priority":"P4"}`, "severity", map[string]string{"priority": "P4", "severity": "info"}},
		{`{"message":"m","priority":"P5"}`, "level", map[string]string{"priority": "P5", "level": "info"}},
		{`{"message":"m","priority":"P5","details":{"severity":"critical","priority":"P1"}}`, "severity", map[string]string{"priority": "P5", "severity": "critical"}},
		{`{"message":"m","tags":["a=b","bad-key:x","c"],"entity":"db1","details":{"n":3,"ok":true,"bad key":"x"}}`, "severity",
			map[string]string{"priority": "P3", "severity": "warning", "tags": "a=b,bad-key:x,c", "a": "b", "entity": "db1", "n": "3", "ok": "true"}},
		{`{"message":"m","tags":["severity:critical"]}`, "severity", map[string]string{"priority": "P3", "severity": "critical", "tags": "severity:critical"}},
		{`{"message":"m","tags":["level=critical"]}`, "level", map[string]string{"priority": "P3", "level": "critical", "tags": "level=critical"}},
		{`{"message":"m","priority":"P3","tags":["severity:critical"]}`, "severity", map[string]string{"priority": "P3", "severity": "warning", "tags": "severity:critical"}},
		{`{"message":"m","priority":"P4","tags":["severity:critical"]}`, "severity", map[string]string{"priority": "P4", "severity": "info", "tags": "severity:critical"}},
		{`{"message":"m","details":{"severity":"info"},"tags":["severity:critical"]}`, "severity", map[string]string{"priority": "P3", "severity": "info", "tags": "severity:critical"}},
	} {
		a, p := DecodeOpsgenieAlert([]byte(tc.body))
		if p != nil {
			t.Fatalf("%s: %v", tc.body, p)
		}
		if got := a.Labels(tc.label); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %v\nwant %v", tc.body, got, tc.want)
		}
	}
}

// TestDecodeOpsgenieAlertRefused: what Opsgenie refuses, with its codes
// and the field named.
func TestDecodeOpsgenieAlertRefused(t *testing.T) {
	for _, tc := range []struct {
		body  string
		code  int
		field string
	}{
		{``, 400, ""},
		{`{"message":`, 400, ""},
		{`{"message":"m"} x`, 400, ""},
		{`[1]`, 422, "body"},
		{`null`, 422, "body"},
		{`{}`, 422, "message"},
		{`{"message":"   "}`, 422, "message"},
		{`{"message":5}`, 422, "message"},
		{`{"message":"m","priority":"P0"}`, 422, "priority"},
		{`{"message":"m","priority":"p1"}`, 422, "priority"},
		{`{"message":"m","tags":"a,b"}`, 422, "tags"},
		{`{"message":"m","details":["a"]}`, 422, "details"},
		{`{"message":"m","responders":{"a":1}}`, 422, "responders"},
	} {
		_, p := DecodeOpsgenieAlert([]byte(tc.body))
		if p == nil || p.Code != tc.code || (tc.field != "" && p.Errors[tc.field] == "") {
			t.Errorf("%q: got %+v, want %d naming %q", tc.body, p, tc.code, tc.field)
		}
	}
}

// TestOpsgenieLimits: fields over Opsgenie's limits are cut, not refused,
// and the details say which.
func TestOpsgenieLimits(t *testing.T) {
	tags := make([]string, 25)
	for i := range tags {
		tags[i] = strings.Repeat("t", 60)
	}
	body, _ := json.Marshal(map[string]any{"message": strings.Repeat("é", 200), "alias": strings.Repeat("a", 600), "tags": tags,
		"details": map[string]string{"a": strings.Repeat("x", 7000), "b": strings.Repeat("y", 2000)}})
	a, p := DecodeOpsgenieAlert(body)
	if p != nil {
		t.Fatal(p)
	}
	if utf8.RuneCountInString(a.Message) != 130 || len(a.Alias) > 512 || len(a.Tags) != 20 || utf8.RuneCountInString(a.Tags[0]) != 50 ||
		len(a.Details) != 1 {
		t.Fatalf("limits not applied: message %d runes, alias %d bytes, %d tags, details %d", utf8.RuneCountInString(a.Message), len(a.Alias), len(a.Tags), len(a.Details))
	}
	if d := string(a.IncidentDetails(nil)); !strings.Contains(d, "message cut to Opsgenie's limit") || !strings.Contains(d, "details cut") {
		t.Errorf("details do not say what was cut: %s", d)
	}
	other, _ := json.Marshal(map[string]any{"message": "m", "alias": strings.Repeat("a", 600) + "b"})
	b, _ := DecodeOpsgenieAlert(other)
	if b.Alias == a.Alias {
		t.Error("two long aliases that differ past the limit were merged")
	}
}

// TestOpsgenieDedupKeyOfALongAlias: the dedup key of an alias over
// Opsgenie's 512 bytes, as a close or acknowledge sends it, is the one of
// the alias its create was cut to; cutting again changes nothing; aliases
// that differ past the limit keep apart.
func TestOpsgenieDedupKeyOfALongAlias(t *testing.T) {
	for _, alias := range []string{strings.Repeat("a", 600), strings.Repeat("é", 300), strings.Repeat("a", 511) + "é"} {
		body, _ := json.Marshal(map[string]any{"message": "m", "alias": alias})
		a, p := DecodeOpsgenieAlert(body)
		if p != nil {
			t.Fatal(p)
		}
		if a.Alias == alias {
			t.Fatalf("a %d-byte alias was not cut: the test tests nothing", len(alias))
		}
		tail := func(s string) string { return s[max(len(s)-48, 0):] }
		if got, want := OpsgenieDedupKey(alias), OpsgenieDedupKey(a.Alias); got != want || want != "og:"+a.Alias {
			t.Errorf("%d-byte alias: the close's dedup key (%d bytes, ending %q) is not the create's (%d bytes, ending %q; alias cut to %d bytes)",
				len(alias), len(got), tail(got), len(want), tail(want), len(a.Alias))
		}
	}
	if OpsgenieDedupKey(strings.Repeat("a", 600)) == OpsgenieDedupKey(strings.Repeat("a", 600)+"b") {
		t.Error("two long aliases that differ past the limit share a dedup key")
	}
	if k := OpsgenieDedupKey(strings.Repeat("a", 512)); k != "og:"+strings.Repeat("a", 512) {
		t.Errorf("an alias at the limit was changed: %q", k)
	}
}

// TestOpsgenieDerivedAlias: the same alert sent again, in any order of
// its tags and JSON keys, gets the same alias; a different one another.
func TestOpsgenieDerivedAlias(t *testing.T) {
	one, _ := DecodeOpsgenieAlert([]byte(`{"message":"m","tags":["a","b"],"details":{"x":"1","y":"2"},"user":"u1","note":"n1"}`))
	two, _ := DecodeOpsgenieAlert([]byte(`{"note":"n2","details":{"y":"2","x":"1"},"tags":["b","a"],"message":"m"}`))
	three, _ := DecodeOpsgenieAlert([]byte(`{"message":"m","tags":["a","b"],"details":{"x":"1","y":"3"}}`))
	if one.DerivedAlias() != two.DerivedAlias() || one.DerivedAlias() == three.DerivedAlias() || len(one.DerivedAlias()) != 32 {
		t.Errorf("derived aliases %s %s %s", one.DerivedAlias(), two.DerivedAlias(), three.DerivedAlias())
	}
}

func TestDecodeOpsgenieAction(t *testing.T) {
	for _, body := range []string{``, ` `, `{}`, `{"source":"http://am:9093"}`, `{"user":"ann","note":"fixed","extra":1}`} {
		if _, p := DecodeOpsgenieAction([]byte(body)); p != nil {
			t.Errorf("%q: %v", body, p)
		}
	}
	for _, body := range []string{`{`, `{"user":1}`, `"x"`} {
		if _, p := DecodeOpsgenieAction([]byte(body)); p == nil {
			t.Errorf("%q accepted", body)
		}
	}
}

// TestLabelSets: the label sets of stored incidents, read back for
// maintenance windows that start later.
func TestLabelSets(t *testing.T) {
	msg, err := DecodeAlertmanager([]byte(`{"version":"4","groupKey":"g","status":"firing","receiver":"r","groupLabels":{},
"commonLabels":{},"commonAnnotations":{},"externalURL":"","alerts":[
{"status":"firing","labels":{"alertname":"A","team":"db"},"annotations":{},"startsAt":"2025-01-01T00:00:00Z"},
{"status":"resolved","labels":{"alertname":"B","team":"web"},"annotations":{},"startsAt":"2025-01-01T00:00:00Z"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	g := msg.Groups(false)[0]
	sets, ok := LabelSets(g.Details)
	if !ok || len(sets) != 1 || sets[0]["alertname"] != "A" {
		t.Errorf("alertmanager: %v %v (want the firing alert's labels)", sets, ok)
	}
	ev, errs := DecodeEvent([]byte(`{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"db1","severity":"error","custom_details":{"team":"db"}}}`))
	if errs != nil {
		t.Fatal(errs)
	}
	_, _, details := EventGroup(ev)
	sets, ok = LabelSets(details)
	if !ok || sets[0]["team"] != "db" || sets[0]["source"] != "db1" || sets[0]["severity"] != "error" {
		t.Errorf("pagerduty: %v %v", sets, ok)
	}
	// A service with severity_label: level routes the event on
	// level=<payload.severity> (EventGroupFor); read back, the labels
	// are the same, so a window starting later judges what routing did.
	routed, _, details := EventGroupFor(ev, "level")
	sets, ok = LabelSets(details)
	if !ok || routed["level"] != "error" || sets[0]["level"] != "error" || sets[0]["severity"] != "error" {
		t.Errorf("pagerduty, severity_label level: routed on %v, read back %v %v", routed, sets, ok)
	}
	for _, d := range []string{``, `{}`, `{"source":"alertmanager","alerts_omitted":3,"alerts":[]}`, `x`} {
		if _, ok := LabelSets(json.RawMessage(d)); ok {
			t.Errorf("%q read as complete", d)
		}
	}
}

func FuzzDecodeOpsgenieAlert(f *testing.F) {
	for _, s := range []string{amOpsgenieBody, `{"message":"m"}`, `{"message":"m","details":{"a":{"b":1}},"tags":["k:v"]}`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, p := DecodeOpsgenieAlert(body)
		if (a == nil) == (p == nil) {
			t.Fatalf("want exactly one of alert and problem: %v %v", a, p)
		}
		if a == nil {
			if p.Code != 400 && p.Code != 422 {
				t.Fatalf("code %d", p.Code)
			}
			return
		}
		if a.Message == "" || utf8.RuneCountInString(a.Message) > 130 || len(a.Alias) > 512 || len(a.Tags) > 20 {
			t.Fatalf("limits not kept: %+v", a)
		}
		ls := a.Labels("severity")
		if ls["priority"] == "" || ls["severity"] == "" {
			t.Fatalf("labels %v lack priority or severity", ls)
		}
		if !json.Valid(a.IncidentDetails(ls)) {
			t.Fatal("details are not JSON")
		}
	})
}

package ingest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// twoStages is DecodeAlertmanager without its one-pass decoding: the
// notification decoded with its alerts raw, then each alert on its own.
func twoStages(body []byte) (*Message, error) {
	var w wireMessage
	if err := decodeOne(body, &w, ""); err != nil {
		return nil, err
	}
	return fromWire(&w)
}

// TestDecodeValidIsTwoStages: a notification decoded in one pass
// (decodeValid) is the one the two stages decode, and one pass takes
// nothing the two stages refuse, on real Alertmanager notifications and
// on variants valid and not (null, missing and odd fields, bad alerts,
// trailing data); and it allocates less.
func TestDecodeValidIsTwoStages(t *testing.T) {
	files, _ := filepath.Glob("testdata/alertmanager-*.json")
	if len(files) == 0 {
		t.Fatal("no testdata/alertmanager-*.json")
	}
	var bodies []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, string(b))
	}
	base := func(mut func(m, a map[string]any)) string {
		a := map[string]any{"status": "firing", "labels": map[string]any{"alertname": "A", "instance": "db1"},
			"annotations": map[string]any{"summary": "s"}, "startsAt": "2025-09-10T05:59:00Z", "endsAt": "0001-01-01T00:00:00Z",
			"generatorURL": "http://prom/graph", "fingerprint": "abc"}
		m := map[string]any{"version": "4", "groupKey": `{}:{a="b"}`, "status": "firing", "receiver": "r", "truncatedAlerts": 0,
			"groupLabels": map[string]any{"a": "b"}, "commonLabels": map[string]any{}, "commonAnnotations": nil, "externalURL": "http://am",
			"alerts": []any{a, map[string]any{"status": "resolved", "labels": map[string]any{"alertname": "B"}}}}
		if mut != nil {
			mut(m, a)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, mut := range []func(m, a map[string]any){
		nil,
		func(m, a map[string]any) { delete(a, "startsAt"); delete(a, "endsAt") },
		func(m, a map[string]any) { a["startsAt"], a["endsAt"] = nil, nil },
		func(m, a map[string]any) { a["startsAt"] = "2025-09-10T07:59:00.123+02:00" },
		func(m, a map[string]any) { a["annotations"] = nil },
		func(m, a map[string]any) { a["Status"] = "resolved"; delete(a, "status") },
		func(m, a map[string]any) { m["extra"] = []any{1, "x"}; a["extra"] = map[string]any{"y": nil} },
		func(m, a map[string]any) { m["truncatedAlerts"] = 3; m["status"] = "resolved" },
		func(m, a map[string]any) { m["alerts"] = append(m["alerts"].([]any), nil) },
		func(m, a map[string]any) { m["alerts"] = append(m["alerts"].([]any), 5) },
		func(m, a map[string]any) { m["alerts"] = nil },
		func(m, a map[string]any) { m["alerts"] = []any{} },
		func(m, a map[string]any) { a["labels"] = map[string]any{} },
		func(m, a map[string]any) { a["labels"] = nil },
		func(m, a map[string]any) { a["labels"] = map[string]any{"a": 1} },
		func(m, a map[string]any) { a["status"] = "pending" },
		func(m, a map[string]any) { a["status"] = "" },
		func(m, a map[string]any) { a["startsAt"] = "yesterday" },
		func(m, a map[string]any) { a["endsAt"] = 17 },
		func(m, a map[string]any) { a["fingerprint"] = 17 },
		func(m, a map[string]any) { m["version"] = "3" },
		func(m, a map[string]any) { m["version"] = 4 },
		func(m, a map[string]any) { m["groupKey"] = " " },
		func(m, a map[string]any) { m["status"] = "" },
		func(m, a map[string]any) { m["truncatedAlerts"] = -1 },
		func(m, a map[string]any) { m["groupLabels"] = []any{} },
	} {
		bodies = append(bodies, base(mut))
	}
	valid := base(nil)
	bodies = append(bodies, "", " ", "null", "[]", `"x"`, "{}", " \n"+valid+"\n ", valid+" {}", valid+"x", valid[:len(valid)-1],
		strings.Replace(valid, `"status":"firing"`, `"status":"firing","status":"resolved"`, 1))
	for i, body := range bodies {
		want, wantErr := twoStages([]byte(body))
		got, err := DecodeAlertmanager([]byte(body))
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Errorf("body %d %.80q: error %v, two stages %v", i, body, err, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("body %d %.80q:\n got %+v\nwant %+v", i, body, got, want)
		}
		if m, ok := decodeValid([]byte(body)); ok && (wantErr != nil || !reflect.DeepEqual(m, want)) {
			t.Errorf("body %d %.80q: one pass took it as %+v; two stages: %+v, %v", i, body, m, want, wantErr)
		}
	}
	if _, ok := decodeValid([]byte(valid)); !ok {
		t.Error("one pass refused a valid notification")
	}
	one := testing.AllocsPerRun(50, func() { _, _ = DecodeAlertmanager([]byte(valid)) })
	two := testing.AllocsPerRun(50, func() { _, _ = twoStages([]byte(valid)) })
	if one > two-4 {
		t.Errorf("a notification of two alerts takes %.0f allocations in one pass, %.0f in two: want at least 4 fewer", one, two)
	}
}

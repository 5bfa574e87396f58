package ingest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// flood is a message of n alerts of one group, the first resolved ones
// resolved, each with its own labels.
func flood(n, resolved int) *Message {
	alerts := make([]Alert, 0, n)
	for i := range n {
		st := StatusFiring
		if i < resolved {
			st = StatusResolved
		}
		alerts = append(alerts, Alert{Status: st, Labels: map[string]string{"alertname": "Flood", "i": fmt.Sprint(i)}})
	}
	return &Message{Version: "4", GroupKey: `{}:{alertname="Flood"}`, Status: StatusFiring, Alerts: alerts}
}

func limitsOf(cuts []Cut) []string {
	var out []string
	for _, c := range cuts {
		out = append(out, c.Limit)
	}
	return out
}

func detailsOf(t *testing.T, g AlertGroup) map[string]any {
	t.Helper()
	if len(g.Details) > MaxDetailsBytes {
		t.Errorf("details of %d bytes, over %d", len(g.Details), MaxDetailsBytes)
	}
	var d map[string]any
	if err := json.Unmarshal(g.Details, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestAlertsPerMessageCap: only the first MaxAlertsPerMessage alerts are
// read, and the group says so.
func TestAlertsPerMessageCap(t *testing.T) {
	g := flood(5000, 0).Groups(false)
	if len(g) != 1 || len(g[0].Labels) != MaxAlertsPerMessage {
		t.Fatalf("%d groups, %d label sets", len(g), len(g[0].Labels))
	}
	if got := strings.Join(limitsOf(g[0].Cuts), ","); got != "alerts" {
		t.Fatalf("cuts %v", g[0].Cuts)
	}
	if !strings.Contains(g[0].Cuts[0].Detail, "held 5000 alerts; pagerd read the first 1000") {
		t.Errorf("cut says %q", g[0].Cuts[0].Detail)
	}
	d := detailsOf(t, g[0])
	if d["alerts_total"] != 1000.0 || !strings.Contains(fmt.Sprint(d["truncated_by_pagerd"]), "left 4000 out") {
		t.Errorf("details: total %v, truncated %v", d["alerts_total"], d["truncated_by_pagerd"])
	}
	// Under the cap nothing is cut or said.
	small := flood(1000, 0).Groups(false)[0]
	if len(small.Cuts) != 0 || strings.Contains(string(small.Details), "truncated_by_pagerd") {
		t.Errorf("a notification within the limits was cut: %v", small.Cuts)
	}
}

// TestIncidentsPerMessageCap: in fingerprint mode the first
// MaxIncidentsPerMessage firing alerts are incidents of their own; the
// firing ones after them are one overflow incident, which pages like the
// others and says why; resolved alerts are always read one by one.
func TestIncidentsPerMessageCap(t *testing.T) {
	m := flood(5000, 0)
	gs := m.Groups(true)
	if len(gs) != MaxIncidentsPerMessage+1 {
		t.Fatalf("%d groups, want %d", len(gs), MaxIncidentsPerMessage+1)
	}
	for _, g := range gs[:MaxIncidentsPerMessage] {
		if g.Overflow || len(g.Cuts) != 0 || len(g.Labels) != 1 || !g.Firing {
			t.Fatalf("own incident %+v", g)
		}
	}
	o := gs[MaxIncidentsPerMessage]
	if !o.Overflow || !o.Firing || o.DedupKey != m.OverflowDedupKey() || len(o.Labels) != MaxAlertsPerMessage-MaxIncidentsPerMessage {
		t.Fatalf("overflow group: overflow %v, firing %v, key %q, %d label sets", o.Overflow, o.Firing, o.DedupKey, len(o.Labels))
	}
	if got := strings.Join(limitsOf(o.Cuts), ","); got != "alerts,incidents" {
		t.Fatalf("overflow cuts %v", o.Cuts)
	}
	if o.Summary != "900 more alerts, beyond the 100 incidents one notification may open: Flood (900 alerts)" {
		t.Errorf("overflow summary %q", o.Summary)
	}
	if d := detailsOf(t, o); d["alerts_total"] != 900.0 {
		t.Errorf("overflow details total %v", d["alerts_total"])
	}

	// 150 firing after 50 resolved: 50 resolves and 100 incidents of their
	// own, 50 in the overflow; only the overflow carries the cut.
	gs = flood(200, 50).Groups(true)
	own, res, over := 0, 0, 0
	for _, g := range gs {
		switch {
		case g.Overflow:
			over += len(g.Labels)
		case g.Firing:
			own++
		default:
			res++
		}
	}
	if own != MaxIncidentsPerMessage || res != 50 || over != 50 {
		t.Fatalf("own %d, resolved %d, overflow %d", own, res, over)
	}
	// Exactly at the cap: no overflow.
	if gs := flood(MaxIncidentsPerMessage, 0).Groups(true); len(gs) != MaxIncidentsPerMessage || gs[len(gs)-1].Overflow {
		t.Fatalf("at the cap: %d groups", len(gs))
	}
	if k := m.OverflowDedupKey(); strings.HasPrefix(k, "am:"+m.GroupKey+":") {
		t.Errorf("the overflow key %q looks like an alert's", k)
	}
}

// TestHugeAnnotationIsCut: a 7.9 MB annotation is kept as its first 4 KiB
// in the details, the incident says so, and its summary and routing are
// unharmed.
func TestHugeAnnotationIsCut(t *testing.T) {
	huge := strings.Repeat("x", 7900<<10)
	m := &Message{GroupKey: "g", Status: StatusFiring, Alerts: []Alert{{Status: StatusFiring,
		Labels:      map[string]string{"alertname": "Big", "severity": "critical"},
		Annotations: map[string]string{"summary": "big one", "description": huge}}}}
	for _, byFP := range []bool{false, true} {
		g := m.Groups(byFP)[0]
		if got := strings.Join(limitsOf(g.Cuts), ","); got != "annotation" {
			t.Fatalf("fingerprint mode %v: cuts %v", byFP, g.Cuts)
		}
		if !strings.Contains(g.Cuts[0].Detail, `the largest, "description", was 7.7 MiB`) {
			t.Errorf("cut says %q", g.Cuts[0].Detail)
		}
		if g.Summary != "big one" || g.Labels[0]["severity"] != "critical" {
			t.Errorf("summary %q, labels %v", g.Summary, g.Labels[0])
		}
		d := detailsOf(t, g)
		desc := d["alerts"].([]any)[0].(map[string]any)["annotations"].(map[string]any)["description"].(string)
		if len(desc) > MaxAnnotationBytes || !strings.HasSuffix(desc, "…") {
			t.Errorf("description kept at %d bytes", len(desc))
		}
	}
}

// TestLongLabelIsCutInDetailsOnly: routing sees the whole value; the
// details keep MaxLabelBytes of it.
func TestLongLabelIsCutInDetailsOnly(t *testing.T) {
	long := strings.Repeat("v", 5000)
	m := &Message{GroupKey: "g", Status: StatusFiring, CommonLabels: map[string]string{"path": long},
		Alerts: []Alert{{Status: StatusFiring, Labels: map[string]string{"alertname": "A", "path": long}}}}
	g := m.Groups(false)[0]
	if g.Labels[0]["path"] != long {
		t.Error("routing labels were cut")
	}
	if got := strings.Join(limitsOf(g.Cuts), ","); got != "label" || !strings.HasPrefix(g.Cuts[0].Detail, "label names or values cut to 1024 bytes in the details: 2") {
		t.Fatalf("cuts %v", g.Cuts)
	}
	if strings.Contains(string(g.Details), long) {
		t.Error("details keep the whole value")
	}
}

// TestLongGroupKeyAndFingerprint: a 100 KB groupKey or a long fingerprint
// is kept as a prefix and a digest, so the dedup key is bounded and
// distinct keys stay distinct.
func TestLongGroupKeyAndFingerprint(t *testing.T) {
	prefix := strings.Repeat("k", 100<<10)
	a := &Message{GroupKey: prefix + "a", Status: StatusFiring, Alerts: []Alert{{Status: StatusFiring, Labels: map[string]string{"alertname": "A"}}}}
	b := &Message{GroupKey: prefix + "b", Status: StatusFiring, Alerts: a.Alerts}
	ga, gb := a.Groups(false)[0], b.Groups(false)[0]
	if len(ga.DedupKey) > len("am:")+MaxGroupKeyBytes || ga.DedupKey == gb.DedupKey {
		t.Fatalf("keys of %d and %d bytes, equal %v", len(ga.DedupKey), len(gb.DedupKey), ga.DedupKey == gb.DedupKey)
	}
	if got := strings.Join(limitsOf(ga.Cuts), ","); got != "group_key" || !strings.Contains(ga.Cuts[0].Detail, "groupKey of 100.0 KiB") {
		t.Fatalf("cuts %v", ga.Cuts)
	}
	if d := detailsOf(t, ga); len(d["group_key"].(string)) > MaxGroupKeyBytes {
		t.Errorf("details keep a group key of %d bytes", len(d["group_key"].(string)))
	}
	if again := a.Groups(false)[0]; again.DedupKey != ga.DedupKey {
		t.Error("the cut key is not stable")
	}

	fpA, fpB := strings.Repeat("f", 1000)+"a", strings.Repeat("f", 1000)+"b"
	m := &Message{GroupKey: "g", Status: StatusFiring, Alerts: []Alert{
		{Status: StatusFiring, Labels: map[string]string{"alertname": "A"}, Fingerprint: fpA},
		{Status: StatusFiring, Labels: map[string]string{"alertname": "B"}, Fingerprint: fpB},
		{Status: StatusFiring, Labels: map[string]string{"alertname": "C"}, Fingerprint: "0123456789abcdef"},
	}}
	gs := m.Groups(true)
	if len(gs) != 3 || gs[0].DedupKey == gs[1].DedupKey {
		t.Fatalf("groups %d", len(gs))
	}
	for i, g := range gs[:2] {
		if len(g.DedupKey) > len("am:g:")+MaxFingerprintBytes || strings.Join(limitsOf(g.Cuts), ",") != "fingerprint" {
			t.Errorf("group %d: key of %d bytes, cuts %v", i, len(g.DedupKey), g.Cuts)
		}
	}
	if gs[2].DedupKey != "am:g:0123456789abcdef" || len(gs[2].Cuts) != 0 {
		t.Errorf("a normal fingerprint was touched: %q %v", gs[2].DedupKey, gs[2].Cuts)
	}
}

// TestDetailsCap: however big the alerts, the details stay under
// MaxDetailsBytes, leaving alerts out and saying so.
func TestDetailsCap(t *testing.T) {
	annotations := map[string]string{}
	for i := range 60 {
		annotations[fmt.Sprintf("a%02d", i)] = strings.Repeat("y", MaxAnnotationBytes)
	}
	m := flood(20, 0)
	for i := range m.Alerts {
		m.Alerts[i].Annotations = annotations
	}
	m.CommonAnnotations = annotations
	g := m.Groups(false)[0]
	d := detailsOf(t, g)
	if got := limitsOf(g.Cuts); strings.Join(got, ",") != "details" {
		t.Fatalf("cuts %v", g.Cuts)
	}
	if d["alerts_omitted"] != 20.0 || d["common_annotations"] != nil {
		t.Errorf("omitted %v, common annotations kept %v", d["alerts_omitted"], d["common_annotations"] != nil)
	}
	if !strings.Contains(g.Cuts[0].Detail, "20 of the 20 alerts it would show, and the group's common labels and annotations, left out") {
		t.Errorf("cut says %q", g.Cuts[0].Detail)
	}
}

// TestReadKeptAlerts: the details say how many of the group's alerts fire
// beside the ones they keep, and how many the notification held that
// pagerd never read, so that what is done with the kept ones (silencing
// them) can say what it left undone.
func TestReadKeptAlerts(t *testing.T) {
	for _, tc := range []struct {
		name                string
		details             json.RawMessage
		kept, total, unread int
		truncatedByAM       int
	}{
		{name: "57 firing, 3 resolved", details: flood(60, 3).Groups(false)[0].Details, kept: MaxDetailAlerts, total: 57},
		{name: "over the alerts per notification", details: flood(MaxAlertsPerMessage+5, 0).Groups(false)[0].Details,
			kept: MaxDetailAlerts, total: MaxAlertsPerMessage, unread: 5},
		{name: "Alertmanager's max_alerts", details: func() json.RawMessage {
			m := flood(2, 0)
			m.TruncatedAlerts = 7
			return m.Groups(false)[0].Details
		}(), kept: 2, total: 2, truncatedByAM: 7},
		{name: "stored before alerts_firing, all kept", details: json.RawMessage(`{"source":"alertmanager","alerts_total":2,"alerts":[` +
			`{"status":"firing","labels":{"a":"1"}},{"status":"resolved","labels":{"a":"2"}}]}`), kept: 1, total: 1},
		{name: "stored before alerts_firing, some left out", details: json.RawMessage(`{"source":"alertmanager","alerts_total":30,` +
			`"alerts_omitted":10,"alerts":[{"status":"firing","labels":{"a":"1"}}]}`), kept: 1, total: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, ok := ReadKeptAlerts(tc.details)
			if !ok || len(k.Firing) != tc.kept || k.FiringTotal != tc.total || k.Unread != tc.unread || k.TruncatedByAlertmanager != tc.truncatedByAM {
				t.Errorf("ok %v, %d kept of %d firing, %d unread, %d cut by Alertmanager; want %d of %d, %d, %d",
					ok, len(k.Firing), k.FiringTotal, k.Unread, k.TruncatedByAlertmanager, tc.kept, tc.total, tc.unread, tc.truncatedByAM)
			}
		})
	}
	for _, d := range []string{``, `{}`, `{"source":"pagerduty"}`, `x`} {
		if _, ok := ReadKeptAlerts(json.RawMessage(d)); ok {
			t.Errorf("details %q read as an Alertmanager group's", d)
		}
	}
}

// TestCutLabel: a label value the details cut reads back as cut, with a
// kept part that is a prefix of what Alertmanager sent, whatever rune the
// cut fell on; one that fit reads back whole.
func TestCutLabel(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value string
		cut   bool
	}{
		{"short", "db1", false},
		{"exactly the limit", strings.Repeat("v", MaxLabelBytes), false},
		{"one over", strings.Repeat("v", MaxLabelBytes+1), true},
		{"ASCII, long", strings.Repeat("v", 5000), true},
		{"two-byte runes", strings.Repeat("é", 1000), true},
		{"four-byte runes, cut backs off 3 bytes", "xx" + strings.Repeat("𝄞", 400), true},
		{"ends in an ellipsis as sent, short", "wait…", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Message{GroupKey: "g", Status: StatusFiring, Alerts: []Alert{{Status: StatusFiring, Labels: map[string]string{"v": tc.value}}}}
			k, _ := ReadKeptAlerts(m.Groups(false)[0].Details)
			stored := k.Firing[0]["v"]
			kept, cut := CutLabel(stored)
			if cut != tc.cut || !strings.HasPrefix(tc.value, kept) || (!cut && kept != tc.value) {
				t.Errorf("stored %d bytes: cut %v, kept %d bytes (a prefix: %v); want cut %v", len(stored), cut, len(kept),
					strings.HasPrefix(tc.value, kept), tc.cut)
			}
		})
	}
}

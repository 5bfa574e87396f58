package ingest

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestWholeGroupCopiesNoAlerts: a group whose alerts all fire, or none
// does, is made without copying its alerts (the firing ones first is the
// order they came in), and its details list them in the same order as a
// group of mixed alerts lists them, firing first.
func TestWholeGroupCopiesNoAlerts(t *testing.T) {
	body := func(statuses ...string) []byte {
		var as []any
		for i, st := range statuses {
			as = append(as, map[string]any{"status": st, "labels": map[string]any{"alertname": "A", "n": strings.Repeat("x", i+1)}})
		}
		b, _ := json.Marshal(map[string]any{"version": "4", "groupKey": "g", "status": statuses[0], "receiver": "r", "alerts": as})
		return b
	}
	order := func(g AlertGroup) (ns []string) {
		var d amDetails
		if err := json.Unmarshal(g.Details, &d); err != nil {
			t.Fatal(err)
		}
		for _, a := range d.Alerts {
			ns = append(ns, a.Status[:1]+a.Labels["n"])
		}
		return ns
	}
	for _, tc := range []struct {
		statuses []string
		want     string
	}{
		{[]string{"firing", "firing"}, "fx fxx"},
		{[]string{"resolved", "resolved"}, "rx rxx"},
		{[]string{"resolved", "firing", "resolved", "firing"}, "fxx fxxxx rx rxxx"},
	} {
		m, err := DecodeAlertmanager(body(tc.statuses...))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(order(m.Groups(false)[0]), " "); got != tc.want {
			t.Errorf("%v: details list %s, want %s", tc.statuses, got, tc.want)
		}
	}
	m, _ := DecodeAlertmanager(body("firing", "firing", "firing"))
	all := testing.AllocsPerRun(50, func() { m.Groups(false) })
	m, _ = DecodeAlertmanager(body("firing", "firing", "resolved"))
	mixed := testing.AllocsPerRun(50, func() { m.Groups(false) })
	if all > mixed-2 {
		t.Errorf("a group of firing alerts takes %.0f allocations, a mixed one %.0f: want the copies (2) left out", all, mixed)
	}
}

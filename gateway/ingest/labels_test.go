package ingest

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
)

// TestReadAlertFilter: the filter that asks Alertmanager whether an
// incident's alerts still fire leaves out the values pagerd cut (matched
// exactly, they would match nothing and the incident would look over),
// and in fingerprint mode is the incident's one alert's labels, not its
// group's (whose other alerts have incidents of their own).
func TestReadAlertFilter(t *testing.T) {
	cut := strings.Repeat("x", MaxLabelBytes-3) + "…"
	details := json.RawMessage(`{"source":"alertmanager","receiver":"pagerd","group_labels":{"alertname":"DiskFull","path":"` + cut + `"},` +
		`"alerts_total":1,"alerts":[{"status":"firing","labels":{"alertname":"DiskFull","instance":"db01"}}]}`)
	for _, tc := range []struct {
		byFingerprint bool
		want          map[string]string
	}{
		{false, map[string]string{"alertname": "DiskFull"}},
		{true, map[string]string{"alertname": "DiskFull", "instance": "db01"}},
	} {
		receiver, labels, ok := ReadAlertFilter(details, tc.byFingerprint)
		if !ok || receiver != "pagerd" || !maps.Equal(labels, tc.want) {
			t.Errorf("fingerprint mode %v: %q %v %v, want pagerd %v", tc.byFingerprint, receiver, labels, ok, tc.want)
		}
	}
	if _, _, ok := ReadAlertFilter(json.RawMessage(`{"source":"pagerduty"}`), false); ok {
		t.Errorf("details of another source read as an Alertmanager group's")
	}
}

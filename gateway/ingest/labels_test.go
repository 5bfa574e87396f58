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
		`"alerts_total":1,"alerts":[{"status":"firing","labels":{"alertname":"DiskFull","instance":"db01"},"fingerprint":"0a1b2c3d4e5f6789"}]}`)
	for _, tc := range []struct {
		byFingerprint bool
		want          map[string]string
		fingerprint   string
	}{
		{false, map[string]string{"alertname": "DiskFull"}, ""},
		{true, map[string]string{"alertname": "DiskFull", "instance": "db01"}, "0a1b2c3d4e5f6789"},
	} {
		f, ok := ReadAlertFilter(details, tc.byFingerprint)
		if !ok || f.Receiver != "pagerd" || !maps.Equal(f.Labels, tc.want) || f.Fingerprint != tc.fingerprint {
			t.Errorf("fingerprint mode %v: %+v %v, want pagerd %v %q", tc.byFingerprint, f, ok, tc.want, tc.fingerprint)
		}
	}
	if _, ok := ReadAlertFilter(json.RawMessage(`{"source":"pagerduty"}`), false); ok {
		t.Errorf("details of another source read as an Alertmanager group's")
	}
}

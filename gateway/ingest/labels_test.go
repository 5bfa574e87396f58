package ingest

import (
	"encoding/json"
	"fmt"
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

// TestReadGroupIs: an incident's stored group is the group Alertmanager
// lists with the same receiver (which the webhook quotes as a regular
// expression) and exactly the same labels, a value pagerd cut included;
// one label more or less (a group_by change) is another group. Details
// that left the group's labels out say no group at all: read as the
// group with no labels, every incident of a large group would look gone.
func TestReadGroupIs(t *testing.T) {
	long := strings.Repeat("p", 2*MaxLabelBytes)
	labels := map[string]string{"alertname": "DiskFull", "path": long}
	m := flood(1, 0)
	m.Receiver, m.GroupLabels = `pagerd\.webhook`, labels // as Alertmanager's webhook names receiver pagerd.webhook
	g, ok := ReadGroup(m.Groups(false)[0].Details)
	if !ok {
		t.Fatal("the details of an Alertmanager group read as none")
	}
	for _, tc := range []struct {
		receiver string
		labels   map[string]string
		want     bool
	}{
		{"pagerd.webhook", labels, true},
		{"pagerd.webhook", map[string]string{"alertname": "DiskFull", "path": long + "x"}, true}, // differs only past the cut: not told apart
		{"pagerd-webhook", labels, false},
		{"pagerd.webhook", map[string]string{"alertname": "DiskFull"}, false},
		{"pagerd.webhook", map[string]string{"alertname": "DiskFull", "path": long, "instance": "db1"}, false},
		{"pagerd.webhook", map[string]string{"alertname": "DiskFull", "path": "other"}, false},
	} {
		if got := g.Is(tc.receiver, tc.labels); got != tc.want {
			t.Errorf("Is(%q, %d labels %v): %v, want %v", tc.receiver, len(tc.labels), tc.labels["instance"], got, tc.want)
		}
	}
	annotations := map[string]string{}
	for i := range 60 {
		annotations[fmt.Sprintf("a%02d", i)] = strings.Repeat("y", MaxAnnotationBytes)
	}
	big := flood(20, 0)
	big.GroupLabels, big.CommonAnnotations = map[string]string{"alertname": "Flood"}, annotations
	if g, ok := ReadGroup(big.Groups(false)[0].Details); ok {
		t.Errorf("details without the group's labels read as group %+v", g)
	}
}

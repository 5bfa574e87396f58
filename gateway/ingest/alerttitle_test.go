package ingest

import (
	"strings"
	"testing"
)

// TestAlertTitle: an alert's title is its name, " on " its instance and
// ": " its summary, each part trimmed and left out when empty, capped
// like a summary, in one allocation (it was one a part).
func TestAlertTitle(t *testing.T) {
	long := strings.Repeat("x", 2000)
	for _, tc := range []struct {
		name, inst, summary, want string
	}{
		{"DiskFull", "db2", "disk full on db2", "DiskFull on db2: disk full on db2"},
		{" DiskFull ", " db2 ", " disk full ", "DiskFull on db2: disk full"},
		{"DiskFull", "", "disk full", "DiskFull: disk full"},
		{"DiskFull", "db2", "", "DiskFull on db2"},
		{"DiskFull", " ", " ", "DiskFull"},
		{"", "db2", "", fallbackSummary + " on db2"},
		{"DiskFull", "db2", long, capSummary("DiskFull on db2: " + long)},
	} {
		a := Alert{Labels: map[string]string{"alertname": tc.name, "instance": tc.inst}, Annotations: map[string]string{"summary": tc.summary}}
		if got := alertTitle(a); got != tc.want {
			t.Errorf("alertTitle(%q, %q, %q) = %q, want %q", tc.name, tc.inst, tc.summary, got, tc.want)
		}
	}
	a := Alert{Labels: map[string]string{"alertname": "DiskFull", "instance": "db2"}, Annotations: map[string]string{"summary": "disk full"}}
	if n := testing.AllocsPerRun(100, func() { alertTitle(a) }); n > 1 {
		t.Errorf("alertTitle allocates %.0f times, want 1", n)
	}
}

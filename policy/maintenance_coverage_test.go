package policy

import (
	"regexp"
	"testing"
)

// TestCoverageHintCoversEveryAlert: a window with neither services nor
// matchers is refused with a hint of the matcher that covers everything.
// The hint was alertname=~".+", which does not cover a PagerDuty event or
// an Opsgenie alert (they carry no alertname): a window written as told
// for "everything" still paged people for them.
func TestCoverageHintCoversEveryAlert(t *testing.T) {
	_, err := NewCoverage(nil, nil)
	if err == nil {
		t.Fatal("a window of nothing was taken")
	}
	hint := regexp.MustCompile(`alertname=~"[^"]*"`).FindString(err.Error())
	if hint == "" {
		t.Fatalf("no matcher in the hint: %v", err)
	}
	cv, err := NewCoverage(nil, []string{hint})
	if err != nil {
		t.Fatalf("the hint %s does not parse: %v", hint, err)
	}
	for name, labels := range map[string]map[string]string{
		"alertmanager": {"alertname": "HighLatency", "severity": "critical"},
		"pagerduty":    {"severity": "critical", "source": "db-1"},
		"opsgenie":     {"priority": "P1", "severity": "critical"},
		"heartbeat":    {"alertname": HeartbeatAlertname, HeartbeatLabel: "cron"},
	} {
		if !cv.Covers("api", []map[string]string{labels}) {
			t.Errorf("the hint %s does not cover a %s alert %v", hint, name, labels)
		}
	}
}

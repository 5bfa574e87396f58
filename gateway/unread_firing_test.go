package gateway

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/pagerd/pagerd/gateway/ingest"
)

// mixedAlerts is a notification of the group whose alerts job-00000 on
// have the statuses given, in that order (Alertmanager sorts a group's
// alerts by job, then instance, then labels).
func mixedAlerts(status, groupKey string, statuses []string) string {
	as := make([]map[string]any, 0, len(statuses))
	for i, st := range statuses {
		ends := "0001-01-01T00:00:00Z"
		if st == "resolved" {
			ends = "2025-09-10T06:00:00Z"
		}
		as = append(as, map[string]any{"status": st,
			"labels":      map[string]string{"alertname": "JobFailed", "severity": "critical", "job": fmt.Sprintf("job-%05d", i)},
			"annotations": map[string]string{}, "startsAt": "2025-09-10T05:59:00Z", "endsAt": ends})
	}
	b, _ := json.Marshal(map[string]any{"version": "4", "groupKey": groupKey, "status": status, "receiver": "pagerd",
		"groupLabels": map[string]string{"alertname": "JobFailed"}, "commonLabels": map[string]string{"alertname": "JobFailed", "severity": "critical"},
		"externalURL": "http://am:9093", "alerts": as})
	return string(b)
}

// TestFingerprintModeFiringAlertPagerdDidNotReadKeepsAnIncidentOpen: in
// fingerprint mode a group of 1,001 failing jobs opens 100 incidents and
// the overflow incident; the 1,001st alert is past what pagerd reads of a
// notification. When the first 1,000 recover and the last still fails,
// Alertmanager's notification (status firing) lists the 1,000 resolved
// ones first and the firing one last, past the limit again. Some incident
// must stay open for it: resolving every incident of the group while one
// of its alerts fires is a missed page, answered 200.
func TestFingerprintModeFiringAlertPagerdDidNotReadKeepsAnIncidentOpen(t *testing.T) {
	roomyDeadline(t)
	h := newHarness(t, withConfig(noStorm))
	n := ingest.MaxAlertsPerMessage + 1
	statuses := make([]string, n)
	for i := range statuses {
		statuses[i] = "firing"
	}
	r := h.do("POST", "/api/v1/alertmanager", mixedAlerts("firing", "g-jobs", statuses), "Authorization", "Bearer "+batchKey)
	if r.code != 200 {
		t.Fatalf("first notification: %d %.300s", r.code, r.body)
	}
	for i := range ingest.MaxAlertsPerMessage {
		statuses[i] = "resolved"
	}
	r = h.do("POST", "/api/v1/alertmanager", mixedAlerts("firing", "g-jobs", statuses), "Authorization", "Bearer "+batchKey)
	if r.code != 200 {
		t.Fatalf("second notification: %d %.300s", r.code, r.body)
	}
	open := 0
	for _, v := range h.list("?service=batch&limit=1000") {
		if v.Status != "resolved" {
			open++
		}
	}
	if open == 0 {
		t.Fatalf("the group's alert job-%05d still fires, but every incident of the group is resolved; answer %.300s", n-1, r.body)
	}
}

// TestFingerprintModeFiringAlertPagerdDidNotReadPages: a notification
// whose only firing alert is past what pagerd reads opens an incident.
func TestFingerprintModeFiringAlertPagerdDidNotReadPages(t *testing.T) {
	roomyDeadline(t)
	h := newHarness(t, withConfig(noStorm))
	statuses := make([]string, ingest.MaxAlertsPerMessage+1)
	for i := range statuses {
		statuses[i] = "resolved"
	}
	statuses[len(statuses)-1] = "firing"
	r := h.do("POST", "/api/v1/alertmanager", mixedAlerts("firing", "g-late", statuses), "Authorization", "Bearer "+batchKey)
	var res struct{ Incidents []string }
	r.json(t, &res)
	if r.code != 200 || len(res.Incidents) != 1 {
		t.Fatalf("want one incident for the firing alert pagerd did not read: %d %.300s", r.code, r.body)
	}
	v := h.incident(res.Incidents[0])
	if v.Status != "triggered" || v.Priority != "SEV-1" || v.NextStepAt == nil || !strings.HasPrefix(v.Summary, "1 firing alert of JobFailed") {
		t.Fatalf("incident %s, %s, next step %v, summary %q; want triggered SEV-1 paging", v.Status, v.Priority, v.NextStepAt, v.Summary)
	}
	// A notification too large to hold whole is read as a stream, which
	// only counts the alerts past the limit: it must find it too.
	m, err := ingest.DecodeAlertmanagerStream(strings.NewReader(mixedAlerts("firing", "g-late", statuses)))
	if err != nil {
		t.Fatal(err)
	}
	gs := m.Groups(true)
	if last := gs[len(gs)-1]; !last.Overflow || !last.Firing {
		t.Fatalf("streamed: the last of %d groups is %+v, want the firing overflow incident", len(gs), last)
	}
}

// TestFingerprintModeAlertPastWhatPagerdReadsResolvesWithItsGroup: in
// fingerprint mode, job-01000 fails alone and opens its incident. Then
// 1,000 more jobs, which Alertmanager sorts before it, fail: job-01000 is
// past what pagerd reads of a notification. When they all recover,
// Alertmanager's last notification (status resolved, nothing left out)
// lists job-01000 resolved, past the limit again: its incident stayed
// open, and paged, for good, as Alertmanager sends nothing of the group
// after it. A notification that says the whole group resolved now
// resolves every incident of the group.
func TestFingerprintModeAlertPastWhatPagerdReadsResolvesWithItsGroup(t *testing.T) {
	roomyDeadline(t)
	h := newHarness(t, withConfig(noStorm))
	post := func(body string) {
		t.Helper()
		if r := h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+batchKey); r.code != 200 {
			t.Fatalf("%d %.300s", r.code, r.body)
		}
	}
	post(strings.Replace(mixedAlerts("firing", "g-jobs", []string{"firing"}), "job-00000", "job-01000", 1))
	incs := h.list("?service=batch")
	if len(incs) != 1 {
		t.Fatalf("%d incidents, want job-01000's", len(incs))
	}
	id := incs[0].ID
	statuses := make([]string, ingest.MaxAlertsPerMessage+1)
	for i := range statuses {
		statuses[i] = "firing"
	}
	post(mixedAlerts("firing", "g-jobs", statuses))
	for i := range statuses {
		statuses[i] = "resolved"
	}
	post(mixedAlerts("resolved", "g-jobs", statuses))
	if v := h.incident(id); v.Status != "resolved" {
		t.Fatalf("job-01000's incident after the whole group resolved: %s, want resolved", v.Status)
	}
	for _, v := range h.list("?service=batch&limit=1000") {
		if v.Status != "resolved" {
			t.Fatalf("%s is %s after the whole group resolved", v.DedupKey, v.Status)
		}
	}
}

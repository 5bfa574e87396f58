package gateway

import (
	"encoding/json"
	"strings"
	"testing"
)

// amTruncated is a notification as Alertmanager's webhook notifier sends
// it for a receiver with max_alerts: the alerts it kept, each with its own
// status, the status judged on them alone, and how many it left out.
func amTruncated(status string, truncated int, alerts ...[2]string) string {
	var as []map[string]any
	for _, a := range alerts {
		end := "0001-01-01T00:00:00Z"
		if a[1] == "resolved" {
			end = "2025-09-10T06:04:00Z"
		}
		as = append(as, map[string]any{"status": a[1], "labels": map[string]string{"alertname": "HighErrorRate", "instance": a[0], "severity": "critical"},
			"annotations": map[string]string{}, "startsAt": "2025-09-10T05:59:00Z", "endsAt": end, "generatorURL": "", "fingerprint": "fp-" + a[0]})
	}
	b, _ := json.Marshal(map[string]any{"receiver": "pagerd", "status": status, "alerts": as,
		"groupLabels": map[string]string{"alertname": "HighErrorRate"}, "commonLabels": map[string]string{"alertname": "HighErrorRate", "severity": "critical"},
		"commonAnnotations": map[string]string{}, "externalURL": "http://am:9093", "version": "4",
		"groupKey": `{}:{alertname="HighErrorRate"}`, "truncatedAlerts": truncated})
	return string(b)
}

// TestResolvedNotificationCutByMaxAlertsKeepsTheIncidentOpen: a group of
// three (api-1, api-2, api-3) behind a receiver with max_alerts 2. api-1
// and api-2 resolve, api-3 still fires: Alertmanager sends status
// "resolved" with api-1 and api-2 and truncatedAlerts 1, since it judges
// the status on the alerts it kept. It used to resolve the incident while
// api-3 fired. It stays open, says why in its timeline, and resolves on
// Alertmanager's next notification, of api-3 alone, resolved.
func TestResolvedNotificationCutByMaxAlertsKeepsTheIncidentOpen(t *testing.T) {
	h := newHarness(t)
	auth := []string{"Authorization", "Bearer " + amKey}
	firing := amTruncated("firing", 1, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"})
	if r := h.do("POST", "/api/v1/alertmanager", firing, auth...); r.code != 200 {
		t.Fatalf("firing: %d %s", r.code, r.body)
	}
	id := h.list("")[0].ID
	cut := amTruncated("resolved", 1, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"})
	if r := h.do("POST", "/api/v1/alertmanager", cut, auth...); r.code != 200 {
		t.Fatalf("resolved, cut: %d %s", r.code, r.body)
	}
	v := h.incident(id)
	if v.Status != "triggered" {
		t.Fatalf("after a resolved notification that left an alert out: %s, want triggered", v.Status)
	}
	if last := v.Timeline[len(v.Timeline)-1]; last.Type != "resolve_withheld" || !strings.Contains(last.Detail, "max_alerts") {
		t.Fatalf("timeline ends with %+v, want the withheld resolve explained", last)
	}
	// api-1 and api-2 are gone from Alertmanager's group; api-3 resolves.
	if r := h.do("POST", "/api/v1/alertmanager", amTruncated("resolved", 0, [2]string{"api-3", "resolved"}), auth...); r.code != 200 {
		t.Fatalf("resolved: %d %s", r.code, r.body)
	}
	if v := h.incident(id); v.Status != "resolved" {
		t.Fatalf("after the whole group resolved: %s", v.Status)
	}
	// A cut resolved notification of a group with no open incident
	// opens nothing.
	other := strings.ReplaceAll(cut, "HighErrorRate", "Other")
	if r := h.do("POST", "/api/v1/alertmanager", other, auth...); r.code != 200 {
		t.Fatalf("resolved, cut, unknown group: %d %s", r.code, r.body)
	}
	if n := len(h.list("")); n != 1 {
		t.Fatalf("%d incidents, want 1", n)
	}
}

// TestAlertmanagerGroupResolvesOneAlertAtATime: a group of three where
// one alert resolves (status "firing", one alert "resolved") keeps its
// incident open and pages nobody; the whole group resolved resolves it;
// a re-fire seconds later opens a new incident, which pages. A resolved
// notification that arrives before the firing one it follows (a retry
// that lost the race) resolves nothing, and the firing one then opens an
// incident: pagerd cannot tell it from a re-fire, and an open incident
// nobody needs is better than a missed one.
func TestAlertmanagerGroupResolvesOneAlertAtATime(t *testing.T) {
	h := newHarness(t)
	auth := []string{"Authorization", "Bearer " + amKey}
	post := func(body string) {
		t.Helper()
		if r := h.do("POST", "/api/v1/alertmanager", body, auth...); r.code != 200 {
			t.Fatalf("%d %s", r.code, r.body)
		}
	}
	post(amTruncated("firing", 0, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"}, [2]string{"api-3", "firing"}))
	id := h.list("")[0].ID
	post(amTruncated("firing", 0, [2]string{"api-1", "resolved"}, [2]string{"api-2", "firing"}, [2]string{"api-3", "firing"}))
	if v := h.incident(id); v.Status != "triggered" || v.Repeats != 1 {
		t.Fatalf("one of three resolved: %s, %d repeats; want triggered, 1", v.Status, v.Repeats)
	}
	post(amTruncated("resolved", 0, [2]string{"api-2", "resolved"}, [2]string{"api-3", "resolved"}))
	if v := h.incident(id); v.Status != "resolved" {
		t.Fatalf("all resolved: %s", v.Status)
	}
	post(amTruncated("firing", 0, [2]string{"api-2", "firing"}))
	incs := h.list("?status=triggered")
	if len(incs) != 1 || incs[0].ID == id {
		t.Fatalf("a re-fire after the resolve: %+v; want a new incident", incs)
	}
	// Reordered: the resolve of group Other first, then its firing.
	other := func(s string) string { return strings.ReplaceAll(s, "HighErrorRate", "Other") }
	post(other(amTruncated("resolved", 0, [2]string{"db-1", "resolved"})))
	if n := len(h.list("")); n != 2 {
		t.Fatalf("a resolve of an unknown group made an incident: %d incidents", n)
	}
	post(other(amTruncated("firing", 0, [2]string{"db-1", "firing"})))
	if n := len(h.list("?status=triggered")); n != 2 {
		t.Fatalf("the late firing notification: %d triggered incidents, want 2", n)
	}
}

// TestFingerprintModeAlertAlertmanagerAlwaysLeavesOutPages: in
// fingerprint mode, a group of three (api-1, api-2, api-3) behind a
// receiver with max_alerts 2. Alertmanager sorts api-3 last and leaves it
// out of every notification (truncatedAlerts 1), so it was never reported
// at all and never paged. The overflow incident now holds it and pages; it
// stays open when api-1 and api-2 resolve (a resolved notification that
// still leaves api-3 out says nothing of it), and resolves when a
// notification that left nothing out says api-3 resolved too.
func TestFingerprintModeAlertAlertmanagerAlwaysLeavesOutPages(t *testing.T) {
	h := newHarness(t, withConfig(noStorm))
	auth := []string{"Authorization", "Bearer " + batchKey}
	post := func(body string) {
		t.Helper()
		if r := h.do("POST", "/api/v1/alertmanager", body, auth...); r.code != 200 {
			t.Fatalf("%d %s", r.code, r.body)
		}
	}
	overflow := func() incidentView {
		t.Helper()
		var keys []string
		for _, v := range h.list("?service=batch") {
			if strings.HasSuffix(v.DedupKey, "#overflow") {
				return h.incident(v.ID)
			}
			keys = append(keys, v.DedupKey)
		}
		t.Fatalf("no overflow incident for the alert Alertmanager left out; incidents %q", keys)
		return incidentView{}
	}
	post(amTruncated("firing", 1, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"}))
	v := overflow()
	if v.Status != "triggered" || v.NextStepAt == nil || !strings.Contains(v.Summary, "left out") {
		t.Fatalf("overflow incident %s, next step %v, summary %q; want triggered and paging for the alert left out", v.Status, v.NextStepAt, v.Summary)
	}
	id := v.ID
	post(amTruncated("resolved", 1, [2]string{"api-1", "resolved"}, [2]string{"api-2", "resolved"}))
	if v := h.incident(id); v.Status != "triggered" || entryCounts(v)["resolve_withheld"] != 1 {
		t.Fatalf("after a resolved notification that still left api-3 out: %s, timeline %+v; want triggered, the resolve withheld", v.Status, v.Timeline)
	}
	for _, v := range h.list("?service=batch") {
		if v.ID != id && v.Status != "resolved" {
			t.Fatalf("%s, resolved in the notification, is %s", v.DedupKey, v.Status)
		}
	}
	post(amTruncated("resolved", 0, [2]string{"api-3", "resolved"}))
	if v := h.incident(id); v.Status != "resolved" {
		t.Fatalf("after the whole group resolved: %s", v.Status)
	}
}

// TestFingerprintModeAlertResolvedWhileLeftOutResolvesWithItsGroup: api-1
// and api-2 fire, each its own incident; then api-0, sorted first, pushes
// api-2 out of the notifications (max_alerts 2), and api-2 resolves while
// left out, so no notification ever names it resolved. The group's last
// notification (resolved, nothing left out) now resolves it: it stayed
// open, and paged, for good.
func TestFingerprintModeAlertResolvedWhileLeftOutResolvesWithItsGroup(t *testing.T) {
	h := newHarness(t, withConfig(noStorm))
	post := func(body string) {
		t.Helper()
		if r := h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+batchKey); r.code != 200 {
			t.Fatalf("%d %s", r.code, r.body)
		}
	}
	post(amTruncated("firing", 0, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"}))
	post(amTruncated("firing", 1, [2]string{"api-0", "firing"}, [2]string{"api-1", "firing"}))
	post(amTruncated("resolved", 0, [2]string{"api-0", "resolved"}, [2]string{"api-1", "resolved"}))
	for _, v := range h.list("?service=batch") {
		if v.Status != "resolved" {
			t.Fatalf("%s is %s after the whole group resolved", v.DedupKey, v.Status)
		}
	}
}

// TestFingerprintModeAlertResolvedWhileLeftOutResolvesWithItsGroupAfterItsOverflowEnded:
// as above, api-2 resolves while left out; then Alertmanager, having
// dropped it, sends the group's repeat (api-0 and api-1 firing, nothing
// left out), which ends the overflow incident. The group's last
// notification then found no overflow incident open, swept nothing, and
// api-2's incident stayed open, and paged, for good.
func TestFingerprintModeAlertResolvedWhileLeftOutResolvesWithItsGroupAfterItsOverflowEnded(t *testing.T) {
	h := newHarness(t, withConfig(noStorm))
	post := func(body string) {
		t.Helper()
		if r := h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+batchKey); r.code != 200 {
			t.Fatalf("%d %s", r.code, r.body)
		}
	}
	post(amTruncated("firing", 0, [2]string{"api-1", "firing"}, [2]string{"api-2", "firing"}))
	post(amTruncated("firing", 1, [2]string{"api-0", "firing"}, [2]string{"api-1", "firing"}))
	post(amTruncated("firing", 0, [2]string{"api-0", "firing"}, [2]string{"api-1", "firing"}))
	post(amTruncated("resolved", 0, [2]string{"api-0", "resolved"}, [2]string{"api-1", "resolved"}))
	for _, v := range h.list("?service=batch") {
		if v.Status != "resolved" {
			t.Fatalf("%s is %s after the whole group resolved", v.DedupKey, v.Status)
		}
	}
}

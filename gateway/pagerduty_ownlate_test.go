package gateway

import (
	"testing"
	"time"

	"github.com/pagerd/pagerd/notify/pagerduty"
)

// TestPagerDutyOwnLateAcknowledgementOfTheOldAlertIsNotBlamedOnGrouping:
// carol acknowledges, and the incident is reopened (her escalate) before
// the dispatcher tells PagerDuty, which is then told of the acknowledgement
// under the old alert's key only (TestAcknowledgementToldLateSparesThe-
// ReopenedIncident). PagerDuty's incident.acknowledged for that alert
// comes back, its agent the integration, while pagerd's incident is
// triggered: it was logged at WARN and noted as another incident's
// acknowledgement that alert grouping or a merge put there, sending
// whoever reads it to look for a PagerDuty setting that is not on. It is
// pagerd's own acknowledgement of an alert from before the latest reopen:
// not applied, noted as such, logged at INFO.
func TestPagerDutyOwnLateAcknowledgementOfTheOldAlertIsNotBlamedOnGrouping(t *testing.T) {
	fake, h, id := pushedToCarol(t, boltStore(t))
	k0 := pagerduty.DedupKey(id, "carol", 0)
	for _, what := range []string{"acknowledge", "escalate"} { // no dispatcher run between them
		if r := h.api("POST", "/api/v1/incidents/"+id+"/"+what, `{"user":"carol"}`); r.code != 200 {
			t.Fatalf("%s: %d %s", what, r.code, r.body)
		}
	}
	h.runUntil(h.clock.Now().Add(time.Minute))
	if fake.Alert(k0) != "acknowledged" {
		t.Fatalf("the old alert was not told of the acknowledgement: %q", pdSeq(fake))
	}
	if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, pdAcknowledged(k0, pdAgentPagerd)); code != 204 {
		t.Fatalf("webhook: %d %s", code, out)
	}
	if v := h.incident(id); v.Status != "triggered" {
		t.Fatalf("after pagerd's own acknowledgement of the old alert came back: %s by %q", v.Status, v.AcknowledgedBy)
	}
	if got := h.logLines("WARN", "PagerDuty webhook not applied"); len(got) != 0 {
		t.Fatalf("pagerd's own acknowledgement of the old alert was warned of as another incident's:\n%s", got)
	}
	if h.timelineHas(id, "ack_ignored", "alert grouping") {
		t.Fatalf("the timeline blames alert grouping or a merge: %+v", h.incident(id).Timeline)
	}
	if !h.timelineHas(id, "ack_ignored", "before the incident's latest reopen") {
		t.Fatalf("the timeline does not say the acknowledgement was of an alert from before the reopen: %+v", h.incident(id).Timeline)
	}
}

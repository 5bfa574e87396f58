package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

// TestRuleReopenPagesUnderTheNewReopenCount: carol, pushed through
// PagerDuty, acknowledges; no status update comes, and the
// missing_status_update rule reopens the incident and pages its last
// level, carol, again, in the dispatcher's claim that fired it. That page
// must go out as a page after the reopen: under the dedup key of the new
// count, so PagerDuty opens a new alert that notifies her (under the old
// key it was folded into the acknowledged alert and notified nobody: a
// missed page), and her acknowledgement of the new alert acknowledges (it
// was refused as an answer to a page from before the reopen). Both stores.
func TestRuleReopenPagesUnderTheNewReopenCount(t *testing.T) {
	cfg := strings.Replace(pdConfig, "    levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]\n",
		"    levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]\n"+
			"    missing_status_update: [{priorities: [P0], after: 30m}]\n", 1)
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewPagerDuty(t)
			h := newHarness(t, withStore(mk(t)), withConfig(strings.Replace(cfg, "pagerduty: {", "pagerduty: {events_url: "+fake.URL+", ", 1)),
				realTransport("pagerduty"), fastRetries())
			id := fire(h)
			h.step(fixedNow)
			k0, k1 := pagerduty.DedupKey(id, "carol", 0), pagerduty.DedupKey(id, "carol", 1)
			carolActs(t, h, id)("acknowledge")
			if got := fake.Alert(k0); got != "acknowledged" {
				t.Fatalf("PagerDuty's alert %s is %q after the acknowledgement", k0, got)
			}
			h.runUntil(fixedNow.Add(35 * time.Minute))
			if v := h.incident(id); v.Status != "triggered" {
				t.Fatalf("the missing status update did not reopen the incident: %s", v.Status)
			}
			if got := fake.Notified(); len(got) != 2 || got[1] != k1 {
				t.Fatalf("the rule's page after the reopen notified nobody in PagerDuty: alerts opened %q, want %q then %q (events %q)",
					got, k0, k1, pdSeq(fake))
			}
			ack := `{"event":{"event_type":"incident.acknowledged","agent":{"id":"PCAROL1","summary":"Carol","type":"user_reference"},"data":{"incident_key":"` + k1 + `"}}}`
			if code, body := fake.Webhook(t, h.url+pagerduty.WebhookPath, ack); code != 204 {
				t.Fatalf("webhook for %s: %d %s", k1, code, body)
			}
			if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
				t.Fatalf("carol's acknowledgement of the rule's page: incident %s by %q", v.Status, v.AcknowledgedBy)
			}
		})
	}
}

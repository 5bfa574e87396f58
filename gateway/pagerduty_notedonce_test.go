package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/notify/pagerduty"
)

// TestPagerDutyWebhookNotAppliedIsNotedOnce: PagerDuty delivers a webhook
// at least once, and again after a 5xx. A merge, or a service's
// auto-resolve, delivered again was noted again: the timeline said twice
// (three times, ...) that carol merged the incident, as if she had done so
// more than once. What was not applied is noted once; the merge delivered
// again still changes nothing more.
func TestPagerDutyWebhookNotAppliedIsNotedOnce(t *testing.T) {
	for name, body := range map[string]func(key string) string{
		"merged":        func(key string) string { return pdMerged(key, pdAgentCarol, "Q7") },
		"auto-resolved": func(key string) string { return pdResolved(key, pdAgentService) },
	} {
		t.Run(name, func(t *testing.T) {
			fake, h, id := pushedToCarol(t, boltStore(t))
			key := pagerduty.DedupKey(id, "carol", 0)
			h.runUntil(fixedNow.Add(time.Minute))
			for range 3 {
				if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body(key)); code != 204 {
					t.Fatalf("webhook: %d %s", code, out)
				}
			}
			var notes []string
			for _, e := range h.incident(id).Timeline {
				if e.Type == "resolve_ignored" {
					notes = append(notes, e.Detail)
				}
			}
			if len(notes) != 1 {
				t.Fatalf("the webhook delivered three times is noted %d times:\n%s", len(notes), strings.Join(notes, "\n"))
			}
		})
	}
}

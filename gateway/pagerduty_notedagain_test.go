package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/notify/pagerduty"
)

// TestPagerDutyWebhookNotAppliedOfAnotherPagerDutyIncidentIsNoted: a
// webhook not applied is noted once however often PagerDuty delivers it
// (TestPagerDutyWebhookNotAppliedIsNotedOnce), but the same thing done
// again to another PagerDuty incident is news. PagerDuty's auto-resolve
// timeout resolves Q1, the incident of carol's alert; pagerd pages her
// again under the same key (a repeat: the key of a page is kept), which
// opens Q2 in PagerDuty, and four hours later that one is auto-resolved
// too (or, with alert grouping, acknowledged by pagerd's forward for
// another incident, twice). The second was taken for a delivery of the
// first (same type, people and text) and not noted: the timeline said
// PagerDuty resolved the alert once, hours before it last did, and
// whoever asks why carol's PagerDuty app went quiet at the second finds
// nothing. The note names PagerDuty's incident, so that a delivery again
// is still noted once and another incident's webhook is noted.
func TestPagerDutyWebhookNotAppliedOfAnotherPagerDutyIncidentIsNoted(t *testing.T) {
	for name, tc := range map[string]struct {
		body func(key string) string
		note string
	}{
		"auto-resolved":        {func(key string) string { return pdResolved(key, pdAgentService) }, "resolve_ignored"},
		"acknowledged-grouped": {func(key string) string { return pdAcknowledged(key, pdAgentService) }, "ack_ignored"},
	} {
		t.Run(name, func(t *testing.T) {
			fake, h, id := pushedToCarol(t, boltStore(t))
			key := pagerduty.DedupKey(id, "carol", 0)
			h.runUntil(fixedNow.Add(time.Minute))
			first := tc.body(key)
			second := strings.Replace(strings.Replace(first, `"id":"Q1"`, `"id":"Q2"`, 1), `"id":"01RES"`, `"id":"01RES2"`, 1)
			if first == second {
				t.Fatal("the second webhook names the same PagerDuty incident")
			}
			for _, body := range []string{first, first, second, second} {
				if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body); code != 204 {
					t.Fatalf("webhook: %d %s", code, out)
				}
			}
			var notes []string
			for _, e := range h.incident(id).Timeline {
				if e.Type == tc.note {
					notes = append(notes, e.Detail)
				}
			}
			if len(notes) != 2 {
				t.Fatalf("two PagerDuty incidents' webhooks, each delivered twice, are noted %d times, want 2:\n%s", len(notes), strings.Join(notes, "\n"))
			}
			if !strings.Contains(notes[0], "Q1") || !strings.Contains(notes[1], "Q2") {
				t.Fatalf("the notes do not name PagerDuty's incidents:\n%s", strings.Join(notes, "\n"))
			}
		})
	}
}

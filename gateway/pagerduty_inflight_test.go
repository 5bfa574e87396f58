package gateway

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

// TestPagerDutyAckOfAStormMessageBeforeItsNotesIsNotLost: the storm
// message carrying three of Carol's incidents went to PagerDuty, and she
// acknowledged it there while the flush was still writing the message's
// notes in its incidents (a flood's notes go in parts, in turns). The
// webhook found no page of the message in the first incident's timeline
// and was answered 204: the acknowledgement was lost and the three
// incidents went on paging. While the message's notes are not written,
// the webhook is answered 503, which PagerDuty delivers again; delivered
// again once they are, it acknowledges the message's incidents. On both
// stores.
func TestPagerDutyAckOfAStormMessageBeforeItsNotesIsNotLost(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewPagerDuty(t)
			answered := make(chan int, 1)
			var body string
			st := &reportBeforeRecord{Store: mk(t), t: t, untilAnswered: true, held: func(tl []store.Entry) bool {
				return slices.ContainsFunc(tl, func(e store.Entry) bool {
					return e.Type == "notify" && e.Bundle != "" && strings.HasPrefix(e.Detail, "via pagerduty")
				})
			}}
			h := newHarness(t, withStore(st), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"))
			st.post = func() {
				evs := fake.Events()
				body = `{"event":{"id":"01X","event_type":"incident.acknowledged","agent":{"summary":"carol"},"data":{"id":"Q9","type":"incident","incident_key":"` +
					evs[len(evs)-1].DedupKey + `"}}}`
				code, _ := fake.Webhook(t, h.url+pagerduty.WebhookPath, body)
				answered <- code
			}
			ids := storm(h, 6, "g")
			h.step(fixedNow)
			h.step(fixedNow.Add(10 * time.Second))
			if len(fake.Events()) != 4 {
				t.Fatalf("PagerDuty got %d events, want 3 and one storm message", len(fake.Events()))
			}
			code := <-answered
			acked := func() (n int) {
				for _, id := range ids {
					if h.incident(id).Status == "acknowledged" {
						n++
					}
				}
				return n
			}
			if n := acked(); code/100 == 2 && n != 3 {
				t.Fatalf("the storm message acknowledged in PagerDuty while its notes were written was answered %d (PagerDuty sends it no more); %d of its 3 incidents acknowledged",
					code, n)
			}
			if code/100 != 2 {
				if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body); code/100 != 2 {
					t.Fatalf("the acknowledgement delivered again: %d %s", code, out)
				}
			}
			if n := acked(); n != 3 {
				for _, id := range ids {
					v := h.incident(id)
					t.Logf("%s %s %q", id, v.Status, v.AcknowledgedBy)
				}
				t.Fatalf("%d of the storm message's 3 incidents acknowledged, want 3", n)
			}
		})
	}
}

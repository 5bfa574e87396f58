package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

// TestPagerDutyWebhooksReplayedAndOutOfOrder: PagerDuty delivers at least
// once, and a person's webhooks can come in any order across alerts. An
// acknowledgement delivered twice acknowledges once; a resolve delivered
// twice resolves once; an acknowledgement, an unacknowledgement or a
// reassignment after the resolve changes nothing (the incident stays
// resolved and nobody is paged again); each is answered 204, so PagerDuty
// does not retry, and the timeline holds one ack and one resolve. With the
// store down, a webhook is answered 5xx (PagerDuty retries), never 2xx,
// and its retry once the store is back applies it.
func TestPagerDutyWebhooksReplayedAndOutOfOrder(t *testing.T) {
	st, srv := redisStore(t)
	fake := providertest.NewPagerDuty(t)
	h := newHarness(t, withStore(st), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries())
	id := fire(h)
	h.step(fixedNow)
	key := pagerduty.DedupKey(id, "carol", 0)
	send := func(event string) int {
		t.Helper()
		code, _ := fake.Webhook(t, h.url+pagerduty.WebhookPath, strings.Replace(pdResolved(key, pdAgentCarol), "incident.resolved", event, 1))
		return code
	}
	want204 := func(event string) {
		t.Helper()
		if code := send(event); code != 204 {
			t.Fatalf("%s: %d, want 204", event, code)
		}
	}
	count := func(typ string) int {
		n := 0
		for _, e := range h.incident(id).Timeline {
			if e.Type == typ {
				n++
			}
		}
		return n
	}

	// The store is down: an acknowledgement is not taken, and says so.
	srv.Pause(t)
	code := send("incident.acknowledged")
	srv.Resume(t)
	if code < 500 {
		t.Fatalf("acknowledgement with the store down: %d, want 5xx so PagerDuty retries", code)
	}
	want204("incident.acknowledged") // PagerDuty's retry
	want204("incident.acknowledged") // and a duplicate delivery
	if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "carol" || count("ack") != 1 {
		t.Fatalf("after the acknowledgement, retried and delivered again: %s by %q, %d ack entries", v.Status, v.AcknowledgedBy, count("ack"))
	}
	h.runUntil(fixedNow.Add(time.Minute))
	want204("incident.resolved")
	want204("incident.resolved")
	for _, late := range []string{"incident.acknowledged", "incident.unacknowledged", "incident.reassigned", "incident.escalated"} {
		want204(late)
	}
	v := h.incident(id)
	if v.Status != "resolved" || v.ResolvedBy != "carol" || count("resolve") != 1 || count("ack") != 1 {
		t.Fatalf("after the resolve delivered twice and late events: %s by %q, %d resolve and %d ack entries", v.Status, v.ResolvedBy, count("resolve"), count("ack"))
	}
	h.runUntil(fixedNow.Add(time.Hour))
	if got := h.rec.lines(fixedNow); len(got) != 0 {
		t.Fatalf("pages after the resolve: %v", got)
	}
}

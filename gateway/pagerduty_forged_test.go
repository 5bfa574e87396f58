package gateway

import (
	"strings"
	"testing"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

// TestPagerDutyWebhookActsOnlyOnWhatWasPushed: PagerDuty signs a webhook
// for every incident of the services the subscription covers, whoever
// made it: anyone with a routing key of one of them (in every monitoring
// tool's config) or a PagerDuty login can open an incident whose key is
// "pagerd:<incident>:<user>" and resolve it, and PagerDuty sends pagerd
// a signed incident.resolved. pagerd resolved its incident as that user,
// one it never pushed anything to (the timeline naming someone who did
// nothing), or one it had not pushed to PagerDuty at all. A webhook acts
// only on an incident pagerd pushed to that person through PagerDuty;
// anything else is answered 204 (PagerDuty must not deliver it again),
// changes nothing and is logged at warn.
func TestPagerDutyWebhookActsOnlyOnWhatWasPushed(t *testing.T) {
	fake := providertest.NewPagerDuty(t)
	cfg := strings.Replace(pagerDutyAt(fake), "users:\n", "users:\n  - {id: eve, name: Eve, contacts: [{channel: sms, via: log}]}\n", 1)
	h := newHarness(t, withConfig(cfg), realTransport("pagerduty"))
	id := fire(h)
	webhook := func(event, key string, agent ...string) {
		t.Helper()
		a := `"agent":{"summary":"Mallory"},`
		if len(agent) > 0 {
			a = agent[0]
		}
		body := `{"event":{"id":"01X","event_type":"` + event + `",` + a + `"data":{"id":"Q9","type":"incident","incident_key":"` + key + `"}}}`
		if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body); code != 204 {
			t.Fatalf("%s for %s: %d %s", event, key, code, out)
		}
	}
	// Nothing was pushed to PagerDuty yet: no alert of pagerd's has the key.
	webhook("incident.acknowledged", pagerduty.DedupKey(id, "carol", 0))
	if v := h.incident(id); v.Status != "triggered" {
		t.Fatalf("a webhook for an incident pagerd had not pushed to PagerDuty left it %s by %q", v.Status, v.AcknowledgedBy)
	}
	h.step(fixedNow)
	if len(fake.Events()) != 1 {
		t.Fatalf("PagerDuty got %d events, want carol's push", len(fake.Events()))
	}
	// Pushed to carol, never to eve.
	webhook("incident.acknowledged", pagerduty.DedupKey(id, "eve", 0))
	webhook("incident.resolved", pagerduty.DedupKey(id, "eve", 0))
	webhook("incident.resolved", pagerduty.DedupKey(id, "eve", 0), "") // no agent: PagerDuty's own, or an integration's
	if v := h.incident(id); v.Status != "triggered" {
		t.Fatalf("a webhook naming eve, whom pagerd never pushed the incident to, left it %s (acknowledged by %q, resolved by %q)",
			v.Status, v.AcknowledgedBy, v.ResolvedBy)
	}
	if got := h.logLines("WARN", "PagerDuty webhook not applied", "never pushed", id); len(got) == 0 {
		t.Fatalf("the webhooks not applied were not logged at warn:\n%s", h.logs.String())
	}
	// The alert pagerd pushed acknowledges, as whoever PagerDuty says
	// took it (carol here).
	webhook("incident.acknowledged", pagerduty.DedupKey(id, "carol", 0), `"agent":{"summary":"carol"},`)
	if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
		t.Fatalf("carol's alert acknowledged in PagerDuty: %s by %q", v.Status, v.AcknowledgedBy)
	}
}

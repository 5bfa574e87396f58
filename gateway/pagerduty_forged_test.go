package gateway

import (
	"slices"
	"strings"
	"testing"

	"github.com/pagerd/pagerd/gateway/store"
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
	post := func(event, key string, agent ...string) (int, string) {
		t.Helper()
		a := `"agent":{"summary":"Mallory"},`
		if len(agent) > 0 {
			a = agent[0]
		}
		body := `{"event":{"id":"01X","event_type":"` + event + `",` + a + `"data":{"id":"Q9","type":"incident","incident_key":"` + key + `"}}}`
		return fake.Webhook(t, h.url+pagerduty.WebhookPath, body)
	}
	webhook := func(event, key string, agent ...string) {
		t.Helper()
		if code, out := post(event, key, agent...); code != 204 {
			t.Fatalf("%s for %s: %d %s", event, key, code, out)
		}
	}
	// Nothing was pushed to PagerDuty yet, but carol's push is due: no
	// alert of pagerd's has the key yet, and the webhook is asked for
	// again (it may be carol's answer to the push being sent), not acted on.
	if code, out := post("incident.acknowledged", pagerduty.DedupKey(id, "carol", 0)); code != 503 {
		t.Fatalf("a webhook for a push due and not sent: %d %s, want 503", code, out)
	}
	if v := h.incident(id); v.Status != "triggered" {
		t.Fatalf("a webhook for an incident pagerd had not pushed to PagerDuty left it %s by %q", v.Status, v.AcknowledgedBy)
	}
	// Eve has no step due at all: 204, nothing done.
	webhook("incident.resolved", pagerduty.DedupKey(id, "eve", 0))
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

// TestPagerDutyAckBeforeThePushIsRecordedActs: carol acknowledged the push
// in PagerDuty while its step was not recorded yet (the dispatcher records
// a step once its every send is done: an email beside the push may wait
// on its server). The webhook found no push to her in the timeline, was
// taken for a forged one, answered 204 (PagerDuty does not send it again)
// and dropped: the ladder paged her on as if she had not answered. With a
// push of hers being sent now (her step due, through PagerDuty) it is
// answered 503, and PagerDuty's next delivery, once the push is recorded,
// acknowledges. On both stores.
func TestPagerDutyAckBeforeThePushIsRecordedActs(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewPagerDuty(t)
			var h *harness
			var id string
			code := 0
			st := &reportBeforeRecord{Store: mk(t), t: t, untilAnswered: true, held: func(tl []store.Entry) bool {
				return slices.ContainsFunc(tl, func(e store.Entry) bool { return e.Type == "notify" && e.Detail == "via pagerduty" })
			}}
			ack := func() int {
				body := `{"event":{"id":"01X","event_type":"incident.acknowledged","agent":{"summary":"carol"},"data":{"id":"Q9","type":"incident","incident_key":"` +
					pagerduty.DedupKey(id, "carol", 0) + `"}}}`
				code, _ := fake.Webhook(t, h.url+pagerduty.WebhookPath, body)
				return code
			}
			st.post = func() { code = ack() }
			h = newHarness(t, withStore(st), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"))
			id = fire(h)
			h.step(fixedNow)
			if code != 503 || len(fake.Events()) == 0 {
				t.Fatalf("the push was sent %d times and PagerDuty's webhook, before the push was recorded, answered %d (want 503)", len(fake.Events()), code)
			}
			if v := h.incident(id); v.Status != "triggered" {
				t.Fatalf("the webhook answered 503 changed the incident: %s", v.Status)
			}
			if code := ack(); code != 204 { // PagerDuty's next delivery
				t.Fatalf("the webhook sent again once the push was recorded: %d", code)
			}
			if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
				t.Fatalf("carol acknowledged the push before it was recorded: the incident is %s (by %q)", v.Status, v.AcknowledgedBy)
			}
		})
	}
}

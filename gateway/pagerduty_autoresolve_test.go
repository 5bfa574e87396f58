package gateway

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

// pdUnresolvedConfig is pdConfig with a manager, paged when a P0 is still
// unresolved after 4 hours (the AIVO seed's "unresolved after 4h pages the
// manager").
var pdUnresolvedConfig = strings.Replace(strings.Replace(pdConfig,
	"users:\n", "users:\n  - {id: mgr, name: Manager, contacts: [{channel: sms, via: log}]}\n", 1),
	"    levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]\n",
	"    levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]\n"+
		"    unresolved: [{priorities: [P0], after: 4h, notify: [{user: mgr}]}]\n", 1)

// pdResolved is PagerDuty's incident.resolved webhook for the alert keyed
// key, with agent as given (a JSON member and its comma, "" for none).
func pdResolved(key, agent string) string {
	return `{"event":{"id":"01RES","event_type":"incident.resolved","resource_type":"incident",` + agent +
		`"data":{"id":"Q1","type":"incident","status":"resolved","incident_key":"` + key + `"}}}`
}

// The agents PagerDuty names on an incident.resolved: a person (a user's
// reference), the service whose auto-resolve timeout resolved it, or none.
const (
	pdAgentCarol   = `"agent":{"html_url":"https://acme.pagerduty.com/users/PCAROL1","id":"PCAROL1","self":"https://api.pagerduty.com/users/PCAROL1","summary":"Carol","type":"user_reference"},`
	pdAgentService = `"agent":{"html_url":"https://acme.pagerduty.com/services/PF9KMXH","id":"PF9KMXH","self":"https://api.pagerduty.com/services/PF9KMXH","summary":"API Service","type":"service_reference"},`
)

// TestPagerDutyAutoResolveDoesNotResolve: carol acknowledges the push in
// PagerDuty and works on the problem; two hours later the PagerDuty
// service's auto-resolve timeout resolves PagerDuty's incident by itself,
// and its incident.resolved (agent: the service) resolved pagerd's
// incident, with the problem still there: the rule that pages the manager
// after 4h unresolved never fired, and nobody was told. pagerd is the
// source of truth: a resolve not made by a person (the service's, or one
// without an agent) is answered 204, changes nothing, is noted in the
// timeline (resolve_ignored) and logged at WARN, and the manager is paged
// at 4h. A person's resolve in PagerDuty still resolves. On both stores.
func TestPagerDutyAutoResolveDoesNotResolve(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewPagerDuty(t)
			cfg := strings.Replace(pdUnresolvedConfig, "pagerduty: {", "pagerduty: {events_url: "+fake.URL+", ", 1)
			h := newHarness(t, withStore(mk(t)), withConfig(cfg), realTransport("pagerduty"), fastRetries())
			id := fire(h)
			h.step(fixedNow)
			key := pagerduty.DedupKey(id, "carol", 0)
			webhook := func(body string) {
				t.Helper()
				if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body); code != 204 {
					t.Fatalf("webhook %s: %d %s", body, code, out)
				}
			}
			h.runUntil(fixedNow.Add(time.Minute))
			webhook(strings.Replace(pdResolved(key, pdAgentCarol), "incident.resolved", "incident.acknowledged", 1))
			if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
				t.Fatalf("carol's acknowledgement in PagerDuty: %s by %q", v.Status, v.AcknowledgedBy)
			}

			h.runUntil(fixedNow.Add(2 * time.Hour))
			webhook(pdResolved(key, pdAgentService))
			webhook(pdResolved(key, "")) // no agent: not a person either
			v := h.incident(id)
			if v.Status != "acknowledged" {
				t.Fatalf("PagerDuty's auto-resolve left pagerd's incident %s (resolved by %q)", v.Status, v.ResolvedBy)
			}
			if !h.timelineHas(id, "resolve_ignored", `service_reference "API Service"`) || !h.timelineHas(id, "resolve_ignored", "no agent") {
				t.Fatalf("the timeline does not say why PagerDuty's resolves changed nothing: %+v", v.Timeline)
			}
			if got := h.logLines("WARN", "PagerDuty webhook not applied", "not made by a person", id, "service_reference"); len(got) != 1 {
				t.Fatalf("PagerDuty's auto-resolve not logged at warn once with the incident and the agent (%d):\n%s", len(got), h.logs.String())
			}

			h.runUntil(fixedNow.Add(4*time.Hour + time.Minute))
			if got := strings.Join(h.rec.lines(fixedNow), ","); !strings.Contains(got, "4h L1 mgr sms") {
				t.Fatalf("the unresolved rule did not page the manager at 4h after PagerDuty's auto-resolve: %s", got)
			}

			webhook(pdResolved(key, pdAgentCarol))
			if v := h.incident(id); v.Status != "resolved" || v.ResolvedBy != "carol" {
				t.Fatalf("carol's resolve in PagerDuty: %s by %q", v.Status, v.ResolvedBy)
			}
		})
	}
}

// TestPagerDutyOwnResolveComingBackIsNoNews: pagerd resolves an incident
// it pushed through PagerDuty and tells PagerDuty (the outbox), whose
// incident.resolved then comes back with the integration, not a person,
// as its agent. It is answered 204 and is neither warned of nor noted:
// pagerd's incident is resolved, as the webhook says.
func TestPagerDutyOwnResolveComingBackIsNoNews(t *testing.T) {
	fake, h, id := pushedToCarol(t, boltStore(t))
	carolActs(t, h, id)("resolve")
	if got := fake.Alert(pagerduty.DedupKey(id, "carol", 0)); got != "resolved" {
		t.Fatalf("the resolve was not passed on to PagerDuty: %q (events %q)", got, pdSeq(fake))
	}
	integration := `"agent":{"id":"PINTEG1","summary":"pagerd","type":"events_api_v2_inbound_integration_reference"},`
	if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, pdResolved(pagerduty.DedupKey(id, "carol", 0), integration)); code != 204 {
		t.Fatalf("webhook: %d %s", code, out)
	}
	if got := h.logLines("WARN", "PagerDuty webhook not applied"); len(got) != 0 {
		t.Fatalf("pagerd's own resolve coming back was warned of: %q", got)
	}
	if v := h.incident(id); v.Status != "resolved" || v.ResolvedBy != "carol" || h.timelineHas(id, "resolve_ignored", "") {
		t.Fatalf("after pagerd's own resolve came back: %s by %q, timeline %+v", v.Status, v.ResolvedBy, v.Timeline)
	}
}

// TestStormPagerDutyAutoResolveOfTheBundle: a storm message pushed to
// PagerDuty is one alert keyed by its bundle, whose resolve resolves every
// incident it carried. Resolved by the service's auto-resolve timeout, it
// resolves none: each still open is noted resolve_ignored (the one
// resolved in pagerd meanwhile is not). A person's resolve resolves them.
func TestStormPagerDutyAutoResolveOfTheBundle(t *testing.T) {
	fake := providertest.NewPagerDuty(t)
	h := newHarness(t, withConfig(pagerDutyAt(fake)), realTransport("pagerduty"))
	ids := storm(h, 6, "g")
	h.step(fixedNow)
	h.step(fixedNow.Add(10 * time.Second))
	if len(fake.Events()) != 4 {
		t.Fatalf("PagerDuty got %d events, want 3 and one bundle", len(fake.Events()))
	}
	key := fake.Events()[3].DedupKey
	var held []string
	for _, id := range ids {
		if !slices.Contains(ids3(fake), id) {
			held = append(held, id)
		}
	}
	if r := h.api("POST", "/api/v1/incidents/"+held[0]+"/resolve", `{"user":"carol"}`); r.code != 200 {
		t.Fatalf("resolve: %d %s", r.code, r.body)
	}
	if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, pdResolved(key, pdAgentService)); code != 204 {
		t.Fatalf("webhook: %d %s", code, out)
	}
	for i, id := range held {
		v := h.incident(id)
		noted := h.timelineHas(id, "resolve_ignored", "API Service")
		if i == 0 && noted || i > 0 && (v.Status == "resolved" || !noted) {
			t.Fatalf("%s after the bundle's auto-resolve: %s by %q, noted %v", id, v.Status, v.ResolvedBy, noted)
		}
	}
	if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, pdResolved(key, pdAgentCarol)); code != 204 {
		t.Fatalf("webhook: %d %s", code, out)
	}
	for _, id := range held[1:] {
		if v := h.incident(id); v.Status != "resolved" || v.ResolvedBy != "carol" {
			t.Fatalf("%s after carol resolved the bundle in PagerDuty: %s by %q", id, v.Status, v.ResolvedBy)
		}
	}
}

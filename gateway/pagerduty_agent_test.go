package gateway

import (
	"strings"
	"testing"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

const pdBobKey = "bobpd00000000000000000000000000a"

// pdAgentConfig pushes to bob through PagerDuty; carol, in the config too,
// is not paged.
const pdAgentConfig = `
api:
  tokens: [{name: ops, token: ` + apiToken + `}]
users:
  - {id: bob, name: Bob Jones, contacts: [{channel: push, via: pagerduty, address: ` + pdBobKey + `}, {channel: sms, via: log}]}
  - {id: carol, name: Carol Smith, email: carol@example.com, contacts: [{channel: sms, via: log}]}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers: [{name: primary, start: 2025-01-06, members: [bob]}]
escalation_policies:
  - name: p
    levels: [{name: primary, targets: [{schedule: s, tier: primary}]}]
services:
  - name: api
    priority_scheme: P0-P3
    escalation_policy: p
    integrations: {alertmanager_key: ` + amKey + `}
notifiers:
  pagerduty: {webhook_secret: ` + providertest.PagerDutyWebhookSecret + `}
`

// TestPagerDutyAcknowledgementRecordsItsAgent: the incident was pushed to
// bob in PagerDuty, and PagerDuty's incident.acknowledged says who took it
// there (its agent). The incident, its timeline's ack entry and whatever
// reads them (reports, the Slack card, the console) name that person: the
// config user PagerDuty's name for them matches, else the name as
// PagerDuty gives it (cleaned, cut), marked as PagerDuty's; without an
// agent, "pagerduty". Never bob, who did nothing. (Before, every
// acknowledgement in PagerDuty was recorded as bob's.)
func TestPagerDutyAcknowledgementRecordsItsAgent(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name, agent, want string
			}{
				{"a config user, by name", `"agent":{"html_url":"https://acme.pagerduty.com/users/PCAROL1","id":"PCAROL1","self":"https://api.pagerduty.com/users/PCAROL1","summary":"carol smith","type":"user_reference"},`, "carol"},
				{"someone not in the config", `"agent":{"id":"PDANA01","summary":"Dana\nOutside\u202e","type":"user_reference"},`, "pagerduty:Dana Outside"},
				{"a name too long", `"agent":{"id":"PLONG01","summary":"` + strings.Repeat("x", 300) + `","type":"user_reference"},`, "pagerduty:" + strings.Repeat("x", 97) + "…"},
				{"an agent with an id only", `"agent":{"id":"PNONAME","type":"user_reference"},`, "pagerduty:PNONAME"},
				{"no agent", ``, "pagerduty"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					fake := providertest.NewPagerDuty(t)
					cfg := strings.Replace(pdAgentConfig, "pagerduty: {", "pagerduty: {events_url: "+fake.URL+", ", 1)
					h := newHarness(t, withStore(mk(t)), withConfig(cfg), realTransport("pagerduty"), fastRetries())
					id := fire(h)
					h.step(fixedNow)
					key := pagerduty.DedupKey(id, "bob", 0)
					if got := fake.Notified(); len(got) != 1 || got[0] != key {
						t.Fatalf("PagerDuty alerts opened: %q, want %q", got, key)
					}
					ack := `{"event":{"id":"01ABC","event_type":"incident.acknowledged",` + tc.agent +
						`"data":{"id":"Q1","type":"incident","incident_key":"` + key + `"}}}`
					if code, body := fake.Webhook(t, h.url+pagerduty.WebhookPath, ack); code != 204 {
						t.Fatalf("webhook: %d %s", code, body)
					}
					v := h.incident(id)
					if v.Status != "acknowledged" || v.AcknowledgedBy != tc.want {
						t.Fatalf("after PagerDuty's acknowledgement: %s by %q, want by %q", v.Status, v.AcknowledgedBy, tc.want)
					}
					var ackEntry *store.Entry
					for i := range v.Timeline {
						if v.Timeline[i].Type == "ack" {
							ackEntry = &v.Timeline[i]
						}
					}
					if ackEntry == nil || ackEntry.Actor != tc.want || ackEntry.User != tc.want {
						t.Fatalf("the timeline's ack entry: %+v, want by %q", ackEntry, tc.want)
					}
				})
			}
		})
	}
}

// TestPagerDutyResolveRecordsItsAgent: a resolve made in PagerDuty on the
// alert pushed to bob is recorded as its agent's, as an acknowledgement
// is. (Before, as bob's, who did nothing.)
func TestPagerDutyResolveRecordsItsAgent(t *testing.T) {
	fake := providertest.NewPagerDuty(t)
	cfg := strings.Replace(pdAgentConfig, "pagerduty: {", "pagerduty: {events_url: "+fake.URL+", ", 1)
	h := newHarness(t, withConfig(cfg), realTransport("pagerduty"), fastRetries())
	id := fire(h)
	h.step(fixedNow)
	key := pagerduty.DedupKey(id, "bob", 0)
	resolve := `{"event":{"id":"01ABD","event_type":"incident.resolved","agent":{"id":"PCAROL1","summary":"Carol Smith","type":"user_reference"},` +
		`"data":{"id":"Q1","type":"incident","incident_key":"` + key + `"}}}`
	if code, body := fake.Webhook(t, h.url+pagerduty.WebhookPath, resolve); code != 204 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	v := h.incident(id)
	if v.Status != "resolved" || v.ResolvedBy != "carol" {
		t.Fatalf("after PagerDuty's resolve: %s by %q, want by carol", v.Status, v.ResolvedBy)
	}
}

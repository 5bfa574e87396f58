package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

// pdAgentPagerd is the agent PagerDuty names on what an Events API event
// did: the integration pagerd sends through, not a person.
const pdAgentPagerd = `"agent":{"id":"PINTEG1","summary":"pagerd","type":"events_api_v2_inbound_integration_reference"},`

// pdAcknowledged is PagerDuty's incident.acknowledged webhook for the
// PagerDuty incident keyed key, with agent as given.
func pdAcknowledged(key, agent string) string {
	return strings.Replace(pdResolved(key, agent), "incident.resolved", "incident.acknowledged", 1)
}

// TestPagerDutyAcknowledgementNotByAPersonOfAnotherIncident: two incidents,
// x and y, are pushed to carol through PagerDuty, whose service groups
// alerts (content-based or intelligent alert grouping): y's alert joins
// x's PagerDuty incident, keyed by x's alert. carol acknowledges y in
// pagerd, which tells PagerDuty under y's key; an Events API acknowledge
// acknowledges the incident its alert is in, x's, and PagerDuty's
// incident.acknowledged for it (key x's, agent the integration) came back
// and acknowledged x in pagerd: x's ladder stopped though nobody had
// acknowledged it. An acknowledgement not made by a person (an agent of a
// type that is not a user's) of an incident pagerd has not acknowledged
// is not applied: answered 204, noted ack_ignored, and x's SMS still
// goes. pagerd's own acknowledgement coming back so, for y, is no news.
func TestPagerDutyAcknowledgementNotByAPersonOfAnotherIncident(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewPagerDuty(t)
			h := newHarness(t, withStore(mk(t)), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries())
			x := fireLabels(h, "gx", map[string]string{"alertname": "X", "severity": "critical"})
			y := fireLabels(h, "gy", map[string]string{"alertname": "Y", "severity": "critical"})
			h.step(fixedNow)
			carolActs(t, h, y)("acknowledge")
			if got := pdActions(fake, pagerduty.DedupKey(y, "carol", 0)); strings.Join(got, ",") != "trigger,acknowledge" {
				t.Fatalf("PagerDuty was told %q for y", got)
			}
			webhook := func(body string) {
				t.Helper()
				if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body); code != 204 {
					t.Fatalf("webhook %s: %d %s", body, code, out)
				}
			}
			webhook(pdAcknowledged(pagerduty.DedupKey(y, "carol", 0), pdAgentPagerd)) // pagerd's own, for y
			webhook(pdAcknowledged(pagerduty.DedupKey(x, "carol", 0), pdAgentPagerd)) // x's incident, y's alert in it
			if v := h.incident(x); v.Status != "triggered" {
				t.Fatalf("x after PagerDuty acknowledged its incident for y's alert: %s by %q, want triggered", v.Status, v.AcknowledgedBy)
			}
			if !h.timelineHas(x, "ack_ignored", "not by a person") {
				t.Fatalf("x's timeline does not say why PagerDuty's acknowledgement changed nothing: %+v", h.incident(x).Timeline)
			}
			if h.timelineHas(y, "ack_ignored", "") {
				t.Fatalf("pagerd's own acknowledgement of y coming back was noted: %+v", h.incident(y).Timeline)
			}
			h.runUntil(fixedNow.Add(10 * time.Minute))
			if got := strings.Join(h.rec.lines(fixedNow), ","); got != "2m L1 carol sms" {
				t.Fatalf("pages: %q, want x's SMS at 2m", got)
			}
			// A person's acknowledgement of x's PagerDuty incident acts.
			webhook(pdAcknowledged(pagerduty.DedupKey(x, "carol", 0), pdAgentCarol))
			if v := h.incident(x); v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
				t.Fatalf("carol's acknowledgement of x in PagerDuty: %s by %q", v.Status, v.AcknowledgedBy)
			}
		})
	}
}

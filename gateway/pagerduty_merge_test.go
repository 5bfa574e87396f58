package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

// pdMerged is PagerDuty's incident.resolved webhook for the alert keyed
// key when a person (agent as given) merged its incident into PagerDuty's
// incident into: PagerDuty resolves the incident merged away, says why in
// resolve_reason, and moves its alert, still open, to the other.
func pdMerged(key, agent, into string) string {
	return `{"event":{"id":"01MRG","event_type":"incident.resolved","resource_type":"incident",` + agent +
		`"data":{"id":"Q1","type":"incident","status":"resolved","incident_key":"` + key + `",` +
		`"resolve_reason":{"type":"merge_resolve_reason","incident":{"id":"` + into + `","type":"incident_reference",` +
		`"summary":"[#7] database latency","html_url":"https://acme.pagerduty.com/incidents/` + into + `"}}}}}`
}

// TestPagerDutyMergeAcknowledgesAndDoesNotResolve: carol, paged through
// PagerDuty, merges PagerDuty's incident into another she is working
// (the same outage). PagerDuty resolves the incident merged away and its
// incident.resolved, agent carol, resolved pagerd's incident: the alert
// still fires, the ladder and the rule that pages the manager after 4h
// unresolved stopped, and nobody would be paged again for it. A merge is
// a person saying the other incident covers this one: pagerd's incident
// is acknowledged as theirs (the ladder stops, as PagerDuty stops
// notifying for the alert now in the other incident), stays open, its
// unresolved rule pages at its time, and the timeline says it was merged
// and into what (resolve_ignored); the merge delivered again changes
// nothing more. A person's resolve in PagerDuty still resolves. On both
// stores.
func TestPagerDutyMergeAcknowledgesAndDoesNotResolve(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewPagerDuty(t)
			cfg := strings.Replace(pdUnresolvedConfig, "pagerduty: {", "pagerduty: {events_url: "+fake.URL+", ", 1)
			h := newHarness(t, withStore(mk(t)), withConfig(cfg), realTransport("pagerduty"), fastRetries())
			id := fire(h)
			h.step(fixedNow)
			key := pagerduty.DedupKey(id, "carol", 0)
			h.runUntil(fixedNow.Add(time.Minute))
			if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, pdMerged(key, pdAgentCarol, "Q7")); code != 204 {
				t.Fatalf("merge webhook: %d %s", code, out)
			}
			v := h.incident(id)
			if v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
				t.Fatalf("after carol merged PagerDuty's incident into another: %s (acknowledged by %q, resolved by %q), want acknowledged by carol",
					v.Status, v.AcknowledgedBy, v.ResolvedBy)
			}
			if !h.timelineHas(id, "resolve_ignored", "merged") || !h.timelineHas(id, "resolve_ignored", "Q7") {
				t.Fatalf("the timeline does not say the PagerDuty incident was merged, and into what: %+v", v.Timeline)
			}
			h.runUntil(fixedNow.Add(30 * time.Minute))
			if got := h.rec.lines(fixedNow); len(got) != 0 {
				t.Fatalf("pages went on after carol's merge: %v", got)
			}
			h.runUntil(fixedNow.Add(4*time.Hour + time.Minute))
			if got := strings.Join(h.rec.lines(fixedNow), ","); !strings.Contains(got, "4h L1 mgr sms") {
				t.Fatalf("the unresolved rule did not page the manager at 4h after the merge: %s", got)
			}
			// The same webhook delivered again changes nothing more.
			if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, pdMerged(key, pdAgentCarol, "Q7")); code != 204 {
				t.Fatalf("merge webhook again: %d %s", code, out)
			}
			if v := h.incident(id); v.Status == "resolved" {
				t.Fatalf("the merge delivered again resolved the incident (by %q)", v.ResolvedBy)
			}
			if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, pdResolved(key, pdAgentCarol)); code != 204 {
				t.Fatalf("resolve webhook: %d %s", code, out)
			}
			if v := h.incident(id); v.Status != "resolved" || v.ResolvedBy != "carol" {
				t.Fatalf("carol's resolve in PagerDuty: %s by %q", v.Status, v.ResolvedBy)
			}
		})
	}
}

// pdActions are the actions PagerDuty was sent under the dedup key, in
// order.
func pdActions(fake *providertest.PagerDuty, key string) []string {
	var got []string
	for _, ev := range fake.Events() {
		if ev.DedupKey == key {
			got = append(got, ev.Action)
		}
	}
	return got
}

// TestPagerDutyMergedAlertIsNotAcknowledgedThere: once PagerDuty's
// incident is merged into another, its alert, still open, lives in that
// other incident, and an Events API acknowledge under the alert's key
// acknowledges the incident it is in: telling PagerDuty of pagerd's
// acknowledgement (the merge's own, or one made in pagerd later)
// acknowledged the surviving incident, which stopped PagerDuty notifying
// whoever it was paging, and, when it was another pagerd incident's
// alert, came back as an incident.acknowledged that acknowledged that
// incident in pagerd too, though nobody had. An alert merged away is not
// told of acknowledgements; it is still told of the resolve (PagerDuty
// resolves that alert only). Merged by a person, and by no person, on
// both stores.
func TestPagerDutyMergedAlertIsNotAcknowledgedThere(t *testing.T) {
	for name, mk := range stores(t) {
		for who, agent := range map[string]string{"a person": pdAgentCarol, "no person": pdAgentService} {
			t.Run(name+"/"+who, func(t *testing.T) {
				fake, h, id := pushedToCarol(t, mk(t))
				key := pagerduty.DedupKey(id, "carol", 0)
				h.runUntil(fixedNow.Add(time.Minute))
				if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, pdMerged(key, agent, "Q7")); code != 204 {
					t.Fatalf("merge webhook: %d %s", code, out)
				}
				if v := h.incident(id); v.Status != "acknowledged" {
					carolActs(t, h, id)("acknowledge") // merged by no person: carol acknowledges in pagerd
				}
				h.runUntil(h.clock.Now().Add(10 * time.Minute))
				if got := pdActions(fake, key); len(got) != 1 {
					t.Fatalf("PagerDuty was told %q under %s after its incident was merged into another: acknowledging it there acknowledges that one", got, key)
				}
				carolActs(t, h, id)("resolve")
				if got := pdActions(fake, key); strings.Join(got, ",") != "trigger,resolve" {
					t.Fatalf("PagerDuty was told %q under %s, want the resolve passed on", got, key)
				}
			})
		}
	}
}

// TestPagerDutyMergeAfterAReopen: carol acknowledges, the incident is
// escalated (reopened) and pushed to her again under a new key, and
// PagerDuty shows her two incidents for it. Merging the old one into the
// new one answers nothing pagerd pages now: the incident stays triggered
// and the pages go on. Merging the new one into the old one is her
// answer to the page since the reopen: acknowledged. Neither resolves,
// and neither acknowledgement is passed on under a merged key.
func TestPagerDutyMergeAfterAReopen(t *testing.T) {
	fake, h, id := pushedToCarol(t, boltStore(t))
	k0, k1 := pagerduty.DedupKey(id, "carol", 0), pagerduty.DedupKey(id, "carol", 1)
	act := carolActs(t, h, id)
	act("acknowledge")
	act("escalate")
	if got := fake.Notified(); len(got) != 2 || got[1] != k1 {
		t.Fatalf("the page after the reopen: alerts opened %q", got)
	}
	merge := func(key, into string) {
		t.Helper()
		if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, pdMerged(key, pdAgentCarol, into)); code != 204 {
			t.Fatalf("merge of %s: %d %s", key, code, out)
		}
	}
	sms := len(h.rec.lines(fixedNow))
	merge(k0, "Q2")
	if v := h.incident(id); v.Status != "triggered" {
		t.Fatalf("the old alert merged into the new one: %s (acknowledged by %q, resolved by %q), want triggered", v.Status, v.AcknowledgedBy, v.ResolvedBy)
	}
	h.runUntil(h.clock.Now().Add(10 * time.Minute))
	if got := h.rec.lines(fixedNow); len(got) <= sms {
		t.Fatalf("no page went out after the old alert was merged away: %v", got)
	}
	merge(k1, "Q1")
	if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
		t.Fatalf("the new alert merged into the old one: %s by %q, want acknowledged by carol", v.Status, v.AcknowledgedBy)
	}
	h.runUntil(h.clock.Now().Add(10 * time.Minute))
	if got := pdActions(fake, k1); strings.Join(got, ",") != "trigger" {
		t.Fatalf("PagerDuty was told %q under %s, merged away", got, k1)
	}
}

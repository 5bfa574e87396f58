package gateway

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/providertest"
	"github.com/pagerd/pagerd/notify/pagerduty"
)

// pdRepeatConfig is pagerDutyAt's config whose policy pages its level
// again, once, 15 minutes on, when nobody acknowledged: a page to carol
// under the same dedup key after the first.
func pdRepeatConfig(fake *providertest.PagerDuty) string {
	return strings.Replace(pagerDutyAt(fake), "  - name: p\n    levels: [{name: primary, ",
		"  - name: p\n    repeat: 1\n    levels: [{name: primary, timeout: 15m, ", 1)
}

// pagedFor are the pages of incident id the recorder took (those not
// through PagerDuty: carol's SMS), as "<offset> <channel>".
func pagedFor(h *harness, id string) []string {
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	var out []string
	for _, m := range h.rec.msgs {
		if m.Incident == id {
			out = append(out, fmt.Sprintf("%s %s", m.At.Sub(fixedNow), m.Channel))
		}
	}
	return out
}

// groupedByPagerDuty pushes two incidents, x and y, to carol through
// PagerDuty, and has PagerDuty itself (agent as given: alert grouping, an
// Event Orchestration) merge y's PagerDuty incident into x's: y's alert
// moves, still open, into x's incident, and y's is resolved with the
// merge as its reason. It returns the fake, the harness, x, y and the
// PagerDuty incident x's alert opened.
func groupedByPagerDuty(t *testing.T, mk func(*testing.T) store.Store, agent string, cfg func(*providertest.PagerDuty) string) (*providertest.PagerDuty, *harness, string, string, string) {
	t.Helper()
	fake := providertest.NewPagerDuty(t)
	h := newHarness(t, withStore(mk(t)), withConfig(cfg(fake)), realTransport("pagerduty"), fastRetries())
	ids, keys := firedToCarol(t, h, "x", "y")
	x, y := ids[0], ids[1]
	kx, ky := keys[0], keys[1]
	q := fake.Incident(kx)
	if q == "" || fake.Incident(ky) == "" || fake.Incident(ky) == q {
		t.Fatalf("x and y did not each open a PagerDuty incident: %q, %q", q, fake.Incident(ky))
	}
	if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, fake.Merge(ky, kx, agent)); code != 204 {
		t.Fatalf("merge webhook: %d %s", code, out)
	}
	if got := fake.Incident(ky); got != q {
		t.Fatalf("y's alert is in PagerDuty's incident %q after the merge, want %q", got, q)
	}
	if v := h.incident(y); v.Status != "triggered" || !h.timelineHas(y, "resolve_ignored", "merged") {
		t.Fatalf("y after PagerDuty merged its incident by itself: %s, timeline %+v", v.Status, v.Timeline)
	}
	return fake, h, x, y, q
}

// pdMergeAgents are the agents a merge made by no person may carry.
var pdMergeAgents = map[string]string{"no agent": "", "the service": pdAgentService}

// toldAgainOnceOver checks that y's merge into PagerDuty's incident q is
// noted over (what says when, in the failure), that y's page under its
// key within the hour opens a new PagerDuty incident, and that carol's
// acknowledgement in pagerd is passed on to it.
func toldAgainOnceOver(t *testing.T, h *harness, fake *providertest.PagerDuty, y, q, when string) {
	t.Helper()
	ky := pagerduty.DedupKey(y, "carol", 0)
	if v := h.incident(y); v.Status != "triggered" || !h.timelineHas(y, "resolve_ignored", "merge over in PagerDuty") {
		t.Fatalf("%s: %s, timeline %+v", when, v.Status, v.Timeline)
	}
	h.runUntil(fixedNow.Add(time.Hour))
	again := fake.Incident(ky)
	if again == q || fake.IncidentStatus(again) != "triggered" {
		t.Fatalf("y's page after its PagerDuty incident was resolved opened no new one: in %q (%s); sent %q",
			again, fake.IncidentStatus(again), pdSeq(fake))
	}
	carolActs(t, h, y)("acknowledge")
	if got := fake.IncidentStatus(again); got != "acknowledged" {
		t.Fatalf("PagerDuty's new incident %s for y, acknowledged in pagerd: %s, want acknowledged; PagerDuty was told %q under y's key",
			again, got, pdActions(fake, ky))
	}
}

// TestPagerDutyGroupedAlertAcknowledgedWithItsIncident: PagerDuty itself
// merges y's PagerDuty incident into x's (alert grouping, an Event
// Orchestration), so carol's PagerDuty app shows one incident holding
// both alerts. She acknowledges it there: PagerDuty stops notifying for
// both alerts, and its incident.acknowledged, named by x's key,
// acknowledged x alone; y's ladder went on (carol's SMS at 2m for y) for
// an alert she had acknowledged in PagerDuty. pagerd keeps which pagerd
// incidents' alerts PagerDuty merged into which of its incidents: the
// acknowledgement of that incident by a person acknowledges each, as
// them (y's ack entry noting why), and y's SMS does not go. PagerDuty is told of no acknowledgement
// under y's key (it would acknowledge x's incident). On both stores.
func TestPagerDutyGroupedAlertAcknowledgedWithItsIncident(t *testing.T) {
	for name, mk := range stores(t) {
		for who, agent := range pdMergeAgents {
			t.Run(name+"/"+who, func(t *testing.T) {
				fake, h, x, y, q := groupedByPagerDuty(t, mk, agent, pagerDutyAt)
				if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, fake.AcknowledgeIncident(q, pdAgentCarol)); code != 204 {
					t.Fatalf("acknowledgement webhook: %d %s", code, out)
				}
				for _, id := range []string{x, y} {
					if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
						t.Fatalf("%s after carol acknowledged PagerDuty's incident %s, which holds its alert: %s by %q, want acknowledged by carol",
							id, q, v.Status, v.AcknowledgedBy)
					}
				}
				if !ackedNoting(h, y, "carol", "acknowledged incident "+q+", which held this incident's alert") {
					t.Fatalf("y's timeline does not say carol's acknowledgement of PagerDuty's incident %s, which held its alert, is why: %+v", q, h.incident(y).Timeline)
				}
				h.runUntil(fixedNow.Add(10 * time.Minute))
				if got := pagedFor(h, y); len(got) != 0 {
					t.Fatalf("y paged after carol acknowledged the PagerDuty incident its alert is in: %v", got)
				}
				if got := pdActions(fake, pagerduty.DedupKey(y, "carol", 0)); strings.Join(got, ",") != "trigger" {
					t.Fatalf("PagerDuty was told %q under y's key, merged into %s", got, q)
				}
			})
		}
	}
}

// TestPagerDutyGroupedAlertToldAgainOnceItsIncidentIsResolved: PagerDuty
// itself merges y's PagerDuty incident into x's, and later resolves x's
// by itself (the service's auto-resolve timeout), y's alert with it;
// pagerd's y is still triggered, and its policy pages carol again under
// y's key, which opens a new PagerDuty incident. carol acknowledges y in
// pagerd: pagerd, which had marked y's key merged, never told PagerDuty,
// and the new incident went on notifying her. The merge is over once
// the incident it went into is resolved (pagerd notes it in y's
// timeline): the acknowledgement is passed on under y's key again, and
// reaches the new incident. On both stores.
func TestPagerDutyGroupedAlertToldAgainOnceItsIncidentIsResolved(t *testing.T) {
	for name, mk := range stores(t) {
		for who, agent := range pdMergeAgents {
			t.Run(name+"/"+who, func(t *testing.T) {
				fake, h, _, y, q := groupedByPagerDuty(t, mk, agent, pdRepeatConfig)
				h.runUntil(fixedNow.Add(time.Minute))
				if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, fake.ResolveIncident(q, pdAgentService)); code != 204 {
					t.Fatalf("auto-resolve webhook: %d %s", code, out)
				}
				toldAgainOnceOver(t, h, fake, y, q, "y after PagerDuty auto-resolved the incident its alert was merged into")
			})
		}
	}
}

// TestPagerDutyGroupedAlertMergedAfterItsIncidentWasResolvedIsToldAgain:
// PagerDuty merges y's PagerDuty incident into x's by itself, and x's is
// resolved later (the service's auto-resolve timeout), but PagerDuty
// keeps no order between webhooks (and a merge answered 5xx comes again
// later): the resolve's webhook comes first, when nothing is recorded
// for x's incident, and the merge's after. Before, y's key was read as
// merged for good: its page since opened a new PagerDuty incident, and
// carol's acknowledgement in pagerd never reached it ("trigger,trigger"
// under y's key), which went on notifying her. The resolve is kept, and
// the merge into a resolved incident is over as it is noted. On both
// stores, with and without an agent on the merge.
func TestPagerDutyGroupedAlertMergedAfterItsIncidentWasResolvedIsToldAgain(t *testing.T) {
	for name, mk := range stores(t) {
		for who, agent := range pdMergeAgents {
			t.Run(name+"/"+who, func(t *testing.T) {
				fake := providertest.NewPagerDuty(t)
				h := newHarness(t, withStore(mk(t)), withConfig(pdRepeatConfig(fake)), realTransport("pagerduty"), fastRetries())
				ids, keys := firedToCarol(t, h, "x", "y")
				y := ids[1]
				kx, ky := keys[0], keys[1]
				q := fake.Incident(kx)
				merge := fake.Merge(ky, kx, agent)
				h.runUntil(fixedNow.Add(time.Minute))
				if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, fake.ResolveIncident(q, pdAgentService)); code != 204 {
					t.Fatalf("auto-resolve webhook: %d %s", code, out)
				}
				if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, merge); code != 204 {
					t.Fatalf("merge webhook, delivered after: %d %s", code, out)
				}
				toldAgainOnceOver(t, h, fake, y, q, "y after its merge into an incident resolved already")
			})
		}
	}
}

// TestPagerDutyGroupedAlertAcknowledgedBeforeItsMergeIsDelivered:
// PagerDuty merges y's PagerDuty incident into x's by itself, and carol
// acknowledges the incident holding both alerts; PagerDuty keeps no order
// between webhooks (and a merge answered 5xx comes again later), so the
// acknowledgement's comes first, when nothing is recorded for that
// incident, and the merge's after. Before, y was never acknowledged: its
// ladder went on (carol's SMS at 2m) for an alert she had acknowledged in
// PagerDuty. A person's acknowledgement is kept, and a merge it came after
// (occurred_at) is acknowledged with it, as her. One she made before the
// merge did not see y's alert: y's ladder goes on. On both stores, with
// and without an agent on the merge.
func TestPagerDutyGroupedAlertAcknowledgedBeforeItsMergeIsDelivered(t *testing.T) {
	for name, mk := range stores(t) {
		for who, agent := range pdMergeAgents {
			for _, ackFirst := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/acknowledged before the merge %v", name, who, ackFirst), func(t *testing.T) {
					fake := providertest.NewPagerDuty(t)
					h := newHarness(t, withStore(mk(t)), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries())
					ids, keys := firedToCarol(t, h, "x", "y")
					y := ids[1]
					kx, ky := keys[0], keys[1]
					q := fake.Incident(kx)
					var merge, ack string
					if ackFirst {
						ack = fake.AcknowledgeIncident(q, pdAgentCarol)
						merge = fake.Merge(ky, kx, agent)
					} else {
						merge = fake.Merge(ky, kx, agent)
						ack = fake.AcknowledgeIncident(q, pdAgentCarol)
					}
					if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, ack); code != 204 {
						t.Fatalf("acknowledgement webhook: %d %s", code, out)
					}
					if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, merge); code != 204 {
						t.Fatalf("merge webhook, delivered after: %d %s", code, out)
					}
					h.runUntil(fixedNow.Add(10 * time.Minute))
					v := h.incident(y)
					if ackFirst {
						if v.Status != "triggered" || len(pagedFor(h, y)) == 0 {
							t.Fatalf("y, merged into the PagerDuty incident carol had acknowledged before: %s by %q, paged %v; want its ladder on",
								v.Status, v.AcknowledgedBy, pagedFor(h, y))
						}
						return
					}
					if v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
						t.Fatalf("y after carol acknowledged PagerDuty's incident %s, which holds its alert, the merge's webhook delivered after: %s by %q, want acknowledged by carol",
							q, v.Status, v.AcknowledgedBy)
					}
					if got := pagedFor(h, y); len(got) != 0 {
						t.Fatalf("y paged after carol acknowledged the PagerDuty incident its alert is in: %v", got)
					}
					if got := pdActions(fake, ky); strings.Join(got, ",") != "trigger" {
						t.Fatalf("PagerDuty was told %q under y's key, merged into %s", got, q)
					}
				})
			}
		}
	}
}

// TestPagerDutyGroupedAlertMergedIntoAnIncidentMergedAwayFirst: PagerDuty
// merges x's PagerDuty incident into y's, then y's (holding x's alert)
// into z's, and carol acknowledges z's, which holds all three alerts;
// the first merge's webhook comes after the second's (PagerDuty keeps no
// order between webhooks, and one answered 5xx comes again later).
// Before, x's alert was recorded in y's incident, merged away already,
// where nothing reaches it: z's acknowledgement left x triggered, and
// carol got x's SMS for an alert she had acknowledged in PagerDuty (and
// z's resolve would never have ended x's merge). The merge away is kept
// a day, and a merge into it delivered after goes on to z's. On both
// stores, with the acknowledgement delivered before and after the late
// merge.
func TestPagerDutyGroupedAlertMergedIntoAnIncidentMergedAwayFirst(t *testing.T) {
	for name, mk := range stores(t) {
		for _, ackLast := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/acknowledgement delivered last %v", name, ackLast), func(t *testing.T) {
				fake := providertest.NewPagerDuty(t)
				h := newHarness(t, withStore(mk(t)), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries())
				ids, keys := firedToCarol(t, h, "x", "y", "z")
				x, y, z := ids[0], ids[1], ids[2]
				kx, ky, kz := keys[0], keys[1], keys[2]
				qz := fake.Incident(kz)
				xy := fake.Merge(kx, ky, "")
				yz := fake.Merge(ky, kz, "")
				ack := fake.AcknowledgeIncident(qz, pdAgentCarol)
				order := []string{yz, xy, ack}
				if !ackLast {
					order = []string{yz, ack, xy}
				}
				for _, body := range order {
					if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body); code != 204 {
						t.Fatalf("webhook: %d %s", code, out)
					}
				}
				h.runUntil(fixedNow.Add(10 * time.Minute))
				for _, id := range []string{x, y, z} {
					if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
						t.Fatalf("%s after carol acknowledged PagerDuty's incident %s, which holds its alert: %s by %q, want acknowledged by carol",
							id, qz, v.Status, v.AcknowledgedBy)
					}
				}
				if got := pagedFor(h, x); len(got) != 0 {
					t.Fatalf("x paged after carol acknowledged the PagerDuty incident its alert is in: %v", got)
				}
			})
		}
	}
}

// TestPagerDutyGroupedAlertAcknowledgedOnTheWayBeforeItsMergeIsDelivered:
// PagerDuty merges x's PagerDuty incident into y's, carol acknowledges
// y's (holding x's alert), and y's is merged into z's; the first merge's
// webhook comes last (PagerDuty keeps no order between webhooks, and one
// answered 5xx comes again later). Delivered in order, carol's
// acknowledgement of y's incident acknowledged x; the first merge
// delivered last went on to z's and read z's acknowledgement only, none:
// x went on paging carol, who had acknowledged the incident holding it.
// y's acknowledgement is kept with its merge away and read on the way.
// The same when z's incident is resolved before the late merge comes:
// x was noted over only, where in order it was acknowledged first. And
// with the acknowledgement delivered last, after the late merge: x's
// alert was kept in z's only, and y's acknowledgement found only what
// y's merge away carried; it is kept on the way too. On both stores,
// the acknowledgement delivered before and after y's merge, and all in
// order.
func TestPagerDutyGroupedAlertAcknowledgedOnTheWayBeforeItsMergeIsDelivered(t *testing.T) {
	for name, mk := range stores(t) {
		for _, order := range []string{"in order", "ack, yz, xy", "yz, ack, xy", "in order, z resolved", "ack, yz, z resolved, xy", "xy, yz, ack", "yz, xy, ack"} {
			t.Run(name+"/"+order, func(t *testing.T) {
				fake := providertest.NewPagerDuty(t)
				h := newHarness(t, withStore(mk(t)), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries())
				ids, keys := firedToCarol(t, h, "x", "y", "z")
				x, y, z := ids[0], ids[1], ids[2]
				kx, ky, kz := keys[0], keys[1], keys[2]
				qy := fake.Incident(ky)
				xy := fake.Merge(kx, ky, "")
				ack := fake.AcknowledgeIncident(qy, pdAgentCarol)
				yz := fake.Merge(ky, kz, "")
				rz := fake.ResolveIncident(fake.Incident(kz), pdAgentService)
				bodies := map[string][]string{"in order": {xy, ack, yz}, "ack, yz, xy": {ack, yz, xy}, "yz, ack, xy": {yz, ack, xy},
					"in order, z resolved": {xy, ack, yz, rz}, "ack, yz, z resolved, xy": {ack, yz, rz, xy}, "xy, yz, ack": {xy, yz, ack}, "yz, xy, ack": {yz, xy, ack}}[order]
				for _, body := range bodies {
					if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body); code != 204 {
						t.Fatalf("webhook: %d %s", code, out)
					}
				}
				h.runUntil(fixedNow.Add(10 * time.Minute))
				for _, id := range []string{x, y} {
					if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
						t.Fatalf("%s after carol acknowledged PagerDuty's incident %s, which held its alert: %s by %q, want acknowledged by carol",
							id, qy, v.Status, v.AcknowledgedBy)
					}
				}
				if v := h.incident(z); v.Status == "acknowledged" {
					t.Fatalf("z, whose PagerDuty incident nobody acknowledged: %s by %q", v.Status, v.AcknowledgedBy)
				}
				if strings.HasSuffix(order, "resolved") || strings.HasSuffix(order, "resolved, xy") {
					if !h.timelineHas(x, "resolve_ignored", "merge over") {
						t.Fatalf("x's merge not noted over after PagerDuty's incident %s holding it was resolved: %+v", fake.Incident(kz), h.incident(x).Timeline)
					}
				}
			})
		}
	}
}

// firedToCarol fires, on h, an alert of its own group for each name
// ("x": group gx, alertname X), pages them to carol through PagerDuty,
// and returns their incidents and carol's dedup keys, in that order.
func firedToCarol(t *testing.T, h *harness, names ...string) (ids, keys []string) {
	t.Helper()
	for _, n := range names {
		ids = append(ids, fireLabels(h, "g"+n, map[string]string{"alertname": strings.ToUpper(n), "severity": "critical"}))
	}
	h.step(fixedNow)
	for _, id := range ids {
		keys = append(keys, pagerduty.DedupKey(id, "carol", 0))
	}
	return ids, keys
}

// TestPagerDutyGroupedAlertAcknowledgedBeforeItsIncidentsResolveIsDelivered:
// PagerDuty merges y's PagerDuty incident into x's by itself, carol
// acknowledges the incident holding both alerts, and it is resolved
// later (the service's auto-resolve timeout, or carol), y's alert with
// it; pagerd's y stays open, as for every resolve of the incident an
// alert was merged into. PagerDuty keeps no order between webhooks (and
// one answered 5xx comes again later): the resolve's comes before the
// acknowledgement's. Delivered in order, y was acknowledged as carol;
// the resolve delivered first dropped what the incident held, and its
// record kept no acknowledgement and took none, so the acknowledgement
// (or the merge, delivered after both) found nothing: y's ladder went on
// (carol's SMS at 2m) for an alert she had acknowledged in PagerDuty.
// On both stores, in every order the resolve comes before the
// acknowledgement in.
func TestPagerDutyGroupedAlertAcknowledgedBeforeItsIncidentsResolveIsDelivered(t *testing.T) {
	for name, mk := range stores(t) {
		for who, agent := range map[string]string{"auto-resolve": pdAgentService, "carol": pdAgentCarol} {
			for _, order := range []string{"merge, resolve, ack", "resolve, merge, ack", "resolve, ack, merge", "ack, resolve, merge"} {
				t.Run(name+"/resolved by "+who+"/"+order, func(t *testing.T) {
					fake := providertest.NewPagerDuty(t)
					h := newHarness(t, withStore(mk(t)), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries())
					ids, keys := firedToCarol(t, h, "x", "y")
					y := ids[1]
					q := fake.Incident(keys[0])
					bodies := map[string]string{"merge": fake.Merge(keys[1], keys[0], "")}
					bodies["ack"] = fake.AcknowledgeIncident(q, pdAgentCarol)
					bodies["resolve"] = fake.ResolveIncident(q, agent)
					for _, what := range strings.Split(order, ", ") {
						if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, bodies[what]); code != 204 {
							t.Fatalf("%s webhook: %d %s", what, code, out)
						}
					}
					h.runUntil(fixedNow.Add(10 * time.Minute))
					if v := h.incident(y); v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
						t.Fatalf("y after carol acknowledged PagerDuty's incident %s, which held its alert, before it was resolved: %s by %q, paged %v; want acknowledged by carol",
							q, v.Status, v.AcknowledgedBy, pagedFor(h, y))
					}
					if got := pagedFor(h, y); len(got) != 0 {
						t.Fatalf("y paged after carol acknowledged the PagerDuty incident its alert was in: %v", got)
					}
					if !h.timelineHas(y, "resolve_ignored", "merge over in PagerDuty") {
						t.Fatalf("y's merge not noted over once PagerDuty's incident %s was resolved: %+v", q, h.incident(y).Timeline)
					}
				})
			}
		}
	}
}

// TestPagerDutyGroupedAlertMergedBeforeAnAcknowledgementKeptPastItsIncidents:
// PagerDuty merges x's PagerDuty incident into z's, then y's, by itself,
// and carol acknowledges z's, which holds all three alerts; y's merge's
// webhook comes last (PagerDuty keeps no order between webhooks, and one
// answered 5xx comes again later). Meanwhile x is resolved in pagerd, and
// another webhook writes the merges' record (another tool's PagerDuty
// incident auto-resolved): z's record, all of whose pagerd incidents (x) were
// resolved, was dropped, carol's acknowledgement with it, and y's late
// merge found none: y's ladder went on (carol's SMS at 2m) for an alert
// she had acknowledged in PagerDuty. The acknowledgement is kept when
// the alerts go. On both stores.
func TestPagerDutyGroupedAlertMergedBeforeAnAcknowledgementKeptPastItsIncidents(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fake := providertest.NewPagerDuty(t)
			h := newHarness(t, withStore(mk(t)), withConfig(pagerDutyAt(fake)), realTransport("pagerduty"), fastRetries())
			ids, keys := firedToCarol(t, h, "x", "y", "z")
			x, y := ids[0], ids[1]
			kx, ky, kz := keys[0], keys[1], keys[2]
			qz := fake.Incident(kz)
			xz := fake.Merge(kx, kz, "")
			yz := fake.Merge(ky, kz, "")
			ack := fake.AcknowledgeIncident(qz, pdAgentCarol)
			for _, body := range []string{xz, ack} {
				if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, body); code != 204 {
					t.Fatalf("webhook: %d %s", code, out)
				}
			}
			carolActs(t, h, x)("resolve")
			other := `{"event":{"id":"01Q99","event_type":"incident.resolved","resource_type":"incident","occurred_at":"2025-09-10T07:00:00Z",` + pdAgentService +
				`"data":{"id":"Q99","type":"incident","status":"resolved","service":` + providertest.PagerDutyService + `,"incident_key":"another-tools-alert"}}}`
			if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, other); code != 204 {
				t.Fatalf("another PagerDuty incident's auto-resolve webhook: %d %s", code, out)
			}
			if code, out := fake.Webhook(t, h.url+pagerduty.WebhookPath, yz); code != 204 {
				t.Fatalf("y's merge webhook, delivered last: %d %s", code, out)
			}
			h.runUntil(fixedNow.Add(10 * time.Minute))
			if v := h.incident(y); v.Status != "acknowledged" || v.AcknowledgedBy != "carol" {
				t.Fatalf("y after carol acknowledged PagerDuty's incident %s, which held its alert: %s by %q, paged %v; want acknowledged by carol",
					qz, v.Status, v.AcknowledgedBy, pagedFor(h, y))
			}
		})
	}
}

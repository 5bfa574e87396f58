package gateway

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestAckLinkOfAPageSentBeforeAReopenSparesTheReopenedIncident: ann's push
// carries her ack link; she acknowledges (here through the API), then
// escalates, which reopens the incident and pages level 2, bob. Her link
// came with a page the reopen superseded: opened, it shows the incident
// without its Acknowledge button and says why (Resolve stays); its
// acknowledge, pressed anyway (a page opened before the reopen, or the
// Acknowledge action of an ntfy notification, which POSTs it), changes
// nothing, the timeline says so (ack_ignored), and bob's pages go on. As a
// late acknowledgement of an old PagerDuty alert, a Slack button, a
// Pushover emergency. (Before: it acknowledged the reopened incident as
// ann, and bob's pages stopped.) Bob's link, of a page sent after the
// reopen, acknowledges.
func TestAckLinkOfAPageSentBeforeAReopenSparesTheReopenedIncident(t *testing.T) {
	h := newHarness(t, withConfig(linkConfig))
	id := fire(h)
	h.step(fixedNow)
	const prefix = "https://pagerd.example.com/ack/"
	link := func(user string) string {
		h.rec.mu.Lock()
		defer h.rec.mu.Unlock()
		for i := len(h.rec.msgs) - 1; i >= 0; i-- {
			if m := h.rec.msgs[i]; m.User == user && strings.HasPrefix(m.AckURL, prefix) {
				return "/ack/" + strings.TrimPrefix(m.AckURL, prefix)
			}
		}
		t.Fatalf("no page with a link to %s", user)
		return ""
	}
	anns := link("ann")
	h.clock.Set(fixedNow.Add(time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("ack: %d %s", r.code, r.body)
	}
	h.clock.Set(fixedNow.Add(2 * time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"ann"}`); r.code != 200 {
		t.Fatalf("escalate: %d %s", r.code, r.body)
	}
	h.step(fixedNow.Add(2*time.Minute + time.Second)) // bob's push
	if r := h.do("GET", anns, ""); r.code != 200 || strings.Contains(r.body, ">Acknowledge</button>") ||
		!strings.Contains(r.body, ">Resolve</button>") || !strings.Contains(r.body, "reopened") {
		t.Errorf("ann's link of the page before the reopen, opened: %d %s", r.code, r.body)
	}
	r := h.do("POST", anns+"/acknowledge", "")
	if v := h.incident(id); v.Status != "triggered" {
		t.Fatalf("ann's link of the page before the reopen: %s by %s (%d %s); bob's pages stop", v.Status, v.AcknowledgedBy, r.code, r.body)
	}
	if !strings.Contains(r.body, "not applied") || strings.Contains(r.body, ">Acknowledge</button>") {
		t.Errorf("ann is not told her acknowledgement was not applied: %d %s", r.code, r.body)
	}
	if !h.timelineHas(id, "ack_ignored", "not applied") {
		t.Errorf("the timeline does not say the acknowledgement was not applied: %+v", h.incident(id).Timeline)
	}
	bobs := link("bob")
	if r := h.do("POST", bobs+"/acknowledge", ""); r.code != 200 || !strings.Contains(r.body, "Acknowledged.") {
		t.Fatalf("bob's link of the page after the reopen: %d %s", r.code, r.body)
	}
	if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "bob" {
		t.Fatalf("after bob's link: %s by %s", v.Status, v.AcknowledgedBy)
	}
}

// TestStormAckLinkLeavesAnIncidentReopenedSince: six incidents for ann,
// three paged at once and three held for one message. One of the three is
// acknowledged and reopened (escalated: its one level pages ann again)
// before ann presses the message's Acknowledge all: it acknowledges the
// other two and leaves the reopened one triggered, noted ack_ignored, as
// PagerDuty's late acknowledgement of the message's alert does. (Before:
// it acknowledged the reopened incident too, and its new pages stopped.)
func TestStormAckLinkLeavesAnIncidentReopenedSince(t *testing.T) {
	h := newHarness(t, withConfig(stormConfig))
	storm(h, 6, "g")
	h.step(fixedNow)
	h.step(fixedNow.Add(10 * time.Second))
	msgs := h.rec.sentTo("ann", "push")
	if len(msgs) != 4 {
		t.Fatalf("ann got %d pushes, want 3 and one message", len(msgs))
	}
	link := stormLink(t, msgs[3])
	b, err := h.store.GetBundle(context.Background(), msgs[3].Incident)
	if err != nil || len(b.Incidents) != 3 {
		t.Fatalf("bundle %+v %v", b, err)
	}
	reopened := b.Incidents[0]
	for _, what := range []string{"acknowledge", "escalate"} {
		if r := h.api("POST", "/api/v1/incidents/"+reopened+"/"+what, `{"user":"ann"}`); r.code != 200 {
			t.Fatalf("%s: %d %s", what, r.code, r.body)
		}
	}
	if v := h.incident(reopened); v.Status != "triggered" {
		t.Fatalf("the escalation did not reopen %s: %s", reopened, v.Status)
	}
	r := h.do("POST", link+"/acknowledge", "")
	if r.code != 200 || !strings.Contains(r.body, "Acknowledged 2 of 3 incidents; 1 reopened since the message, left as they are.") {
		t.Errorf("acknowledge all: %d %s", r.code, r.body)
	}
	if v := h.incident(reopened); v.Status != "triggered" {
		t.Fatalf("the message's link acknowledged %s, reopened since: %s by %q; its new pages stop", reopened, v.Status, v.AcknowledgedBy)
	}
	if !h.timelineHas(reopened, "ack_ignored", "not applied") {
		t.Errorf("the timeline does not say the acknowledgement was not applied: %+v", h.incident(reopened).Timeline)
	}
	for _, id := range b.Incidents[1:] {
		if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "ann" {
			t.Fatalf("%s, in the message and not reopened: %s by %q", id, v.Status, v.AcknowledgedBy)
		}
	}
}

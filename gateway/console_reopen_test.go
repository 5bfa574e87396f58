package gateway

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestConsoleAcknowledgeOfAPageShownBeforeAReopenIsRefused: ann opens the
// incident in the console; before she presses Acknowledge, bob
// acknowledges it and escalates it, which re-opens it and pages again.
// Her press, from the page that showed it before, answers 409 and leaves
// it triggered, so the new pages go on; the page she loads again
// acknowledges it. (Before, the form carried no count: her press
// acknowledged the re-opening, which she had not seen.)
func TestConsoleAcknowledgeOfAPageShownBeforeAReopenIsRefused(t *testing.T) {
	h, id, ann := annSignedInOnAPagedIncident(t)
	reopened := func(page string) url.Values {
		m := regexp.MustCompile(`name="reopened" value="(\d+)"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("the Acknowledge form carries no reopened count:\n%s", page)
		}
		return url.Values{"reopened": {m[1]}}
	}
	page := ann.get("/ui/incidents/" + id)
	h.clock.Set(fixedNow.Add(time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"bob"}`); r.code != 200 {
		t.Fatalf("bob's ack: %d %s", r.code, r.body)
	}
	h.clock.Set(fixedNow.Add(2 * time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"bob"}`); r.code != 200 {
		t.Fatalf("escalate: %d %s", r.code, r.body)
	}
	r := ann.post(page.body, "/ui/incidents/"+id+"/acknowledge", reopened(page.body))
	if v := h.incident(id); r.code != http.StatusConflict || v.Status != "triggered" {
		t.Fatalf("ann's press from the page before the reopen: %d; the incident %s by %s", r.code, v.Status, v.AcknowledgedBy)
	}
	mustContain(t, "the refusal", r.body, "re-opened after this page showed it")
	page = ann.get("/ui/incidents/" + id)
	r = ann.post(page.body, "/ui/incidents/"+id+"/acknowledge", reopened(page.body))
	if v := h.incident(id); r.code != http.StatusSeeOther || v.Status != "acknowledged" || v.AcknowledgedBy != "ann" {
		t.Fatalf("ann's press from the page loaded again: %d; the incident %s by %s", r.code, v.Status, v.AcknowledgedBy)
	}
}

// TestConsoleEscalateOfAPageShownBeforeAnAckIsRefused: ann opens the
// incident in the console, triggered; before she presses Escalate, bob
// acknowledges it elsewhere. Her press, from the page that showed it
// triggered, does not wake the next level behind bob's back: the incident
// stays acknowledged by him, nobody is paged, and she lands on the page
// as it is now, which says who acknowledged it and when. Escalate pressed
// there, on the page that shows the acknowledgement, escalates. (Before,
// her press reopened the incident and paged the next level.)
func TestConsoleEscalateOfAPageShownBeforeAnAckIsRefused(t *testing.T) {
	h, id, ann := annSignedInOnAPagedIncident(t)
	path := "/ui/incidents/" + id + "/escalate"
	page := ann.get("/ui/incidents/" + id)
	h.clock.Set(fixedNow.Add(time.Minute))
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"bob"}`); r.code != 200 {
		t.Fatalf("bob's ack: %d %s", r.code, r.body)
	}
	h.clock.Set(fixedNow.Add(2 * time.Minute))
	r := ann.post(page.body, path, hiddenFields(t, page.body, path))
	if v := h.incident(id); r.code != http.StatusSeeOther || v.Status != "acknowledged" || v.AcknowledgedBy != "bob" || v.Level != 1 {
		t.Fatalf("ann's Escalate from the page before the ack: %d; the incident %s by %q at level %d", r.code, v.Status, v.AcknowledgedBy, v.Level)
	}
	h.runUntil(fixedNow.Add(3 * time.Minute))
	if got := strings.Join(h.rec.lines(fixedNow), "; "); strings.Contains(got, "bob") {
		t.Fatalf("pages: %s, want none to the next level", got)
	}
	page = ann.follow(r)
	mustContain(t, "the page she lands on", page.body,
		"Not escalated: acknowledged by Bob at Wed 10 Sep 06:01 UTC, since this page was shown. Escalate again to page the next level anyway.")
	if got := ann.get("/ui/incidents/" + id).body; strings.Contains(got, "Not escalated") {
		t.Errorf("the message outlives its press:\n%s", got)
	}

	r = ann.post(page.body, path, hiddenFields(t, page.body, path))
	if v := h.incident(id); r.code != http.StatusSeeOther || v.Status != "triggered" || v.Level != 2 {
		t.Fatalf("ann's Escalate from the page that shows the ack: %d; the incident %s at level %d", r.code, v.Status, v.Level)
	}
	mustContain(t, "after escalating", ann.follow(r).body, "Escalated.")
}

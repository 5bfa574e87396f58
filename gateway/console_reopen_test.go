package gateway

import (
	"net/http"
	"net/url"
	"regexp"
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

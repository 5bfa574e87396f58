package gateway

import (
	"strings"
	"testing"
	"time"
)

// TestAPIAcknowledgeOfAReadingBeforeAReopenIsRefused: ann acknowledges
// through the API with the incident's reopened as she read it (0), and
// the answer is lost; meanwhile the incident is escalated, which re-opens
// it and pages bob. Her client's retry of the same request answers 409 and
// leaves the incident triggered, so bob's pages go on. (Before, the API
// took no count: the retry acknowledged the re-opening as ann, and bob's
// pages stopped, as a 4 on an old call did.) The incident shows its count,
// and an acknowledgement with it is taken.
func TestAPIAcknowledgeOfAReadingBeforeAReopenIsRefused(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)))
			id := fire(h)
			h.step(fixedNow)
			if v := h.incident(id); v.Reopened != 0 {
				t.Fatalf("a new incident shows reopened %d", v.Reopened)
			}
			ack := `{"user":"ann","reopened":0}`
			h.clock.Set(fixedNow.Add(time.Minute))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", ack); r.code != 200 {
				t.Fatalf("ack: %d %s", r.code, r.body)
			}
			h.clock.Set(fixedNow.Add(2 * time.Minute))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("escalate: %d %s", r.code, r.body)
			}
			if v := h.incident(id); v.Status != "triggered" || v.Reopened != 1 {
				t.Fatalf("after the escalation: %s, reopened %d", v.Status, v.Reopened)
			}
			r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", ack)
			if v := h.incident(id); r.code != 409 || v.Status != "triggered" {
				t.Fatalf("the retried acknowledgement: %d %s; the incident %s by %s", r.code, r.body, v.Status, v.AcknowledgedBy)
			}
			if !strings.Contains(r.body, "re-opened") || !strings.Contains(r.body, "now 1") {
				t.Errorf("the 409 does not say why: %s", r.body)
			}
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"bob","reopened":1}`); r.code != 200 {
				t.Fatalf("ack with the count read: %d %s", r.code, r.body)
			}
			if v := h.incident(id); v.Status != "acknowledged" || v.AcknowledgedBy != "bob" {
				t.Fatalf("after bob's acknowledgement: %s by %s", v.Status, v.AcknowledgedBy)
			}
			if r := h.api("POST", "/api/v1/incidents/"+id+"/resolve", `{"reopened":1}`); r.code != 400 {
				t.Errorf("reopened on a resolve: %d %s", r.code, r.body)
			}
		})
	}
}

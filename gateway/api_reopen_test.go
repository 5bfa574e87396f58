package gateway

import (
	"context"
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

// TestAPIIncidentSaysWhenItsAcknowledgerAcknowledged: ann acknowledges at
// 06:01, an escalation reopens the incident and bob acknowledges it again
// at 06:05. The incident showed acknowledged_at 06:01 (the first
// acknowledgement, what MTTA counts) beside acknowledged_by bob, and
// nothing said when bob did: a client showing "acknowledged by bob at
// 06:01" told a lie. last_acknowledged_at says 06:05, on every store; a
// record written before pagerd kept it, reopened since, leaves it out
// rather than give the first acknowledgement's time.
func TestAPIIncidentSaysWhenItsAcknowledgerAcknowledged(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)))
			id := fire(h)
			acknowledgeAt(h, id, "ann", fixedNow.Add(time.Minute))
			reopenAt(h, id, fixedNow.Add(2*time.Minute))
			acknowledgeAt(h, id, "bob", fixedNow.Add(5*time.Minute))
			v := h.incident(id)
			if v.AcknowledgedAt == nil || !v.AcknowledgedAt.Equal(fixedNow.Add(time.Minute)) || v.AcknowledgedBy != "bob" ||
				v.LastAcknowledgedAt == nil || !v.LastAcknowledgedAt.Equal(fixedNow.Add(5*time.Minute)) {
				t.Fatalf("acknowledged first at %v, by %s at %v; want first at 06:01, by bob at 06:05", v.AcknowledgedAt, v.AcknowledgedBy, v.LastAcknowledgedAt)
			}

			inc, err := h.store.Get(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			inc.State.LastAcknowledgedAt = time.Time{} // as an older pagerd wrote it
			if err := h.store.Update(context.Background(), inc, nil); err != nil {
				t.Fatal(err)
			}
			if r := h.api("GET", "/api/v1/incidents/"+id, ""); r.code != 200 || strings.Contains(r.body, "last_acknowledged_at") {
				t.Fatalf("a record from before, reopened since: %d %s", r.code, r.body)
			}
		})
	}
}

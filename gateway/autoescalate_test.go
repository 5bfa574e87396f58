package gateway

import (
	"strings"
	"testing"
	"time"
)

// breachConfig is testConfig with an auto-escalation trigger on service
// api: a category=security_breach alert is P0 and pages the secondary
// level at once (AIVO's executives, in small).
var breachConfig = strings.Replace(testConfig, "    targets:\n      P0: {acknowledge: 5m}\n",
	"    targets:\n      P0: {acknowledge: 5m}\n    rules: [{name: breach, matchers: ['category=\"security_breach\"'], priority: P0, page_immediately: [secondary]}]\n", 1)

// pagedCount are the users and channels the recorder saw paged, with how often.
func pagedCount(h *harness) map[string]int {
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	n := map[string]int{}
	for _, m := range h.rec.msgs {
		n[m.User+" "+m.Channel]++
	}
	return n
}

// TestAutoEscalationTriggerInAGroupPagesAtOnce: an Alertmanager group of
// two critical alerts, the second a security breach, pages the level its
// rule pages at once: the first alert is as urgent, and its route (which
// pages no level at once) used to win the tie, so the executives were
// never paged.
func TestAutoEscalationTriggerInAGroupPagesAtOnce(t *testing.T) {
	h := newHarness(t, withConfig(breachConfig))
	body := amPayload("firing", `{}:{alertname="Outage"}`,
		map[string]string{"alertname": "HighErrorRate", "severity": "critical", "instance": "api-1"},
		map[string]string{"alertname": "UnexpectedAdminLogin", "severity": "critical", "category": "security_breach"})
	if r := h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+amKey); r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	h.runUntil(fixedNow.Add(time.Minute))
	if n := pagedCount(h); n["ann push"] != 1 || n["bob push"] != 1 {
		t.Fatalf("pages %v (%s); want ann (primary) and bob (secondary, paged at once) pushed once each",
			n, strings.Join(h.rec.lines(fixedNow), "; "))
	}
}

// TestAutoEscalationTriggerJoiningAnOpenGroupPagesAtOnce: a security
// breach alert joining an open P0 group at the same priority pages the
// level its rule pages at once, triggered or acknowledged; the repeat
// that follows pages nobody more.
func TestAutoEscalationTriggerJoiningAnOpenGroupPagesAtOnce(t *testing.T) {
	for _, acked := range []bool{false, true} {
		name := "triggered"
		if acked {
			name = "acknowledged"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withConfig(breachConfig))
			auth := []string{"Authorization", "Bearer " + amKey}
			first := map[string]string{"alertname": "HighErrorRate", "severity": "critical", "instance": "api-1"}
			if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g", first), auth...); r.code != 200 {
				t.Fatalf("%d %s", r.code, r.body)
			}
			h.runUntil(fixedNow.Add(time.Minute))
			id := h.list("")[0].ID
			if acked {
				if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", ""); r.code != 200 {
					t.Fatal(r.body)
				}
			}
			breach := amPayload("firing", "g", first,
				map[string]string{"alertname": "UnexpectedAdminLogin", "severity": "critical", "category": "security_breach"})
			h.clock.Set(fixedNow.Add(90 * time.Second))
			if r := h.do("POST", "/api/v1/alertmanager", breach, auth...); r.code != 200 {
				t.Fatalf("%d %s", r.code, r.body)
			}
			h.runUntil(fixedNow.Add(150 * time.Second))
			if n := pagedCount(h); n["bob push"] != 1 {
				t.Fatalf("pages %v (%s); want bob (secondary, paged at once) pushed once",
					n, strings.Join(h.rec.lines(fixedNow), "; "))
			}
			v := h.incident(id)
			if v.Status != "triggered" || v.Priority != "P0" {
				t.Fatalf("after the breach joined: %s %s, want triggered P0", v.Status, v.Priority)
			}
			if !strings.Contains(v.Summary, "UnexpectedAdminLogin") {
				t.Errorf("summary %q does not name the alert that paged the secondary level", v.Summary)
			}
			// Alertmanager's next flush of the same group pages nobody
			// more: no new push, no new escalation.
			pushes := func() int {
				n := 0
				for k, c := range pagedCount(h) {
					if strings.HasSuffix(k, " push") {
						n += c
					}
				}
				return n
			}
			before, entries := pushes(), len(v.Timeline)
			h.clock.Set(fixedNow.Add(3 * time.Minute))
			h.do("POST", "/api/v1/alertmanager", breach, auth...)
			h.runUntil(fixedNow.Add(3*time.Minute + time.Second))
			if after := pushes(); after != before || len(h.incident(id).Timeline) != entries {
				t.Fatalf("the repeat paged again: %s", strings.Join(h.rec.lines(fixedNow), "; "))
			}
		})
	}
}

// TestEscalateRacingAnAutoEscalationStillEscalates: a person escalates an
// acknowledged incident as a security breach alert joins its group, whose
// auto-escalation re-opens it and pages its level again between the
// escalation's read and its write. The retry took that restart of the
// level for an escalation since the read and dropped the person's, saying
// nothing: an auto-escalation, like a priority raise, escalates nothing.
func TestEscalateRacingAnAutoEscalationStillEscalates(t *testing.T) {
	bu := &beforeUpdate{Store: boltStore(t)}
	h := newHarness(t, withConfig(breachConfig), withStore(bu))
	auth := []string{"Authorization", "Bearer " + amKey}
	first := map[string]string{"alertname": "HighErrorRate", "severity": "critical", "instance": "api-1"}
	if r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", "g", first), auth...); r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	h.runUntil(fixedNow.Add(time.Minute))
	id := h.list("")[0].ID
	if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", ""); r.code != 200 {
		t.Fatal(r.body)
	}
	breach := amPayload("firing", "g", first,
		map[string]string{"alertname": "UnexpectedAdminLogin", "severity": "critical", "category": "security_breach"})
	h.clock.Set(fixedNow.Add(90 * time.Second))
	bu.fn = func() {
		if r := h.do("POST", "/api/v1/alertmanager", breach, auth...); r.code != 200 {
			t.Errorf("the breach alert: %d %s", r.code, r.body)
		}
	}
	bu.armed.Store(true)
	r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"ann"}`)
	if bu.armed.Load() {
		t.Fatal("the escalation wrote nothing: the test tests nothing")
	}
	if r.code != 200 {
		t.Fatalf("escalate: %d %s", r.code, r.body)
	}
	if v := h.incident(id); v.LevelName != "secondary" {
		t.Fatalf("after the escalation: level %d (%s), want secondary; timeline %+v", v.Level, v.LevelName, v.Timeline)
	}
}

package gateway

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMaintenanceEscalatedPastWindowDoesNotHoldAfterAnother: a person
// escalated an incident window A held, asking for pages despite it. A
// shorter window B, started later, holds it (as documented); when B ends,
// A still covers the incident and was handed it back, held to A's end:
// the pages the person asked for stopped for another hour. A window
// escalated past never holds the incident again, whichever way it comes
// back: at B's end the incident is paged.
func TestMaintenanceEscalatedPastWindowDoesNotHoldAfterAnother(t *testing.T) {
	for st, mk := range stores(t) {
		t.Run(st, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(mwConfig))
			a := h.addWindow(`{"services":["api"],"duration":"2h"}`, 201)
			id := fireLabels(h, "g1", map[string]string{"alertname": "A", "severity": "critical"})
			h.step(fixedNow.Add(2 * time.Second))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("escalate: %d %s", r.code, r.body)
			}
			h.addWindow(`{"services":["api"],"start":"2025-09-10T06:30:00Z","end":"2025-09-10T07:00:00Z"}`, 201)
			h.runUntil(fixedNow.Add(40 * time.Minute))
			if inc := h.incident(id); inc.Maintenance == nil {
				t.Fatalf("window B did not hold the incident: %+v", inc)
			}
			h.runUntil(fixedNow.Add(time.Hour + 10*time.Minute))
			if inc := h.incident(id); inc.Maintenance != nil {
				t.Errorf("held again by %s (%s) after window B ended, though a person escalated past it", inc.Maintenance.ID, inc.Maintenance.Name)
			}
			var after []string
			for _, l := range h.rec.lines(fixedNow) {
				if strings.HasPrefix(l, "1h") {
					after = append(after, l)
				}
			}
			if len(after) == 0 {
				t.Errorf("nobody paged after window B ended, window %s (escalated past) holding the incident", a.ID)
			}
		})
	}
}

// TestMaintenanceEscalatedPastWindowsInForceDoNotHoldAgain: two windows
// cover the service, A for two hours and B for one, made together. An
// alert opens its incident, held by A (it ends last); a person escalates
// it, asking for pages despite maintenance. B's start swept a second time
// seconds later, found the incident, not held and not escalated past B,
// and held it: the pages the person asked for stopped after the first
// push, for an hour. Escalating takes the incident out of every window in
// force then; only one that starts later holds it again.
func TestMaintenanceEscalatedPastWindowsInForceDoNotHoldAgain(t *testing.T) {
	for st, mk := range stores(t) {
		t.Run(st, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(mwConfig))
			h.addWindow(`{"services":["api"],"duration":"2h"}`, 201)
			h.addWindow(`{"services":["api"],"duration":"1h"}`, 201)
			id := fireLabels(h, "g1", map[string]string{"alertname": "A", "severity": "critical"})
			h.step(fixedNow.Add(time.Second))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("escalate: %d %s", r.code, r.body)
			}
			h.runUntil(fixedNow.Add(10 * time.Minute))
			if inc := h.incident(id); inc.Maintenance != nil {
				t.Errorf("held again by %s (%s) after a person escalated it", inc.Maintenance.ID, inc.Maintenance.Name)
			}
			want := []string{"1s L2 bob push", "2m1s L2 bob sms", "5m1s L2 bob voice"}
			if got := h.rec.lines(fixedNow); !slices.Equal(got, want) {
				t.Errorf("pages after the escalation: %q, want %q", got, want)
			}
			// A window made after the escalation still holds it, even one
			// whose start is written earlier.
			h.addWindow(`{"services":["api"],"start":"2025-09-10T05:00:00Z","end":"2025-09-10T06:40:00Z"}`, 201)
			h.runUntil(fixedNow.Add(11 * time.Minute))
			if inc := h.incident(id); inc.Maintenance == nil {
				t.Errorf("a window made after the escalation does not hold the incident")
			}
		})
	}
}

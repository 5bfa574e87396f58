package gateway

import (
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

package gateway

import (
	"strings"
	"testing"
	"time"
)

// TestMaintenanceRepeatKeepsTheLaterWindowsHold: a person escalated an
// incident past window A; a later, shorter window B holds it, as
// documented. Alertmanager's repeat of the very same alert, inside B,
// released it and paged people during B: the repeat looked for the window
// covering the alert, found A (it ends later), which the engine may not
// hand the incident to (escalated past), and so paged it as new, its
// timeline saying an alert outside B had joined. A repeat that B still
// covers changes nothing.
func TestMaintenanceRepeatKeepsTheLaterWindowsHold(t *testing.T) {
	for st, mk := range stores(t) {
		t.Run(st, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(mwConfig))
			h.addWindow(`{"services":["api"],"duration":"2h"}`, 201)
			labels := map[string]string{"alertname": "A", "severity": "critical"}
			id := fireLabels(h, "g1", labels)
			h.step(fixedNow.Add(2 * time.Second))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("escalate: %d %s", r.code, r.body)
			}
			b := h.addWindow(`{"services":["api"],"start":"2025-09-10T06:30:00Z","end":"2025-09-10T07:00:00Z"}`, 201)
			h.runUntil(fixedNow.Add(40 * time.Minute))
			if inc := h.incident(id); inc.Maintenance == nil || inc.Maintenance.ID != b.ID {
				t.Fatalf("window B did not hold the incident: %+v", inc.Maintenance)
			}
			before := len(h.rec.lines(fixedNow))
			if again := fireLabels(h, "g1", labels); again != id {
				t.Fatalf("the repeat opened %s, not %s", again, id)
			}
			h.runUntil(fixedNow.Add(50 * time.Minute))
			if inc := h.incident(id); inc.Maintenance == nil || inc.Maintenance.ID != b.ID {
				t.Errorf("a repeat of the same alert inside window B released it: held by %+v", inc.Maintenance)
			}
			if pages := h.rec.lines(fixedNow)[before:]; len(pages) > 0 {
				t.Errorf("paged inside window B after a repeat it covers: %s", strings.Join(pages, "; "))
			}
			if h.timelineHas(id, "maintenance", "one outside it joined") {
				t.Errorf("the timeline says an alert outside window B joined, but only a repeat came")
			}
		})
	}
}

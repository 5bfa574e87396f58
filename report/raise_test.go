package report

import (
	"testing"
	"time"
)

// TestRaisedIncidentKeepsItsTargets: the acknowledge and resolution
// targets are those in force when the incident was created, as the engine
// arms them at the trigger; a later priority raise (a critical alert joins
// a warning group) re-pages the level but leaves them. The incident counts
// under the priority it ended with.
func TestRaisedIncidentKeepsItsTargets(t *testing.T) {
	cfg := loadSeed(t, "aivo.yaml")
	ny := mustZone(t, "America/New_York")
	// A P2 on Monday 14:00 (business hours: acknowledge within 1h,
	// resolve within 24h). Jennifer acknowledges at 30m; at 2h a critical
	// alert joins the group and raises it to P0, re-opening it; she
	// acknowledges again at 2h03m and resolves it at 3h. The engine's
	// targets (1h, 24h) were kept: no sla_breach in the timeline.
	inc := incident(ny, "00-r", "aivo-production", "P2", "2025-10-06 14:00", "API 5xx above 5% (raised from P2 to P0; 2 alerts firing)", alertmanager("HighErrorRate", 2),
		page(0, 1, "jennifer", "push"), page(2*m, 1, "jennifer", "sms"), ack(30*m, 1, "jennifer"),
		escalate(2*time.Hour, 1, "priority raised from P2 to P0 (severity) by API 5xx above 5%; 2 alerts firing"),
		page(2*time.Hour, 1, "jennifer", "push"), ack(123*m, 1, "jennifer"), resolve(3*time.Hour, "jennifer"))
	inc.Priority = "P0" // the record: the priority it ended with
	inc.Timeline[0].Detail = "P2, high urgency, rule severity"
	r, err := Build(cfg, Options{From: time.Date(2025, 10, 6, 8, 0, 0, 0, ny), To: time.Date(2025, 10, 13, 8, 0, 0, 0, ny)}, []Incident{inc})
	if err != nil {
		t.Fatal(err)
	}
	tot := r.Total
	wantRatio(t, "ack within target", tot.AckWithinTarget, 1, 1)
	wantRatio(t, "resolved within target", tot.ResolvedWithinTarget, 1, 1)
	wantRatio(t, "escalated", tot.Escalated, 0, 1)
	if len(tot.ByPriority) != 1 || tot.ByPriority[0].Priority != "P0" {
		t.Errorf("by priority %+v, want the one P0", tot.ByPriority)
	}
}

package report

import (
	"testing"
	"time"
)

// TestLevelPagedAgainIsNoEscalation: a reload removed the person being
// paged and the engine paged the level again (whoever holds the tier now):
// the incident stayed at its level, so it does not count as escalated.
func TestLevelPagedAgainIsNoEscalation(t *testing.T) {
	cfg := loadSeed(t, "aivo.yaml")
	ny := mustZone(t, "America/New_York")
	inc := incident(ny, "00-g", "aivo-production", "P0", "2025-10-06 14:00", "API 5xx above 5%", alertmanager("HighErrorRate", 1),
		page(0, 1, "jennifer", "push"),
		escalate(2*m, 1, "jennifer is no longer in the config: level primary paged again"),
		page(2*m, 1, "marcus", "push"), ack(3*m, 1, "marcus"), resolve(time.Hour, "marcus"))
	r, err := Build(cfg, Options{From: time.Date(2025, 10, 6, 8, 0, 0, 0, ny), To: time.Date(2025, 10, 13, 8, 0, 0, 0, ny)}, []Incident{inc})
	if err != nil {
		t.Fatal(err)
	}
	wantRatio(t, "escalated", r.Total.Escalated, 0, 1)
}

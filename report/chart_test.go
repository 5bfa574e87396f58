package report

import (
	"strings"
	"testing"
	"time"
)

// TestMTTAChartLeavesOutWeeksWithNoAcknowledgement: a week whose incidents
// nobody acknowledged has no MTTA. The chart drew it as a bar of zero,
// the fastest response of the period under the goal line, for a week that
// was the slowest; it now has no bar, as the weeks table has no figure
// ("-").
func TestMTTAChartLeavesOutWeeksWithNoAcknowledgement(t *testing.T) {
	cfg := loadSeed(t, "aivo.yaml")
	ny := mustZone(t, "America/New_York")
	incs := []Incident{
		incident(ny, "w1", "aivo-production", "P2", "2025-10-07 10:00", "Disk filling", alertmanager("DiskFilling", 1),
			page(0, 1, "jennifer", "push"), ack(3*m, 1, "jennifer"), resolve(30*m, "jennifer")),
		// Paged all night, acknowledged by nobody, resolved by itself.
		incident(ny, "w2", "aivo-production", "P2", "2025-10-14 01:00", "Queue backlog", alertmanager("QueueBacklog", 1),
			page(0, 1, "marcus", "push"), resolve(3*time.Hour, "alertmanager")),
	}
	r, err := Build(cfg, Options{From: time.Date(2025, 10, 6, 8, 0, 0, 0, ny), To: time.Date(2025, 10, 20, 8, 0, 0, 0, ny)}, incs)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Weeks) != 2 || r.Weeks[1].Incidents != 1 || r.Weeks[1].MTTA.Count != 0 {
		t.Fatalf("weeks %+v", r.Weeks)
	}
	for _, c := range r.Charts() {
		if c.Name != "mtta" {
			continue
		}
		if strings.Contains(c.SVG, "<title>Oct 13: 0</title>") || strings.Count(c.SVG, "</rect>") != 1 {
			t.Errorf("the week of Oct 13 has no MTTA, yet a bar:\n%s", c.SVG)
		}
		if !strings.Contains(c.SVG, "<title>Oct 6: 3m</title></rect>") || !strings.Contains(c.SVG, "<title>Oct 13: none</title>") {
			t.Errorf("chart:\n%s", c.SVG)
		}
	}
}

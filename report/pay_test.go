package report

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// TestPayGoesByTheWallClock: on-call pay counts incident time from
// creation to resolution on the wall clock, the time a maintenance window
// held the incident included (docs/CONFIG.md, reports), though MTTR leaves
// it out.
func TestPayGoesByTheWallClock(t *testing.T) {
	cfg := loadSeed(t, "aion-r.yaml")
	// A SEV-1 on Saturday 10:00 UTC, opened inside a maintenance window
	// that ends at 12:00; Engineer A is paged then, acknowledges at 12:05
	// and resolves it at 15:00.
	inc := incident(time.UTC, "01-h1", "aion-r-platform", "SEV-1", "2025-10-11 10:00", "Payments webhook failing", alertmanager("WebhookFailures", 1),
		page(2*time.Hour, 1, "eng-a", "push"), ack(125*m, 1, "eng-a"), statusUpdate(130*m, "eng-a", "provider outage"), resolve(5*time.Hour, "eng-a"))
	inc.Held = []policy.HeldSpan{{From: inc.CreatedAt, To: inc.CreatedAt.Add(2 * time.Hour)}}
	r, err := Build(cfg, Options{From: time.Date(2025, 10, 6, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 10, 13, 0, 0, 0, 0, time.UTC)}, []Incident{inc})
	if err != nil {
		t.Fatal(err)
	}
	wantStats(t, "MTTR", r.Total.MTTR, 1, "3h", "3h", "3h")
	var pay []string
	for _, p := range r.Pay.Incidents {
		pay = append(pay, fmt.Sprintf("%s %s %s-%s %dmin %dd", p.Incident, p.User, p.Start.Format("15:04"), p.End.Format("15:04"), p.BillableMinutes, p.CompDays))
	}
	// 10:00 to 15:00 on a Saturday: 5h billable; a weekend SEV-1 over 4h:
	// two comp days.
	if got, want := strings.Join(pay, "; "), "01-h1 eng-a 10:00-15:00 300min 2d"; got != want {
		t.Errorf("pay %s, want %s", got, want)
	}
}

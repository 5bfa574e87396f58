package report

import (
	"fmt"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// TestReportWeeksOfAHandoffAt2400: a schedule may hand off at "Monday
// 24:00", which is Tuesday 00:00. Report weeks, which default to the
// first schedule's handoff, begin then and last seven days, and every
// incident counts in the week it was created in: read as Monday 24:00,
// weeks lasted eight days and began on Tuesdays and Wednesdays, and an
// incident counted in the total fell in no week of the report, nor in
// anyone's alerts per week (what the alerts-per-week goal is held to).
func TestReportWeeksOfAHandoffAt2400(t *testing.T) {
	cfg, err := policy.Parse([]byte(`
users:
  - {id: ann, name: Ann, time_zone: UTC, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    time_zone: UTC
    handoff: {weekday: monday, time: "24:00"}
    tiers:
      - {name: primary, start: 2025-10-06, members: [ann]}
escalation_policies:
  - name: p
    repeat: 1
    levels:
      - {name: primary, targets: [{schedule: s, tier: primary}], timeout: 10m}
services:
  - {name: svc, priority_scheme: SEV-1-4, escalation_policy: p}
`), "team.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	// Monday 13 October, 12:00: in the week from Tuesday 7 October 00:00;
	// Monday 20 October in the next.
	incs := []Incident{
		incident(time.UTC, "a", "svc", "SEV-2", "2025-10-13 12:00", "disk", nil, page(0, 1, "ann", "push"), ack(m, 1, "ann")),
		incident(time.UTC, "b", "svc", "SEV-2", "2025-10-20 12:00", "disk", nil, page(0, 1, "ann", "push"), ack(m, 1, "ann")),
	}
	r, err := Build(cfg, Options{From: time.Date(2025, 10, 7, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 10, 28, 0, 0, 0, 0, time.UTC)}, incs)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Weeks) != 3 {
		t.Fatalf("%d weeks, want 3: %+v", len(r.Weeks), r.Weeks)
	}
	for i, w := range r.Weeks {
		start := time.Date(2025, 10, 7+7*i, 0, 0, 0, 0, time.UTC)
		if !w.Start.Equal(start) || w.End.Sub(w.Start) != 7*24*time.Hour {
			t.Errorf("week %d: %s to %s, want a week from %s", i, w.Start, w.End, start)
		}
	}
	var weeks, alerts []int
	for _, w := range r.Weeks {
		weeks = append(weeks, w.Incidents)
	}
	for _, w := range r.Engineers[0].AlertsPerWeek {
		alerts = append(alerts, w.Alerts)
	}
	if got := fmt.Sprint(weeks, alerts); got != "[1 1 0] [1 1 0]" {
		t.Errorf("incidents per week and ann's alerts per week %s, want [1 1 0] [1 1 0]", got)
	}
}

package report

import (
	"fmt"
	"slices"
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

// paidTeam is a New York team paid by AION-R's rules whose members set no
// time_zone: their clock is their schedule's.
const paidTeam = `
business_hours:
  - {name: office, time_zone: UTC, days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
users:
  - {id: ann, name: Ann, contacts: [{channel: push, via: log}]}
  - {id: bob, name: Bob, contacts: [{channel: push, via: log}]}
  - {id: cat, name: Cat, time_zone: UTC, contacts: [{channel: push, via: log}]}
  - {id: dan, name: Dan, time_zone: UTC, contacts: [{channel: push, via: log}]}
schedules:
  - name: ny
    time_zone: America/New_York
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-10-06, members: [ann, bob]}
      - {name: secondary, start: 2025-10-06, members: [bob, ann]}
  - name: leads
    time_zone: UTC
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: lead, start: 2025-10-06, members: [cat]}
      - {name: unpaged, start: 2025-10-06, members: [dan]}
escalation_policies:
  - name: p
    repeat: 1
    levels:
      - {name: primary, targets: [{schedule: ny, tier: primary}], timeout: 10m}
      - {name: secondary, targets: [{schedule: ny, tier: secondary}], timeout: 10m}
    unresolved:
      - {priorities: [SEV-1], after: 1h, notify: [{schedule: leads, tier: lead}]}
compensation:
  - {name: pay, business_hours: office, minimum: 30m, round_to: 15m}
services:
  - {name: svc, priority_scheme: SEV-1-4, escalation_policy: p, compensation: pay}
reports:
  week: {time_zone: America/New_York, weekday: monday, time: "00:00"}
`

// TestPayOnThePersonsClock: billable time of someone without a time_zone
// is judged on the clock their nights are counted on, their schedule's,
// not on UTC (docs/CONFIG.md, compensation and reports.night).
func TestPayOnThePersonsClock(t *testing.T) {
	cfg, err := policy.Parse([]byte(paidTeam), "team.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	// Tuesday 08:00-10:00 in New York (12:00-14:00 UTC, business hours
	// there): the hour before 09:00 is billable.
	inc := incident(ny, "z1", "svc", "SEV-2", "2025-10-07 08:00", "disk", nil,
		page(0, 1, "ann", "push"), ack(5*m, 1, "ann"), resolve(2*time.Hour, "ann"))
	r, err := Build(cfg, Options{From: time.Date(2025, 10, 6, 0, 0, 0, 0, ny), To: time.Date(2025, 10, 13, 0, 0, 0, 0, ny)}, []Incident{inc})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Engineers) != 1 || r.Engineers[0].TimeZone != "America/New_York" {
		t.Fatalf("engineers %+v: ann's nights should be counted in New York", r.Engineers)
	}
	var pay []string
	for _, p := range r.Pay.Incidents {
		pay = append(pay, fmt.Sprintf("%s %s %dmin", p.Incident, p.User, p.BillableMinutes))
	}
	if got, want := strings.Join(pay, "; "), "z1 ann 60min"; got != want {
		t.Errorf("pay %q, want %q (08:00-09:00 New York time)", got, want)
	}
	if want := "Ann (ann) has no time_zone: nights and billable time are counted in America/New_York (schedule ny)"; !slices.Contains(r.Notes, want) {
		t.Errorf("notes %q lack %q", r.Notes, want)
	}
}

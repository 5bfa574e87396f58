package policy

import (
	"testing"
	"time"
)

// santiagoHoliday is a Santiago schedule with a holiday override on
// 2025-09-07, the day Santiago's clocks skip from 00:00 to 01:00.
const santiagoHoliday = `
users:
  - {id: a, contacts: [{channel: push, via: log}]}
  - {id: b, contacts: [{channel: push, via: log}]}
  - {id: h, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    time_zone: America/Santiago
    handoff: {weekday: monday, time: "09:00"}
    tiers:
      - {name: primary, start: 2025-09-01, members: [a, b]}
    overrides:
      - {reason: holiday, from: 2025-09-07, until: 2025-09-07, tiers: {primary: h}}
escalation_policies:
  - name: p
    levels:
      - {name: first, targets: [{schedule: s, tier: primary}]}
services:
  - {name: svc, priority_scheme: P0-P3, escalation_policy: p}
`

// TestDateOverrideOnADayMidnightIsSkipped: Santiago moves its clocks from
// 00:00 to 01:00 on 2025-09-07, so that day begins at 01:00. A holiday
// override for 2025-09-07 covers that day, from its first instant, and not
// the last hour of 2025-09-06 too: that hour is still the rotation's.
func TestDateOverrideOnADayMidnightIsSkipped(t *testing.T) {
	c, err := Parse([]byte(santiagoHoliday), "santiago.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Schedule("s")
	loc := s.Location()
	from, until := s.OverrideSpan(&s.Overrides[0])
	if want := time.Date(2025, 9, 7, 4, 0, 0, 0, time.UTC); !from.Equal(want) { // 01:00 -03
		t.Errorf("the override starts at %v, want %v", from.In(loc), want.In(loc))
	}
	if want := time.Date(2025, 9, 8, 3, 0, 0, 0, time.UTC); !until.Equal(want) { // 00:00 -03
		t.Errorf("the override ends at %v, want %v", until.In(loc), want.In(loc))
	}
	sat := time.Date(2025, 9, 6, 23, 30, 0, 0, loc)
	if sh, _ := s.OnCallTier("primary", sat); sh.User != "a" || sh.Override != "" {
		t.Errorf("Saturday 23:30: %s holds primary (override %q), want a's rotation", sh.User, sh.Override)
	}
}

// TestWhoIsOnCallOnADayMidnightIsSkipped: 2025-09-07 begins at 01:00 in
// Santiago, so who is on call that day is the holiday override alone, from
// 01:00 to the next midnight; the rotation's last hour of 2025-09-06 is not
// part of it.
func TestWhoIsOnCallOnADayMidnightIsSkipped(t *testing.T) {
	c, err := Parse([]byte(santiagoHoliday), "santiago.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := c.WhoIsOnCallOn(Date{2025, time.September, 7}, "s")
	if err != nil {
		t.Fatal(err)
	}
	loc := c.Schedule("s").Location()
	from, until := time.Date(2025, 9, 7, 1, 0, 0, 0, loc), time.Date(2025, 9, 8, 0, 0, 0, 0, loc)
	if len(rows) != 1 || rows[0].User != "h" || !rows[0].From.Equal(from) || !rows[0].Until.Equal(until) {
		for _, r := range rows {
			t.Logf("%s holds %s from %v until %v", r.User, r.Tier, r.From, r.Until)
		}
		t.Fatalf("%d rows on 2025-09-07, want h alone from %v until %v", len(rows), from, until)
	}

	// The day before ends when 2025-09-07 begins, at 01:00 -03.
	rows, err = c.WhoIsOnCallOn(Date{2025, time.September, 6}, "s")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].User != "a" {
		t.Fatalf("%d rows on 2025-09-06 (%+v), want a alone", len(rows), rows)
	}
}

// TestPayOverANightThatSkipsMidnight: a Santiago responder who works from
// Saturday 22:00 to Sunday 02:00 across the night the clocks skip 00:00
// worked three hours, all outside business hours. Working them out walks
// from one edge of business hours to the next, the next midnight among them;
// that midnight, read as 23:00 on Saturday, walked the time backwards and
// the walk never ended.
func TestPayOverANightThatSkipsMidnight(t *testing.T) {
	c, err := Parse([]byte(`
business_hours:
  - {name: office, time_zone: UTC, start: "09:00", end: "17:00"}
users:
  - {id: scl, time_zone: America/Santiago, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    handoff: {weekday: monday, time: "09:00"}
    tiers: [{name: primary, start: 2025-09-01, members: [scl]}]
escalation_policies:
  - name: p
    levels: [{targets: [{schedule: s, tier: primary}]}]
compensation:
  - {name: pay, business_hours: office}
services:
  - {name: svc, priority_scheme: SEV-1-4, escalation_policy: p, compensation: pay}
`), "santiago-pay.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation("America/Santiago")
	if err != nil {
		t.Fatal(err)
	}
	start, end := time.Date(2025, 9, 6, 22, 0, 0, 0, loc), time.Date(2025, 9, 7, 2, 0, 0, 0, loc)
	got := make(chan Pay, 1)
	go func() { got <- c.Pay(c.CompensationFor(c.Service("svc")), "SEV-3", "scl", start, end) }()
	select {
	case p := <-got:
		if p.Billable != 3*time.Hour {
			t.Errorf("billable %s, want 3h (%v)", p.Billable, p.Reasons)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("working out the pay did not end in 10s")
	}
}

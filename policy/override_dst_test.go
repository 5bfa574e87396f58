package policy

import (
	"testing"
	"time"
)

// TestDateOverrideOnADayMidnightIsSkipped: Santiago moves its clocks from
// 00:00 to 01:00 on 2025-09-07, so that day begins at 01:00. A holiday
// override for 2025-09-07 covers that day, from its first instant, and not
// the last hour of 2025-09-06 too: that hour is still the rotation's.
func TestDateOverrideOnADayMidnightIsSkipped(t *testing.T) {
	c, err := Parse([]byte(`
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
`), "santiago.yaml", "")
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

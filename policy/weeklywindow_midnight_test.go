package policy

import (
	"testing"
	"time"
)

// TestWeeklyWindowToItsDaysMidnight: a weekly window from monday 00:00 to
// monday 24:00 is Monday, as the engine holds it (windowOn: 24:00 is the
// day's end), not the whole week: load refused it, telling the user to
// leave the restriction out, which would have put the layer on call all
// week.
func TestWeeklyWindowToItsDaysMidnight(t *testing.T) {
	c := decodeForValidate(t, rotText(`  - name: s
    time_zone: Europe/Berlin
    handoff: {weekday: monday, time: "09:00"}
    tiers:
      - name: primary
        start: 2026-01-05
        members: [ann, bob]
        restrictions:
          - {start_day: monday, end_day: monday, start: "00:00", end: "24:00"}
`))
	v := &validator{cfg: c, now: gapBenchNow}
	v.validate()
	if len(v.problems) > 0 {
		t.Fatalf("refused: %v", v.problems)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	s := c.Schedule("s")
	for _, tc := range []struct {
		at   time.Time
		held bool
	}{
		{time.Date(2026, 12, 7, 0, 0, 0, 0, berlin), true},
		{time.Date(2026, 12, 7, 23, 59, 0, 0, berlin), true},
		{time.Date(2026, 12, 8, 0, 0, 0, 0, berlin), false},
		{time.Date(2026, 12, 6, 23, 59, 0, 0, berlin), false},
	} {
		if sh, _ := s.OnCallTier("primary", tc.at); (sh.User != "") != tc.held {
			t.Errorf("at %s: held by %q, want held %v", tc.at, sh.User, tc.held)
		}
	}
}

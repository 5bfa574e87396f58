package policy

import (
	"testing"
	"time"
)

// TestWallClockInTheSkippedHour: a wall time the clocks jump over is the
// first instant after the jump, on either side of UTC. (Before: east of
// UTC, where time.Date gives an instant in the zone after the jump, it was
// the zone's next change, months later: Berlin's 2026-03-29 02:30 was
// 2026-10-25 02:00.)
func TestWallClockInTheSkippedHour(t *testing.T) {
	for _, c := range []struct {
		zone string
		d    Date
		tod  TimeOfDay
		want string // RFC 3339, the jump
	}{
		{"Europe/Berlin", Date{2026, time.March, 29}, TimeOfDay{Hour: 2, Minute: 30}, "2026-03-29T03:00:00+02:00"},
		{"Europe/Berlin", Date{2026, time.March, 29}, TimeOfDay{Hour: 2}, "2026-03-29T03:00:00+02:00"},
		{"Europe/London", Date{2026, time.March, 29}, TimeOfDay{Hour: 1, Minute: 15}, "2026-03-29T02:00:00+01:00"},
		{"Australia/Sydney", Date{2026, time.October, 4}, TimeOfDay{Hour: 2, Minute: 59}, "2026-10-04T03:00:00+11:00"},
		{"America/New_York", Date{2026, time.March, 8}, TimeOfDay{Hour: 2, Minute: 30}, "2026-03-08T03:00:00-04:00"},
		{"America/Santiago", Date{2026, time.September, 6}, TimeOfDay{}, "2026-09-06T01:00:00-03:00"},
		{"Africa/Cairo", Date{2026, time.April, 24}, TimeOfDay{}, "2026-04-24T01:00:00+03:00"},
		// Not skipped: as shown.
		{"Europe/Berlin", Date{2026, time.March, 29}, TimeOfDay{Hour: 3, Minute: 30}, "2026-03-29T03:30:00+02:00"},
	} {
		loc, err := time.LoadLocation(c.zone)
		if err != nil {
			t.Fatal(err)
		}
		if got := wallClock(c.d, c.tod, loc).Format(time.RFC3339); got != c.want {
			t.Errorf("%s %v %02d:%02d: %s, want %s", c.zone, c.d, c.tod.Hour, c.tod.Minute, got, c.want)
		}
	}
}

// A daily rotation handing off at 02:30 in Berlin: on Sunday 2026-03-29
// (02:00 -> 03:00) the shift that should begin at 03:00 CEST "begins" on
// 2026-10-25, so Saturday's holder keeps the tier all Sunday and the span
// runs seven months.
func TestDailyHandoffInTheSkippedHourEastOfUTC(t *testing.T) {
	cfg := rotConfig(t, `  - name: s
    time_zone: Europe/Berlin
    handoff: {weekday: monday, time: "02:30"}
    tiers:
      - name: primary
        start: 2026-03-23
        shift_days: 1
        members: [ann, bob]
`)
	if w := cfg.Warnings(); len(w) != 0 {
		t.Logf("warnings: %q", w)
	}
	s := cfg.Schedule("s")
	loc := s.Location()
	// 23 Mon ann, 24 bob, 25 ann, 26 bob, 27 ann, 28 bob, 29 ann (from 03:00 CEST, the jump).
	noon := time.Date(2026, 3, 29, 12, 0, 0, 0, loc)
	sh, _ := s.OnCallTier("primary", noon)
	wantFrom := time.Date(2026, 3, 29, 3, 0, 0, 0, loc)
	wantUntil := time.Date(2026, 3, 30, 2, 30, 0, 0, loc)
	if sh.User != "ann" || !sh.From.Equal(wantFrom) || !sh.Until.Equal(wantUntil) {
		t.Errorf("Sun 2026-03-29 12:00 Berlin: %s holds [%s, %s), want ann [%s, %s)",
			sh.User, sh.From.In(loc), sh.Until.In(loc), wantFrom, wantUntil)
	}
	if got := cfg.LevelUsers(cfg.Service("svc"), 0, noon); len(got) != 1 || got[0] != "ann" {
		t.Errorf("level 1 pages %v at Sun 12:00, want [ann]", got)
	}
}

// A nights layer 22:00-02:30 over a 24/7 base, in Berlin: the window that
// opens Saturday 2026-03-28 22:00 "closes" on 2026-10-25, so the nights
// person holds the tier through the following days (every instant within
// the 8 days windowsNear looks at) and the base rotation is not paged.
func TestRestrictionEndingInTheSkippedHourEastOfUTC(t *testing.T) {
	cfg := rotConfig(t, `  - name: s
    time_zone: Europe/Berlin
    handoff: {weekday: monday, time: "09:00"}
    tiers:
      - name: primary
        start: 2026-03-02
        members: [ann]
        layers:
          - name: nights
            start: 2026-03-02
            shift_days: 1
            handoff_time: "22:00"
            members: [bob, cat]
            restrictions: [{start: "22:00", end: "02:30"}]
`)
	s := cfg.Schedule("s")
	loc := s.Location()
	for _, day := range []time.Time{
		time.Date(2026, 3, 29, 12, 0, 0, 0, loc), // Sunday noon
		time.Date(2026, 4, 1, 12, 0, 0, 0, loc),  // Wednesday noon
	} {
		sh, _ := s.OnCallTier("primary", day)
		if sh.User != "ann" || sh.Layer != "" {
			t.Errorf("%s Berlin: %s (layer %q) holds [%s, %s), want ann from the base rotation",
				day.Format("Mon 2006-01-02 15:04"), sh.User, sh.Layer, sh.From.In(loc), sh.Until.In(loc))
		}
	}
}

package importer

import (
	"strings"
	"testing"
	"time"
)

// TestRotationShapes: which rotation shapes become which pagerd rotations,
// and why the others do not.
func TestRotationShapes(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	monday9 := time.Date(2025, 10, 6, 9, 0, 0, 0, ny)
	two := [][]string{{"a"}, {"b"}}
	weekdays := []window{{days: []time.Weekday{time.Monday, time.Friday}, start: 9 * 60, end: 17 * 60}}
	cases := []struct {
		name               string
		r                  rotation
		weeks, days, hours int    // when it maps
		not                string // in the reason when it does not
	}{
		{name: "weekly", r: rotation{start: monday9, unit: "week", length: 1, groups: two}, weeks: 1},
		{name: "three weeks", r: rotation{start: monday9, unit: "week", length: 3, groups: two}, weeks: 3},
		{name: "seven days", r: rotation{start: monday9, unit: "day", length: 7, groups: two}, weeks: 1},
		{name: "fourteen days", r: rotation{start: monday9, unit: "day", length: 14, groups: two}, weeks: 2},
		{name: "daily", r: rotation{start: monday9, unit: "day", length: 1, groups: two}, days: 1},
		{name: "three days", r: rotation{start: monday9, unit: "day", length: 3, groups: two}, days: 3},
		{name: "hourly", r: rotation{start: monday9, unit: "hour", length: 12, groups: two}, hours: 12},
		{name: "48 hours", r: rotation{start: monday9, unit: "hour", length: 48, groups: two}, days: 2},
		{name: "168 hours", r: rotation{start: monday9, unit: "hour", length: 168, groups: two}, weeks: 1},
		{name: "hourly, one person", r: rotation{start: monday9, unit: "hour", length: 12, groups: [][]string{{"a"}, {"a"}}}, weeks: 1},
		{name: "restricted", r: rotation{start: monday9, unit: "week", length: 1, groups: two, restriction: "Mon-Fri", windows: weekdays}, weeks: 1},
		{name: "restricted, one person", r: rotation{start: monday9, unit: "day", length: 1, groups: [][]string{{"a"}}, restriction: "Mon-Fri", windows: weekdays}, weeks: 1},
		{name: "restricted without windows", r: rotation{start: monday9, unit: "week", length: 1, groups: two, restriction: "in some months"}, not: "not a set of windows of the week"},
		{name: "200 hours", r: rotation{start: monday9, unit: "hour", length: 200, groups: two}, not: "1 to 168 hours"},
		{name: "800 days", r: rotation{start: monday9, unit: "day", length: 800, groups: two}, not: "1 to 728 days"},
		{name: "handoff at seconds", r: rotation{start: monday9.Add(30 * time.Second), unit: "week", length: 1, groups: two}, not: "not on a whole minute"},
		{name: "two hundred weeks", r: rotation{start: monday9, unit: "week", length: 200, groups: two}, not: "1 to 104 weeks"},
		{name: "monthly", r: rotation{start: monday9, unit: "month", length: 1, groups: two}, not: "whole weeks, days or hours"},
		{name: "known not to fit", r: rotation{start: monday9, unit: "week", length: 1, groups: two, unmappable: "a team"}, not: "a team"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sh, err := rotationShape(&c.r, ny)
			switch {
			case c.not == "" && err != nil:
				t.Fatalf("not mapped: %s", err.reason)
			case c.not == "":
				if sh.weeks != c.weeks || sh.days != c.days || sh.hours != c.hours || sh.handoff != (handoffKey{time.Monday, 9, 0}) || !sh.start.Equal(time.Date(2025, 10, 6, 0, 0, 0, 0, ny)) {
					t.Errorf("shape %+v, want %d weeks, %d days, %d hours handing off Mon 09:00 from 2025-10-06", sh, c.weeks, c.days, c.hours)
				}
				if len(sh.windows) != len(c.r.windows) {
					t.Errorf("windows %+v, want %+v", sh.windows, c.r.windows)
				}
			case err == nil:
				t.Fatalf("mapped to %+v, want it reported (%s)", sh, c.not)
			case !strings.Contains(err.reason, c.not):
				t.Errorf("not mapped because %s, want: %s", err.reason, c.not)
			}
		})
	}
}

// TestHandoffInScheduleZone: a rotation starting at an instant hands off at
// the weekday and time that instant shows in the schedule's zone.
func TestHandoffInScheduleZone(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	r := rotation{start: time.Date(2025, 10, 5, 23, 30, 0, 0, time.UTC), unit: "week", length: 1, groups: [][]string{{"a"}, {"b"}}}
	sh, err := rotationShape(&r, tokyo)
	if err != nil {
		t.Fatal(err.reason)
	}
	if want := (handoffKey{time.Monday, 8, 30}); sh.handoff != want || sh.start.Format("2006-01-02") != "2025-10-06" {
		t.Errorf("handoff %s from %s, want %s from 2025-10-06", sh.handoff, sh.start.Format("2006-01-02"), want)
	}
}

// TestRotationStartOnADayMidnightIsSkipped: a rotation whose first handoff
// is on the day Santiago's clocks skip midnight starts on that date, not
// the day before (local midnight of that day is 23:00 of the Saturday).
func TestRotationStartOnADayMidnightIsSkipped(t *testing.T) {
	scl, _ := time.LoadLocation("America/Santiago")
	r := rotation{start: time.Date(2026, 9, 6, 9, 0, 0, 0, scl), unit: "week", length: 1, groups: [][]string{{"a"}, {"b"}}}
	sh, err := rotationShape(&r, scl)
	if err != nil {
		t.Fatal(err.reason)
	}
	if got := sh.start.In(scl).Format("2006-01-02"); got != "2026-09-06" || sh.handoff != (handoffKey{time.Sunday, 9, 0}) {
		t.Errorf("starts %s handing off %s, want 2026-09-06, Sun 09:00", got, sh.handoff)
	}
	if got := rotationOf(sh, sh.handoff, []string{"a", "b"}).Start; got != "2026-09-06" {
		t.Errorf("the imported rotation starts %s, want 2026-09-06", got)
	}
}

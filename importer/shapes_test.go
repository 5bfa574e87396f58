package importer

import (
	"testing"
	"time"
)

// TestRotationShapes: which rotation shapes become weekly tiers today, and
// why the others do not (yet).
func TestRotationShapes(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	monday9 := time.Date(2025, 10, 6, 9, 0, 0, 0, ny)
	two := [][]string{{"a"}, {"b"}}
	cases := []struct {
		name  string
		r     rotation
		weeks int    // when it maps
		kind  string // "not" or "yet" when it does not
	}{
		{"weekly", rotation{start: monday9, unit: "week", length: 1, groups: two}, 1, ""},
		{"three weeks", rotation{start: monday9, unit: "week", length: 3, groups: two}, 3, ""},
		{"seven days", rotation{start: monday9, unit: "day", length: 7, groups: two}, 1, ""},
		{"fourteen days", rotation{start: monday9, unit: "day", length: 14, groups: two}, 2, ""},
		{"daily", rotation{start: monday9, unit: "day", length: 1, groups: two}, 0, "yet"},
		{"three days", rotation{start: monday9, unit: "day", length: 3, groups: two}, 0, "yet"},
		{"hourly", rotation{start: monday9, unit: "hour", length: 12, groups: two}, 0, "yet"},
		{"hourly, one person", rotation{start: monday9, unit: "hour", length: 12, groups: [][]string{{"a"}, {"a"}}}, 1, ""},
		{"restricted", rotation{start: monday9, unit: "week", length: 1, groups: two, restriction: "Mon-Fri"}, 0, "yet"},
		{"restricted, one person", rotation{start: monday9, unit: "week", length: 1, groups: [][]string{{"a"}}, restriction: "Mon-Fri"}, 0, "yet"},
		{"handoff at seconds", rotation{start: monday9.Add(30 * time.Second), unit: "week", length: 1, groups: two}, 0, "not"},
		{"two hundred weeks", rotation{start: monday9, unit: "week", length: 200, groups: two}, 0, "not"},
		{"monthly", rotation{start: monday9, unit: "month", length: 1, groups: two}, 0, "not"},
		{"known not to fit", rotation{start: monday9, unit: "week", length: 1, groups: two, unmappable: "a team"}, 0, "not"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sh, err := rotationShape(&c.r, ny)
			switch {
			case c.kind == "" && err != nil:
				t.Fatalf("not mapped: %s", err.reason)
			case c.kind == "":
				if sh.weeks != c.weeks || sh.handoff != (handoffKey{time.Monday, 9, 0}) || !sh.start.Equal(time.Date(2025, 10, 6, 0, 0, 0, 0, ny)) {
					t.Errorf("shape %+v, want %d weeks handing off Mon 09:00 from 2025-10-06", sh, c.weeks)
				}
			case err == nil:
				t.Fatalf("mapped to %+v, want %s", sh, c.kind)
			case (c.kind == "yet") != (err.kind == NotYet):
				t.Errorf("kind %v (%s), want %s", err.kind, err.reason, c.kind)
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

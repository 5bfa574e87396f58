package policy

import (
	"strings"
	"testing"
	"time"
)

// TestWeeklyGapNotHiddenByTheClocksGoingForward: a tier held all week but
// Sundays 02:00-03:00 in Berlin has nobody on call then every week of the
// year but one: the Sunday the clocks skip that hour (2026-03-29). Its
// layer begins the Monday before, so the week the tier's weekly gaps were
// read off was that week, held throughout, and check-config said nothing
// while a page at 02:30 on any other Sunday finds nobody. The gaps are
// read off a week the clocks do not change in.
func TestWeeklyGapNotHiddenByTheClocksGoingForward(t *testing.T) {
	text := rotText(`  - name: s
    time_zone: Europe/Berlin
    handoff: {weekday: monday, time: "09:00"}
    tiers:
      - name: primary
        layers:
          - name: l
            start: 2026-03-23
            members: [ann, bob]
            restrictions:
              - {days: [mon, tue, wed, thu, fri, sat], start: "00:00", end: "24:00"}
              - {days: [sun], start: "00:00", end: "02:00"}
              - {days: [sun], start: "03:00", end: "24:00"}
`)
	c := decodeForValidate(t, text)
	v := &validator{cfg: c, now: time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)}
	v.validate()
	if len(v.problems) > 0 {
		t.Fatalf("refused: %v", v.problems)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	s := c.Schedule("s")
	for _, at := range []time.Time{time.Date(2026, 4, 5, 2, 30, 0, 0, berlin), time.Date(2026, 12, 13, 2, 30, 0, 0, berlin)} {
		if sh, _ := s.OnCallTier("primary", at); sh.User != "" {
			t.Fatalf("%s holds the tier at %s: this tests nothing", sh.User, at)
		}
	}
	var warned string
	for _, w := range c.Warnings() {
		if strings.Contains(w, "hours a week") {
			warned = w
		}
	}
	if !strings.Contains(warned, "nobody holds the tier 1 of 168 hours a week: Sun 02:00–Sun 03:00") {
		t.Fatalf("warnings %q: want the tier's weekly gap on Sundays 02:00-03:00", c.Warnings())
	}
}

// TestFirstWeekNotTheSundayTheHourIsSkipped: the tier of
// TestWeeklyGapNotHiddenByTheClocksGoingForward has nobody on call on
// Sundays 02:00-03:00 from 2026-04-05: on 2026-03-29, the first Sunday
// after its layer began, the clocks skip that hour and someone holds the
// tier all day. The warning named 2026-03-29 as the first day: the week
// looked at a week before 04-05 was an empty span (02:00 there is 03:00),
// taken for nobody. An empty week is passed over, not named; and each
// week is stepped back from the gap's own wall clock, not from the week
// after's, which the skipped hour had moved to 03:00. A tier held since
// 2025 but for the same hour has it first on 2025-06-08.
func TestFirstWeekNotTheSundayTheHourIsSkipped(t *testing.T) {
	for _, tc := range []struct{ own, want string }{
		{"", "first on 2026-04-05"},
		{`        start: 2025-06-02
        members: [cat]
        restrictions:
          - {days: [mon, tue, wed, thu, fri, sat], start: "00:00", end: "24:00"}
          - {days: [sun], start: "00:00", end: "02:00"}
          - {days: [sun], start: "03:00", end: "24:00"}
`, "first on 2025-06-08"},
	} {
		text := rotText(`  - name: s
    time_zone: Europe/Berlin
    handoff: {weekday: monday, time: "09:00"}
    tiers:
      - name: primary
` + tc.own + `        layers:
          - name: l
            start: 2026-03-23
            members: [ann, bob]
            restrictions:
              - {days: [mon, tue, wed, thu, fri, sat], start: "00:00", end: "24:00"}
              - {days: [sun], start: "00:00", end: "02:00"}
              - {days: [sun], start: "03:00", end: "24:00"}
`)
		c := decodeForValidate(t, text)
		v := &validator{cfg: c, now: time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)}
		v.validate()
		if len(v.problems) > 0 {
			t.Fatalf("refused: %v", v.problems)
		}
		var warned string
		for _, w := range c.Warnings() {
			if strings.Contains(w, "hours a week") {
				warned = w
			}
		}
		if !strings.Contains(warned, "Sun 02:00–Sun 03:00 (Europe/Berlin, "+tc.want+")") {
			t.Errorf("own rotation %q: warned %q, want %s", tc.own, warned, tc.want)
		}
	}
}

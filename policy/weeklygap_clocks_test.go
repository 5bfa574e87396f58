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

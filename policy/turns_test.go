package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// officeAndWeekend is docs/CONFIG.md's business hours on top of a 24/7
// rotation, with AIVO's weekend handoff as a weekly window.
const officeAndWeekend = `
users:
  - {id: marcus, contacts: [{channel: push, via: log}]}
  - {id: emily, contacts: [{channel: push, via: log}]}
  - {id: priya, contacts: [{channel: push, via: log}]}
  - {id: tom, contacts: [{channel: push, via: log}]}
  - {id: david, contacts: [{channel: push, via: log}]}
  - {id: sarah, contacts: [{channel: push, via: log}]}
schedules:
  - name: aivo
    time_zone: America/New_York
    handoff: {weekday: monday, time: "08:00"}
    tiers:
      - name: primary
        start: 2025-08-18
        members: [marcus, emily]
        layers:
          - name: office
            start: 2025-08-18
            shift_days: 1
            members: [priya, tom]
            restrictions:
              - {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
          - name: weekend
            start: 2025-08-22
            shift_days: 7
            handoff_time: "17:00"
            members: [david, sarah]
            restrictions:
              - {start_day: friday, start: "17:00", end_day: monday, end: "08:00"}
`

// TestTurnsSayTheHours: who holds the tier in a handoff week and when, in
// the words a handoff document uses: the base "other hours", a layer that
// changes hands daily its people's days, a layer held by one person all
// week its windows; a layer that begins within the week the span it
// holds.
func TestTurnsSayTheHours(t *testing.T) {
	cfg, err := Parse([]byte(officeAndWeekend), "aivo.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Schedule("aivo")
	ny := mustLoc(t, "America/New_York")
	turns := func(from string) string {
		a := at(t, ny, from)
		var out []string
		for _, tu := range s.Turns("primary", a, s.NextHandoff(a)) {
			out = append(out, fmt.Sprintf("%s (%s) %d", tu.User, tu.Hours, len(tu.Shifts)))
		}
		return strings.Join(out, ", ")
	}
	for _, tc := range []struct{ from, want string }{
		// The weekend layer begins on Friday Aug 22 at 17:00.
		{"2025-08-18T08:00:00", "marcus (other hours) 5, priya (office: Mon, Wed, Fri 09:00–17:00 America/New_York) 3, " +
			"tom (office: Tue, Thu 09:00–17:00 America/New_York) 2, david (weekend: Fri 17:00–Mon 08:00 America/New_York) 1"},
		{"2025-08-25T08:00:00", "emily (other hours) 5, tom (office: Mon, Wed, Fri 09:00–17:00 America/New_York) 3, " +
			"priya (office: Tue, Thu 09:00–17:00 America/New_York) 2, sarah (weekend: Fri 17:00–Mon 08:00 America/New_York) 1"},
	} {
		if got := turns(tc.from); got != tc.want {
			t.Errorf("week of %s:\n got %s\nwant %s", tc.from, got, tc.want)
		}
	}
	if got := s.Turns("nope", time.Time{}, time.Now()); got != nil {
		t.Errorf("a tier the schedule lacks: %v", got)
	}
}

func TestDayList(t *testing.T) {
	d := func(ds ...time.Weekday) []time.Weekday { return ds }
	for _, tc := range []struct {
		days []time.Weekday
		want string
	}{
		{nil, "daily"},
		{d(time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday), "Mon–Fri"},
		{d(time.Saturday, time.Sunday), "Sat, Sun"},
		{d(time.Friday, time.Saturday, time.Sunday, time.Monday), "Fri–Mon"},
		{d(time.Monday, time.Wednesday, time.Thursday, time.Friday), "Mon, Wed–Fri"},
		{d(time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday), "daily"},
	} {
		if got := dayList(tc.days); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.days, got, tc.want)
		}
	}
}

// TestShiftHoursOverAClockChange: a shift the clocks shorten is still worded
// from day to day: Saturday 02:30 to Sunday 03:00 on the night the clocks
// skip 02:00–03:00 (23.5 hours) is not "Sat 02:30–03:00", half an hour,
// nor a daily 08:00 turn that night "Sat 08:00–08:00".
func TestShiftHoursOverAClockChange(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	for _, tc := range []struct{ from, until, want string }{
		{"2026-03-28T02:30:00", "2026-03-29T03:00:00", "Sat 02:30–Sun 03:00"},
		{"2026-03-28T08:00:00", "2026-03-29T08:00:00", "Sat 08:00–Sun 08:00"},
		// Under a day on the clock, as worded before: over midnight (the
		// day after the change too), and to midnight.
		{"2026-03-29T03:00:00", "2026-03-30T02:30:00", "Sun 03:00–02:30"},
		{"2026-03-30T22:00:00", "2026-03-31T06:00:00", "Mon 22:00–06:00"},
		{"2026-03-30T16:00:00", "2026-03-31T00:00:00", "Mon 16:00–24:00"},
		{"2026-03-30T09:00:00", "2026-03-30T17:00:00", "Mon 09:00–17:00"},
	} {
		sh := []Shift{{From: at(t, berlin, tc.from), Until: at(t, berlin, tc.until)}}
		if got := shiftHours(sh, berlin); got != tc.want {
			t.Errorf("%s to %s: %q, want %q", tc.from, tc.until, got, tc.want)
		}
	}
}

// TestTurnsUnderALayerSayTheHoursLeft: a business-hours rotation under a
// lunch layer holds its windows but for lunch; its person's hours are the
// ones they hold, not the windows the config gives the rotation, which
// claimed 12:00–13:00 for them too.
func TestTurnsUnderALayerSayTheHoursLeft(t *testing.T) {
	cfg, err := Parse([]byte(`
users:
  - {id: ann, contacts: [{channel: push, via: log}]}
  - {id: cat, contacts: [{channel: push, via: log}]}
  - {id: dan, contacts: [{channel: push, via: log}]}
schedules:
  - name: office
    time_zone: Europe/Berlin
    handoff: {weekday: monday, time: "08:00"}
    tiers:
      - name: office
        start: 2026-03-02
        members: [cat, dan]
        restrictions:
          - {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
        layers:
          - name: lunch
            start: 2026-03-02
            members: [ann]
            restrictions:
              - {days: [mon, tue, wed, thu, fri], start: "12:00", end: "13:00"}
`), "office.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Schedule("office")
	a := at(t, mustLoc(t, "Europe/Berlin"), "2026-03-09T08:00:00")
	var got []string
	for _, tu := range s.Turns("office", a, s.NextHandoff(a)) {
		got = append(got, tu.User+" ("+tu.Hours+")")
	}
	want := "dan (Mon–Fri 09:00–12:00 and Mon–Fri 13:00–17:00 Europe/Berlin), ann (lunch: Mon–Fri 12:00–13:00 Europe/Berlin)"
	if strings.Join(got, ", ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, ", "), want)
	}
}

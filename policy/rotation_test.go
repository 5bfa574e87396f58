package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Rotations beyond weekly (daily, N-day, hourly shifts), layers with
// restrictions, and roster changes that take effect from a date. Every
// schedule here goes through the loader, as a config would.

// rotUsers are the people the rotation tests page.
var rotUsers = []string{"ann", "bob", "cat", "dan", "eve", "fay", "gus", "hal"}

// rotConfig loads a config whose schedules section is schedules (indented
// as a top-level list), with users ann..hal and a policy paging the first
// schedule's tier "primary", then hal: a tier with gaps leaves its level
// empty, not the whole policy, so the tier's warnings are the only ones
// (a policy that pages nobody at some time is warned of too).
func rotConfig(t *testing.T, schedules string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(rotText(schedules)), "rot.yaml", t.TempDir())
	if err != nil {
		t.Fatalf("load:\n%v\nschedules:\n%s", err, schedules)
	}
	return cfg
}

func rotText(schedules string) string {
	var b strings.Builder
	b.WriteString("users:\n")
	for _, u := range rotUsers {
		fmt.Fprintf(&b, "  - {id: %s, name: %s, contacts: [{channel: push, via: log}]}\n", u, strings.ToUpper(u[:1])+u[1:])
	}
	b.WriteString("schedules:\n" + schedules)
	b.WriteString(`escalation_policies:
  - name: p
    repeat: 1
    levels:
      - name: first
        targets: [{schedule: s, tier: primary}]
        timeout: 15m
      - name: fallback
        targets: [{user: hal}]
        timeout: 15m
services:
  - name: svc
    priority_scheme: P0-P3
    escalation_policy: p
    integrations: {alertmanager_key: rot00000000000000000000000000000}
`)
	return b.String()
}

// rotSpan is an expected holder of a tier over [from, until), wall clock
// in the schedule's zone.
type rotSpan struct {
	user, from, until string
}

// rotCheck walks the tier from the first span's start to the last span's
// end and compares every span OnCallTier reports, and asks at the middle of
// each span too.
func rotCheck(t *testing.T, s *Schedule, tier string, want []rotSpan) {
	t.Helper()
	loc := s.Location()
	var got []rotSpan
	start, end := at(t, loc, want[0].from), at(t, loc, want[len(want)-1].until)
	for tm := start; tm.Before(end); {
		sh, ok := s.OnCallTier(tier, tm)
		if !ok {
			t.Fatalf("OnCallTier(%s, %s) not ok", tier, tm)
		}
		if sh.From.After(tm) || !sh.Until.After(tm) {
			t.Fatalf("OnCallTier(%s, %s) = [%s, %s), which does not hold the instant", tier, tm, sh.From, sh.Until)
		}
		got = append(got, rotSpan{sh.User, sh.From.In(loc).Format("2006-01-02T15:04:05"), sh.Until.In(loc).Format("2006-01-02T15:04:05")})
		tm = sh.Until
	}
	if len(got) > 0 && got[0].from < want[0].from {
		got[0].from = want[0].from // the first span may begin before the range asked about
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tier %s:\n got %v\nwant %v", tier, got, want)
	}
	for _, w := range want {
		a, b := at(t, loc, w.from), at(t, loc, w.until)
		mid := a.Add(b.Sub(a) / 2)
		if sh, _ := s.OnCallTier(tier, mid); sh.User != w.user {
			t.Errorf("at %s: %q, want %q", mid.In(loc), sh.User, w.user)
		}
	}
}

// rotHours is the length of a span in elapsed hours.
func rotHours(t *testing.T, loc *time.Location, from, until string) float64 {
	return at(t, loc, until).Sub(at(t, loc, from)).Hours()
}

func TestRotationDailyAcrossDST(t *testing.T) {
	cfg := rotConfig(t, `  - name: s
    time_zone: America/New_York
    handoff: {weekday: monday, time: "09:00"}
    tiers:
      - name: primary
        start: 2026-03-06
        shift_days: 1
        members: [ann, bob, cat]
`)
	s := cfg.Schedule("s")
	// Clocks go forward on Sun 2026-03-08 at 02:00: handoffs stay at 09:00.
	rotCheck(t, s, "primary", []rotSpan{
		{"ann", "2026-03-06T09:00:00", "2026-03-07T09:00:00"},
		{"bob", "2026-03-07T09:00:00", "2026-03-08T09:00:00"},
		{"cat", "2026-03-08T09:00:00", "2026-03-09T09:00:00"},
		{"ann", "2026-03-09T09:00:00", "2026-03-10T09:00:00"},
	})
	if h := rotHours(t, s.Location(), "2026-03-07T09:00:00", "2026-03-08T09:00:00"); h != 23 {
		t.Errorf("the shift over spring forward is %vh, want 23h", h)
	}
	// Clocks go back on Sun 2026-11-01 at 02:00.
	rotCheck(t, s, "primary", []rotSpan{
		{"cat", "2026-10-31T09:00:00", "2026-11-01T09:00:00"}, // day 239 since the start, 239 mod 3 = 2
		{"ann", "2026-11-01T09:00:00", "2026-11-02T09:00:00"},
	})
	if h := rotHours(t, s.Location(), "2026-10-31T09:00:00", "2026-11-01T09:00:00"); h != 25 {
		t.Errorf("the shift over fall back is %vh, want 25h", h)
	}
	// Before start the rotation runs backwards, like weekly ones.
	rotCheck(t, s, "primary", []rotSpan{{"cat", "2026-03-05T09:00:00", "2026-03-06T09:00:00"}})
}

func TestRotationNDayShifts(t *testing.T) {
	cfg := rotConfig(t, `  - name: s
    time_zone: Europe/Berlin
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - name: primary
        start: 2025-10-22
        shift_days: 3
        handoff_time: "17:30"
        members: [ann, bob]
`)
	rotCheck(t, cfg.Schedule("s"), "primary", []rotSpan{
		{"ann", "2025-10-22T17:30:00", "2025-10-25T17:30:00"},
		// Berlin leaves summer time on Sun 2025-10-26: a 73-hour shift.
		{"bob", "2025-10-25T17:30:00", "2025-10-28T17:30:00"},
		{"ann", "2025-10-28T17:30:00", "2025-10-31T17:30:00"},
	})
}

func TestRotationTwelveHourShiftsAcrossDST(t *testing.T) {
	cfg := rotConfig(t, `  - name: s
    time_zone: America/New_York
    handoff: {weekday: monday, time: "08:00"}
    tiers:
      - name: primary
        start: 2025-11-01
        shift_hours: 12
        members: [ann, bob, cat]
`)
	s := cfg.Schedule("s")
	// Handoffs stay at 08:00 and 20:00 local; the night of the change is
	// 13 hours long (clocks go back on Sun 2025-11-02).
	rotCheck(t, s, "primary", []rotSpan{
		{"ann", "2025-11-01T08:00:00", "2025-11-01T20:00:00"},
		{"bob", "2025-11-01T20:00:00", "2025-11-02T08:00:00"},
		{"cat", "2025-11-02T08:00:00", "2025-11-02T20:00:00"},
		{"ann", "2025-11-02T20:00:00", "2025-11-03T08:00:00"},
	})
	if h := rotHours(t, s.Location(), "2025-11-01T20:00:00", "2025-11-02T08:00:00"); h != 13 {
		t.Errorf("the night of fall back is %vh, want 13h", h)
	}
}

func TestRotationHourlyShiftsInTheChangedHour(t *testing.T) {
	cfg := rotConfig(t, `  - name: s
    time_zone: America/New_York
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - name: primary
        start: 2026-03-08
        shift_hours: 1
        members: [ann, bob, cat, dan]
`)
	s := cfg.Schedule("s")
	ny := s.Location()
	// Spring forward: 02:00-03:00 does not exist, so cat's 02:00 shift is
	// empty and dan's 03:00 shift begins at the jump.
	got := s.Shifts(utc(t, "2026-03-08T05:00:00Z"), utc(t, "2026-03-08T08:00:00Z"))
	want := []string{"ann 2026-03-08T00:00:00-05:00", "bob 2026-03-08T01:00:00-05:00", "dan 2026-03-08T03:00:00-04:00"}
	var seen []string
	for _, sh := range got {
		seen = append(seen, sh.User+" "+sh.From.In(ny).Format(time.RFC3339))
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("spring forward shifts %v, want %v", seen, want)
	}
	// Fall back: 01:00 happens twice; the 01:00 shift lasts both hours.
	s.Tiers[0].Start = mustDate(t, "2026-11-01")
	got = s.Shifts(utc(t, "2026-11-01T04:00:00Z"), utc(t, "2026-11-01T08:00:00Z"))
	seen = nil
	for _, sh := range got {
		seen = append(seen, fmt.Sprintf("%s %s %gh", sh.User, sh.From.In(ny).Format(time.RFC3339), sh.Until.Sub(sh.From).Hours()))
	}
	want = []string{"ann 2026-11-01T00:00:00-04:00 1h", "bob 2026-11-01T01:00:00-04:00 2h", "cat 2026-11-01T02:00:00-05:00 1h"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("fall back shifts %v, want %v", seen, want)
	}
	// An instant in the repeated hour belongs to bob's double shift.
	for _, in := range []string{"2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z"} {
		if sh, _ := s.OnCallTier("primary", utc(t, in)); sh.User != "bob" {
			t.Errorf("at %s: %s, want bob", in, sh.User)
		}
	}
}

// The AIVO rotation with a fifth engineer from Mon 2025-11-03: nothing
// before moves, and from that handoff the rotation goes on from whoever was
// due, in the new order.
func TestRosterChangeAddsMemberWithoutReshuffle(t *testing.T) {
	base := `  - name: s
    time_zone: America/New_York
    handoff: {weekday: monday, time: "08:00"}
    tiers:
      - name: primary
        start: 2025-08-18
        members: [ann, bob, cat, dan]
`
	before := rotConfig(t, base).Schedule("s")
	after := rotConfig(t, base+`        roster_changes:
          - effective_from: 2025-11-03
            members: [ann, bob, cat, dan, eve]
`).Schedule("s")
	ny := after.Location()
	change := at(t, ny, "2025-11-03T08:00:00")
	// Every hour from two months before the start to the change: the same.
	for tm := at(t, ny, "2025-06-16T00:00:00"); tm.Before(change); tm = tm.Add(time.Hour) {
		a, _ := before.OnCallTier("primary", tm)
		b, _ := after.OnCallTier("primary", tm)
		if a.User != b.User || !a.From.Equal(b.From) || !a.Until.Equal(b.Until) {
			t.Fatalf("at %s the change moved the rotation: %+v, was %+v", tm, b, a)
		}
	}
	// Week 0 is Aug 18, so Nov 3 is week 11 and 11 mod 4 = 3: dan is due.
	// From him the five go on in the new order: dan, eve, ann, bob, cat.
	var got []string
	for _, w := range after.Weeks(at(t, ny, "2025-10-27T08:00:00"), 8) {
		got = append(got, w.Holders[0])
	}
	want := []string{"cat", "dan", "eve", "ann", "bob", "cat", "dan", "eve"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("weeks from Oct 27: %v, want %v", got, want)
	}
	var old []string
	for _, w := range before.Weeks(at(t, ny, "2025-10-27T08:00:00"), 2) {
		old = append(old, w.Holders[0])
	}
	if fmt.Sprint(old) != "[cat dan]" {
		t.Errorf("without the change: %v", old)
	}
	// The table says so below the weeks it shows.
	table := after.MarkdownTable(at(t, ny, "2025-10-27T08:00:00"), 3, nil)
	if !strings.Contains(table, "Roster changes:\n- Primary from Mon 2025-11-03 08:00: ann, bob, cat, dan, eve (adds eve)\n") {
		t.Errorf("table does not show the change:\n%s", table)
	}
	if table := after.MarkdownTable(at(t, ny, "2025-11-10T08:00:00"), 3, nil); strings.Contains(table, "Roster changes") {
		t.Errorf("a change before the weeks shown is listed:\n%s", table)
	}
}

func TestRosterChangeRemovesAndReorders(t *testing.T) {
	cfg := rotConfig(t, `  - name: s
    time_zone: UTC
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - name: primary
        start: 2025-10-06
        members: [ann, bob, cat, dan]
        roster_changes:
          # cat leaves when it is her turn: dan, next in the old order, goes on.
          - effective_from: 2025-10-20
            members: [ann, bob, dan]
          # Everyone left: the new roster starts with its first member.
          - effective_from: 2025-11-03
            members: [fay, gus]
          # A daily rotation cannot change mid-shift; a weekly one only on
          # handoff days, which load checks.
`)
	s := cfg.Schedule("s")
	var got []string
	for _, w := range s.Weeks(utc(t, "2025-10-06T00:00:00Z"), 7) {
		got = append(got, w.Holders[0])
	}
	want := []string{"ann", "bob", "dan", "ann", "fay", "gus", "fay"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("weeks: %v, want %v", got, want)
	}
	table := s.MarkdownTable(utc(t, "2025-10-13T00:00:00Z"), 4, nil)
	for _, line := range []string{
		"- Primary from Mon 2025-10-20 00:00: ann, bob, dan (removes cat)\n",
		"- Primary from Mon 2025-11-03 00:00: fay, gus (adds fay, gus; removes ann, bob, dan)\n",
	} {
		if !strings.Contains(table, line) {
			t.Errorf("table lacks %q:\n%s", line, table)
		}
	}
}

// A 24/7 weekly base with a business-hours layer above it: the layer holds
// the tier on weekdays 09:00-17:00 New York time, the base the rest.
func TestLayerBusinessHoursOverBase(t *testing.T) {
	cfg := rotConfig(t, `  - name: s
    time_zone: America/New_York
    handoff: {weekday: monday, time: "08:00"}
    tiers:
      - name: primary
        start: 2026-03-02
        members: [ann, bob]
        layers:
          - name: office
            start: 2026-03-02
            shift_days: 1
            members: [cat, dan, eve]
            restrictions:
              - {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
`)
	s := cfg.Schedule("s")
	rotCheck(t, s, "primary", []rotSpan{
		{"ann", "2026-03-06T08:00:00", "2026-03-06T09:00:00"},
		{"dan", "2026-03-06T09:00:00", "2026-03-06T17:00:00"}, // Friday: day 4 of the layer
		{"ann", "2026-03-06T17:00:00", "2026-03-09T08:00:00"}, // the weekend, up to the weekly handoff
		{"bob", "2026-03-09T08:00:00", "2026-03-09T09:00:00"}, // DST began Sunday: still 09:00 local
		{"dan", "2026-03-09T09:00:00", "2026-03-09T17:00:00"}, // day 7: cat, dan, eve, cat, dan, eve, cat, dan
		{"bob", "2026-03-09T17:00:00", "2026-03-10T09:00:00"},
	})
	if sh, _ := s.OnCallTier("primary", at(t, s.Location(), "2026-03-09T12:00:00")); sh.Layer != "office" {
		t.Errorf("layer = %q, want office", sh.Layer)
	}
	// Before the layer starts, the base alone holds the tier.
	rotCheck(t, s, "primary", []rotSpan{{"bob", "2026-02-23T08:00:00", "2026-03-02T08:00:00"}})
	// The weekly table lists everyone who holds the tier in the week.
	rows := s.Weeks(at(t, s.Location(), "2026-03-09T08:00:00"), 1)
	if got := fmt.Sprint(rows[0].During[0]); got != "[bob dan eve cat]" {
		t.Errorf("during the week: %s", got)
	}
	if !strings.Contains(s.MarkdownTable(at(t, s.Location(), "2026-03-09T08:00:00"), 1, nil), "| Mar 9-15 | bob, dan, eve, cat |") {
		t.Errorf("table:\n%s", s.MarkdownTable(at(t, s.Location(), "2026-03-09T08:00:00"), 1, nil))
	}
}

// Follow the sun: three regions, each a layer restricted to its eight
// hours (UTC), each with a weekly rotation of its own people. Nothing sits
// under them, so the tier is always held.
func TestLayersFollowTheSun(t *testing.T) {
	cfg := rotConfig(t, `  - name: s
    time_zone: UTC
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - name: primary
        layers:
          - name: apac
            start: 2025-10-06
            members: [ann, bob]
            restrictions: [{start: "00:00", end: "08:00"}]
          - name: emea
            start: 2025-10-06
            members: [cat, dan]
            restrictions: [{start: "08:00", end: "16:00"}]
          - name: amer
            start: 2025-10-06
            members: [eve, fay]
            restrictions: [{start: "16:00", end: "24:00"}]
`)
	s := cfg.Schedule("s")
	if w := cfg.Warnings(); len(w) != 0 {
		t.Errorf("warnings for a tier that is always held: %q", w)
	}
	rotCheck(t, s, "primary", []rotSpan{
		{"eve", "2025-10-12T16:00:00", "2025-10-13T00:00:00"},
		{"bob", "2025-10-13T00:00:00", "2025-10-13T08:00:00"},
		{"dan", "2025-10-13T08:00:00", "2025-10-13T16:00:00"},
		{"fay", "2025-10-13T16:00:00", "2025-10-14T00:00:00"},
		{"bob", "2025-10-14T00:00:00", "2025-10-14T08:00:00"},
	})
	// route and simulate page whoever holds the tier then.
	svc := cfg.Service("svc")
	for tm, want := range map[string]string{"2025-10-14T03:00:00Z": "bob", "2025-10-14T09:00:00Z": "dan", "2025-10-14T23:59:00Z": "fay"} {
		if got := cfg.LevelUsers(svc, 0, utc(t, tm)); fmt.Sprint(got) != "["+want+"]" {
			t.Errorf("level at %s pages %v, want %s", tm, got, want)
		}
	}
	res, err := cfg.Simulate(SimOptions{At: utc(t, "2025-10-14T09:00:00Z"), For: 20 * time.Minute, Labels: map[string]string{"severity": "critical"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) == 0 || res.Events[0].User != "dan" {
		t.Errorf("simulate pages %+v first, want dan", res.Events)
	}
}

// A layer restricted to business hours with nothing under it leaves the
// tier to nobody outside them: OnCallTier says so, with the gap's span, the
// level pages nobody, and load warns.
func TestLayerGapLeavesTierEmpty(t *testing.T) {
	cfg := rotConfig(t, `  - name: s
    time_zone: America/New_York
    handoff: {weekday: monday, time: "09:00"}
    tiers:
      - name: primary
        layers:
          - name: office
            start: 2025-10-06
            members: [ann, bob]
            restrictions:
              - {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
`)
	s := cfg.Schedule("s")
	rotCheck(t, s, "primary", []rotSpan{
		{"ann", "2025-10-10T09:00:00", "2025-10-10T17:00:00"},
		{"", "2025-10-10T17:00:00", "2025-10-13T09:00:00"},
		{"bob", "2025-10-13T09:00:00", "2025-10-13T17:00:00"},
	})
	if got := cfg.LevelUsers(cfg.Service("svc"), 0, at(t, s.Location(), "2025-10-11T12:00:00")); len(got) != 0 {
		t.Errorf("level pages %v in the gap", got)
	}
	rows, err := cfg.WhoIsOnCall(at(t, s.Location(), "2025-10-11T12:00:00"), "s")
	if err != nil || len(rows) != 1 || rows[0].User != "" {
		t.Errorf("oncall in the gap: %+v, %v", rows, err)
	}
	w := cfg.Warnings()
	if len(w) != 1 || !strings.HasPrefix(w[0], "schedules[s].tiers[primary]: nobody holds the tier 128 of 168 hours a week: Mon 17:00–Tue 09:00, Tue 17:00–Wed 09:00, Wed 17:00–Thu 09:00, Thu 17:00–Fri 09:00, Fri 17:00–Mon 09:00 (America/New_York, first on 2025-10-06)") {
		t.Errorf("warnings: %q", w)
	}
	// Before its start, a layer covers nothing.
	if sh, ok := s.OnCallTier("primary", at(t, s.Location(), "2025-10-01T12:00:00")); !ok || sh.User != "" || !sh.Until.Equal(at(t, s.Location(), "2025-10-06T09:00:00")) {
		t.Errorf("before the layer: %+v %v", sh, ok)
	}
	// Overrides fill gaps like any other time.
	cfg = rotConfig(t, `  - name: s
    time_zone: America/New_York
    handoff: {weekday: monday, time: "09:00"}
    tiers:
      - name: primary
        layers:
          - name: office
            start: 2025-10-06
            members: [ann, bob]
            restrictions:
              - {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
    overrides:
      - {reason: weekend cover, from: 2025-10-11, until: 2025-10-12, tiers: {primary: cat}}
`)
	rotCheck(t, cfg.Schedule("s"), "primary", []rotSpan{
		{"ann", "2025-10-10T09:00:00", "2025-10-10T17:00:00"},
		{"", "2025-10-10T17:00:00", "2025-10-11T00:00:00"},
		{"cat", "2025-10-11T00:00:00", "2025-10-13T00:00:00"},
		{"", "2025-10-13T00:00:00", "2025-10-13T09:00:00"},
	})
}

// AIVO's weekend handoffs, Friday 17:00 to Monday 08:00, as a weekly
// window over the week-long base rotation.
func TestLayerWeeklyWindow(t *testing.T) {
	cfg := rotConfig(t, `  - name: s
    time_zone: America/New_York
    handoff: {weekday: monday, time: "08:00"}
    tiers:
      - name: primary
        start: 2025-10-27
        members: [ann, bob]
        layers:
          - name: weekend
            start: 2025-10-31
            shift_days: 7
            handoff_time: "17:00"
            members: [cat, dan]
            restrictions:
              - {start_day: friday, start: "17:00", end_day: monday, end: "08:00"}
`)
	s := cfg.Schedule("s")
	rotCheck(t, s, "primary", []rotSpan{
		{"ann", "2025-10-31T08:00:00", "2025-10-31T17:00:00"},
		// Clocks go back on Sun 2025-11-02: this weekend is 64 hours.
		{"cat", "2025-10-31T17:00:00", "2025-11-03T08:00:00"},
		{"bob", "2025-11-03T08:00:00", "2025-11-07T17:00:00"},
		{"dan", "2025-11-07T17:00:00", "2025-11-10T08:00:00"},
	})
	if h := rotHours(t, s.Location(), "2025-10-31T17:00:00", "2025-11-03T08:00:00"); h != 64 {
		t.Errorf("weekend is %vh, want 64h", h)
	}
}

// Overnight windows cross midnight; on the night clocks go back the window
// 22:00-06:00 is nine hours long.
func TestRestrictionOvernightAcrossDST(t *testing.T) {
	cfg := rotConfig(t, `  - name: s
    time_zone: Europe/London
    handoff: {weekday: monday, time: "09:00"}
    tiers:
      - name: primary
        start: 2025-10-20
        members: [ann]
        layers:
          - name: nights
            start: 2025-10-20
            shift_days: 1
            handoff_time: "22:00"
            members: [bob, cat]
            restrictions: [{start: "22:00", end: "06:00"}]
`)
	s := cfg.Schedule("s")
	rotCheck(t, s, "primary", []rotSpan{
		{"ann", "2025-10-25T06:00:00", "2025-10-25T22:00:00"},
		{"cat", "2025-10-25T22:00:00", "2025-10-26T06:00:00"},
		{"ann", "2025-10-26T06:00:00", "2025-10-26T22:00:00"},
	})
	if h := rotHours(t, s.Location(), "2025-10-25T22:00:00", "2025-10-26T06:00:00"); h != 9 {
		t.Errorf("the night clocks go back is %vh, want 9h", h)
	}
}

// Overrides sit above every layer; a layer above the base is clipped by
// them like a rotation is.
func TestLayerWithOverride(t *testing.T) {
	cfg := rotConfig(t, `  - name: s
    time_zone: UTC
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - name: primary
        start: 2025-10-06
        members: [ann]
        layers:
          - name: day
            start: 2025-10-06
            shift_days: 1
            members: [bob, cat]
            restrictions: [{start: "08:00", end: "20:00"}]
    overrides:
      - {reason: swap, from: "2025-10-07T12:00:00Z", until: "2025-10-07T22:00:00Z", tiers: {primary: dan}}
`)
	s := cfg.Schedule("s")
	rotCheck(t, s, "primary", []rotSpan{
		{"ann", "2025-10-07T00:00:00", "2025-10-07T08:00:00"},
		{"cat", "2025-10-07T08:00:00", "2025-10-07T12:00:00"},
		{"dan", "2025-10-07T12:00:00", "2025-10-07T22:00:00"},
		{"ann", "2025-10-07T22:00:00", "2025-10-08T08:00:00"},
	})
	sh, _ := s.OnCallTier("primary", utc(t, "2025-10-07T13:00:00Z"))
	if sh.Override != "swap" || sh.Layer != "" {
		t.Errorf("override shift %+v", sh)
	}
}

// The seed schedules have no layers: their rotation spans stay one
// handoff week, so `pagerd oncall` and the published tables are unchanged.
func TestRotationWeeklyUnchanged(t *testing.T) {
	s := aionSchedule(t)
	for _, tc := range []struct{ at, user, from, until string }{
		{"2025-10-15T12:00:00Z", "eng-b", "2025-10-13T00:00:00Z", "2025-10-20T00:00:00Z"},
		{"2025-09-29T00:00:00Z", "eng-h", "2025-09-29T00:00:00Z", "2025-10-06T00:00:00Z"},
	} {
		checkShift(t, s.RotationHolder(s.Tier("primary"), utc(t, tc.at)),
			Shift{Schedule: "aion-r", Tier: "primary", User: tc.user, From: utc(t, tc.from), Until: utc(t, tc.until)})
	}
}

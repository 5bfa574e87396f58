package policy

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// firstWeekByWalk is firstWeek as it was: every week back to earliest
// looked at, a lookup of who holds the tier at each span. Weeks in which
// the gap's span is empty (the hour the clocks skip) are passed over, and
// each week is the gap's wall clock k weeks back.
func firstWeekByWalk(s *Schedule, t *Tier, gap Shift, earliest time.Time) time.Time {
	loc := s.Location()
	from0, until0 := gap.From.In(loc), gap.Until.In(loc)
	first := from0
	for k := 1; ; k++ {
		a, b := from0.AddDate(0, 0, -7*k), until0.AddDate(0, 0, -7*k)
		if a.Before(earliest) || !s.nobodyHolds(t, a, b) {
			return first
		}
		if a.Before(b) {
			first = a
		}
	}
}

// TestFirstWeekSkipsOnlyRepeatedWeeks: firstWeek takes a week's answer
// from the week after's where the two are one week repeated (one offset
// of the zone, no layer beginning), and names the same first day as the
// walk over every week, over random configs with rotations begun years
// before their last layer, in zones that change their clocks: for each
// tier's weekly gaps, as the tier's warning asks, and for random spans
// nobody holds around the changes, looked for back to a year or four
// before.
func TestFirstWeekSkipsOnlyRepeatedWeeks(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	configs, asked, moved := 0, 0, 0
	n := 120
	if testing.Short() || raceEnabled {
		n = 20
	}
	for configs < n {
		c, v, now, text := validRandomGapConfig(t, rng)
		if v == nil {
			continue
		}
		configs++
		for si := range c.Schedules {
			s := &c.Schedules[si]
			for ti := range s.Tiers {
				tr := &s.Tiers[ti]
				rots := s.rotations(tr)
				earliest, begin := rots[0].boundary(0), time.Time{}
				for _, r := range rots {
					earliest = minTime(earliest, r.boundary(0))
					if r.layer || len(rots) == 1 {
						begin = maxTime(begin, r.boundary(0))
					}
				}
				check := func(g Shift, earliest time.Time) {
					t.Helper()
					got, want := firstWeek(s, tr, g, earliest), firstWeekByWalk(s, tr, g, earliest)
					if !got.Equal(want) {
						t.Fatalf("tier %s/%s, gap %s to %s, back to %s: firstWeek %s, the walk %s\nconfig (now %s):\n%s", s.Name, tr.Name, g.From, g.Until, earliest, got, want, now, text)
					}
					asked++
					if !want.Equal(g.From) {
						moved++
					}
				}
				for _, g := range weeklyGaps(s, tr, begin) {
					check(g, earliest)
				}
				for range 2 {
					a := gapSwitchWeeks[rng.IntN(len(gapSwitchWeeks))].AddDate(rng.IntN(2), 0, 0).Add(time.Duration(rng.IntN(10*48)-5*48) * 30 * time.Minute)
					back := a.AddDate(-1-rng.IntN(4), 0, -rng.IntN(60))
					for _, sh := range s.tierSpans(tr, a, a.AddDate(0, 0, 7), false) {
						if sh.User == "" {
							check(sh, back)
						}
					}
				}
			}
		}
	}
	t.Logf("%d configs: %d gaps' first weeks agree, %d of them earlier than the gap", configs, asked, moved)
	if asked < n || moved < n {
		t.Fatalf("%d first weeks asked, %d earlier than the gap, over %d configs: the configs test too little", asked, moved, configs)
	}
}

// TestFirstWeekAcrossTheClocksGoingBack: Berlin's clocks go back on Sun
// 2026-10-25 at 03:00, to 02:00. A window from 02:30 that Sunday opens at
// its first pass (00:30 UTC), so the half hour from 02:00 CET, the second
// pass, which is a week's 02:00 a week before Sun 11-01 (time.Date picks
// the second pass east of UTC), is held, and the gap of Sun 11-01 02:00
// to 02:30 first happens then. A week just after the change is looked
// at, not taken for the week after's: the zone's offset the same from it
// to that week's end, but the window's edge in the zone before.
func TestFirstWeekAcrossTheClocksGoingBack(t *testing.T) {
	cfg := rotConfig(t, `  - name: s
    time_zone: Europe/Berlin
    handoff: {weekday: monday, time: "09:00"}
    tiers:
      - name: primary
        start: 2024-01-01
        members: [ann, bob]
        restrictions:
          - {days: [sat], start: "12:00", end: "02:00"}
          - {days: [sun], start: "02:30", end: "12:00"}
`)
	s := cfg.Schedule("s")
	tr := s.Tier("primary")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	gap := Shift{From: time.Date(2026, 11, 1, 2, 0, 0, 0, berlin), Until: time.Date(2026, 11, 1, 2, 30, 0, 0, berlin)}
	if !s.nobodyHolds(tr, gap.From, gap.Until) {
		t.Fatalf("someone holds the tier from %s to %s: this tests nothing", gap.From, gap.Until)
	}
	earliest := time.Date(2024, 1, 1, 9, 0, 0, 0, berlin)
	want := gap.From
	if walk := firstWeekByWalk(s, tr, gap, earliest); !walk.Equal(want) {
		t.Fatalf("the walk: first on %s, want %s", walk, want)
	}
	if got := firstWeek(s, tr, gap, earliest); !got.Equal(want) {
		t.Fatalf("first on %s, want %s (the week of the change is held)", got, want)
	}
}

// TestFirstWeekLooksBackCheaply: a tier whose own rotation began ten years
// before its last layer has its weekly gaps looked for back to then, and
// each week repeats the one after but for a day or so around each change
// of the clocks: those are looked at, the rest taken for the week after's.
// Looking at each (a lookup of who holds the tier at every span, for each
// gap) took 3.6 s of CPU for 60 such tiers at every start, reload and
// check-config.
func TestFirstWeekLooksBackCheaply(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates as it likes: the count is the plain build's")
	}
	cfg := rotConfig(t, `  - name: s
    time_zone: Europe/London
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - name: primary
        start: 2015-01-05
        shift_hours: 1
        members: [ann, bob, cat]
        restrictions: [{days: [mon, tue, wed, thu, fri], start: "08:00", end: "20:00"}]
        layers:
          - {name: nights, start: 2025-01-06, shift_hours: 1, members: [dan, bob], restrictions: [{days: [mon, tue, wed, thu, fri], start: "20:00", end: "08:00"}]}
`)
	s := cfg.Schedule("s")
	tr := s.Tier("primary")
	rots := s.rotations(tr)
	begin, earliest := rots[1].boundary(0), rots[0].boundary(0)
	gaps := weeklyGaps(s, tr, begin)
	if len(gaps) != 1 {
		t.Fatalf("weekly gaps %v, want the weekend", gaps)
	}
	var first time.Time
	n := testing.AllocsPerRun(2, func() { first = firstWeek(s, tr, gaps[0], earliest) })
	if want := time.Date(2015, 1, 10, 8, 0, 0, 0, time.UTC); !first.Equal(want) {
		t.Fatalf("first on %s, want %s", first, want)
	}
	if n > 2000 {
		t.Errorf("looking back ten years allocates %.0f times, want at most 2000 (a look at a week is about 25; the weeks around the changes of the clocks are looked at)", n)
	}
}

// begunYearsBeforeConfig is a config of n schedules in London, one tier
// each: its own rotation of hourly shifts in office hours (with an hour
// off at noon) since start, and a layer of nights since 2025, leaving the
// lunch hours and the weekend to nobody; a policy and a service each.
func begunYearsBeforeConfig(n int, start string) string {
	var b strings.Builder
	b.WriteString("users:\n")
	for i := range 4 {
		fmt.Fprintf(&b, "  - {id: u%d, name: U%d, contacts: [{channel: push, via: log}]}\n", i, i)
	}
	b.WriteString("schedules:\n")
	for i := range n {
		fmt.Fprintf(&b, `  - name: s%d
    time_zone: Europe/London
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - name: primary
        start: %s
        shift_hours: 1
        members: [u0, u1, u2]
        restrictions: [{days: [mon, tue, wed, thu, fri], start: "08:00", end: "12:00"}, {days: [mon, tue, wed, thu, fri], start: "13:00", end: "20:00"}]
        layers:
          - {name: n, start: 2025-01-06, shift_hours: 1, members: [u3, u1], restrictions: [{days: [mon, tue, wed, thu, fri], start: "20:00", end: "08:00"}]}
`, i, start)
	}
	b.WriteString("escalation_policies:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: p%d\n    levels:\n      - {name: a, targets: [{schedule: s%d, tier: primary}], timeout: 15m}\n", i, i)
	}
	b.WriteString("services:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: svc%d, priority_scheme: P0-P3, escalation_policy: p%d, integrations: {alertmanager_key: gap%029d}}\n", i, i, i)
	}
	return b.String()
}

// BenchmarkLoadTiersBegunYearsBefore is a whole load of 60 tiers whose
// own rotation began in 2015 and whose last layer in 2025: each of the
// tiers' six weekly gaps is looked for back to 2015 (firstWeek).
func BenchmarkLoadTiersBegunYearsBefore(b *testing.B) {
	text := begunYearsBeforeConfig(60, "2015-01-05")
	b.ReportAllocs()
	for b.Loop() {
		c := decodeForValidate(b, text)
		v := &validator{cfg: c, now: gapBenchNow}
		v.validate()
		if len(v.problems) > 0 {
			b.Fatalf("refused: %v", v.problems)
		}
	}
}

// validRandomGapConfig is a random config of randomGapConfig's, at a
// random moment in a week the clocks change, validated: v is nil when
// validation refused it.
func validRandomGapConfig(t *testing.T, rng *rand.Rand) (c *Config, v *validator, now time.Time, text string) {
	t.Helper()
	now = gapSwitchWeeks[rng.IntN(len(gapSwitchWeeks))].Add(time.Duration(rng.IntN(14*48)-7*48) * 30 * time.Minute)
	text = randomGapConfig(rng, now)
	c = decodeForValidate(t, text)
	v = &validator{cfg: c, now: now}
	v.validate()
	if len(v.problems) > 0 {
		return c, nil, now, text
	}
	return c, v, now, text
}

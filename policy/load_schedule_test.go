package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestLoadRotationProblems: every new schedule key is checked at load, and
// each problem names its field path and says what to do.
func TestLoadRotationProblems(t *testing.T) {
	head := "  - name: s\n    time_zone: America/New_York\n    handoff: {weekday: monday, time: \"08:00\"}\n    tiers:\n      - name: primary\n"
	cases := []struct {
		name    string
		tier    string // the rest of tier primary, and anything after it
		field   string
		problem []string
	}{
		{"two shift lengths", "        start: 2025-10-06\n        shift_weeks: 1\n        shift_days: 2\n        members: [ann]\n",
			"schedules[s].tiers[primary]", []string{"one of shift_weeks, shift_days and shift_hours"}},
		{"shift hours too long", "        start: 2025-10-06\n        shift_hours: 200\n        members: [ann]\n",
			"schedules[s].tiers[primary].shift_hours", []string{"from 1 to 168", "shift_days"}},
		{"negative shift days", "        start: 2025-10-06\n        shift_days: -1\n        members: [ann]\n",
			"schedules[s].tiers[primary].shift_days", []string{"from 1 to 728"}},
		{"weekly start off the handoff day", "        start: 2025-10-08\n        members: [ann]\n",
			"schedules[s].tiers[primary].start", []string{"2025-10-08 is a Wednesday", "Monday", "shift_days: 7"}},
		{"handoff time 24:00", "        start: 2025-10-06\n        handoff_time: \"24:00\"\n        members: [ann]\n",
			"schedules[s].tiers[primary].handoff_time", []string{"use 00:00"}},
		{"no members and no layers", "        start: 2025-10-06\n",
			"schedules[s].tiers[primary].members", []string{"at least one member (or layers)"}},
		{"change before start", "        start: 2025-10-06\n        members: [ann]\n        roster_changes:\n          - {effective_from: 2025-09-29, members: [ann, bob]}\n",
			"schedules[s].tiers[primary].roster_changes[0].effective_from", []string{"must be after 2025-10-06"}},
		{"changes out of order", "        start: 2025-10-06\n        members: [ann]\n        roster_changes:\n          - {effective_from: 2025-11-03, members: [ann, bob]}\n          - {effective_from: 2025-10-20, members: [bob]}\n",
			"schedules[s].tiers[primary].roster_changes[1].effective_from", []string{"must be after 2025-11-03"}},
		{"change mid-shift", "        start: 2025-10-06\n        members: [ann]\n        roster_changes:\n          - {effective_from: 2025-11-05, members: [ann, bob]}\n",
			"schedules[s].tiers[primary].roster_changes[0].effective_from", []string{"2025-11-05 at 08:00 is not a shift boundary", "Mon 2025-11-03 08:00", "Mon 2025-11-10 08:00", "America/New_York"}},
		{"change mid two-week shift", "        start: 2025-10-06\n        shift_weeks: 2\n        members: [ann]\n        roster_changes:\n          - {effective_from: 2025-10-13, members: [ann, bob]}\n",
			"schedules[s].tiers[primary].roster_changes[0].effective_from", []string{"not a shift boundary", "Mon 2025-10-06 08:00", "Mon 2025-10-20 08:00"}},
		{"change without members", "        start: 2025-10-06\n        members: [ann]\n        roster_changes:\n          - {effective_from: 2025-10-13}\n",
			"schedules[s].tiers[primary].roster_changes[0].members", []string{"name the members"}},
		{"change names a ghost", "        start: 2025-10-06\n        members: [ann]\n        roster_changes:\n          - {effective_from: 2025-10-13, members: [ann, ghost]}\n",
			"schedules[s].tiers[primary].roster_changes[0].members[1]", []string{`no user "ghost"`}},
		{"change without a date", "        start: 2025-10-06\n        members: [ann]\n        roster_changes:\n          - {members: [bob]}\n",
			"schedules[s].tiers[primary].roster_changes[0].effective_from", []string{"effective_from is required"}},
		{"layer without a name", "        layers:\n          - {start: 2025-10-06, members: [ann]}\n",
			"schedules[s].tiers[primary].layers[0].name", []string{"name is required"}},
		{"duplicate layer", "        layers:\n          - {name: a, start: 2025-10-06, members: [ann]}\n          - {name: a, start: 2025-10-06, members: [bob]}\n",
			"schedules[s].tiers[primary].layers[1].name", []string{`duplicate name "a"`}},
		{"layer without start", "        layers:\n          - {name: day, shift_days: 1, members: [ann]}\n",
			"schedules[s].tiers[primary].layers[day].start", []string{"start is required"}},
		{"layer names a ghost", "        layers:\n          - {name: day, start: 2025-10-06, members: [ghost]}\n",
			"schedules[s].tiers[primary].layers[day].members[0]", []string{`no user "ghost"`}},
		{"restriction without times", "        layers:\n          - name: day\n            start: 2025-10-06\n            members: [ann]\n            restrictions: [{days: [mon]}]\n",
			"schedules[s].tiers[primary].layers[day].restrictions[0]", []string{"start and end are required"}},
		{"empty restriction", "        layers:\n          - name: day\n            start: 2025-10-06\n            members: [ann]\n            restrictions: [{start: \"09:00\", end: \"09:00\"}]\n",
			"schedules[s].tiers[primary].layers[day].restrictions[0].end", []string{"empty", "00:00 to 24:00"}},
		{"weekly window half given", "        layers:\n          - name: wk\n            start: 2025-10-06\n            members: [ann]\n            restrictions: [{start_day: friday, start: \"17:00\", end: \"08:00\"}]\n",
			"schedules[s].tiers[primary].layers[wk].restrictions[0]", []string{"start_day and end_day go together"}},
		{"weekly window with days", "        layers:\n          - name: wk\n            start: 2025-10-06\n            members: [ann]\n            restrictions: [{days: [fri], start_day: friday, start: \"17:00\", end_day: monday, end: \"08:00\"}]\n",
			"schedules[s].tiers[primary].layers[wk].restrictions[0].days", []string{"daily windows"}},
		{"whole-week window", "        layers:\n          - name: wk\n            start: 2025-10-06\n            members: [ann]\n            restrictions: [{start_day: friday, start: \"17:00\", end_day: friday, end: \"17:00\"}]\n",
			"schedules[s].tiers[primary].layers[wk].restrictions[0]", []string{"whole week"}},
		{"restriction starts at 24:00", "        layers:\n          - name: day\n            start: 2025-10-06\n            members: [ann]\n            restrictions: [{start: \"24:00\", end: \"06:00\"}]\n",
			"schedules[s].tiers[primary].layers[day].restrictions[0].start", []string{"start at 00:00"}},
		{"fairness names a missing tier", "        start: 2025-10-06\n        members: [ann]\n    fairness:\n      - {tiers: [secondary], max_consecutive_weeks: 2}\n",
			"schedules[s].fairness[0].tiers[0]", []string{`no tier "secondary"`}},
		{"fairness with no limit", "        start: 2025-10-06\n        members: [ann]\n    fairness:\n      - {tiers: [primary]}\n",
			"schedules[s].fairness[0]", []string{"set max_consecutive_weeks", "no_back_to_back: true"}},
		{"fairness with both limits", "        start: 2025-10-06\n        members: [ann]\n    fairness:\n      - {max_consecutive_weeks: 2, no_back_to_back: true}\n",
			"schedules[s].fairness[0]", []string{"not both"}},
		{"fairness limit out of range", "        start: 2025-10-06\n        members: [ann]\n    fairness:\n      - {max_consecutive_weeks: -1}\n",
			"schedules[s].fairness[0].max_consecutive_weeks", []string{"from 1 to 52"}},
		{"unknown key in a layer", "        layers:\n          - {name: day, start: 2025-10-06, members: [ann], length: 1d}\n",
			"", []string{`unknown field "length" in a layer`}},
		{"unknown key in a restriction", "        layers:\n          - name: day\n            start: 2025-10-06\n            members: [ann]\n            restrictions: [{from: \"09:00\", end: \"17:00\"}]\n",
			"", []string{`unknown field "from" in a restriction`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(rotText(head+c.tier)), "rot.yaml", t.TempDir())
			ce := loadConfigError(t, err, "rot.yaml")
			if ce == nil {
				return
			}
			want := append([]string{c.field + ": "}, c.problem...)
			if c.field == "" {
				want = c.problem
			}
			if loadProblem(ce, want...) == "" {
				t.Errorf("no problem names %q with %q; got:\n%v", c.field, c.problem, err)
			}
		})
	}
}

// TestLoadRotationAccepted: what the docs show loads, and the default
// shift length is a week.
func TestLoadRotationAccepted(t *testing.T) {
	cfg := rotConfig(t, `  - name: s
    time_zone: UTC
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - name: primary
        start: 2025-10-06
        members: [ann, bob]
        roster_changes:
          - {effective_from: 2025-11-03, members: [ann, bob, cat]}
      - name: hourly
        start: 2025-10-08
        shift_hours: 8
        handoff_time: "06:00"
        members: [dan, eve, fay]
        roster_changes:
          - {effective_from: 2025-10-20, members: [dan, eve]}
    fairness:
      - {tiers: [primary], no_back_to_back: true}
      - {max_consecutive_weeks: 3}
`)
	s := cfg.Schedule("s")
	if s.Tiers[0].ShiftWeeks != 1 || s.Tiers[1].ShiftWeeks != 0 {
		t.Errorf("shift weeks = %d, %d; want the default 1 only where no length is set", s.Tiers[0].ShiftWeeks, s.Tiers[1].ShiftWeeks)
	}
	if w := cfg.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
	if !strings.Contains(s.MarkdownTable(utc(t, "2025-10-20T00:00:00Z"), 1, nil), "- Hourly from Mon 2025-10-20 06:00: dan, eve (removes fay)") {
		t.Errorf("table:\n%s", s.MarkdownTable(utc(t, "2025-10-20T00:00:00Z"), 1, nil))
	}
}

// TestGapsBeforeRotationsBegin: a tier nobody holds from now until its
// rotations start is warned about like a gap in its week, but a gap that is
// already over is not.
func TestGapsBeforeRotationsBegin(t *testing.T) {
	const ownRestricted = `  - name: s
    time_zone: America/New_York
    handoff: {weekday: monday, time: "09:00"}
    tiers:
      - name: primary
        start: 2025-10-06
        members: [ann]
        restrictions:
          - {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
        layers:
          - {name: nights, start: LAYER_START, members: [bob]}
`
	own2099 := strings.Replace(ownRestricted, "start: 2025-10-06", "start: 2099-01-05", 1)
	for _, c := range []struct {
		name, schedule string
		want           []string // words of the one warning; nil wants none
	}{
		{"only layer starts in 2099", `  - name: s
    handoff: {weekday: monday, time: "09:00"}
    tiers:
      - name: primary
        layers:
          - {name: later, start: 2099-01-05, members: [ann, bob]}
`, []string{"schedules[s].tiers[primary]: nobody holds the tier until 2099-01-05 09:00 (UTC), when its first rotation starts"}},
		{"layer filling the nights starts in 2099", strings.Replace(ownRestricted, "LAYER_START", "2099-01-05", 1),
			[]string{"schedules[s].tiers[primary]: nobody holds the tier from", "before all its rotations have begun (the last on 2099-01-05 09:00)"}},
		{"layer filling the nights started in 2025", strings.Replace(ownRestricted, "LAYER_START", "2025-10-20", 1), nil},
		// A tier's own rotation runs in both directions: before its start
		// its members already take turns (pagerd oncall and simulate page
		// them), so a warning that nobody holds it until then misleads.
		{"own rotation starts in 2099", `  - name: s
    handoff: {weekday: monday, time: "09:00"}
    tiers:
      - name: primary
        start: 2099-01-05
        members: [ann, bob]
`, nil},
		{"own restricted rotation starts in 2099", own2099[:strings.Index(own2099, "        layers:")],
			[]string{"schedules[s].tiers[primary]: nobody holds the tier 128 of 168 hours a week: Mon 17:00–Tue 09:00, "}},
		{"own rotation starts in 2099, a layer in 2098", strings.Replace(own2099, "LAYER_START", "2098-01-06", 1),
			[]string{"schedules[s].tiers[primary]: nobody holds the tier from", "before all its rotations have begun (the last on 2098-01-06 09:00)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := rotConfig(t, c.schedule).Warnings()
			if c.want == nil {
				if len(w) != 0 {
					t.Fatalf("warnings: %q", w)
				}
				return
			}
			if len(w) != 1 {
				t.Fatalf("want one warning with %q, got %q", c.want, w)
			}
			for _, word := range c.want {
				if !strings.Contains(w[0], word) {
					t.Errorf("warning %q lacks %q", w[0], word)
				}
			}
		})
	}
}

// TestGapFirstOnBeforeTheLastLayerStarts: the weekly gap's warning names
// the first day it happens, even when that is before the last layer
// starts. Days (from Mon Nov 3) and nights (from Mon Nov 10) leave the
// weekend, Fri 17:00 to Mon 09:00, to nobody: first on Fri Nov 7, not
// Nov 14, the first weekend after the nights began (before, the warning
// counted from there). In UTC, and in New York across the end of DST
// (Nov 2).
func TestGapFirstOnBeforeTheLastLayerStarts(t *testing.T) {
	const schedule = `  - name: s
    time_zone: ZONE
    handoff: {weekday: monday, time: "09:00"}
    tiers:
      - name: primary
        layers:
          - name: days
            start: DAYS
            members: [ann, bob]
            restrictions:
              - {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
          - name: nights
            start: NIGHTS
            members: [cat, dan]
            restrictions:
              - {days: [mon, tue, wed, thu], start: "17:00", end: "09:00"}
`
	for _, c := range []struct{ zone, days, nights, want string }{
		{"UTC", "2025-11-03", "2025-11-10", "(UTC, first on 2025-11-07)"},
		// Both layers start on the Monday: the first weekend is the first.
		{"UTC", "2025-11-03", "2025-11-03", "(UTC, first on 2025-11-07)"},
		// The nights start months later: still the first weekend.
		{"UTC", "2025-11-03", "2026-03-02", "(UTC, first on 2025-11-07)"},
		// The first weekend, Fri Oct 31 17:00 EDT to Mon Nov 3 09:00 EST.
		{"America/New_York", "2025-10-27", "2025-11-10", "(America/New_York, first on 2025-10-31)"},
	} {
		t.Run(c.zone+" "+c.nights, func(t *testing.T) {
			w := rotConfig(t, strings.NewReplacer("ZONE", c.zone, "DAYS", c.days, "NIGHTS", c.nights).Replace(schedule)).Warnings()
			want := "schedules[s].tiers[primary]: nobody holds the tier 64 of 168 hours a week: Fri 17:00–Mon 09:00 " + c.want
			if len(w) != 1 || !strings.HasPrefix(w[0], want) {
				t.Fatalf("warnings: %q\nwant one beginning %q", w, want)
			}
		})
	}
}

// TestGapWarningNamesEveryGapOfTheWeek: a tier held only in office hours
// is held by nobody every weeknight and the whole weekend, and the warning
// names each of those spans and how much of the week they are, not only
// the first (an alert Tuesday 22:00 paged nobody while the one warning
// named Monday night). Many gaps are named a few, then counted; hours are
// the wall clock's, so a week across a change of daylight saving time
// has 168 like any other.
func TestGapWarningNamesEveryGapOfTheWeek(t *testing.T) {
	const schedule = `  - name: s
    time_zone: ZONE
    handoff: {weekday: monday, time: "09:00"}
    tiers:
      - name: primary
        start: START
        members: [ann, bob]
        restrictions:
RESTRICTIONS`
	const office = `          - {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
`
	const weeknightsAndWeekend = "Mon 17:00–Tue 09:00, Tue 17:00–Wed 09:00, Wed 17:00–Thu 09:00, Thu 17:00–Fri 09:00, Fri 17:00–Mon 09:00"
	for _, c := range []struct{ name, zone, start, restrictions, want string }{
		{"office hours", "UTC", "2025-01-06", office,
			"128 of 168 hours a week: " + weeknightsAndWeekend + " (UTC, first on 2025-01-06)"},
		// The week from Mon Mar 3 has 167 hours in New York (DST from
		// Sun Mar 9); its gaps are the same 128 hours of an ordinary week.
		{"office hours across the start of DST", "America/New_York", "2025-03-03", office,
			"128 of 168 hours a week: " + weeknightsAndWeekend + " (America/New_York, first on 2025-03-03)"},
		{"half an hour", "UTC", "2025-01-06", `          - {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:30"}
`, "125.5 of 168 hours a week: Mon 17:30–Tue 09:00, Tue 17:30–Wed 09:00, Wed 17:30–Thu 09:00, Thu 17:30–Fri 09:00, Fri 17:30–Mon 09:00 (UTC, first on 2025-01-06)"},
		// Two windows a day leave fourteen gaps: six named, eight counted.
		{"many gaps", "UTC", "2025-01-06", `          - {days: [mon, tue, wed, thu, fri, sat, sun], start: "09:00", end: "10:00"}
          - {days: [mon, tue, wed, thu, fri, sat, sun], start: "12:00", end: "13:00"}
`, "154 of 168 hours a week: Mon 10:00–Mon 12:00, Mon 13:00–Tue 09:00, Tue 10:00–Tue 12:00, Tue 13:00–Wed 09:00, Wed 10:00–Wed 12:00, Wed 13:00–Thu 09:00, and 8 more (UTC, first on 2025-01-06)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := rotConfig(t, strings.NewReplacer("ZONE", c.zone, "START", c.start, "RESTRICTIONS", c.restrictions).Replace(schedule))
			w := cfg.Warnings()
			want := "schedules[s].tiers[primary]: nobody holds the tier " + c.want + ", so levels that page it page nobody then"
			if len(w) != 1 || !strings.HasPrefix(w[0], want) {
				t.Fatalf("warnings: %q\nwant one beginning %q", w, want)
			}
		})
	}
	// The premise: Tuesday night and Saturday noon are nobody's.
	cfg := rotConfig(t, strings.NewReplacer("ZONE", "UTC", "START", "2025-01-06", "RESTRICTIONS", office).Replace(schedule))
	s := cfg.Schedule("s")
	for _, at := range []string{"2026-12-01T22:00:00Z", "2026-12-05T12:00:00Z"} {
		if h := s.RotationHolder(s.Tier("primary"), utc(t, at)); h.User != "" {
			t.Errorf("%s held by %q", at, h.User)
		}
	}
}

// TestMissingHandoffWeekdayIsSaidOnce: a schedule without handoff.weekday
// is refused with that one error, not with another about its tiers' start
// dates too (which compared them with a weekday nobody set: "2025-01-07 is
// a Tuesday, but handoffs are on Monday").
func TestMissingHandoffWeekdayIsSaidOnce(t *testing.T) {
	text := loadEdit(t, loadExampleText(t, "quickstart.yaml"),
		`handoff: {weekday: monday, time: "00:00"}`, `handoff: {time: "00:00"}`, "start: 2025-01-06", "start: 2025-01-07")
	_, err := Parse([]byte(text), "quickstart.yaml", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "handoff weekday is required") {
		t.Fatalf("a schedule without handoff.weekday: %v", err)
	}
	if strings.Contains(err.Error(), "but handoffs are on") {
		t.Fatalf("a schedule without handoff.weekday is also said to hand off on a weekday: %v", err)
	}
}

// TestPolicyGapWarned: a policy every target of which is a tier with gaps
// pages nobody at all where the gaps meet: an alert then is skipped past
// every level, and once the rounds of repeat run out it waits for the next
// person on call, paged late. Each tier's own warning said only that
// levels paging it page nobody then; the policy's says that nobody at all
// is, when first, which services, and that their pages are delayed to the
// gap's end, not lost. Gaps another tier or a user covers, and
// times before the rotations begin, are not the policy's.
func TestPolicyGapWarned(t *testing.T) {
	const users = `users:
  - {id: ann, contacts: [{channel: push, via: log}]}
  - {id: bob, contacts: [{channel: push, via: log}]}
`
	office := func(name, zone, start, end, from string) string {
		return fmt.Sprintf(`  - name: %s
    time_zone: %s
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - name: primary
        layers:
          - {name: l, start: %s, members: [ann, bob], restrictions: [{days: [mon, tue, wed, thu, fri, sat, sun], start: "%s", end: "%s"}]}
`, name, zone, from, start, end)
	}
	policy := func(targets ...string) string {
		var b strings.Builder
		b.WriteString("escalation_policies:\n  - name: p\n    repeat: 2\n    levels:\n")
		for i, tg := range targets {
			fmt.Fprintf(&b, "      - {name: l%d, targets: [%s], timeout: 15m}\n", i, tg)
		}
		b.WriteString("services:\n  - {name: svc, priority_scheme: P0-P3, escalation_policy: p, integrations: {alertmanager_key: gap00000000000000000000000000000}}\n")
		return b.String()
	}
	for _, tc := range []struct {
		name   string
		config string
		words  []string // of the policy's warning; none wants no warning
	}{
		{"two levels whose gaps meet",
			users + "schedules:\n" + office("day", "UTC", "09:00", "17:00", "2025-01-06") + office("late", "UTC", "08:00", "18:00", "2025-01-06") +
				policy("{schedule: day, tier: primary}", "{schedule: late, tier: primary}"),
			[]string{"no level pages anyone from ", " 18:00 to ", " 08:00 (UTC)", "schedules[day].tiers[primary], schedules[late].tiers[primary]",
				`an alert of service "svc" then pages nobody at once`, "it waits for the next person on call, and is paged when the gap ends (a page delayed, not lost)"}},
		{"gaps another level covers",
			users + "schedules:\n" + office("day", "UTC", "09:00", "21:00", "2025-01-06") + office("night", "UTC", "21:00", "09:00", "2025-01-06") +
				policy("{schedule: day, tier: primary}", "{schedule: night, tier: primary}"),
			nil},
		{"a level that pages a user",
			users + "schedules:\n" + office("day", "UTC", "09:00", "17:00", "2025-01-06") +
				policy("{schedule: day, tier: primary}", "{user: bob}"),
			nil},
		{"a gap only until a layer begins",
			users + "schedules:\n" + office("day", "UTC", "09:00", "17:00", "2025-01-06") + "          - {name: all, start: 2999-01-07, members: [bob]}\n" +
				policy("{schedule: day, tier: primary}"),
			nil},
		// New York hands over to London at 17:00 New York time, 22:00 in
		// London: the same instant while both keep standard time, or
		// both summer time. For the weeks of the year only one has
		// changed its clocks, 17:00 in New York is 21:00 in London, and
		// nobody holds either tier for an hour a day.
		{"a gap only while two zones' clocks differ by an hour more",
			users + "schedules:\n" + office("ny", "America/New_York", "09:00", "17:00", "2025-01-06") + office("ldn", "Europe/London", "22:00", "14:00", "2025-01-06") +
				policy("{schedule: ny, tier: primary}", "{schedule: ldn, tier: primary}"),
			[]string{"no level pages anyone from ", " 17:00 to ", " 18:00 (America/New_York)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.config), "gap.yaml", t.TempDir())
			if err != nil {
				t.Fatalf("load: %v\n%s", err, tc.config)
			}
			var got []string
			for _, w := range c.Warnings() {
				if strings.HasPrefix(w, "escalation_policies[p].levels: ") {
					got = append(got, w)
				}
			}
			if tc.words == nil {
				if len(got) > 0 {
					t.Fatalf("warned of the policy:\n%s", strings.Join(got, "\n"))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("policy warnings %q, want one; all: %q", got, c.Warnings())
			}
			for _, w := range tc.words {
				if !strings.Contains(got[0], w) {
					t.Errorf("the warning does not say %q:\n%s", w, got[0])
				}
			}
		})
	}
}

// TestPolicyGapWorksOutEachTierWeekOnce: the policies' gap scan looks a
// year ahead, a walk over every shift of every layer of each tier they
// page, at every start and reload. Policies that page the same tiers (one
// per service over the same schedules) share that walk: 20 policies over a
// day and a night tier that cover each other walk each tier's weeks once,
// not once per policy (10 policies over 251 tiers took 9 s to load), and
// none is warned of.
func TestPolicyGapWorksOutEachTierWeekOnce(t *testing.T) {
	var b strings.Builder
	b.WriteString("users:\n  - {id: ann, contacts: [{channel: push, via: log}]}\n  - {id: bob, contacts: [{channel: push, via: log}]}\nschedules:\n")
	for _, s := range [][3]string{{"day", "08:00", "20:00"}, {"night", "20:00", "08:00"}} {
		fmt.Fprintf(&b, `  - name: %s
    time_zone: UTC
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - name: primary
        layers:
          - {name: l, start: 2025-01-06, members: [ann, bob], restrictions: [{days: [mon, tue, wed, thu, fri, sat, sun], start: "%s", end: "%s"}]}
`, s[0], s[1], s[2])
	}
	const policies = 20
	b.WriteString("escalation_policies:\n")
	for i := range policies {
		fmt.Fprintf(&b, "  - name: p%d\n    levels:\n      - {name: a, targets: [{schedule: day, tier: primary}], timeout: 15m}\n      - {name: b, targets: [{schedule: night, tier: primary}], timeout: 15m}\n", i)
	}
	b.WriteString("services:\n")
	for i := range policies {
		fmt.Fprintf(&b, "  - {name: svc%d, priority_scheme: P0-P3, escalation_policy: p%d, integrations: {alertmanager_key: gap%029d}}\n", i, i, i)
	}
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(b.String()))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	v := &validator{cfg: &c, now: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}
	v.validate()
	if len(v.problems) > 0 {
		t.Fatalf("refused: %v", v.problems)
	}
	for _, w := range c.warnings {
		if strings.Contains(w, "no level pages anyone") {
			t.Fatalf("warned of a gap the tiers cover between them: %s", w)
		}
	}
	// Two tiers, a year and a week of weeks each, and a week or two more
	// where a gap runs on.
	if most := 2 * (policyGapWeeks + 2); v.gapWeeksWorked == 0 || v.gapWeeksWorked > most {
		t.Fatalf("%d tier-weeks worked out for %d policies over 2 tiers; want at most %d, each once", v.gapWeeksWorked, policies, most)
	}
}

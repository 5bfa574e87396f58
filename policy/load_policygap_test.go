package policy

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// gapBenchConfig is a config of n schedules, one tier each, held by a day
// layer (weekdays 08:00-20:00) and a night-and-weekend layer of hourly
// shifts, each paged by a policy of its own that one service uses: the
// shape that made the policies' gap scan cost seconds of CPU at every
// start, reload and check-config (53 weeks of hourly shifts per tier).
// The layers cover each other, so the scan finds no gap and runs the whole
// year.
func gapBenchConfig(n int, zone string) string {
	var b strings.Builder
	b.WriteString("users:\n")
	for i := range 4 {
		fmt.Fprintf(&b, "  - {id: u%d, name: U%d, contacts: [{channel: push, via: log}]}\n", i, i)
	}
	b.WriteString("schedules:\n")
	for i := range n {
		fmt.Fprintf(&b, `  - name: s%d
    time_zone: %s
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - name: primary
        layers:
          - {name: l, start: 2025-01-06, shift_hours: 1, members: [u0, u1, u2], restrictions: [{days: [mon, tue, wed, thu, fri], start: "08:00", end: "20:00"}]}
          - {name: n, start: 2025-01-06, shift_hours: 1, members: [u3, u1], restrictions: [{days: [mon, tue, wed, thu, fri, sat, sun], start: "20:00", end: "08:00"}, {days: [sat, sun], start: "08:00", end: "20:00"}]}
`, i, zone)
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

// decodeForValidate decodes a config strictly, as Parse does, for a test
// that runs the validator itself at a time of its choosing.
func decodeForValidate(tb testing.TB, text string) *Config {
	tb.Helper()
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		tb.Fatal(err)
	}
	return &c
}

var gapBenchNow = time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)

// BenchmarkLoadPolicyGaps is a whole load (every check) of 60 policies
// over 60 tiers of hourly restricted layers: what check-config, a start and
// a reload pay.
func BenchmarkLoadPolicyGaps(b *testing.B) {
	text := gapBenchConfig(60, "UTC")
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

// BenchmarkPolicyGaps is the policies' gap scan alone, over the config of
// BenchmarkLoadPolicyGaps.
func BenchmarkPolicyGaps(b *testing.B) {
	c := decodeForValidate(b, gapBenchConfig(60, "UTC"))
	v := &validator{cfg: c, now: gapBenchNow}
	v.validate()
	if len(v.problems) > 0 {
		b.Fatalf("refused: %v", v.problems)
	}
	b.ReportAllocs()
	for b.Loop() {
		v.gapWeeks, v.cfg.warnings = nil, nil
		v.policyGaps()
	}
}

// gapZones are the zones the equivalence tests draw from: UTC, the two
// the seeds use and their neighbours across a change of daylight saving
// time, Lord Howe's half hour of it, Santiago's jump at midnight and a
// half-hour offset with none.
var gapZones = []string{"UTC", "Europe/London", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "America/Santiago", "Asia/Kolkata"}

// gapSwitchWeeks are days in the weeks the clocks change in those zones
// (2026), for a load time and for overrides.
var gapSwitchWeeks = []time.Time{
	time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC),   // New York forward
	time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC),  // London, Berlin forward
	time.Date(2026, 4, 5, 0, 0, 0, 0, time.UTC),   // Lord Howe, Santiago back
	time.Date(2026, 9, 6, 0, 0, 0, 0, time.UTC),   // Santiago forward
	time.Date(2026, 10, 4, 0, 0, 0, 0, time.UTC),  // Lord Howe forward
	time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC), // London, Berlin back
	time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),  // New York back
}

// randomGapConfig is a config of a few schedules in zones of gapZones,
// each with a tier or two of a restricted own rotation and layers (random
// shift lengths, handoffs on the hour or the half hour, daily and weekly
// windows on the half hour, some overnight, some layers beginning months
// after the load, some rotations begun years before), overrides of days
// and of instants around changes of daylight saving time, and policies
// that page random sets of their tiers (or a user), each used by a
// service. It is refused now and then (overlapping overrides, say); the
// caller draws another.
func randomGapConfig(rng *rand.Rand, now time.Time) string {
	users := []string{"u0", "u1", "u2", "u3"}
	days := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	// Times on the half hour, a third of them in the small hours the
	// clocks change in (a window inside the hour skipped, one that ends
	// where a layer's first shift begins).
	halfHour := func() string {
		m := rng.IntN(48) * 30
		if rng.IntN(3) == 0 {
			m = rng.IntN(7) * 30
		}
		return fmt.Sprintf("%02d:%02d", m/60, m%60)
	}
	pickUsers := func() string {
		n := 1 + rng.IntN(3)
		perm := rng.Perm(len(users))[:n]
		out := make([]string, n)
		for i, p := range perm {
			out[i] = users[p]
		}
		return strings.Join(out, ", ")
	}
	restriction := func() string {
		start, end := halfHour(), halfHour()
		for end == start {
			end = halfHour()
		}
		if rng.IntN(8) == 0 {
			end = "24:00"
			if start == "00:00" {
				start = "06:30"
			}
		}
		if rng.IntN(4) == 0 {
			sd, ed := rng.IntN(7), rng.IntN(7)
			if sd == ed && start == end {
				ed = (ed + 1) % 7
			}
			return fmt.Sprintf(`{start_day: %s, end_day: %s, start: "%s", end: "%s"}`, days[sd], days[ed], start, end)
		}
		var ds []string
		for _, d := range rng.Perm(7)[:rng.IntN(8)] {
			ds = append(ds, days[d])
		}
		return fmt.Sprintf(`{days: [%s], start: "%s", end: "%s"}`, strings.Join(ds, ", "), start, end)
	}
	restrictions := func() string {
		n := rng.IntN(3)
		if n == 0 && rng.IntN(3) > 0 {
			n = 1
		}
		var rs []string
		for range n {
			rs = append(rs, restriction())
		}
		if len(rs) == 0 {
			return ""
		}
		return ", restrictions: [" + strings.Join(rs, ", ") + "]"
	}
	// A rotation's length and start: weekly ones start on the handoff
	// weekday (Monday), the others on any day, from months before the
	// load to months after.
	rotation := func() []string {
		start := now.AddDate(0, 0, rng.IntN(240)-150)
		if rng.IntN(4) == 0 {
			start = now.AddDate(-1-rng.IntN(4), 0, -rng.IntN(365)) // begun years ago
		}
		var length string
		switch rng.IntN(6) {
		case 0:
			length = fmt.Sprintf("shift_hours: %d", []int{1, 2, 8, 12, 24, 36}[rng.IntN(6)])
		case 1:
			length = "shift_hours: 1"
		case 2, 3:
			length = fmt.Sprintf("shift_days: %d", 1+rng.IntN(7))
		default:
			length = fmt.Sprintf("shift_weeks: %d", 1+rng.IntN(2))
			start = start.AddDate(0, 0, -((int(start.Weekday()) + 6) % 7))
		}
		fields := []string{"start: " + start.Format(time.DateOnly), length, "members: [" + pickUsers() + "]"}
		if rng.IntN(3) == 0 {
			fields = append(fields, fmt.Sprintf(`handoff_time: "%s"`, halfHour()[:3]+[]string{"00", "30"}[rng.IntN(2)]))
		}
		return fields
	}
	var b strings.Builder
	b.WriteString("users:\n")
	for _, u := range users {
		fmt.Fprintf(&b, "  - {id: %s, contacts: [{channel: push, via: log}]}\n", u)
	}
	type tierRef struct{ schedule, tier string }
	var tiers []tierRef
	b.WriteString("schedules:\n")
	for si := range 1 + rng.IntN(3) {
		zone := gapZones[rng.IntN(len(gapZones))]
		loc, _ := time.LoadLocation(zone)
		fmt.Fprintf(&b, "  - name: s%d\n    time_zone: %s\n    handoff: {weekday: monday, time: \"%s\"}\n    tiers:\n", si, zone, halfHour()[:3]+[]string{"00", "30"}[rng.IntN(2)])
		nt := 1 + rng.IntN(2)
		for ti := range nt {
			name := fmt.Sprintf("t%d", ti)
			tiers = append(tiers, tierRef{fmt.Sprintf("s%d", si), name})
			fmt.Fprintf(&b, "      - name: %s\n", name)
			own := rng.IntN(3) == 0
			if own {
				for _, f := range rotation() {
					b.WriteString("        " + f + "\n")
				}
				if r := restrictions(); r != "" {
					b.WriteString("        " + strings.TrimPrefix(r, ", ") + "\n")
				}
			}
			if nl := rng.IntN(4); nl > 0 || !own {
				b.WriteString("        layers:\n")
				for li := range max(nl, 1) {
					fmt.Fprintf(&b, "          - {name: l%d, %s%s}\n", li, strings.Join(rotation(), ", "), restrictions())
				}
			}
		}
		if no := rng.IntN(4); no > 0 {
			b.WriteString("    overrides:\n")
			for range no {
				week := gapSwitchWeeks[rng.IntN(len(gapSwitchWeeks))].AddDate(rng.IntN(2), 0, rng.IntN(9)-4)
				var from, until string
				if rng.IntN(2) == 0 {
					from = week.Format(time.DateOnly)
					until = week.AddDate(0, 0, rng.IntN(3)).Format(time.DateOnly)
				} else {
					f := time.Date(week.Year(), week.Month(), week.Day(), 0, rng.IntN(48)*30, 0, 0, loc)
					from = f.Format(time.RFC3339)
					until = f.Add(time.Duration(1+rng.IntN(96)) * 30 * time.Minute).Format(time.RFC3339)
				}
				held := fmt.Sprintf("t%d: %s", rng.IntN(nt), users[rng.IntN(len(users))])
				fmt.Fprintf(&b, "      - {from: \"%s\", until: \"%s\", tiers: {%s}}\n", from, until, held)
			}
		}
	}
	b.WriteString("escalation_policies:\n")
	np := 1 + rng.IntN(4)
	for pi := range np {
		fmt.Fprintf(&b, "  - name: p%d\n    levels:\n", pi)
		for li := range 1 + rng.IntN(2) {
			var targets []string
			for range 1 + rng.IntN(2) {
				tr := tiers[rng.IntN(len(tiers))]
				targets = append(targets, fmt.Sprintf("{schedule: %s, tier: %s}", tr.schedule, tr.tier))
			}
			if rng.IntN(20) == 0 {
				targets = append(targets, "{user: u0}")
			}
			fmt.Fprintf(&b, "      - {name: l%d, targets: [%s], timeout: 15m}\n", li, strings.Join(targets, ", "))
		}
	}
	b.WriteString("services:\n")
	for pi := range np {
		fmt.Fprintf(&b, "  - {name: svc%d, priority_scheme: P0-P3, escalation_policy: p%d, integrations: {alertmanager_key: gap%029d}}\n", pi, pi, pi)
	}
	return b.String()
}

// TestUncoveredSpansAreTheWalks: the policies' gap scan reads the spans
// nobody holds a tier in off its layers' windows and its overrides
// (uncoveredSpans) where it used to ask who holds the tier at every shift
// (emptyByWalk, OnCallTier span by span): the two agree to the instant,
// over random configs in zones that change their clocks, on every week
// the scan looked at and on random spans around the changes, and a scan
// fed only the walk's answers warns of the very same gaps.
func TestUncoveredSpansAreTheWalks(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	configs, weeks, spans, gapsFound, warned := 0, 0, 0, 0, 0
	n := 150
	if testing.Short() || raceEnabled {
		n = 25
	}
	for configs < n {
		c, v, now, text := validRandomGapConfig(t, rng)
		if v == nil {
			continue
		}
		configs++
		same := func(what string, s *Schedule, tr *Tier, a, b time.Time, got []Shift) {
			t.Helper()
			want := emptyByWalk(s, tr, a, b)
			if !slices.EqualFunc(got, want, func(x, y Shift) bool {
				return x.From.Equal(y.From) && x.Until.Equal(y.Until) && x.Schedule == y.Schedule && x.Tier == y.Tier && x.User == "" && x.Layer == y.Layer
			}) {
				t.Fatalf("%s, tier %s/%s from %s to %s: uncoveredSpans %v, the walk %v\nconfig (now %s):\n%s", what, s.Name, tr.Name, a, b, got, want, now, text)
			}
			gapsFound += len(want)
		}
		// Every tier-week the scan worked out.
		walked := map[gapWeek][]Shift{}
		for k, got := range v.gapWeeks {
			s := c.schedules[k.schedule]
			tr := s.Tier(k.tier)
			a, b := time.Unix(0, k.from), time.Unix(0, k.until)
			same("scanned week", s, tr, a, b, got)
			walked[k] = emptyByWalk(s, tr, a, b)
			weeks++
		}
		// Random spans of every tier, many across a change of the clocks.
		for si := range c.Schedules {
			s := &c.Schedules[si]
			for ti := range s.Tiers {
				tr := &s.Tiers[ti]
				for range 3 {
					a := gapSwitchWeeks[rng.IntN(len(gapSwitchWeeks))].Add(time.Duration(rng.IntN(10*48)-5*48) * 30 * time.Minute)
					if rng.IntN(3) == 0 {
						a = a.Add(time.Duration(rng.IntN(3600)) * time.Second)
					}
					b := a.Add(time.Duration(1+rng.IntN(20*24)) * 30 * time.Minute)
					same("span", s, tr, a, b, s.uncoveredSpans(tr, a, b))
					spans++
				}
			}
		}
		// The scan again, fed only the walk's answers: the same warnings.
		var mine []string
		for _, w := range c.warnings {
			if strings.Contains(w, "no level pages anyone") {
				mine = append(mine, w)
			}
		}
		warned += len(mine)
		c2 := decodeForValidate(t, text)
		v2 := &validator{cfg: c2, now: now, gapWeeks: walked}
		v2.validate()
		var theirs []string
		for _, w := range c2.warnings {
			if strings.Contains(w, "no level pages anyone") {
				theirs = append(theirs, w)
			}
		}
		if v2.gapWeeksWorked != 0 || !slices.Equal(mine, theirs) {
			t.Fatalf("warned %q; fed the walk's answers (%d worked out anew), %q\nconfig (now %s):\n%s", mine, v2.gapWeeksWorked, theirs, now, text)
		}
	}
	t.Logf("%d configs, %d scanned tier-weeks and %d random spans agree (%d gaps), %d policy gap warnings", configs, weeks, spans, gapsFound, warned)
	if weeks < n || gapsFound < n || warned < n/10 {
		t.Fatalf("%d tier-weeks, %d gaps, %d warnings over %d configs: the configs test too little", weeks, gapsFound, warned, configs)
	}
}

// TestPolicyGapScanAllocations: the policies' gap scan reads each
// tier-week's gaps off its layers' windows, a few allocations each, not
// off a lookup of who is on call at every hourly shift (about 2,000 a
// tier-week: 60 such tiers took 5 s of CPU at every start, reload and
// check-config).
func TestPolicyGapScanAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates as it likes: the count is the plain build's")
	}
	const tiers = 10
	c := decodeForValidate(t, gapBenchConfig(tiers, "Europe/London"))
	v := &validator{cfg: c, now: gapBenchNow}
	v.validate()
	if len(v.problems) > 0 {
		t.Fatalf("refused: %v", v.problems)
	}
	worked := 0
	n := testing.AllocsPerRun(2, func() {
		v.gapWeeks, v.gapWeeksWorked, v.cfg.warnings = nil, 0, nil
		v.policyGaps()
		worked = v.gapWeeksWorked
	})
	if worked < tiers*policyGapWeeks {
		t.Fatalf("%d tier-weeks worked out: the scan stopped short, this measures nothing", worked)
	}
	if per := n / float64(worked); per > 40 {
		t.Errorf("the scan allocates %.0f times a tier-week (%.0f for %d), want at most 40", per, n, worked)
	}
}

package policy

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// wideGapZones are zones randomGapConfig does not draw from: offsets off
// the hour (Kathmandu, Chatham, St John's), a standard offset changed in
// history (Moscow 2011 and 2014, Caracas 2007 and 2016, Tehran's and São
// Paulo's daylight saving time ended), a day skipped (Apia, 2011-12-30), a
// daylight saving time below standard (Dublin, Casablanca's Ramadan) and
// a jump of two hours (Troll).
var wideGapZones = []string{"Asia/Kathmandu", "Australia/Lord_Howe", "Europe/Moscow", "America/Caracas", "Pacific/Chatham",
	"America/St_Johns", "Asia/Tehran", "America/Sao_Paulo", "Pacific/Apia", "Europe/Dublin", "Africa/Casablanca",
	"Antarctica/Troll", "Europe/Berlin", "America/Santiago", "UTC"}

// wideGapNows are load times around those zones' changes in history and
// the year's end: the check is run at any "now" by the tests below.
var wideGapNows = []time.Time{
	time.Date(2011, 3, 24, 0, 0, 0, 0, time.UTC),  // Moscow to +04 for good
	time.Date(2014, 10, 23, 0, 0, 0, 0, time.UTC), // Moscow back to +03
	time.Date(2007, 12, 6, 0, 0, 0, 0, time.UTC),  // Caracas to -04:30
	time.Date(2016, 4, 28, 0, 0, 0, 0, time.UTC),  // Caracas back to -04
	time.Date(2011, 12, 26, 0, 0, 0, 0, time.UTC), // Apia skips a day
	time.Date(2026, 12, 28, 0, 0, 0, 0, time.UTC), // the year's end
	time.Date(2026, 3, 26, 0, 0, 0, 0, time.UTC),  // Europe forward
	time.Date(2026, 10, 22, 0, 0, 0, 0, time.UTC), // Europe back
	time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC),   // Lord Howe, Santiago back
	time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC),  // Lord Howe forward
	time.Date(2022, 9, 18, 0, 0, 0, 0, time.UTC),  // Tehran's last change
	time.Date(2018, 11, 1, 0, 0, 0, 0, time.UTC),  // São Paulo's last forward
	time.Date(2026, 2, 12, 0, 0, 0, 0, time.UTC),  // Casablanca's Ramadan
	time.Date(2026, 9, 24, 0, 0, 0, 0, time.UTC),  // Chatham forward
	time.Date(2026, 3, 26, 12, 0, 0, 0, time.UTC), // Troll +2
}

// wideGapConfig is a config like randomGapConfig's with what it does not
// draw: roster changes, shift_hours that do not divide a day, shift_days
// of 3, a handoff time per layer, handoffs on other weekdays, weekly
// windows across the week's end, windows to 24:00 and on the quarter
// hour, rotations begun in 2009, layers that begin in a week the clocks
// change, and overrides of instants with seconds and in other offsets.
func wideGapConfig(rng *rand.Rand, now time.Time) string {
	users := []string{"u0", "u1", "u2", "u3"}
	days := []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}
	quarter := func() int {
		if rng.IntN(3) == 0 {
			return rng.IntN(16) * 15 // the small hours
		}
		return rng.IntN(96) * 15
	}
	hm := func(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }
	pickUsers := func() []string {
		n := 1 + rng.IntN(3)
		out := make([]string, n)
		for i, p := range rng.Perm(len(users))[:n] {
			out[i] = users[p]
		}
		return out
	}
	restriction := func() string {
		s, e := quarter(), quarter()
		end := hm(e)
		if rng.IntN(6) == 0 {
			end = "24:00"
			e = 24 * 60
		}
		if rng.IntN(3) == 0 {
			sd, ed := rng.IntN(7), rng.IntN(7)
			if rng.IntN(2) == 0 { // across the week's end
				sd, ed = 4+rng.IntN(3), rng.IntN(3)
			}
			if sd == ed && s == e%(24*60) {
				ed = (ed + 1) % 7
			}
			return fmt.Sprintf(`{start_day: %s, end_day: %s, start: "%s", end: "%s"}`, days[sd], days[ed], hm(s), end)
		}
		for s == e {
			e = quarter()
			end = hm(e)
		}
		if s == 24*60 {
			s = 0
		}
		var ds []string
		for _, d := range rng.Perm(7)[:rng.IntN(8)] {
			ds = append(ds, days[d][:3])
		}
		return fmt.Sprintf(`{days: [%s], start: "%s", end: "%s"}`, strings.Join(ds, ", "), hm(s), end)
	}
	restrictions := func() string {
		n := rng.IntN(3)
		if n == 0 && rng.IntN(4) > 0 {
			n = 1
		}
		var rs []string
		for range n {
			rs = append(rs, restriction())
		}
		if len(rs) == 0 {
			return ""
		}
		return "restrictions: [" + strings.Join(rs, ", ") + "]"
	}
	handoffDay := rng.IntN(7)
	rotation := func() []string {
		start := now.AddDate(0, 0, rng.IntN(240)-150)
		switch rng.IntN(5) {
		case 0:
			start = now.AddDate(-1-rng.IntN(4), 0, -rng.IntN(365))
		case 1:
			start = time.Date(2009+rng.IntN(3), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
		case 2: // in the week of the load, which is a week the clocks change
			start = now.AddDate(0, 0, rng.IntN(9)-3)
		}
		var length string
		var days, hours int
		switch rng.IntN(6) {
		case 0:
			hours = []int{1, 5, 7, 9, 16, 36, 48, 168}[rng.IntN(8)]
			length = fmt.Sprintf("shift_hours: %d", hours)
		case 1:
			days = 3
			length = "shift_days: 3"
		case 2:
			days = 1 + rng.IntN(9)
			length = fmt.Sprintf("shift_days: %d", days)
		default:
			w := 1 + rng.IntN(2)
			days = 7 * w
			length = fmt.Sprintf("shift_weeks: %d", w)
			start = start.AddDate(0, 0, -floorMod(int(start.Weekday())-handoffDay, 7))
		}
		fields := []string{"start: " + start.Format(time.DateOnly), length, "members: [" + strings.Join(pickUsers(), ", ") + "]"}
		if rng.IntN(2) == 0 {
			fields = append(fields, fmt.Sprintf(`handoff_time: "%s"`, hm(quarter())))
		}
		if rng.IntN(3) == 0 {
			// Changes on shift boundaries: every whole number of days
			// that is a whole number of shifts.
			step := days
			if hours > 0 {
				step = hours / gcd(hours, 24)
			}
			var cs []string
			at := start
			for range 1 + rng.IntN(3) {
				at = at.AddDate(0, 0, step*(1+rng.IntN(max(1, 400/step))))
				cs = append(cs, fmt.Sprintf("{effective_from: %s, members: [%s]}", at.Format(time.DateOnly), strings.Join(pickUsers(), ", ")))
			}
			fields = append(fields, "roster_changes: ["+strings.Join(cs, ", ")+"]")
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
	for si := range 1 + rng.IntN(2) {
		zone := wideGapZones[rng.IntN(len(wideGapZones))]
		loc, _ := time.LoadLocation(zone)
		fmt.Fprintf(&b, "  - name: s%d\n    time_zone: %s\n    handoff: {weekday: %s, time: \"%s\"}\n    tiers:\n", si, zone, days[handoffDay], hm(quarter()))
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
					b.WriteString("        " + r + "\n")
				}
			}
			if nl := rng.IntN(4); nl > 0 || !own {
				b.WriteString("        layers:\n")
				for li := range max(nl, 1) {
					fs := append(rotation(), restrictions())
					fs = slices.DeleteFunc(fs, func(s string) bool { return s == "" })
					fmt.Fprintf(&b, "          - {name: l%d, %s}\n", li, strings.Join(fs, ", "))
				}
			}
		}
		if no := rng.IntN(4); no > 0 {
			b.WriteString("    overrides:\n")
			for range no {
				day := now.AddDate(0, 0, rng.IntN(400)-20)
				var from, until string
				switch rng.IntN(3) {
				case 0:
					from = day.Format(time.DateOnly)
					until = day.AddDate(0, 0, rng.IntN(3)).Format(time.DateOnly)
				case 1:
					f := time.Date(day.Year(), day.Month(), day.Day(), 0, rng.IntN(96)*15, rng.IntN(60), 0, loc)
					from = f.Format(time.RFC3339)
					until = f.Add(time.Duration(1+rng.IntN(200000)) * time.Second).In(time.FixedZone("", 5*3600+45*60)).Format(time.RFC3339)
				default:
					f := time.Date(day.Year(), day.Month(), day.Day(), 0, rng.IntN(96)*15, 0, 0, loc)
					from = f.UTC().Format(time.RFC3339)
					until = f.Add(time.Duration(1+rng.IntN(96)) * 15 * time.Minute).Format(time.RFC3339)
				}
				fmt.Fprintf(&b, "      - {from: \"%s\", until: \"%s\", tiers: {t%d: %s}}\n", from, until, rng.IntN(nt), users[rng.IntN(len(users))])
			}
		}
	}
	b.WriteString("escalation_policies:\n")
	np := 1 + rng.IntN(3)
	for pi := range np {
		fmt.Fprintf(&b, "  - name: p%d\n    levels:\n", pi)
		for li := range 1 + rng.IntN(2) {
			var targets []string
			for range 1 + rng.IntN(2) {
				tr := tiers[rng.IntN(len(tiers))]
				targets = append(targets, fmt.Sprintf("{schedule: %s, tier: %s}", tr.schedule, tr.tier))
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

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// nobodyAt is whether the engine finds nobody holding the tier at x,
// overrides applied or not: one lookup, as a page asks.
func nobodyAt(s *Schedule, tr *Tier, x time.Time, overrides bool) bool {
	if overrides {
		sh, _ := s.OnCallTier(tr.Name, x)
		return sh.User == ""
	}
	return s.regular(tr, x).User == ""
}

func inSpans(spans []Shift, x time.Time) bool {
	for _, sp := range spans {
		if !x.Before(sp.From) && x.Before(sp.Until) {
			return true
		}
	}
	return false
}

// TestGapChecksWideConfigs holds the cheaper gap checks to the walks and
// to the engine's own lookups, instant by instant, over configs the
// random generator of their tests does not draw (wideGapConfig), at load
// times around changes of zones in history and the year's end.
func TestGapChecksWideConfigs(t *testing.T) {
	rng := rand.New(rand.NewPCG(32, 3))
	n := 100
	if testing.Short() || raceEnabled {
		n = 15
	}
	tried, configs, weeks, points, asked, moved, refused, yearly, policyGapsSeen := 0, 0, 0, 0, 0, 0, 0, 0, 0
	var reasons []string
	for configs < n {
		tried++
		now := wideGapNows[rng.IntN(len(wideGapNows))].Add(time.Duration(rng.IntN(14*96)-7*96) * 15 * time.Minute)
		text := wideGapConfig(rng, now)
		c := decodeForValidate(t, text)
		v := &validator{cfg: c, now: now}
		v.validate()
		if len(v.problems) > 0 {
			refused++
			if len(reasons) < 5 {
				reasons = append(reasons, fmt.Sprint(v.problems[0]))
			}
			continue
		}
		configs++
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf(format+"\nconfig (now %s):\n%s", append(args, now, text)...)
		}
		// Every tier-week the policies' scan worked out: the walk's spans,
		// and the engine's lookup at every minute of two of them and a
		// second either side of each edge.
		look := 2
		for k, got := range v.gapWeeks {
			s := c.schedules[k.schedule]
			tr := s.Tier(k.tier)
			a, b := time.Unix(0, k.from), time.Unix(0, k.until)
			want := emptyByWalk(s, tr, a, b)
			if !slices.EqualFunc(got, want, func(x, y Shift) bool { return x.From.Equal(y.From) && x.Until.Equal(y.Until) }) {
				fail("tier %s/%s from %s to %s: uncoveredSpans %v, the walk %v", s.Name, tr.Name, a, b, got, want)
			}
			weeks++
			var at []time.Time
			for _, sp := range got {
				at = append(at, sp.From.Add(-time.Second), sp.From, sp.Until.Add(-time.Second), sp.Until)
			}
			for i := range s.Overrides {
				of, ou := s.OverrideSpan(&s.Overrides[i])
				at = append(at, of.Add(-time.Second), of, ou.Add(-time.Second), ou)
			}
			if look > 0 {
				look--
				for x := a; x.Before(b); x = x.Add(time.Minute) {
					at = append(at, x)
				}
			}
			for _, x := range at {
				if x.Before(a) || !x.Before(b) {
					continue
				}
				points++
				if e, g := nobodyAt(s, tr, x, true), inSpans(got, x); e != g {
					fail("tier %s/%s at %s: the engine finds nobody %v, uncoveredSpans %v (%v)", s.Name, tr.Name, x, e, g, got)
				}
			}
		}
		// Each policy's first gap, as the engine sees its ends: every
		// target tier held by nobody from its start to its end.
		for i := range c.EscalationPolicies {
			p := &c.EscalationPolicies[i]
			gap, _, _, ok := v.policyGap(p)
			if !ok {
				continue
			}
			policyGapsSeen++
			for _, l := range p.Levels {
				for _, tg := range l.Targets {
					s := c.schedules[tg.Schedule]
					tr := s.Tier(tg.Tier)
					for _, x := range []time.Time{gap.From, gap.Until.Add(-time.Second)} {
						if !nobodyAt(s, tr, x, true) {
							fail("policy %s: no level pages anyone from %s to %s, but %s/%s is held at %s", p.Name, gap.From, gap.Until, s.Name, tr.Name, x)
						}
					}
				}
			}
		}
		// The tiers' weekly gaps: their first weeks, as the walk finds
		// them, back to the first start of the tier's rotations.
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
				check := func(g Shift) {
					t.Helper()
					got, want := firstWeek(s, tr, g, earliest), firstWeekByWalk(s, tr, g, earliest)
					if !got.Equal(want) {
						fail("tier %s/%s, gap %s to %s, back to %s: firstWeek %s, the walk %s", s.Name, tr.Name, g.From, g.Until, earliest, got, want)
					}
					asked++
					if !want.Equal(g.From) {
						moved++
					}
				}
				weekly := weeklyGaps(s, tr, begin)
				for _, g := range weekly {
					check(g)
				}
				// Every time of the year after begin that nobody holds
				// the tier is a time of the week the warning names.
				if tr.hasRotation() && rots[0].restricted() || len(rots) > 1 {
					loc := s.Location()
					for _, sh := range s.tierSpans(tr, begin, begin.AddDate(0, 0, 7*53), false) {
						if sh.User != "" {
							continue
						}
						yearly++
						// Its start or its end on the wall clock (a gap in
						// the hour repeated is the longer for it).
						named := false
						for _, m := range []int{weekMinute(sh.From.In(loc)), weekMinute(sh.Until.Add(-time.Second).In(loc))} {
							for _, g := range weekly {
								gm, n := weekMinute(g.From.In(loc)), int(wallSpan(g.From.In(loc), g.Until.In(loc)).Minutes())
								named = named || floorMod(m-gm, 7*24*60) < n
							}
						}
						if !named {
							fail("tier %s/%s: nobody holds it from %s to %s, not in its weekly gaps %v", s.Name, tr.Name, sh.From, sh.Until, weekly)
						}
					}
				}
				a := now.AddDate(0, 0, rng.IntN(60)-30)
				for _, sh := range s.tierSpans(tr, a, a.AddDate(0, 0, 7), false) {
					if sh.User == "" {
						check(sh)
					}
				}
			}
		}
	}
	t.Logf("%d configs tried, %d valid (%d refused, e.g. %q): %d tier-weeks agree with the walk, %d instants with the engine; %d first weeks agree (%d earlier than the gap); %d gaps of the year named by the weekly gaps; %d policy gaps held by nobody at both ends",
		tried, configs, refused, reasons, weeks, points, asked, moved, yearly, policyGapsSeen)
	if weeks < n || points < n*1000 || asked < n || yearly < n || policyGapsSeen < n/10 {
		t.Fatalf("the configs test too little")
	}
}

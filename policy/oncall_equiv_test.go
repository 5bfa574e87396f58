package policy

import (
	"testing"
	"time"
)

// The on-call lookups run on every page; the tests here hold their
// rewrites (made to allocate and convert less) to what the straightforward
// computation they replaced answers, on every schedule the repository
// ships and on ones made to cross DST, restrictions, layers, roster
// changes and overlapping overrides.

// equivSchedulesText are schedules that exercise every branch of the
// lookups: hourly and 12-hour shifts over DST changes (a 30-minute one at
// Lord Howe, midnight skipped at Santiago), layers with daily, weekly and
// overnight windows, roster changes, and overrides by date and by instant
// that overlap and nest.
const equivSchedulesText = `  - name: s
    time_zone: America/New_York
    handoff: {weekday: monday, time: "08:00"}
    tiers:
      - name: primary
        start: 2025-08-18
        members: [ann, bob, cat, dan]
        roster_changes:
          - effective_from: 2025-11-03
            members: [ann, bob, cat, dan, eve]
          - effective_from: 2026-02-02
            members: [eve, cat, fay]
        layers:
          - name: office
            start: 2025-09-01
            shift_days: 1
            members: [cat, dan, eve]
            restrictions:
              - {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
          - name: weekend
            start: 2025-10-31
            shift_days: 7
            handoff_time: "17:00"
            members: [gus, hal]
            restrictions:
              - {start_day: friday, start: "17:00", end_day: monday, end: "08:00"}
      - name: secondary
        start: 2026-03-08
        shift_hours: 1
        members: [ann, bob, cat, dan]
      - name: lead
        start: 2025-08-18
        shift_weeks: 2
        members: [fay, gus, hal]
    overrides:
      - {reason: holiday, from: 2025-11-27, until: 2025-11-29, tiers: {primary: fay, secondary: gus}}
      - {reason: swap, from: "2026-03-08T06:30:00Z", until: "2026-03-08T09:15:00Z", tiers: {secondary: eve, lead: ann}}
  - name: nights
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
  - name: howe
    time_zone: Australia/Lord_Howe
    handoff: {weekday: sunday, time: "02:00"}
    tiers:
      - name: primary
        start: 2025-09-28
        shift_hours: 12
        handoff_time: "02:00"
        members: [ann, bob, cat]
      - name: layered
        layers:
          - name: late
            start: 2026-01-05
            shift_days: 3
            members: [dan, eve]
            restrictions: [{start: "20:00", end: "02:30"}]
  - name: santiago
    time_zone: America/Santiago
    handoff: {weekday: sunday, time: "00:00"}
    tiers:
      - name: primary
        start: 2025-09-07
        shift_days: 1
        handoff_time: "00:00"
        members: [ann, bob]
      - name: hourly
        start: 2025-09-06
        shift_hours: 1
        members: [cat, dan, eve]
    overrides:
      - {from: 2025-09-06, until: 2025-09-06, tiers: {hourly: fay}}
`

// equivRuntimeOverrides are run-time overrides of equivSchedulesText's
// "s", which load does not check: they overlap the file's and each other,
// nest, and one ends before it starts.
func equivRuntimeOverrides(t *testing.T) []Override {
	return []Override{
		{ID: "o1", From: instantMoment(t, "2025-11-28T12:00:00Z"), Until: instantMoment(t, "2025-11-28T22:00:00Z"), Tiers: map[string]string{"primary": "hal"}},
		{ID: "o2", Reason: "nested", From: dateMoment(t, "2026-03-07"), Until: dateMoment(t, "2026-03-09"), Tiers: map[string]string{"secondary": "fay"}},
		{ID: "o3", From: instantMoment(t, "2026-03-08T07:00:00Z"), Until: instantMoment(t, "2026-03-08T08:00:00Z"), Tiers: map[string]string{"secondary": "gus", "primary": ""}},
		{ID: "o4", Reason: "backwards", From: instantMoment(t, "2026-01-10T00:00:00Z"), Until: instantMoment(t, "2026-01-09T00:00:00Z"), Tiers: map[string]string{"primary": "bob"}},
		{ID: "o5", From: dateMoment(t, "2025-11-28"), Until: dateMoment(t, "2025-11-28"), Tiers: map[string]string{"primary": "cat"}},
		// Spans that meet ones of other zones at the same instant: which
		// of equal instants bounds a shift shows in its zone.
		{ID: "o6", From: instantMoment(t, "2025-11-29T05:00:00Z"), Until: instantMoment(t, "2025-11-29T06:00:00Z"), Tiers: map[string]string{"primary": "dan"}},
		{ID: "o7", From: dateMoment(t, "2026-04-01"), Until: dateMoment(t, "2026-04-01"), Tiers: map[string]string{"secondary": "ann", "lead": "bob"}},
		{ID: "o8", From: instantMoment(t, "2026-04-02T04:00:00Z"), Until: instantMoment(t, "2026-04-02T05:00:00Z"), Tiers: map[string]string{"secondary": "bob", "lead": "cat"}},
		{ID: "o9", From: instantMoment(t, "2026-03-31T20:00:00Z"), Until: instantMoment(t, "2026-04-01T04:00:00Z"), Tiers: map[string]string{"lead": "dan"}},
		{ID: "o10", From: dateMoment(t, "2026-04-02"), Until: dateMoment(t, "2026-04-03"), Tiers: map[string]string{"lead": "eve"}},
		// Two ends at one instant, two starts at another, each pair in two
		// zones: the first listed of equal instants bounds the shift.
		{ID: "o11", From: dateMoment(t, "2026-05-05"), Until: dateMoment(t, "2026-05-05"), Tiers: map[string]string{"lead": "ann"}},
		{ID: "o12", From: instantMoment(t, "2026-05-05T12:00:00Z"), Until: instantMoment(t, "2026-05-06T04:00:00Z"), Tiers: map[string]string{"lead": "bob"}},
		{ID: "o13", From: dateMoment(t, "2026-05-20"), Until: dateMoment(t, "2026-05-20"), Tiers: map[string]string{"lead": "cat"}},
		{ID: "o14", From: instantMoment(t, "2026-05-20T04:00:00Z"), Until: instantMoment(t, "2026-05-20T10:00:00Z"), Tiers: map[string]string{"lead": "dan"}},
	}
}

// equivSchedules are every schedule of the shipped configs and of
// equivSchedulesText, "s" also with equivRuntimeOverrides.
func equivSchedules(t *testing.T) []*Schedule {
	t.Helper()
	var out []*Schedule
	for _, name := range []string{"aivo.yaml", "aion-r.yaml", "follow-the-sun.yaml", "quickstart.yaml"} {
		c := benchConfig(t, name)
		for i := range c.Schedules {
			out = append(out, &c.Schedules[i])
		}
	}
	c := rotConfig(t, equivSchedulesText)
	for i := range c.Schedules {
		out = append(out, &c.Schedules[i])
	}
	return append(out, c.Schedule("s").WithOverrides(equivRuntimeOverrides(t)...))
}

// equivInstants are instants over 2025-2026 every 433 minutes (7h13m, so
// every minute of the day comes by; four times that under the race
// detector, which is slow), plus every
// span edge the reference reports around them (the edge, and a nanosecond
// before), so handoffs, window edges and DST jumps are asked about exactly.
func equivInstants(s *Schedule, tier string) []time.Time {
	step := 433 * time.Minute
	if raceEnabled {
		step *= 4
	}
	var out []time.Time
	for t := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC); t.Before(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)); t = t.Add(step) {
		out = append(out, t)
		if sh, ok := onCallTierBefore(s, tier, t); ok {
			for _, e := range []time.Time{sh.From, sh.Until} {
				if e.After(farPast) && e.Before(farFuture) {
					out = append(out, e, e.Add(-time.Nanosecond))
				}
			}
		}
	}
	return out
}

// sameShift is a == b, instants compared as instants and as wall clocks.
func sameShift(a, b Shift) bool {
	return a.Schedule == b.Schedule && a.Tier == b.Tier && a.Layer == b.Layer && a.User == b.User &&
		a.From.Equal(b.From) && a.Until.Equal(b.Until) && a.From.String() == b.From.String() && a.Until.String() == b.Until.String() &&
		a.Override == b.Override && a.OverrideID == b.OverrideID
}

// TestOnCallAsBefore: OnCallTier and RotationHolder answer what the
// computation they replaced answered, for every tier of every schedule
// at every instant equivInstants picks.
func TestOnCallAsBefore(t *testing.T) {
	n := 0
	for _, s := range equivSchedules(t) {
		for i := range s.Tiers {
			tier := &s.Tiers[i]
			for _, at := range equivInstants(s, tier.Name) {
				got, gok := s.OnCallTier(tier.Name, at)
				want, wok := onCallTierBefore(s, tier.Name, at)
				if gok != wok || !sameShift(got, want) {
					t.Fatalf("%s/%s at %s: OnCallTier %+v %v, before %+v %v", s.Name, tier.Name, at, got, gok, want, wok)
				}
				if tier.hasRotation() {
					if got, want := s.RotationHolder(tier, at), regularBefore(s, tier, at); !sameShift(got, want) {
						t.Fatalf("%s/%s at %s: RotationHolder %+v, before %+v", s.Name, tier.Name, at, got, want)
					}
				}
				n++
			}
		}
	}
	if n < 10000 {
		t.Fatalf("compared %d lookups: too few to mean anything", n)
	}
}

// TestRotationHolderAllocations: the holder of a tier by its rotations,
// layers and restrictions aside, allocates nothing: the rotations are
// walked, not gathered into a slice on every page.
func TestRotationHolderAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates as it likes: the count is the plain build's")
	}
	s := benchConfig(t, "aivo.yaml").Schedule("aivo-oncall")
	tier := s.Tier("primary")
	var sh Shift
	if n := testing.AllocsPerRun(100, func() { sh = s.RotationHolder(tier, benchAt) }); n > 0 {
		t.Errorf("RotationHolder allocates %.0f times, want 0", n)
	}
	if sh.User == "" {
		t.Fatal("nobody holds the tier: this measures nothing")
	}
}

// regularBefore is Schedule.regular as it was: the rotations gathered into
// a slice, the shift's bounds computed again after finding it.
func regularBefore(s *Schedule, tier *Tier, t time.Time) Shift {
	rots := s.rotations(tier)
	from, until := farPast, farFuture
	for i := len(rots) - 1; i >= 0; i-- {
		r := &rots[i]
		covered, cf, cu := r.coverage(t)
		from, until = maxTime(from, cf), minTime(until, cu)
		if !covered {
			continue
		}
		k := shiftAtBefore(r, t)
		return Shift{
			Schedule: s.Name,
			Tier:     tier.Name,
			Layer:    r.name,
			User:     r.holder(k),
			From:     maxTime(from, r.boundary(k)),
			Until:    minTime(until, r.boundary(k+1)),
		}
	}
	return Shift{Schedule: s.Name, Tier: tier.Name, From: from, Until: until}
}

// shiftAtBefore is rotation.shiftAt as it was: each boundary made anew,
// its anchor with it.
func shiftAtBefore(r *rotation, t time.Time) int64 {
	k := floorDiv64(civilMinute(t, r.loc)-r.anchor(), r.length())
	for r.boundary(k).After(t) {
		k--
	}
	for !r.boundary(k + 1).After(t) {
		k++
	}
	return k
}

// TestShiftSpanAsBefore: shiftSpan is the shift shiftAt found, between
// boundary(k) and boundary(k+1), for every rotation and layer of every
// schedule equivSchedules has, including instants before a layer's first
// shift and in the hour the clocks skip.
func TestShiftSpanAsBefore(t *testing.T) {
	for _, s := range equivSchedules(t) {
		for i := range s.Tiers {
			for _, r := range s.rotations(&s.Tiers[i]) {
				for _, at := range equivInstants(s, s.Tiers[i].Name) {
					k, from, until := r.shiftSpan(at)
					want := shiftAtBefore(&r, at)
					if k != want || !from.Equal(r.boundary(want)) || !until.Equal(r.boundary(want+1)) || from.Location() != r.boundary(want).Location() {
						t.Fatalf("%s/%s %q at %s: shiftSpan %d [%s, %s), before %d [%s, %s)", s.Name, s.Tiers[i].Name, r.name, at,
							k, from, until, want, r.boundary(want), r.boundary(want+1))
					}
				}
			}
		}
	}
}

// clip (as OnCallTier had it) narrows [from, until), which contains t, so that it does not overlap
// the span [of, ou): an override span ending at or before t moves from to its
// end, one starting after t moves until to its start.
func clip(from, until, t, of, ou time.Time) (time.Time, time.Time) {
	if !ou.After(t) && ou.After(from) {
		from = ou
	}
	if of.After(t) && of.Before(until) {
		until = of
	}
	return from, until
}

// onCallTierBefore is Schedule.OnCallTier as it was, on regularBefore.
func onCallTierBefore(s *Schedule, tier string, t time.Time) (Shift, bool) {
	tr := s.Tier(tier)
	if tr == nil || !tr.hasRotation() {
		return Shift{}, false
	}
	active := -1
	for i := range s.Overrides {
		o := &s.Overrides[i]
		if _, ok := overrideUser(o, tier); !ok {
			continue
		}
		from, until := s.OverrideSpan(o)
		if !from.After(t) && until.After(t) {
			active = i
		}
	}
	if active < 0 {
		sh := regularBefore(s, tr, t)
		for i := range s.Overrides {
			o := &s.Overrides[i]
			if _, ok := overrideUser(o, tier); !ok {
				continue
			}
			of, ou := s.OverrideSpan(o)
			if !of.Before(ou) {
				continue
			}
			sh.From, sh.Until = clip(sh.From, sh.Until, t, of, ou)
		}
		return sh, true
	}
	o := &s.Overrides[active]
	user, _ := overrideUser(o, tier)
	from, until := s.OverrideSpan(o)
	for i := active + 1; i < len(s.Overrides); i++ {
		if _, ok := overrideUser(&s.Overrides[i], tier); !ok {
			continue
		}
		of, ou := s.OverrideSpan(&s.Overrides[i])
		if !of.Before(ou) {
			continue
		}
		from, until = clip(from, until, t, of, ou)
	}
	return Shift{
		Schedule:   s.Name,
		Tier:       tier,
		User:       user,
		From:       from,
		Until:      until,
		Override:   overrideReason(o),
		OverrideID: o.ID,
	}, true
}

package policy

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// rotationFields are the fields a tier's own rotation and a layer share;
// weeks points into the config, so that load can fill in the default shift
// length.
type rotationFields struct {
	start        Date
	weeks        *int
	days         int
	hours        int
	handoff      TimeOfDay
	members      []string
	changes      []RosterChange
	restrictions []Restriction
}

// tier checks a tier's own rotation (when it has one: it may have only
// layers) and its layers, then warns about gaps nothing covers.
func (v *validator) tier(tf string, s *Schedule, t *Tier) {
	own := len(t.Members) > 0 || !t.Start.IsZero() || t.ShiftWeeks != 0 || t.ShiftDays != 0 || t.ShiftHours != 0 ||
		t.HandoffTime.IsSet() || len(t.RosterChanges) > 0 || len(t.Restrictions) > 0
	before := len(v.problems)
	if own || len(t.Layers) == 0 {
		v.rotation(tf, s, rotationFields{t.Start, &t.ShiftWeeks, t.ShiftDays, t.ShiftHours, t.HandoffTime, t.Members, t.RosterChanges, t.Restrictions})
	}
	names := map[string]bool{}
	for k := range t.Layers {
		l := &t.Layers[k]
		lf := fmt.Sprintf("%s.layers[%d]", tf, k)
		if v.name(lf+".name", "name", l.Name, names) {
			lf = fmt.Sprintf("%s.layers[%s]", tf, l.Name)
		}
		v.rotation(lf, s, rotationFields{l.Start, &l.ShiftWeeks, l.ShiftDays, l.ShiftHours, l.HandoffTime, l.Members, l.RosterChanges, l.Restrictions})
	}
	if len(v.problems) == before {
		v.gaps(tf, s, t)
	}
}

// rotation checks one rotation: one shift length, a start on which its first
// shift can begin, members who exist, roster changes on shift boundaries in
// order, and restriction windows that make sense.
// The longest shift a rotation takes, in each unit: two years of weeks or
// days, a week of hours (longer shifts are counted in days). pagerd import
// holds imported rotations to the same limits.
const (
	MaxShiftWeeks = 104
	MaxShiftDays  = 728
	MaxShiftHours = 168
)

func (v *validator) rotation(f string, s *Schedule, r rotationFields) {
	set := 0
	for _, n := range []int{*r.weeks, r.days, r.hours} {
		if n != 0 {
			set++
		}
	}
	if set > 1 {
		v.errf(f, "set one of shift_weeks, shift_days and shift_hours")
	}
	switch {
	case *r.weeks < 0 || *r.weeks > MaxShiftWeeks:
		v.errf(f+".shift_weeks", "must be from 1 to %d (two years)", MaxShiftWeeks)
	case r.days < 0 || r.days > MaxShiftDays:
		v.errf(f+".shift_days", "must be from 1 to %d (two years)", MaxShiftDays)
	case r.hours < 0 || r.hours > MaxShiftHours:
		v.errf(f+".shift_hours", "must be from 1 to %d (a week; use shift_days for longer shifts)", MaxShiftHours)
	}
	if set == 0 {
		*r.weeks = 1
	}
	if r.handoff.IsSet() && r.handoff.Hour == 24 {
		v.errf(f+".handoff_time", "24:00 is not a time shifts can change; use 00:00")
	}
	if len(r.members) == 0 {
		v.errf(f+".members", "a tier needs at least one member (or layers)")
	}
	for k, m := range r.members {
		v.userRef(fmt.Sprintf("%s.members[%d]", f, k), m)
	}
	weekly := r.days == 0 && r.hours == 0
	switch {
	case r.start.IsZero():
		v.errf(f+".start", "start is required: the date of a handoff at which the first member begins")
	case weekly && s.Handoff.Weekday != nil && s.Handoff.Day() != r.start.Weekday(): // missing: said once, at handoff.weekday
		v.errf(f+".start", "%s is a %s, but handoffs are on %s (a weekly shift that changes on another day is shift_days: 7)",
			r.start, r.start.Weekday(), s.Handoff.Day())
	}
	for j := range r.restrictions {
		v.restriction(fmt.Sprintf("%s.restrictions[%d]", f, j), &r.restrictions[j])
	}
	if r.start.IsZero() || set > 1 {
		return
	}
	rot := s.rotation("", false, r.start, *r.weeks, r.days, r.hours, r.handoff, r.members, nil, nil)
	prev := rot.anchorDate()
	for j, c := range r.changes {
		cf := fmt.Sprintf("%s.roster_changes[%d]", f, j)
		if len(c.Members) == 0 {
			v.errf(cf+".members", "name the members from effective_from on")
		}
		for k, m := range c.Members {
			v.userRef(fmt.Sprintf("%s.members[%d]", cf, k), m)
		}
		if c.EffectiveFrom.IsZero() {
			v.errf(cf+".effective_from", "effective_from is required: the date the new members take over")
			continue
		}
		if dayNumber(c.EffectiveFrom) <= dayNumber(prev) {
			v.errf(cf+".effective_from", "%s must be after %s (the rotation's start, or the change before)", c.EffectiveFrom, prev)
			continue
		}
		prev = c.EffectiveFrom
		if k, ok := rot.changeShift(c); !ok {
			loc := s.Location()
			v.errf(cf+".effective_from", "%s at %s is not a shift boundary: shifts start %s and %s (%s)",
				c.EffectiveFrom, rot.handoff, rot.boundary(k).In(loc).Format(stampLayout), rot.boundary(k+1).In(loc).Format(stampLayout), loc)
		}
	}
}

// restriction checks a window: times of day on some days, or a span from
// one weekday and time to another, never empty.
func (v *validator) restriction(f string, rs *Restriction) {
	if !rs.Start.IsSet() || !rs.End.IsSet() {
		v.errf(f, "start and end are required (HH:MM in the schedule's time zone)")
		return
	}
	if rs.Start.Hour == 24 {
		v.errf(f+".start", "24:00 is the end of a day; start at 00:00")
	}
	if rs.StartDay != nil || rs.EndDay != nil {
		switch {
		case rs.StartDay == nil || rs.EndDay == nil:
			v.errf(f, "start_day and end_day go together (a weekly window, like friday 17:00 to monday 08:00)")
		case len(rs.Days) > 0:
			v.errf(f+".days", "days is for daily windows; a window from start_day to end_day is weekly")
		case *rs.StartDay == *rs.EndDay && rs.Start.Minutes() == rs.End.Minutes(): // to 24:00 the same day is a day (windowOn)
			v.errf(f, "the window is the whole week; leave the restriction out")
		}
		return
	}
	if rs.Start.Minutes() == rs.End.Minutes() {
		v.errf(f+".end", "end %s is start %s: the window is empty (a whole day is 00:00 to 24:00)", rs.End, rs.Start)
	}
}

// gaps warns when the tier has times nobody holds it, so escalation levels
// that page the tier page nobody then: from the load time until its first
// rotation starts; before all its rotations have begun, from the load time
// on (a tier whose own rotation is restricted, with a layer that fills the
// rest starting later); and, once all have begun, times of the week that
// none of them covers.
func (v *validator) gaps(tf string, s *Schedule, t *Tier) {
	rots := s.rotations(t)
	if len(rots) == 0 {
		return
	}
	loc := s.Location()
	// Once every layer has begun, what is covered repeats every week. The
	// tier's own rotation runs in both directions (its members take turns
	// before its start too), so only layers, which hold nothing before
	// their first shift, can leave the tier empty until they start: first
	// is when the earliest of them does, zero when the tier has its own
	// rotation, and begin when the last of them does.
	restricted, first, begin := false, time.Time{}, time.Time{}
	own, layers := false, false
	starts := make([]time.Time, 0, len(rots))
	earliest := rots[0].boundary(0)
	for i := range rots {
		restricted = restricted || rots[i].restricted()
		b := rots[i].boundary(0)
		earliest = minTime(earliest, b)
		if !rots[i].layer {
			own = true
			continue
		}
		if !layers {
			first, begin = b, b
		}
		layers = true
		first, begin = minTime(first, b), maxTime(begin, b)
		starts = append(starts, b)
	}
	if own {
		first = time.Time{}
		if !layers {
			begin = rots[0].boundary(0)
		}
	}
	stamp := func(x time.Time) string { return x.In(loc).Format("2006-01-02 15:04") }
	if !v.now.IsZero() && v.now.Before(first) {
		v.warnf(tf, "nobody holds the tier until %s (%s), when its first rotation starts, so levels that page it page nobody until then: start a rotation sooner, or page another tier until then",
			stamp(first), loc)
	}
	if layers {
		if gap := v.gapBefore(s, t, maxTime(first, v.now), begin, starts); gap != nil {
			v.warnf(tf, "nobody holds the tier from %s to %s (%s), before all its rotations have begun (the last on %s), so levels that page it page nobody then: start its layers with its own rotation, or add members of the tier's own",
				stamp(gap.From), stamp(gap.Until), loc, stamp(begin))
		}
	}
	if !restricted {
		return
	}
	gaps := weeklyGaps(s, t, begin)
	if len(gaps) == 0 {
		return
	}
	since := firstWeek(s, t, gaps[0], earliest)
	var open time.Duration
	for i, g := range gaps {
		if i > 0 {
			since = minTime(since, firstWeek(s, t, g, earliest))
		}
		open += wallSpan(g.From.In(loc), g.Until.In(loc))
	}
	sort.Slice(gaps, func(i, j int) bool { return weekMinute(gaps[i].From.In(loc)) < weekMinute(gaps[j].From.In(loc)) })
	v.warnf(tf, "nobody holds the tier %s of %s hours a week: %s (%s, first on %s), so levels that page it page nobody then: add a layer without restrictions, or members of the tier's own under its layers",
		hours(open), hours(7*24*time.Hour), gapList(gaps, loc), loc, since.In(loc).Format("2006-01-02"))
}

// gapsNamed is how many of a week's gaps a warning names before it counts
// the rest ("and N more"): one a day reads as a list, more as noise.
const gapsNamed = 7

// gapList names the week's gaps in order, "Mon 17:00–Tue 09:00, …", all of
// them up to gapsNamed and the first few and how many more beyond.
func gapList(gaps []Shift, loc *time.Location) string {
	when := func(x time.Time) string { return x.In(loc).Format("Mon 15:04") }
	named := gaps
	if len(gaps) > gapsNamed {
		named = gaps[:gapsNamed-1]
	}
	parts := make([]string, 0, len(named)+1)
	for _, g := range named {
		parts = append(parts, when(g.From)+"–"+when(g.Until))
	}
	if len(named) < len(gaps) {
		parts = append(parts, fmt.Sprintf("and %d more", len(gaps)-len(named)))
	}
	return strings.Join(parts, ", ")
}

// weeklyGaps is every span of one week, once all the tier's rotations
// have begun (at begin), that nobody holds the tier, each whole: the week
// starts where someone holds it, and what is covered repeats every week,
// so a gap that runs past the week's end is the one before its start.
// The week is one the clocks do not change in (steadyWeek): the hour they
// skip may be a gap every other week.
func weeklyGaps(s *Schedule, t *Tier, begin time.Time) []Shift {
	begin = steadyWeek(begin.In(s.Location()))
	w0 := begin
	for _, sh := range s.tierSpans(t, begin, begin.AddDate(0, 0, 8), false) {
		if sh.User != "" {
			w0 = sh.From
			break
		}
	}
	w0 = w0.In(s.Location())
	var gaps []Shift
	for _, sh := range s.tierSpans(t, w0, w0.AddDate(0, 0, 7), false) {
		switch {
		case sh.User != "":
		case len(gaps) > 0 && gaps[len(gaps)-1].Until.Equal(sh.From):
			gaps[len(gaps)-1].Until = sh.Until
		default:
			gaps = append(gaps, sh)
		}
	}
	return gaps
}

// steadyWeek is begin, or the first of the 52 weeks after it, at the same
// wall-clock time, from which the zone keeps one offset for 16 days (the
// week weeklyGaps reads starts up to 8 days after it) and since a day
// before: begun in the week the clocks skip Sunday's 02:00-03:00, a tier
// held all week but then showed no gap, and check-config said nothing of
// the hour nobody holds it every other Sunday of the year. Skipping an
// hour or repeating one never makes a gap that other weeks lack (a
// window's edge in either hour is the jump or its first pass, on both
// sides of it), so a steady week has every gap of the others. begin when
// the zone has no such week.
func steadyWeek(begin time.Time) time.Time {
	for w := 0; w <= 52; w++ {
		at := begin.AddDate(0, 0, 7*w)
		if oneOffset(at.Add(-24*time.Hour), at.AddDate(0, 0, 16)) {
			return at
		}
	}
	return begin
}

// wallSpan is the time from a to b on the wall clock of their zone, so a
// gap across a change of daylight saving time counts the hours it has on
// an ordinary week.
func wallSpan(a, b time.Time) time.Duration {
	wall := func(x time.Time) time.Time {
		return time.Date(x.Year(), x.Month(), x.Day(), x.Hour(), x.Minute(), x.Second(), 0, time.UTC)
	}
	return wall(b).Sub(wall(a))
}

// weekMinute is the minute of the week, from Monday 00:00, at which x is
// on its wall clock.
func weekMinute(x time.Time) int {
	return (int(x.Weekday())+6)%7*24*60 + x.Hour()*60 + x.Minute()
}

// hours writes d in hours, with a fraction only when it has one.
func hours(d time.Duration) string {
	return strconv.FormatFloat(d.Round(time.Minute).Hours(), 'f', -1, 64)
}

// firstWeek is when the weekly gap first happens, not before earliest
// (the first start of the tier's rotations): gap is one after all of
// them have begun, and fewer of them cover the weeks before, so it is
// looked for a week earlier, at the same time of the week, while nobody
// holds the tier then too.
//
// A week whose answer is the week after's, already known (nobody), is not
// looked at again: a tier whose own rotation began years before its last
// layer was looked at week by week back to then, each a lookup of who
// holds it at every span, for each of its gaps: 60 tiers begun ten years
// before took 3.6 s of CPU at every start, reload and check-config.
//
// A week in which the gap's wall-clock span does not happen (the hour the
// clocks skip) is passed over, not named: someone may hold the tier all
// that day. Each week is the gap's own wall clock k weeks back, not the
// week after's a week back, which the skipped hour moves (02:00 is 03:00
// there).
func firstWeek(s *Schedule, t *Tier, gap Shift, earliest time.Time) time.Time {
	loc := s.Location()
	from0, until0 := gap.From.In(loc), gap.Until.In(loc)
	first, until := from0, until0
	nobodyBefore := nobodyAWeekBefore(s, t)
	for k := 1; ; k++ {
		a, b := from0.AddDate(0, 0, -7*k), until0.AddDate(0, 0, -7*k)
		if a.Before(earliest) || !nobodyBefore(a, until) && !s.nobodyHolds(t, a, b) {
			return first
		}
		if a.Before(b) {
			first = a
		}
		until = b
	}
}

// nobodyAWeekBefore is whether nobody holds the tier from a to a week before
// end when nobody holds it from a week after a to end, without looking:
// the zone keeps one offset throughout (and a day either side: a window's
// edge in the hour the clocks repeat is its first pass, in the zone
// before), so each instant of the first week is the second's wall-clock
// time a week before. Restriction windows repeat every week of the wall
// clock, the layers begun then are fewer or the same, and every shift of
// a rotation is someone's, so whether anyone holds the tier at an instant
// is whether a begun rotation is in a window then, which holds a week
// later too. false for a tier with a rotation some shift of which nobody
// holds (which load refuses).
func nobodyAWeekBefore(s *Schedule, t *Tier) func(a, end time.Time) bool {
	for _, r := range s.rotations(t) {
		if !r.holdsSomeone() {
			return func(time.Time, time.Time) bool { return false }
		}
	}
	return func(a, end time.Time) bool { return oneOffset(a.Add(-24*time.Hour), end.Add(24*time.Hour)) }
}

// oneOffset reports whether the zone of a (its Location) keeps the one
// offset it has at a from a to b: no change of the clocks between them.
func oneOffset(a, b time.Time) bool {
	_, end := a.ZoneBounds()
	return end.IsZero() || !end.Before(b)
}

// nobodyHolds says whether nobody holds the tier from a to b by its
// rotations (overrides aside).
func (s *Schedule) nobodyHolds(t *Tier, a, b time.Time) bool {
	for _, sh := range s.tierSpans(t, a, b, false) {
		if sh.User != "" {
			return false
		}
	}
	return true
}

// gapBefore is the first time in [from, until) that nobody holds the tier,
// or nil. What the tier's rotations cover changes only when one of them
// starts and repeats every week in between, so each stretch between starts
// is scanned for at most 15 days.
func (v *validator) gapBefore(s *Schedule, t *Tier, from, until time.Time, starts []time.Time) *Shift {
	if !from.Before(until) {
		return nil
	}
	cuts := []time.Time{from, until}
	for _, st := range starts {
		if st.After(from) && st.Before(until) {
			cuts = append(cuts, st)
		}
	}
	sort.Slice(cuts, func(i, j int) bool { return cuts[i].Before(cuts[j]) })
	for i := 0; i+1 < len(cuts); i++ {
		a, b := cuts[i], cuts[i+1]
		if !a.Before(b) {
			continue
		}
		for _, sh := range s.tierSpans(t, a, minTime(b, a.AddDate(0, 0, 15)), false) {
			if sh.User == "" {
				return &sh
			}
		}
	}
	return nil
}

// fairness checks the schedule's fairness rules: tiers it has, and one
// limit each.
func (v *validator) fairness(f string, s *Schedule, tiers map[string]bool) {
	for i := range s.Fairness {
		r := &s.Fairness[i]
		rf := fmt.Sprintf("%s.fairness[%d]", f, i)
		for k, t := range r.Tiers {
			if !tiers[t] {
				v.errf(fmt.Sprintf("%s.tiers[%d]", rf, k), "schedule %q has no tier %q", s.Name, t)
			}
		}
		switch {
		case r.MaxConsecutiveWeeks != 0 && r.NoBackToBack:
			v.errf(rf, "set max_consecutive_weeks or no_back_to_back, not both (no_back_to_back is max_consecutive_weeks: 1)")
		case r.MaxConsecutiveWeeks == 0 && !r.NoBackToBack:
			v.errf(rf, "set max_consecutive_weeks (like 2) or no_back_to_back: true")
		case r.MaxConsecutiveWeeks < 0 || r.MaxConsecutiveWeeks > 52:
			v.errf(rf+".max_consecutive_weeks", "must be from 1 to 52")
		}
	}
}

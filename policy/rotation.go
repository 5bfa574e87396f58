package policy

import (
	"sort"
	"time"
)

// Rotations are laid out on the schedule's wall clock, not on elapsed time:
// shift k of a rotation starts at its anchor (the Start date at its handoff
// time) plus k shift lengths, counted in wall-clock minutes, and each such
// wall-clock boundary becomes an instant in the schedule's zone. So a weekly
// rotation hands off at Monday 08:00 local before and after a DST change, a
// daily one at 09:00, and 12-hour shifts at 08:00 and 20:00; the shift that
// holds the change is an hour shorter or longer. A boundary that falls in
// the hour the clocks skip moves to the first instant after the jump (see
// wallClock), so a one-hour shift inside that hour is empty.

const (
	minutesPerDay  = 24 * 60
	minutesPerWeek = 7 * minutesPerDay
)

// farPast and farFuture stand for "forever" in coverage spans; they never
// reach output, because every span is cut by a finite shift or window.
var (
	farPast   = time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC)
	farFuture = time.Date(9999, time.December, 31, 0, 0, 0, 0, time.UTC)
)

// rotation is one rotation of a tier, its own or one of its layers, seen
// the same way; loc is the schedule's zone.
type rotation struct {
	name         string // the layer's name; "" for the tier's own rotation
	layer        bool   // a layer holds nothing before its first shift
	start        Date
	weeks        int
	days         int
	hours        int
	handoff      TimeOfDay
	members      []string
	changes      []RosterChange
	restrictions []Restriction
	loc          *time.Location
	handoffDay   time.Weekday
}

// rotations are the tier's rotations from the bottom up: its own (when it
// has members), then its layers in the order listed.
func (s *Schedule) rotations(t *Tier) []rotation {
	out := make([]rotation, 0, 1+len(t.Layers))
	if len(t.Members) > 0 {
		out = append(out, s.tierRotation(t, -1))
	}
	for i := range t.Layers {
		out = append(out, s.tierRotation(t, i))
	}
	return out
}

// tierRotation is the tier's layer i, or its own rotation when i is -1:
// one of rotations without the slice, for a lookup that walks them (the
// tier's holder, on every page) and keeps none.
func (s *Schedule) tierRotation(t *Tier, i int) rotation {
	if i < 0 {
		return s.rotation("", false, t.Start, t.ShiftWeeks, t.ShiftDays, t.ShiftHours, t.HandoffTime, t.Members, t.RosterChanges, t.Restrictions)
	}
	l := &t.Layers[i]
	return s.rotation(l.Name, true, l.Start, l.ShiftWeeks, l.ShiftDays, l.ShiftHours, l.HandoffTime, l.Members, l.RosterChanges, l.Restrictions)
}

func (s *Schedule) rotation(name string, layer bool, start Date, weeks, days, hours int, handoff TimeOfDay, members []string, changes []RosterChange, restrictions []Restriction) rotation {
	if !handoff.IsSet() {
		handoff = s.Handoff.Time
	}
	return rotation{name: name, layer: layer, start: start, weeks: weeks, days: days, hours: hours, handoff: handoff,
		members: members, changes: changes, restrictions: restrictions, loc: s.Location(), handoffDay: s.Handoff.Day()}
}

// hasRotation reports whether anyone can hold the tier: it has members of
// its own or layers.
func (t *Tier) hasRotation() bool { return len(t.Members) > 0 || len(t.Layers) > 0 }

// length is the shift length in wall-clock minutes (one week when no
// length is set).
func (r *rotation) length() int64 {
	switch {
	case r.hours > 0:
		return int64(r.hours) * 60
	case r.days > 0:
		return int64(r.days) * minutesPerDay
	case r.weeks > 0:
		return int64(r.weeks) * minutesPerWeek
	}
	return minutesPerWeek
}

// anchorDate is the date of shift 0. Weekly rotations start at the first
// handoff weekday on or after Start (load refuses any other Start); daily
// and hourly ones on Start itself. A rotation without a Start (which load
// refuses) is anchored in 1970.
func (r *rotation) anchorDate() Date {
	start := r.start
	if start.IsZero() {
		start = Date{1970, time.January, 1}
	}
	if r.hours > 0 || r.days > 0 {
		return start
	}
	return start.AddDays(floorMod(int(r.handoffDay)-int(start.Weekday()), 7))
}

// anchor is the wall-clock minute shift 0 starts.
func (r *rotation) anchor() int64 {
	return int64(dayNumber(r.anchorDate()))*minutesPerDay + int64(r.handoff.Minutes())
}

// civilMinute is the wall-clock minute of t in loc, counted from
// 1970-01-01 00:00 on that wall clock: t's Unix seconds moved by the
// zone's offset at t, in whole minutes. One look-up of the zone, where
// reading the date, hour and minute off t in loc took three and a
// calendar conversion.
func civilMinute(t time.Time, loc *time.Location) int64 {
	_, off := t.In(loc).Zone()
	return floorDiv64(t.Unix()+int64(off), 60)
}

// dateOfDay is the date n days after 1970-01-01.
func dateOfDay(n int64) Date { return DateOf(time.Unix(n*86400, 0).UTC()) }

// civilInstant is the instant the wall clock in loc shows minute c.
func civilInstant(c int64, loc *time.Location) time.Time {
	d := floorDiv64(c, minutesPerDay)
	m := int(c - d*minutesPerDay)
	return wallClock(dateOfDay(d), TimeOfDay{Hour: m / 60, Minute: m % 60, set: true}, loc)
}

func floorDiv64(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod64(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// boundary is the instant shift k starts.
func (r *rotation) boundary(k int64) time.Time {
	return civilInstant(r.anchor()+k*r.length(), r.loc)
}

// shiftAt is the index of the shift holding t: boundary(k) <= t <
// boundary(k+1). The wall clock repeats an hour when clocks go back, so the
// index read off it is checked against the instants and moved if needed.
func (r *rotation) shiftAt(t time.Time) int64 {
	k, _, _ := r.shiftSpan(t)
	return k
}

// shiftSpan is shiftAt with the shift's bounds, boundary(k) and
// boundary(k+1), each made once from one anchor: the lookup of who holds a
// tier on every page wants all three.
func (r *rotation) shiftSpan(t time.Time) (k int64, from, until time.Time) {
	anchor, length := r.anchor(), r.length()
	k = floorDiv64(civilMinute(t, r.loc)-anchor, length)
	from = civilInstant(anchor+k*length, r.loc)
	for from.After(t) {
		k--
		from = civilInstant(anchor+k*length, r.loc)
	}
	until = civilInstant(anchor+(k+1)*length, r.loc)
	for !until.After(t) {
		k++
		from, until = until, civilInstant(anchor+(k+1)*length, r.loc)
	}
	return k, from, until
}

// changeShift is the index of the shift a roster change starts with, and
// whether its date (at the handoff time) is a shift boundary at all.
func (r *rotation) changeShift(c RosterChange) (int64, bool) {
	m := int64(dayNumber(c.EffectiveFrom))*minutesPerDay + int64(r.handoff.Minutes()) - r.anchor()
	return floorDiv64(m, r.length()), floorMod64(m, r.length()) == 0
}

// holder is who holds shift k, roster changes applied. Before the first
// change the members take turns from the anchor (backwards too); each change
// goes on from the member whose turn its first shift would have been, or
// when they left, the next of the old order still on the new roster.
func (r *rotation) holder(k int64) string {
	members, base, off := r.members, int64(0), int64(0)
	if len(members) == 0 {
		return ""
	}
	for _, c := range r.changes {
		ck, _ := r.changeShift(c)
		if ck > k || len(c.Members) == 0 {
			break
		}
		due := floorMod64(ck-base+off, int64(len(members)))
		off = int64(continueFrom(members, int(due), c.Members))
		members, base = c.Members, ck
	}
	return members[floorMod64(k-base+off, int64(len(members)))]
}

// continueFrom is the index in next of old[due], or of the first member
// after it in old's order who is in next; 0 when nobody stays.
func continueFrom(old []string, due int, next []string) int {
	for j := range old {
		u := old[(due+j)%len(old)]
		for i, n := range next {
			if n == u {
				return i
			}
		}
	}
	return 0
}

// windowsNear are the rotation's restriction windows that start on the
// dates from 8 days before to 8 days after wall-clock minute c, merged, as
// wall-clock minute spans. Every window is shorter than a week and repeats
// weekly, so the window or gap around c lies within them. always is true
// when the windows cover a whole week, which means all the time.
func (r *rotation) windowsNear(c int64) (spans [][2]int64, always bool) {
	day := floorDiv64(c, minutesPerDay)
	return r.windowsOnDays(day-8, day+8)
}

// windowsOnDays are the rotation's restriction windows that start on the
// days first to last (days since 1970-01-01 on the wall clock), merged, as
// wall-clock minute spans; always is true when they cover a whole week.
func (r *rotation) windowsOnDays(first, last int64) (spans [][2]int64, always bool) {
	for d := first; d <= last; d++ {
		wd := dateOfDay(d).Weekday()
		base := d * minutesPerDay
		for _, rs := range r.restrictions {
			if span, ok := rs.windowOn(wd); ok {
				spans = append(spans, [2]int64{base + span[0], base + span[1]})
			}
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	merged := spans[:0]
	for _, sp := range spans {
		if n := len(merged); n > 0 && sp[0] <= merged[n-1][1] {
			if sp[1] > merged[n-1][1] {
				merged[n-1][1] = sp[1]
			}
			continue
		}
		merged = append(merged, sp)
	}
	for _, sp := range merged {
		if sp[1]-sp[0] >= minutesPerWeek {
			return nil, true
		}
	}
	return merged, false
}

// windowOn is the window a restriction opens on a day of weekday wd, in
// minutes from that day's midnight (the end may be on a later day), if it
// opens on that day.
func (rs *Restriction) windowOn(wd time.Weekday) ([2]int64, bool) {
	start, end := int64(rs.Start.Minutes()), int64(rs.End.Minutes())
	if rs.StartDay != nil {
		if time.Weekday(*rs.StartDay) != wd || rs.EndDay == nil {
			return [2]int64{}, false
		}
		end += int64(floorMod(int(*rs.EndDay)-int(*rs.StartDay), 7)) * minutesPerDay
		if end <= start {
			end += minutesPerWeek
		}
		return [2]int64{start, end}, true
	}
	on := len(rs.Days) == 0
	for _, d := range rs.Days {
		on = on || time.Weekday(d) == wd
	}
	if !on {
		return [2]int64{}, false
	}
	if end <= start {
		end += minutesPerDay
	}
	return [2]int64{start, end}, true
}

// restricted reports whether the rotation holds its tier only inside
// windows.
func (r *rotation) restricted() bool { return len(r.restrictions) > 0 }

// window is whether t is inside one of the rotation's restriction windows,
// and the window or the gap between windows that holds t. A rotation
// without restrictions is always inside.
func (r *rotation) window(t time.Time) (in bool, from, until time.Time) {
	if !r.restricted() {
		return true, farPast, farFuture
	}
	spans, always := r.windowsNear(civilMinute(t, r.loc))
	if always {
		return true, farPast, farFuture
	}
	from, until = farPast, farFuture
	for _, sp := range spans {
		a, b := civilInstant(sp[0], r.loc), civilInstant(sp[1], r.loc)
		if !a.Before(b) {
			continue // a window inside the hour the clocks skip
		}
		switch {
		case !b.After(t):
			from = b
		case !a.After(t):
			return true, a, b
		default:
			return false, from, a
		}
	}
	return false, from, until
}

// coverage is whether the rotation holds its tier at t, and the span around
// t during which that stays so (a window, or a gap). A layer holds nothing
// before its first shift; the tier's own rotation runs back forever.
func (r *rotation) coverage(t time.Time) (covered bool, from, until time.Time) {
	covered, from, until = r.window(t)
	if !r.layer {
		return covered, from, until
	}
	first := r.boundary(0)
	if t.Before(first) {
		if in, _, next := r.window(first); !in {
			return false, farPast, next // the first window after the first shift starts
		}
		return false, farPast, first
	}
	if from.Before(first) {
		if covered {
			from = first
		} else {
			from = farPast
		}
	}
	return covered, from, until
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// regular is who holds the tier at t from its rotations, overrides aside:
// the last-listed layer that covers t, else the one before it, down to the
// tier's own rotation. From and Until bound the span around t in which
// that stays so: the holder's shift, cut to its restriction window and to
// the gaps of the layers above it. User is empty when nothing covers t.
func (s *Schedule) regular(tier *Tier, t time.Time) Shift {
	from, until := farPast, farFuture
	for i := len(tier.Layers) - 1; i >= -1; i-- {
		if i < 0 && len(tier.Members) == 0 {
			break // no rotation of its own
		}
		r := s.tierRotation(tier, i)
		covered, cf, cu := r.coverage(t)
		from, until = maxTime(from, cf), minTime(until, cu)
		if !covered {
			continue
		}
		k, kf, ku := r.shiftSpan(t)
		return Shift{
			Schedule: s.Name,
			Tier:     tier.Name,
			Layer:    r.name,
			User:     r.holder(k),
			From:     maxTime(from, kf),
			Until:    minTime(until, ku),
		}
	}
	return Shift{Schedule: s.Name, Tier: tier.Name, From: from, Until: until}
}

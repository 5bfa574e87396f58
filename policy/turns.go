package policy

import (
	"slices"
	"strings"
	"time"
)

// Turn is one person's part in a tier over a span of time (a handoff
// week), by its rotation and layers, overrides aside: a follow-the-sun
// tier has one per region, a business-hours tier one for the hours it is
// held, a daily rotation one per person of the week.
type Turn struct {
	User string
	// Layer is the layer the turn is in, "" for the tier's own rotation.
	Layer string
	// Hours says when they hold the tier, in words from the config, on
	// the schedule's clock: the layer's name and its restriction windows
	// ("apac: daily 00:00–08:00 UTC"), "other hours" for a rotation under
	// layers that leave it the rest, or, when the rotation changes hands
	// within the span, their own shifts in it ("office: Mon, Wed, Fri
	// 09:00–17:00 UTC", "Mon 08:00–Tue 08:00 UTC").
	Hours string
	// Shifts are their spans in [a, b), in order, each cut to it.
	Shifts []Shift
}

// Turns lists who holds the tier from a to b by its rotation and layers,
// overrides aside, one Turn per person and layer in the order their first
// shifts come; the spans nobody holds are left out. The spans are the
// ones `pagerd schedule` and the calendar feeds list (tierSpans). A tier
// that one person holds all the span in one shift (a weekly tier over its
// week) has one Turn of one shift.
func (s *Schedule) Turns(tier string, a, b time.Time) []Turn {
	t := s.Tier(tier)
	if t == nil {
		return nil
	}
	spans := s.tierSpans(t, a, b, false)
	var out []Turn
	for _, sh := range spans {
		if sh.User == "" {
			continue
		}
		i := slices.IndexFunc(out, func(tu Turn) bool { return tu.User == sh.User && tu.Layer == sh.Layer })
		if i < 0 {
			out = append(out, Turn{User: sh.User, Layer: sh.Layer})
			i = len(out) - 1
		}
		if n := len(out[i].Shifts); n > 0 && out[i].Shifts[n-1].Until.Equal(sh.From) {
			out[i].Shifts[n-1].Until = sh.Until // one shift, cut where a layer above left a gap
			continue
		}
		out[i].Shifts = append(out[i].Shifts, sh)
	}
	for i := range out {
		out[i].Hours = s.turnHours(t, &out[i], spans, a)
	}
	return out
}

// turnHours words when a turn holds the tier. The rotation's own hours
// from the config say it when the turn is the rotation's only one in the
// span (its restriction windows, when no layer above takes some of them,
// or "other hours" under layers that hold the rest); otherwise, and for a
// layer that begins within the span, the turn's own shifts do.
func (s *Schedule) turnHours(t *Tier, tu *Turn, spans []Shift, a time.Time) string {
	var r *rotation
	rots := s.rotations(t)
	above := false  // a later-listed layer holds part of the span
	shaded := false // in the rotation's own hours
	for i := range rots {
		if rots[i].layer == (tu.Layer != "") && rots[i].name == tu.Layer {
			r = &rots[i]
			for _, sh := range spans {
				if sh.User != "" && slices.ContainsFunc(rots[i+1:], func(o rotation) bool { return o.layer && o.name == sh.Layer }) {
					above = true
					shaded = shaded || r.holdsWithin(sh.From, sh.Until)
				}
			}
			break
		}
	}
	prefix := ""
	if tu.Layer != "" {
		prefix = tu.Layer + ": "
	}
	zone := " " + s.Location().String()
	alone := !slices.ContainsFunc(spans, func(sh Shift) bool { return sh.Layer == tu.Layer && sh.User != "" && sh.User != tu.User })
	if r != nil && alone && !(r.layer && r.boundary(0).After(a)) {
		switch {
		case r.restricted() && !shaded:
			return prefix + restrictionHours(r.restrictions) + zone
		case above && !r.restricted():
			return prefix + "other hours"
		}
	}
	return prefix + shiftHours(tu.Shifts, s.Location()) + zone
}

// holdsWithin says whether the rotation, layers above aside, holds its
// tier at some time in [from, until): whether a layer above that holds
// that span takes some of its hours.
func (r *rotation) holdsWithin(from, until time.Time) bool {
	for t := from; t.Before(until); {
		covered, _, next := r.coverage(t)
		if covered {
			return true
		}
		if !next.After(t) {
			return false
		}
		t = next
	}
	return false
}

// restrictionHours words a rotation's restriction windows as the config
// gives them: "Mon–Fri 09:00–17:00", "daily 00:00–08:00", "Fri 17:00–Mon
// 08:00", several joined by "and".
func restrictionHours(rs []Restriction) string {
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		if r.StartDay != nil && r.EndDay != nil {
			parts = append(parts, shortDay(time.Weekday(*r.StartDay))+" "+r.Start.String()+"–"+shortDay(time.Weekday(*r.EndDay))+" "+r.End.String())
			continue
		}
		var days []time.Weekday
		for _, d := range r.Days {
			if !slices.Contains(days, time.Weekday(d)) {
				days = append(days, time.Weekday(d))
			}
		}
		// Monday first, as a week is read.
		slices.SortFunc(days, func(x, y time.Weekday) int { return (int(x)+6)%7 - (int(y)+6)%7 })
		parts = append(parts, dayList(days)+" "+r.Start.String()+"–"+r.End.String())
	}
	return strings.Join(parts, " and ")
}

// shiftHours words a turn's shifts on the schedule's clock: those under a
// day on it that start and end at the same times grouped by their days ("Mon,
// Wed, Fri 09:00–17:00", "Tue–Sun 00:00–08:00"; an end at midnight is
// 24:00), longer ones by their ends ("Mon 08:00–Tue 08:00", "Mon
// 09:00–next Mon 08:00").
func shiftHours(shifts []Shift, loc *time.Location) string {
	type group struct {
		clock string
		days  []time.Weekday
	}
	var groups []*group
	var parts []string
	clock := func(t time.Time) string { return t.Format("15:04") }
	for _, sh := range shifts {
		from, until := sh.From.In(loc), sh.Until.In(loc)
		// A day or more on the clock, not in hours: the night the clocks
		// skip an hour, a daily turn from Saturday 08:00 to Sunday 08:00
		// is 23 hours, and worded under a day it read "Sat 08:00–08:00",
		// one from 02:30 to Sunday 03:00 "Sat 02:30–03:00".
		if civilMinute(until, loc)-civilMinute(from, loc) >= minutesPerDay {
			end := until.Format("Mon 15:04")
			if until.Weekday() == from.Weekday() {
				end = "next " + end
			}
			parts = append(parts, from.Format("Mon 15:04")+"–"+end)
			groups = append(groups, nil) // keeps the parts in time order
			continue
		}
		end := clock(until)
		if end == "00:00" {
			end = "24:00"
		}
		c := clock(from) + "–" + end
		i := slices.IndexFunc(groups, func(g *group) bool { return g != nil && g.clock == c })
		if i < 0 {
			groups = append(groups, &group{clock: c})
			parts = append(parts, "")
			i = len(groups) - 1
		}
		if !slices.Contains(groups[i].days, from.Weekday()) {
			groups[i].days = append(groups[i].days, from.Weekday())
		}
	}
	for i, g := range groups {
		if g != nil {
			parts[i] = dayList(g.days) + " " + g.clock
		}
	}
	return strings.Join(parts, " and ")
}

// dayList words days in the order given, runs of three or more that follow
// each other as a range: "Mon–Fri", "Sat, Sun", "Mon, Wed, Fri"; every day
// of the week, or none (a window every day), is "daily".
func dayList(days []time.Weekday) string {
	if len(days) == 0 || len(days) == 7 {
		return "daily"
	}
	var parts []string
	for i := 0; i < len(days); {
		j := i
		for j+1 < len(days) && days[j+1] == (days[j]+1)%7 {
			j++
		}
		switch {
		case j-i >= 2:
			parts = append(parts, shortDay(days[i])+"–"+shortDay(days[j]))
		case j > i:
			parts = append(parts, shortDay(days[i]), shortDay(days[j]))
		default:
			parts = append(parts, shortDay(days[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// shortDay is a weekday's three letters: "Mon".
func shortDay(d time.Weekday) string { return d.String()[:3] }

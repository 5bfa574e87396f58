package importer

import (
	"fmt"
	"strings"
	"time"
)

// How a rotation becomes pagerd tiers. pagerd's schedule model today is
// weekly: every tier of a schedule hands off on one weekday at one
// wall-clock time, and each member holds a tier for a whole number of weeks.
// One function per rotation shape says whether a rotation fits and how;
// shapes pagerd cannot express yet say so, and are where the mapping goes
// once pagerd has daily, hourly and time-restricted rotations.

// handoffKey is a handoff weekday and wall-clock time: the rotations that
// share one can be tiers of one pagerd schedule.
type handoffKey struct {
	weekday time.Weekday
	hour    int
	minute  int
}

func (h handoffKey) String() string {
	return fmt.Sprintf("%s %02d:%02d", h.weekday.String()[:3], h.hour, h.minute)
}

// tierShape is where a rotation goes: its handoff, the date of the handoff
// at which the first group begins, and how many weeks each group holds it.
type tierShape struct {
	handoff handoffKey
	start   time.Time // local midnight of the first handoff's date
	weeks   int
}

// shapeError is why a rotation cannot become tiers: not (NotMapped) or not
// yet (NotYet).
type shapeError struct {
	kind   IssueKind
	reason string
}

func notMapped(format string, args ...any) *shapeError {
	return &shapeError{NotMapped, fmt.Sprintf(format, args...)}
}

func notYet(format string, args ...any) *shapeError {
	return &shapeError{NotYet, fmt.Sprintf(format, args...)}
}

// rotationShape dispatches on the rotation's shape.
func rotationShape(r *rotation, loc *time.Location) (tierShape, *shapeError) {
	switch {
	case r.unmappable != "":
		return tierShape{}, notMapped("%s", r.unmappable)
	case r.restriction != "":
		return restrictedShape(r)
	case len(distinctGroups(r.groups)) == 1:
		// The same people every turn: the turn length does not matter.
		return weeklyShape(r, loc, 1)
	}
	switch r.unit {
	case "week":
		return weeklyShape(r, loc, r.length)
	case "day":
		return dailyShape(r, loc)
	case "hour":
		return hourlyShape(r, loc)
	}
	return tierShape{}, notMapped("turns of %d %s: pagerd rotates whole weeks", r.length, r.unit)
}

// weeklyShape is a rotation of turns of whole weeks: one tier, handing off
// at the weekday and time its start shows in the schedule's zone.
func weeklyShape(r *rotation, loc *time.Location, weeks int) (tierShape, *shapeError) {
	if weeks < 1 || weeks > 104 {
		return tierShape{}, notMapped("turns of %d weeks: pagerd shifts are 1 to 104 weeks", weeks)
	}
	local := r.start.In(loc)
	if local.Second() != 0 || local.Nanosecond() != 0 {
		return tierShape{}, notMapped("hands off at %s, not on a whole minute", local.Format("15:04:05"))
	}
	return tierShape{
		handoff: handoffKey{local.Weekday(), local.Hour(), local.Minute()},
		start:   time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc),
		weeks:   weeks,
	}, nil
}

// dailyShape is turns of whole days. Seven days (or any multiple) is a
// weekly rotation that keeps its wall-clock handoff; anything else needs
// pagerd's N-day rotations.
func dailyShape(r *rotation, loc *time.Location) (tierShape, *shapeError) {
	if r.length > 0 && r.length%7 == 0 {
		return weeklyShape(r, loc, r.length/7)
	}
	return tierShape{}, notYet("turns of %d day(s): pagerd's schedules rotate whole weeks today; daily and N-day rotations are on their way", r.length)
}

// hourlyShape is turns of hours, which need pagerd's hourly rotations.
func hourlyShape(r *rotation, _ *time.Location) (tierShape, *shapeError) {
	return tierShape{}, notYet("turns of %d hour(s): pagerd's schedules rotate whole weeks today; hourly rotations are on their way", r.length)
}

// restrictedShape is a rotation on call only part of the time, which needs
// pagerd's time-of-day and weekday restrictions.
func restrictedShape(r *rotation) (tierShape, *shapeError) {
	return tierShape{}, notYet("on call only %s: pagerd cannot restrict a rotation to hours or weekdays yet (on its way); import it then, or cover those hours with a rotation of its own", r.restriction)
}

// distinctGroups returns the different groups of a rotation (as sorted,
// joined keys).
func distinctGroups(groups [][]string) map[string]bool {
	out := map[string]bool{}
	for _, g := range groups {
		out[strings.Join(sortedCopy(g), "\x00")] = true
	}
	return out
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j] < c[j-1]; j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
	return c
}

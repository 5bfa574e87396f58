package importer

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// How a rotation becomes a pagerd rotation. pagerd lays every rotation out
// on the schedule's wall clock: shift k starts at the first shift's
// wall-clock time plus k shift lengths of whole weeks, days or hours, and a
// rotation may be on call only inside windows of the week. The vendors'
// rotations are read the same way (turns counted on the schedule's wall
// clock, restrictions that mask the turns without moving them), so a
// rotation maps when its turn is a whole number of hours within pagerd's
// limits and its restriction is a set of weekly windows. Weekly turns hand
// off together with the other weekly tiers of their pagerd schedule; daily
// and hourly ones carry their own handoff time.

// handoffKey is a handoff weekday and wall-clock time: the weekly
// rotations that share one can be tiers of one pagerd schedule.
type handoffKey struct {
	weekday time.Weekday
	hour    int
	minute  int
}

func (h handoffKey) String() string {
	return fmt.Sprintf("%s %02d:%02d", h.weekday.String()[:3], h.hour, h.minute)
}

// tierShape is what a rotation becomes: its handoff (the weekday matters
// only for weekly turns), the date of the handoff at which the first group
// begins, the turn length (one of weeks, days and hours), and the windows
// it is on call in (always when none).
type tierShape struct {
	handoff handoffKey
	start   time.Time // the first instant of the first handoff's date (policy.Date.In)
	weeks   int
	days    int
	hours   int
	windows []window
}

// weekly reports whether the shape turns in whole weeks on its handoff
// weekday.
func (sh tierShape) weekly() bool { return sh.weeks > 0 }

// shapeError is why a rotation cannot become a pagerd rotation. It has no
// kind of report issue: a rotation that has one is left out, which the
// report always lists as not imported (NotMapped); a rotation imported with
// a difference has a shape, not an error.
type shapeError struct {
	reason string
}

func notMapped(format string, args ...any) *shapeError {
	return &shapeError{fmt.Sprintf(format, args...)}
}

// pagerd's limits on a shift's length.
const (
	maxShiftWeeks = policy.MaxShiftWeeks
	maxShiftDays  = policy.MaxShiftDays
	maxShiftHours = policy.MaxShiftHours
)

// rotationShape dispatches on the rotation's turn length, then adds its
// restriction windows.
func rotationShape(r *rotation, loc *time.Location) (tierShape, *shapeError) {
	var (
		sh  tierShape
		err *shapeError
	)
	switch {
	case r.unmappable != "":
		return tierShape{}, notMapped("%s", r.unmappable)
	case r.restriction != "" && len(r.windows) == 0:
		return tierShape{}, notMapped("on call only %s, which is not a set of windows of the week pagerd can restrict a rotation to", r.restriction)
	case len(distinctGroups(r.groups)) == 1:
		// The same people every turn: the turn length does not matter.
		sh, err = weeklyShape(r, loc, 1)
	case r.unit == "week":
		sh, err = weeklyShape(r, loc, r.length)
	case r.unit == "day":
		sh, err = dailyShape(r, loc, r.length)
	case r.unit == "hour":
		sh, err = hourlyShape(r, loc)
	default:
		return tierShape{}, notMapped("turns of %d %s: pagerd's shifts are whole weeks, days or hours", r.length, r.unit)
	}
	if err != nil {
		return tierShape{}, err
	}
	sh.windows = r.windows
	return sh, nil
}

// weeklyShape is a rotation of turns of whole weeks: one tier, handing off
// at the weekday and time its start shows in the schedule's zone.
func weeklyShape(r *rotation, loc *time.Location, weeks int) (tierShape, *shapeError) {
	if weeks < 1 || weeks > maxShiftWeeks {
		return tierShape{}, notMapped("turns of %d weeks: pagerd shifts are 1 to %d weeks", weeks, maxShiftWeeks)
	}
	sh, err := anchored(r, loc)
	sh.weeks = weeks
	return sh, err
}

// dailyShape is turns of whole days. Seven days (or any multiple) is a
// weekly rotation that keeps its wall-clock handoff; any other number is
// pagerd's N-day shift.
func dailyShape(r *rotation, loc *time.Location, days int) (tierShape, *shapeError) {
	if days > 0 && days%7 == 0 {
		return weeklyShape(r, loc, days/7)
	}
	if days < 1 || days > maxShiftDays {
		return tierShape{}, notMapped("turns of %d days: pagerd shifts are 1 to %d days", days, maxShiftDays)
	}
	sh, err := anchored(r, loc)
	sh.days = days
	return sh, err
}

// hourlyShape is turns of whole hours: whole days when they are, else
// pagerd's hourly shift (up to a week).
func hourlyShape(r *rotation, loc *time.Location) (tierShape, *shapeError) {
	h := r.length
	if h > 0 && h%24 == 0 {
		return dailyShape(r, loc, h/24)
	}
	if h < 1 || h > maxShiftHours {
		return tierShape{}, notMapped("turns of %d hours: pagerd's hourly shifts are 1 to %d hours, and longer ones must be whole days", h, maxShiftHours)
	}
	sh, err := anchored(r, loc)
	sh.hours = h
	return sh, err
}

// anchored is where the rotation's first turn begins on the schedule's wall
// clock, which must be a whole minute.
func anchored(r *rotation, loc *time.Location) (tierShape, *shapeError) {
	local := r.start.In(loc)
	if local.Second() != 0 || local.Nanosecond() != 0 {
		return tierShape{}, notMapped("hands off at %s, not on a whole minute", local.Format("15:04:05"))
	}
	return tierShape{
		handoff: handoffKey{local.Weekday(), local.Hour(), local.Minute()},
		start:   policy.Date{Year: local.Year(), Month: local.Month(), Day: local.Day()}.In(loc),
	}, nil
}

// describeWindows says in words when a restricted rotation is on call.
func describeWindows(ws []window) string {
	var parts []string
	for _, w := range ws {
		if w.weekly {
			parts = append(parts, fmt.Sprintf("%s %s to %s %s", w.startDay.String()[:3], clock(w.start), w.endDay.String()[:3], clock(w.end)))
			continue
		}
		days := "every day"
		if len(w.days) > 0 {
			var ds []string
			for _, d := range w.days {
				ds = append(ds, d.String()[:3])
			}
			days = strings.Join(ds, ",")
		}
		parts = append(parts, fmt.Sprintf("%s %s-%s", days, clock(w.start), clock(w.end)))
	}
	return strings.Join(parts, ", ")
}

// clock is a minute of the day as HH:MM (1440 is 24:00).
func clock(m int) string { return hhmm(m/60, m%60) }

// distinctGroups returns the different groups of a rotation (as sorted,
// joined keys).
func distinctGroups(groups [][]string) map[string]bool {
	out := map[string]bool{}
	for _, g := range groups {
		out[strings.Join(slices.Sorted(slices.Values(g)), "\x00")] = true
	}
	return out
}

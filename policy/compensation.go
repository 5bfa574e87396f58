package policy

import (
	"fmt"
	"math/bits"
	"slices"
	"time"
)

// Pay is what one responder earns for one incident.
type Pay struct {
	User     string        `json:"user"`
	Billable time.Duration `json:"-"`
	// BillableMinutes is Billable for JSON readers.
	BillableMinutes int `json:"billable_minutes"`
	// WeekendMinutes and AfterHoursMinutes split BillableMinutes between
	// the two hourly rates payroll applies (AION-R's "weekend incident
	// pay" and "additional incident pay (after hours)"); they add up to
	// it exactly. See splitBillable.
	WeekendMinutes    int      `json:"weekend_minutes"`
	AfterHoursMinutes int      `json:"after_hours_minutes"`
	CompDays          int      `json:"comp_days"`
	Reasons           []string `json:"reasons,omitempty"`
}

// Pay works out a responder's billable time and comp days for an incident
// of the priority that they worked from start to end. Business hours are the
// compensation calendar's hours read in the responder's own time zone
// ("outside 9am-5pm local time"; without a time_zone, their schedule's, as
// PersonZone says); its holidays count as days off. Billable
// time, if any, is at least the minimum and rounded to the nearest round_to.
// It is split into weekend time (Saturday, Sunday or a holiday of the
// calendar on the responder's clock) and after-hours time (the rest).
func (c *Config) Pay(cp *Compensation, priority, user string, start, end time.Time) Pay {
	p := Pay{User: user}
	if cp == nil || !end.After(start) {
		return p
	}
	loc, _ := c.PersonZone(user)
	local := *c.calendars[cp.BusinessHours]
	local.loc = loc
	weekend, afterHours := outsideHours(&local, start, end)
	raw := weekend + afterHours
	p.Billable = raw
	if raw > 0 {
		if r := time.Duration(cp.RoundTo); r > 0 {
			p.Billable = (p.Billable + r/2) / r * r
		}
		// The reason names the time really outside business hours, to
		// the second as a person reads it (incident times have
		// nanoseconds), and how the billed time differs from it, if it
		// does.
		shown := raw.Truncate(time.Second)
		why := fmt.Sprintf("%s outside business hours", Duration(shown))
		switch {
		case p.Billable < time.Duration(cp.Minimum):
			p.Billable = time.Duration(cp.Minimum)
			why += fmt.Sprintf(", billed as the %s minimum", cp.Minimum)
		case p.Billable.Truncate(time.Second) != shown:
			why += fmt.Sprintf(", rounded to %s", Duration(p.Billable))
		}
		p.Reasons = append(p.Reasons, why)
	}
	p.BillableMinutes = int(p.Billable / time.Minute)
	p.WeekendMinutes = splitBillable(p.BillableMinutes, weekend, afterHours, time.Duration(cp.RoundTo))
	p.AfterHoursMinutes = p.BillableMinutes - p.WeekendMinutes

	dur := end.Sub(start)
	best, bestWhy := 0, ""
	for _, r := range cp.CompDays {
		if !slices.Contains(r.Priorities, priority) {
			continue
		}
		switch {
		case r.Weekend:
			if wd, ok := weekendDay(start, end, loc); ok {
				how := "ran into a"
				if start.In(loc).Weekday() == wd {
					how = "started on a"
				}
				p.CompDays += r.Days
				p.Reasons = append(p.Reasons, fmt.Sprintf("%s %s %s: %d comp day(s)", priority, how, wd, r.Days))
			}
		case dur > time.Duration(r.LongerThan) && r.Days > best:
			best = r.Days
			bestWhy = fmt.Sprintf("%s lasted over %s: %d comp day(s)", priority, r.LongerThan, r.Days)
		}
	}
	if best > 0 {
		p.CompDays += best
		p.Reasons = append(p.Reasons, bestWhy)
	}
	return p
}

// weekendDay is the first Saturday or Sunday, on loc's clock, that any of
// [start, end) falls on: a SEV-1 worked from Friday night into Saturday
// took the weekend as much as one that began on it. Days are dates on
// loc's clock (Date.In), so a day whose midnight the clocks skip is not
// taken for the day before.
func weekendDay(start, end time.Time, loc *time.Location) (time.Weekday, bool) {
	for d := DateOf(start.In(loc)); d.In(loc).Before(end); d = d.AddDays(1) {
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
			return wd, true
		}
	}
	return 0, false
}

// outsideHours is how much of [start, end) falls outside the calendar's
// business hours, on weekend days (Saturday, Sunday, or one of its
// holidays, on the calendar's clock) and on other days. It walks from one
// opening, closing or midnight to the next.
func outsideHours(b *BusinessHours, start, end time.Time) (weekend, afterHours time.Duration) {
	for t := start; t.Before(end); {
		next := b.nextEdge(t)
		if next.After(end) {
			next = end
		}
		if !b.IsOpen(t) {
			d := DateOf(t.In(b.Location()))
			if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday || b.isHoliday(d) {
				weekend += next.Sub(t)
			} else {
				afterHours += next.Sub(t)
			}
		}
		t = next
	}
	return weekend, afterHours
}

// splitBillable is the weekend part of billed minutes whose raw time
// outside business hours was weekend plus afterHours: the billed total's
// share in proportion to the raw weekend time, rounded to the nearest
// roundTo (half of one to the weekend), so that the minimum and the
// rounding are shared like the raw time and both parts stay whole
// multiples of roundTo whenever the total is one. Otherwise (a minimum
// that is no multiple of roundTo, or no rounding) it is rounded to the
// minute. After-hours minutes are the rest, so the parts add up exactly.
func splitBillable(billed int, weekend, afterHours, roundTo time.Duration) int {
	raw := weekend + afterHours
	if billed <= 0 || raw <= 0 {
		return 0
	}
	unit := int(roundTo / time.Minute)
	if unit < 1 || billed%unit != 0 {
		unit = 1
	}
	units := uint64(billed / unit)
	// units*weekend/raw, exactly: the product may not fit in 64 bits.
	hi, lo := bits.Mul64(units, uint64(weekend))
	q, rem := bits.Div64(hi, lo, uint64(raw))
	if 2*rem >= uint64(raw) {
		q++
	}
	return int(q) * unit
}

// nextEdge is the first instant after t at which business hours may open or
// close: the day's opening, its closing, or the next midnight.
func (b *BusinessHours) nextEdge(t time.Time) time.Time {
	d := DateOf(t.In(b.Location()))
	for _, c := range []time.Time{b.at(d, b.Start), b.at(d, b.End)} {
		if c.After(t) {
			return c
		}
	}
	return d.AddDays(1).In(b.Location())
}

// CompensationFor returns the compensation a service uses, or nil.
func (c *Config) CompensationFor(s *Service) *Compensation { return c.comp[s.Compensation] }

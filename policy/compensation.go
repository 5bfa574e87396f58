package policy

import (
	"fmt"
	"slices"
	"time"
)

// Pay is what one responder earns for one incident.
type Pay struct {
	User     string        `json:"user"`
	Billable time.Duration `json:"-"`
	// BillableMinutes is Billable for JSON readers.
	BillableMinutes int      `json:"billable_minutes"`
	CompDays        int      `json:"comp_days"`
	Reasons         []string `json:"reasons,omitempty"`
}

// Pay works out a responder's billable time and comp days for an incident
// of the priority that they worked from start to end. Business hours are the
// compensation calendar's hours read in the responder's own time zone
// ("outside 9am-5pm local time"; without a time_zone, their schedule's, as
// PersonZone says); its holidays count as days off. Billable
// time, if any, is at least the minimum and rounded to the nearest round_to.
func (c *Config) Pay(cp *Compensation, priority, user string, start, end time.Time) Pay {
	p := Pay{User: user}
	if cp == nil || !end.After(start) {
		return p
	}
	loc, _ := c.PersonZone(user)
	local := *c.calendars[cp.BusinessHours]
	local.loc = loc
	p.Billable = outsideHours(&local, start, end)
	if p.Billable > 0 {
		if r := time.Duration(cp.RoundTo); r > 0 {
			p.Billable = (p.Billable + r/2) / r * r
		}
		if p.Billable < time.Duration(cp.Minimum) {
			p.Billable = time.Duration(cp.Minimum)
		}
		p.Reasons = append(p.Reasons, fmt.Sprintf("%s outside business hours", Duration(p.Billable)))
	}
	p.BillableMinutes = int(p.Billable / time.Minute)

	dur := end.Sub(start)
	best, bestWhy := 0, ""
	for _, r := range cp.CompDays {
		if !slices.Contains(r.Priorities, priority) {
			continue
		}
		switch {
		case r.Weekend:
			if wd := start.In(loc).Weekday(); wd == time.Saturday || wd == time.Sunday {
				p.CompDays += r.Days
				p.Reasons = append(p.Reasons, fmt.Sprintf("%s started on a %s: %d comp day(s)", priority, wd, r.Days))
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

// outsideHours is how much of [start, end) falls outside the calendar's
// business hours. It walks from one opening or closing to the next.
func outsideHours(b *BusinessHours, start, end time.Time) time.Duration {
	var total time.Duration
	for t := start; t.Before(end); {
		next := b.nextEdge(t)
		if next.After(end) {
			next = end
		}
		if !b.IsOpen(t) {
			total += next.Sub(t)
		}
		t = next
	}
	return total
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

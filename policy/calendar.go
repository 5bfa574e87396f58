package policy

import "time"

// IsOpen reports whether t falls in business hours: a working day that is not
// a holiday, between Start (inclusive) and End (exclusive), local time.
func (b *BusinessHours) IsOpen(t time.Time) bool {
	lt := t.In(b.Location())
	if !b.isBusinessDay(DateOf(lt)) {
		return false
	}
	m := lt.Hour()*60 + lt.Minute()
	return m >= b.Start.Minutes() && m < b.End.Minutes()
}

// isBusinessDay reports whether the date is a working day and no holiday.
func (b *BusinessHours) isBusinessDay(d Date) bool {
	return b.open[d.Weekday()] && !b.isHoliday(d)
}

// isHoliday reports whether the date is one of the calendar's holidays.
func (b *BusinessHours) isHoliday(d Date) bool {
	for _, h := range b.Holidays {
		if h.Date == d {
			return true
		}
	}
	return false
}

// at is the wall-clock time of day on a date in the calendar's zone.
func (b *BusinessHours) at(d Date, tod TimeOfDay) time.Time {
	return wallClock(d, tod, b.Location())
}

// NextBusinessDay is when the next business day begins: the first opening
// strictly after t. A Tuesday 10:00 alert is due Wednesday at opening, a
// Friday 20:00 alert Monday at opening (or later if Monday is a holiday), and
// a Tuesday 03:00 alert Tuesday at opening, like one at 23:00 on Monday.
func (b *BusinessHours) NextBusinessDay(t time.Time) time.Time {
	d := DateOf(t.In(b.Location()))
	for i := 0; i <= 366; i++ {
		n := d.AddDays(i)
		if open := b.at(n, b.Start); b.isBusinessDay(n) && open.After(t) {
			return open
		}
	}
	// Only a calendar whose every working day in a year is a holiday gets
	// here; a day later keeps the function total.
	return t.Add(24 * time.Hour)
}

// Resolve turns a timeout into a deadline counted from ref. Ack-target
// timeouts must be resolved by the caller first; here they count as zero.
// The deadlines of a service's priority go through Config.DueAt, which
// also keeps next_business_day from falling before the priority's
// acknowledge target.
func (b *BusinessHours) Resolve(t Timeout, ref time.Time) time.Time {
	switch t.Kind {
	case TimeoutNextBusinessDay:
		return b.NextBusinessDay(ref)
	case TimeoutFixed:
		return ref.Add(t.Duration)
	}
	return ref
}

package policy

import (
	"math/rand/v2"
	"testing"
	"time"
)

// equivZones are zones whose offsets are not whole hours (Kathmandu,
// Lord Howe's half-hour DST), that skip midnight (Santiago), change on
// both sides of UTC, and had local mean time offsets in seconds before
// standard time (every one of them, before about 1900).
var equivZones = []string{"UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu",
	"America/Santiago", "Asia/Kolkata", "Pacific/Chatham", "America/St_Johns", "Pacific/Kiritimati", "Europe/Dublin"}

// civilMinuteBefore is civilMinute as it was: read off the wall clock.
func civilMinuteBefore(t time.Time, loc *time.Location) int64 {
	l := t.In(loc)
	return int64(dayNumber(DateOf(l)))*minutesPerDay + int64(l.Hour()*60+l.Minute())
}

// TestCivilMinuteAsBefore: civilMinute is the minute the wall clock
// showed, in every zone of equivZones, from 1800 to 2200, on either side
// of every DST change, at random seconds and nanoseconds.
func TestCivilMinuteAsBefore(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	lo, hi := time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for _, name := range equivZones {
		loc := mustLoc(t, name)
		var ts []time.Time
		for range 20000 {
			ts = append(ts, time.Unix(lo+rng.Int64N(hi-lo), rng.Int64N(1e9)))
		}
		for y := 1850; y < 2100; y++ {
			for at := time.Date(y, 1, 1, 0, 0, 0, 0, loc); at.Year() == y; {
				_, end := at.ZoneBounds()
				if !end.After(at) {
					break // no change after at
				}
				ts = append(ts, end, end.Add(-time.Nanosecond), end.Add(-time.Minute), end.Add(time.Minute-time.Nanosecond))
				at = end
			}
		}
		for _, at := range ts {
			if got, want := civilMinute(at, loc), civilMinuteBefore(at, loc); got != want {
				t.Fatalf("civilMinute(%s, %s) = %d, before %d", at.Format(time.RFC3339Nano), name, got, want)
			}
		}
	}
}

// TestUTCMidnightAsIn: a date's midnight in UTC, its day number and its
// weekday are what Date.In(time.UTC) made of them, for dates that do not
// exist too (the 30th of February, day 0, month 13, year 0 and before).
func TestUTCMidnightAsIn(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for range 100000 {
		d := Date{Year: rng.IntN(4000) - 500, Month: time.Month(rng.IntN(15) - 1), Day: rng.IntN(34) - 1}
		in := d.In(time.UTC)
		if got := d.utcMidnight(); !got.Equal(in) || got.Location() != in.Location() {
			t.Fatalf("%v: utcMidnight %s, In(UTC) %s", d, got, in)
		}
		if got, want := dayNumber(d), floorDiv(int(in.Unix()), 86400); got != want {
			t.Fatalf("%v: dayNumber %d, before %d", d, got, want)
		}
		if got, want := d.Weekday(), in.Weekday(); got != want {
			t.Fatalf("%v: Weekday %s, before %s", d, got, want)
		}
	}
}

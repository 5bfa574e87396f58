package policy

import (
	"testing"
	"time"
)

// TestWallClockInTheRepeatedHour: a wall time the clocks show twice (the
// hour they go back over) is its first pass, on either side of UTC, as
// docs/CONFIG.md says ("the one that starts in the repeated hour when
// clocks go back lasts both"). (Before: time.Date gives the first pass
// west of UTC but the second east of it, so Berlin's, London's and
// Sydney's handoffs in that hour came an hour after the wall clock first
// showed them, and the outgoing person, whose phone said their shift was
// over, was paged for that hour.)
func TestWallClockInTheRepeatedHour(t *testing.T) {
	for _, c := range []struct {
		zone string
		d    Date
		tod  TimeOfDay
		want string // RFC 3339
	}{
		{"Europe/Berlin", Date{2025, time.October, 26}, TimeOfDay{Hour: 2, Minute: 30}, "2025-10-26T02:30:00+02:00"},
		{"Europe/Berlin", Date{2025, time.October, 26}, TimeOfDay{Hour: 2}, "2025-10-26T02:00:00+02:00"},
		{"Europe/London", Date{2025, time.October, 26}, TimeOfDay{Hour: 1, Minute: 30}, "2025-10-26T01:30:00+01:00"},
		{"Australia/Sydney", Date{2026, time.April, 5}, TimeOfDay{Hour: 2, Minute: 30}, "2026-04-05T02:30:00+11:00"},
		{"Australia/Lord_Howe", Date{2026, time.April, 5}, TimeOfDay{Hour: 1, Minute: 45}, "2026-04-05T01:45:00+11:00"},
		// West of UTC time.Date gave the first pass already.
		{"America/New_York", Date{2025, time.November, 2}, TimeOfDay{Hour: 1, Minute: 30}, "2025-11-02T01:30:00-04:00"},
		{"America/Santiago", Date{2026, time.April, 4}, TimeOfDay{Hour: 23, Minute: 30}, "2026-04-04T23:30:00-03:00"},
		// Shown once: as shown.
		{"Europe/Berlin", Date{2025, time.October, 26}, TimeOfDay{Hour: 3}, "2025-10-26T03:00:00+01:00"},
		{"Europe/Berlin", Date{2025, time.October, 26}, TimeOfDay{Hour: 1, Minute: 59}, "2025-10-26T01:59:00+02:00"},
		{"Europe/Berlin", Date{2025, time.October, 27}, TimeOfDay{Hour: 2, Minute: 30}, "2025-10-27T02:30:00+01:00"},
		{"UTC", Date{2025, time.October, 26}, TimeOfDay{Hour: 2, Minute: 30}, "2025-10-26T02:30:00Z"},
	} {
		loc, err := time.LoadLocation(c.zone)
		if err != nil {
			t.Fatal(err)
		}
		if got := wallClock(c.d, c.tod, loc).Format(time.RFC3339); got != c.want {
			t.Errorf("%s %v %02d:%02d: %s, want %s", c.zone, c.d, c.tod.Hour, c.tod.Minute, got, c.want)
		}
	}
}

// A Berlin team handing off weekly on Sunday at 02:30, with an hourly
// tier beside it, on the night clocks go back (2025-10-26, 03:00 CEST ->
// 02:00 CET): the week hands over when the wall clock first shows 02:30,
// as New York's does at its first 01:30, so an alert at 02:45 CEST pages
// the incoming person; and the hourly shift that starts in the repeated
// hour (02:00) lasts both passes of it, not the one before it.
func TestHandoffInTheRepeatedHourEastOfUTC(t *testing.T) {
	cfg := rotConfig(t, `  - name: s
    time_zone: Europe/Berlin
    handoff: {weekday: sunday, time: "02:30"}
    tiers:
      - name: primary
        start: 2025-10-19
        members: [ann, bob]
      - name: hourly
        start: 2025-10-26
        shift_hours: 1
        handoff_time: "00:00"
        members: [ann, bob, cat]
`)
	s := cfg.Schedule("s")
	firstPass := time.Date(2025, 10, 26, 0, 30, 0, 0, time.UTC) // 02:30 CEST
	alert := time.Date(2025, 10, 26, 0, 45, 0, 0, time.UTC)     // 02:45 CEST
	sh, _ := s.OnCallTier("primary", alert)
	if sh.User != "bob" || !sh.From.Equal(firstPass) {
		t.Errorf("02:45 CEST: %s holds primary from %s, want bob from %s (the first 02:30)", sh.User, sh.From.UTC(), firstPass)
	}
	if got := cfg.LevelUsers(cfg.Service("svc"), 0, alert); len(got) != 1 || got[0] != "bob" {
		t.Errorf("level 1 pages %v at 02:45 CEST, want [bob], whose week has begun", got)
	}
	// Hourly: ann 00:00, bob 01:00 CEST, cat from the first 02:00 to 03:00 CET.
	for _, c := range []struct {
		at                string
		user, from, until string
	}{
		{"2025-10-25T23:30:00Z", "bob", "2025-10-25T23:00:00Z", "2025-10-26T00:00:00Z"},
		{"2025-10-26T00:30:00Z", "cat", "2025-10-26T00:00:00Z", "2025-10-26T02:00:00Z"},
		{"2025-10-26T01:30:00Z", "cat", "2025-10-26T00:00:00Z", "2025-10-26T02:00:00Z"},
		{"2025-10-26T02:30:00Z", "ann", "2025-10-26T02:00:00Z", "2025-10-26T03:00:00Z"},
	} {
		at, _ := time.Parse(time.RFC3339, c.at)
		sh, _ := s.OnCallTier("hourly", at)
		if got := sh.User + " " + sh.From.UTC().Format(time.RFC3339) + " " + sh.Until.UTC().Format(time.RFC3339); got != c.user+" "+c.from+" "+c.until {
			t.Errorf("hourly at %s: %s, want %s %s %s", c.at, got, c.user, c.from, c.until)
		}
	}
}

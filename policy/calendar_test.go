package policy

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones below load without the system's zoneinfo
)

// Business-hours calendars: IsOpen, NextBusinessDay and Resolve, on the two
// reference calendars (AIVO: America/New_York mon–fri 08:00–18:00 with US
// holidays; AION-R: UTC mon–fri 09:00–17:00) and on calendars built from
// small configs. Expected instants are written out by hand from the seeds'
// readings, never computed by the functions under test.

// calLoad loads a config file or fails the test.
func calLoad(t *testing.T, path string) *Config {
	t.Helper()
	cfg, err := LoadFile(path)
	if err != nil {
		t.Fatalf("load %s:\n%v", path, err)
	}
	return cfg
}

// calParse parses a config from a YAML string or fails the test.
func calParse(t *testing.T, src string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(strings.TrimLeft(src, "\n")), "test.yaml", t.TempDir())
	if err != nil {
		t.Fatalf("parse config:\n%v\n---\n%s", err, src)
	}
	return cfg
}

// calNamed returns the named calendar of a parsed config (the loader fills
// the calendars in place in Config.BusinessHours).
func calNamed(t *testing.T, cfg *Config, name string) *BusinessHours {
	t.Helper()
	for i := range cfg.BusinessHours {
		if cfg.BusinessHours[i].Name == name {
			return &cfg.BusinessHours[i]
		}
	}
	t.Fatalf("no business_hours calendar %q", name)
	return nil
}

// calServiceCalendar is the calendar the named service of cfg uses.
func calServiceCalendar(t *testing.T, cfg *Config, service string) *BusinessHours {
	t.Helper()
	s := cfg.Service(service)
	if s == nil {
		t.Fatalf("no service %q", service)
	}
	b := cfg.Calendar(s)
	if b == nil {
		t.Fatalf("service %q has no calendar", service)
	}
	return b
}

// calAIVO is the AIVO office calendar from the example config.
func calAIVO(t *testing.T) *BusinessHours {
	t.Helper()
	b := calServiceCalendar(t, calLoad(t, "../configs/aivo.yaml"), "aivo-production")
	if b.Name != "aivo-office" {
		t.Fatalf("aivo-production uses calendar %q, want aivo-office", b.Name)
	}
	return b
}

// calAIONR is the AION-R office calendar from the example config.
func calAIONR(t *testing.T) *BusinessHours {
	t.Helper()
	b := calServiceCalendar(t, calLoad(t, "../configs/aion-r.yaml"), "aion-r-platform")
	if b.Name != "aion-r-office" {
		t.Fatalf("aion-r-platform uses calendar %q, want aion-r-office", b.Name)
	}
	return b
}

// calLoc loads a time zone or fails the test.
func calLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load location %s: %v", name, err)
	}
	return loc
}

// calAt parses a wall-clock "2006-01-02 15:04" in loc.
func calAt(t *testing.T, loc *time.Location, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v
}

// calZ parses an RFC 3339 instant.
func calZ(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v
}

// calSameInstant fails unless got and want are the same instant.
func calSameInstant(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %s (%s UTC), want %s (%s UTC)", what,
			got.Format(time.RFC3339), got.UTC().Format(time.RFC3339),
			want.Format(time.RFC3339), want.UTC().Format(time.RFC3339))
	}
}

func TestCalendarAIVOHolidays(t *testing.T) {
	// The NextBusinessDay expectations below rely on these being holidays in
	// the example config.
	b := calAIVO(t)
	want := map[string]bool{"2025-09-01": true, "2025-11-27": true, "2025-11-28": true}
	for _, h := range b.Holidays {
		delete(want, h.Date.String())
	}
	for d := range want {
		t.Errorf("aivo-office has no holiday on %s", d)
	}
	if got := b.Location().String(); got != "America/New_York" {
		t.Errorf("aivo-office time zone = %s, want America/New_York", got)
	}
}

func TestCalendarIsOpenAIVO(t *testing.T) {
	b := calAIVO(t)
	ny := calLoc(t, "America/New_York")
	cases := []struct {
		name string
		at   time.Time
		want bool
	}{
		// Wednesday 2025-10-15 (EDT, UTC-4).
		{"Wed 07:59 before opening", calAt(t, ny, "2025-10-15 07:59"), false},
		{"Wed 07:59:59 before opening", calAt(t, ny, "2025-10-15 07:59").Add(59*time.Second + 999*time.Millisecond), false},
		{"Wed 08:00 opening is open", calAt(t, ny, "2025-10-15 08:00"), true},
		{"Wed 12:00", calAt(t, ny, "2025-10-15 12:00"), true},
		{"Wed 17:59 open", calAt(t, ny, "2025-10-15 17:59"), true},
		{"Wed 17:59:59 open", calAt(t, ny, "2025-10-15 17:59").Add(59 * time.Second), true},
		{"Wed 18:00 closing is closed", calAt(t, ny, "2025-10-15 18:00"), false},
		{"Wed 23:00", calAt(t, ny, "2025-10-15 23:00"), false},
		{"Wed 00:00", calAt(t, ny, "2025-10-15 00:00"), false},
		{"Mon 08:00", calAt(t, ny, "2025-10-13 08:00"), true},
		{"Fri 17:59", calAt(t, ny, "2025-10-17 17:59"), true},
		{"Sat 12:00", calAt(t, ny, "2025-10-18 12:00"), false},
		{"Sat 08:00", calAt(t, ny, "2025-10-18 08:00"), false},
		{"Sun 10:00", calAt(t, ny, "2025-10-19 10:00"), false},
		// Holidays.
		{"Labor Day Mon 2025-09-01 10:00", calAt(t, ny, "2025-09-01 10:00"), false},
		{"Labor Day 08:00", calAt(t, ny, "2025-09-01 08:00"), false},
		{"Tue after Labor Day 10:00: the seed's holiday coverage, closed", calAt(t, ny, "2025-09-02 10:00"), false},
		{"Wed after Labor Day weekend 10:00", calAt(t, ny, "2025-09-03 10:00"), true},
		{"Fri before Labor Day 10:00", calAt(t, ny, "2025-08-29 10:00"), true},
		{"Thanksgiving Thu 10:00", calAt(t, ny, "2025-11-27 10:00"), false},
		{"day after Thanksgiving Fri 10:00", calAt(t, ny, "2025-11-28 10:00"), false},
		{"Wed before Thanksgiving 10:00", calAt(t, ny, "2025-11-26 10:00"), true},
		// Instants given in UTC: the calendar's own zone decides.
		{"21:00Z = 17:00 EDT open (closed in UTC terms)", calZ(t, "2025-10-15T21:00:00Z"), true},
		{"12:00Z = 08:00 EDT open", calZ(t, "2025-10-15T12:00:00Z"), true},
		{"11:59Z = 07:59 EDT closed", calZ(t, "2025-10-15T11:59:00Z"), false},
		{"22:00Z = 18:00 EDT closed", calZ(t, "2025-10-15T22:00:00Z"), false},
		{"09:00Z = 05:00 EDT closed (open in UTC terms)", calZ(t, "2025-10-15T09:00:00Z"), false},
		{"Sat 01:00Z = Fri 21:00 EDT closed", calZ(t, "2025-10-18T01:00:00Z"), false},
		{"Labor Day 2025-09-01T14:00Z = 10:00 EDT closed", calZ(t, "2025-09-01T14:00:00Z"), false},
		{"Tue 2025-09-02T02:00Z = Labor Day 22:00 EDT closed", calZ(t, "2025-09-02T02:00:00Z"), false},
		// Instants in another zone.
		{"Wed 06:00 Los Angeles = 09:00 New York open", calAt(t, calLoc(t, "America/Los_Angeles"), "2025-10-15 06:00"), true},
		{"Wed 16:00 Los Angeles = 19:00 New York closed", calAt(t, calLoc(t, "America/Los_Angeles"), "2025-10-15 16:00"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := b.IsOpen(tc.at); got != tc.want {
				t.Errorf("IsOpen(%s) = %v, want %v", tc.at.Format(time.RFC3339), got, tc.want)
			}
		})
	}
}

func TestCalendarIsOpenAcrossDST(t *testing.T) {
	// New York falls back on Sunday 2025-11-02 (EDT UTC-4 → EST UTC-5) and
	// springs forward on Sunday 2026-03-08 (EST → EDT).
	b := calAIVO(t)
	cases := []struct {
		name string
		at   string
		want bool
	}{
		{"Fri 2025-10-31 12:30Z = 08:30 EDT open", "2025-10-31T12:30:00Z", true},
		{"Fri 2025-10-31 21:30Z = 17:30 EDT open", "2025-10-31T21:30:00Z", true},
		{"Fri 2025-10-31 22:30Z = 18:30 EDT closed", "2025-10-31T22:30:00Z", false},
		{"Mon 2025-11-03 13:30Z = 08:30 EST open", "2025-11-03T13:30:00Z", true},
		{"Mon 2025-11-03 12:30Z = 07:30 EST closed", "2025-11-03T12:30:00Z", false},
		{"Mon 2025-11-03 13:00Z = 08:00 EST open", "2025-11-03T13:00:00Z", true},
		{"Mon 2025-11-03 12:59Z = 07:59 EST closed", "2025-11-03T12:59:00Z", false},
		{"Mon 2025-11-03 22:30Z = 17:30 EST open", "2025-11-03T22:30:00Z", true},
		{"Mon 2025-11-03 23:00Z = 18:00 EST closed", "2025-11-03T23:00:00Z", false},
		{"Fri 2026-03-06 12:30Z = 07:30 EST closed", "2026-03-06T12:30:00Z", false},
		{"Fri 2026-03-06 13:30Z = 08:30 EST open", "2026-03-06T13:30:00Z", true},
		{"Mon 2026-03-09 12:30Z = 08:30 EDT open", "2026-03-09T12:30:00Z", true},
		{"Mon 2026-03-09 11:30Z = 07:30 EDT closed", "2026-03-09T11:30:00Z", false},
		{"Mon 2026-03-09 22:30Z = 18:30 EDT closed", "2026-03-09T22:30:00Z", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := b.IsOpen(calZ(t, tc.at)); got != tc.want {
				t.Errorf("IsOpen(%s) = %v, want %v", tc.at, got, tc.want)
			}
		})
	}
}

func TestCalendarIsOpenAIONR(t *testing.T) {
	b := calAIONR(t)
	cases := []struct {
		at   string
		want bool
	}{
		{"2025-10-10T08:59:00Z", false},
		{"2025-10-10T09:00:00Z", true},
		{"2025-10-10T16:59:00Z", true},
		{"2025-10-10T17:00:00Z", false},
		{"2025-10-10T20:00:00Z", false},
		{"2025-10-11T12:00:00Z", false},      // Saturday
		{"2025-10-13T09:00:00+02:00", false}, // Monday 07:00Z
		{"2025-10-13T11:00:00+02:00", true},  // Monday 09:00Z
	}
	for _, tc := range cases {
		t.Run(tc.at, func(t *testing.T) {
			if got := b.IsOpen(calZ(t, tc.at)); got != tc.want {
				t.Errorf("IsOpen(%s) = %v, want %v", tc.at, got, tc.want)
			}
		})
	}
}

// calHandBuilt are calendars built through the loader from a small config.
const calHandBuilt = `
business_hours:
  # Monday-Friday by default; UTC-10 all year, so the afternoon is the next
  # UTC day. 2025-10-20 (Mon) and 2025-10-21 (Tue) are holidays.
  - name: honolulu
    time_zone: Pacific/Honolulu
    start: "09:00"
    end: "17:00"
    holidays:
      - {date: 2025-10-20, name: local holiday}
      - {date: 2025-10-21, name: another}
  # UTC+9: opening is 23:00 UTC the day before.
  - name: tokyo
    time_zone: Asia/Tokyo
    days: [monday, tuesday, wednesday, thursday, friday]
    start: "08:00"
    end: "17:00"
  # Weekends only, in a zone with DST (falls back Sun 2025-10-26).
  - name: london-weekend
    time_zone: Europe/London
    days: [sat, sun]
    start: "10:00"
    end: "14:00"
  # Opening and closing off the hour (CEST UTC+2 until Sun 2025-10-26,
  # then CET UTC+1).
  - name: berlin
    time_zone: Europe/Berlin
    start: "08:30"
    end: "16:45"
  # Round the clock every day but Christmas.
  - name: always-but-christmas
    time_zone: UTC
    days: [mon, tue, wed, thu, fri, sat, sun]
    start: "00:00"
    end: "24:00"
    holidays:
      - date: 2025-12-25
`

func TestCalendarIsOpenHandBuilt(t *testing.T) {
	cfg := calParse(t, calHandBuilt)
	hnl, tyo := calLoc(t, "Pacific/Honolulu"), calLoc(t, "Asia/Tokyo")
	cases := []struct {
		cal  string
		name string
		at   time.Time
		want bool
	}{
		// Honolulu: the local date decides the weekday and the holiday.
		{"honolulu", "Fri 16:00 HST = Sat 02:00Z open", calZ(t, "2025-10-18T02:00:00Z"), true},
		{"honolulu", "Fri 17:00 HST = Sat 03:00Z closed", calZ(t, "2025-10-18T03:00:00Z"), false},
		{"honolulu", "Sat 10:00 HST = Sat 20:00Z closed", calZ(t, "2025-10-18T20:00:00Z"), false},
		{"honolulu", "Mon 09:00 HST = Mon 19:00Z closed (holiday)", calZ(t, "2025-10-20T19:00:00Z"), false},
		{"honolulu", "Mon 16:00 HST = Tue 02:00Z closed (Monday holiday)", calZ(t, "2025-10-21T02:00:00Z"), false},
		{"honolulu", "Wed 09:00 HST = Wed 19:00Z open", calZ(t, "2025-10-22T19:00:00Z"), true},
		{"honolulu", "Tue 16:00 HST = Wed 02:00Z closed (Tuesday holiday)", calZ(t, "2025-10-22T02:00:00Z"), false},
		{"honolulu", "Thu 16:00 HST = Fri 02:00Z open", calZ(t, "2025-10-24T02:00:00Z"), true},
		{"honolulu", "Thu 08:59 HST closed", calAt(t, hnl, "2025-10-23 08:59"), false},
		{"honolulu", "days default to weekdays: Sun 10:00 HST closed", calAt(t, hnl, "2025-10-26 10:00"), false},
		// Tokyo: Monday morning is still Sunday in UTC.
		{"tokyo", "Mon 08:00 JST = Sun 23:00Z open", calZ(t, "2025-10-19T23:00:00Z"), true},
		{"tokyo", "Mon 07:59 JST = Sun 22:59Z closed", calZ(t, "2025-10-19T22:59:00Z"), false},
		{"tokyo", "Sat 08:00 JST = Fri 23:00Z closed", calZ(t, "2025-10-17T23:00:00Z"), false},
		{"tokyo", "Sat 05:00 JST = Fri 20:00Z closed", calZ(t, "2025-10-17T20:00:00Z"), false},
		{"tokyo", "Fri 16:59 JST = Fri 07:59Z open", calZ(t, "2025-10-17T07:59:00Z"), true},
		{"tokyo", "Fri 17:00 JST closed", calAt(t, tyo, "2025-10-17 17:00"), false},
		// London weekends, across the fall-back on Sun 2025-10-26.
		{"london-weekend", "Sat 09:30Z = 10:30 BST open", calZ(t, "2025-10-25T09:30:00Z"), true},
		{"london-weekend", "Sat 13:30Z = 14:30 BST closed", calZ(t, "2025-10-25T13:30:00Z"), false},
		{"london-weekend", "Sun 09:30Z = 09:30 GMT closed", calZ(t, "2025-10-26T09:30:00Z"), false},
		{"london-weekend", "Sun 13:30Z = 13:30 GMT open", calZ(t, "2025-10-26T13:30:00Z"), true},
		{"london-weekend", "Mon 12:00Z closed", calZ(t, "2025-10-27T12:00:00Z"), false},
		// Minutes count.
		{"berlin", "Wed 08:29 CEST closed", calZ(t, "2025-10-15T06:29:00Z"), false},
		{"berlin", "Wed 08:30 CEST open", calZ(t, "2025-10-15T06:30:00Z"), true},
		{"berlin", "Wed 16:44 CEST open", calZ(t, "2025-10-15T14:44:00Z"), true},
		{"berlin", "Wed 16:45 CEST closed", calZ(t, "2025-10-15T14:45:00Z"), false},
		{"berlin", "Mon 08:29 CET closed", calZ(t, "2025-10-27T07:29:00Z"), false},
		{"berlin", "Mon 08:30 CET open", calZ(t, "2025-10-27T07:30:00Z"), true},
		// 00:00–24:00.
		{"always-but-christmas", "00:00 open", calZ(t, "2025-12-24T00:00:00Z"), true},
		{"always-but-christmas", "23:59 open", calZ(t, "2025-12-24T23:59:00Z"), true},
		{"always-but-christmas", "Sunday open", calZ(t, "2025-12-21T12:00:00Z"), true},
		{"always-but-christmas", "Christmas closed", calZ(t, "2025-12-25T12:00:00Z"), false},
		{"always-but-christmas", "Christmas 00:00 closed", calZ(t, "2025-12-25T00:00:00Z"), false},
		{"always-but-christmas", "Boxing Day 00:00 open", calZ(t, "2025-12-26T00:00:00Z"), true},
	}
	for _, tc := range cases {
		t.Run(tc.cal+"/"+tc.name, func(t *testing.T) {
			b := calNamed(t, cfg, tc.cal)
			if got := b.IsOpen(tc.at); got != tc.want {
				t.Errorf("%s.IsOpen(%s) = %v, want %v", tc.cal, tc.at.Format(time.RFC3339), got, tc.want)
			}
		})
	}
}

func TestCalendarNextBusinessDayAIVO(t *testing.T) {
	b := calAIVO(t)
	ny := calLoc(t, "America/New_York")
	cases := []struct {
		name string
		from time.Time
		want time.Time
	}{
		{"Tue 10:00 → Wed opening", calAt(t, ny, "2025-10-14 10:00"), calAt(t, ny, "2025-10-15 08:00")},
		{"Tue 03:00 (before opening) → Tue opening", calAt(t, ny, "2025-10-14 03:00"), calAt(t, ny, "2025-10-14 08:00")},
		{"Tue 08:00 → Wed opening", calAt(t, ny, "2025-10-14 08:00"), calAt(t, ny, "2025-10-15 08:00")},
		{"Tue 23:59 → Wed opening", calAt(t, ny, "2025-10-14 23:59"), calAt(t, ny, "2025-10-15 08:00")},
		{"Thu 17:00 → Fri opening", calAt(t, ny, "2025-10-16 17:00"), calAt(t, ny, "2025-10-17 08:00")},
		{"Fri 20:00 → Mon opening", calAt(t, ny, "2025-10-17 20:00"), calAt(t, ny, "2025-10-20 08:00")},
		{"Fri 10:00 → Mon opening", calAt(t, ny, "2025-10-17 10:00"), calAt(t, ny, "2025-10-20 08:00")},
		{"Sat 12:00 → Mon opening", calAt(t, ny, "2025-10-18 12:00"), calAt(t, ny, "2025-10-20 08:00")},
		{"Sun 23:00 → Mon opening", calAt(t, ny, "2025-10-19 23:00"), calAt(t, ny, "2025-10-20 08:00")},
		{"Fri 2025-08-29 → Wed 2025-09-03 (Labor Day weekend skipped)", calAt(t, ny, "2025-08-29 15:00"), calAt(t, ny, "2025-09-03 08:00")},
		{"Labor Day 10:00 → Wed opening", calAt(t, ny, "2025-09-01 10:00"), calAt(t, ny, "2025-09-03 08:00")},
		{"Wed 2025-11-26 → Mon 2025-12-01 (Thanksgiving Thu+Fri skipped)", calAt(t, ny, "2025-11-26 10:00"), calAt(t, ny, "2025-12-01 08:00")},
		{"Thanksgiving → Mon 2025-12-01", calAt(t, ny, "2025-11-27 10:00"), calAt(t, ny, "2025-12-01 08:00")},
		// Given in UTC: the local date counts. Tue 2025-10-14 02:00Z is Mon
		// 22:00 EDT, so the next business day is Tuesday.
		{"Tue 02:00Z = Mon 22:00 EDT → Tue opening", calZ(t, "2025-10-14T02:00:00Z"), calZ(t, "2025-10-14T12:00:00Z")},
		{"Sat 01:00Z = Fri 21:00 EDT → Mon opening", calZ(t, "2025-10-18T01:00:00Z"), calZ(t, "2025-10-20T12:00:00Z")},
		// Across the fall-back: Mon 2025-11-03 08:00 EST is 13:00Z.
		{"Fri 2025-10-31 20:00 EDT → Mon 2025-11-03 08:00 EST", calAt(t, ny, "2025-10-31 20:00"), calZ(t, "2025-11-03T13:00:00Z")},
		// Across the spring-forward: Mon 2026-03-09 08:00 EDT is 12:00Z.
		{"Fri 2026-03-06 20:00 EST → Mon 2026-03-09 08:00 EDT", calAt(t, ny, "2026-03-06 20:00"), calZ(t, "2026-03-09T12:00:00Z")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := b.NextBusinessDay(tc.from)
			calSameInstant(t, "NextBusinessDay("+tc.from.Format(time.RFC3339)+")", got, tc.want)
			if !b.IsOpen(got) {
				t.Errorf("NextBusinessDay(%s) = %s, which is not in business hours", tc.from.Format(time.RFC3339), got.Format(time.RFC3339))
			}
		})
	}
}

func TestCalendarNextBusinessDayAIONR(t *testing.T) {
	b := calAIONR(t)
	cases := []struct {
		name, from, want string
	}{
		{"Fri 20:00Z → Mon 09:00Z", "2025-10-10T20:00:00Z", "2025-10-13T09:00:00Z"},
		{"Fri 10:00Z → Mon 09:00Z", "2025-10-10T10:00:00Z", "2025-10-13T09:00:00Z"},
		{"Sat → Mon 09:00Z", "2025-10-11T12:00:00Z", "2025-10-13T09:00:00Z"},
		{"Sun 23:59Z → Mon 09:00Z", "2025-10-12T23:59:00Z", "2025-10-13T09:00:00Z"},
		{"Tue 10:00Z → Wed 09:00Z", "2025-10-14T10:00:00Z", "2025-10-15T09:00:00Z"},
		{"Tue 03:00Z → Tue 09:00Z", "2025-10-14T03:00:00Z", "2025-10-14T09:00:00Z"},
		// Given with an offset: the UTC date counts. Mon 2025-10-13 01:00+02:00
		// is Sun 23:00Z, so Monday is the next business day.
		{"Sun 23:00Z written as Mon +02:00 → Mon 09:00Z", "2025-10-13T01:00:00+02:00", "2025-10-13T09:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calSameInstant(t, "NextBusinessDay("+tc.from+")", b.NextBusinessDay(calZ(t, tc.from)), calZ(t, tc.want))
		})
	}
}

func TestCalendarNextBusinessDayHandBuilt(t *testing.T) {
	cfg := calParse(t, calHandBuilt)
	cases := []struct {
		cal, name, from, want string
	}{
		// Fri 2025-10-17 16:00 HST; Mon 20 and Tue 21 are holidays, so
		// Wednesday 09:00 HST = 19:00Z.
		{"honolulu", "Fri → Wed past two holidays", "2025-10-18T02:00:00Z", "2025-10-22T19:00:00Z"},
		// Thu 2025-10-16 20:00Z is Thu 10:00 HST → Fri 09:00 HST = 19:00Z.
		{"honolulu", "Thu → Fri", "2025-10-16T20:00:00Z", "2025-10-17T19:00:00Z"},
		// Fri 2025-10-17 08:00Z is Fri 17:00 JST → Mon 08:00 JST = Sun 23:00Z.
		{"tokyo", "Fri → Mon opening, a Sunday in UTC", "2025-10-17T08:00:00Z", "2025-10-19T23:00:00Z"},
		// Sun 2025-10-19 16:00Z is already Mon 01:00 JST → Tue 08:00 JST.
		{"tokyo", "Sun UTC is Mon 01:00 local → Mon opening", "2025-10-19T16:00:00Z", "2025-10-19T23:00:00Z"},
		// Weekend calendar: Fri → Sat 10:00 BST (09:00Z); Sat → Sun 10:00
		// GMT (10:00Z, after the fall-back); Sun → next Sat 10:00 GMT.
		{"london-weekend", "Fri → Sat", "2025-10-24T12:00:00Z", "2025-10-25T09:00:00Z"},
		{"london-weekend", "Sat → Sun across fall-back", "2025-10-25T12:00:00Z", "2025-10-26T10:00:00Z"},
		{"london-weekend", "Sun → next Sat", "2025-10-26T12:00:00Z", "2025-11-01T10:00:00Z"},
		{"london-weekend", "Mon → Sat", "2025-10-27T12:00:00Z", "2025-11-01T10:00:00Z"},
		// Fri 2025-10-24 → Mon 2025-10-27 08:30 CET (after the fall-back).
		{"berlin", "Fri → Mon 08:30 across fall-back", "2025-10-24T12:00:00Z", "2025-10-27T07:30:00Z"},
		{"berlin", "Tue → Wed 08:30 CEST", "2025-10-14T12:00:00Z", "2025-10-15T06:30:00Z"},
		{"always-but-christmas", "Christmas Eve → Boxing Day midnight", "2025-12-24T15:00:00Z", "2025-12-26T00:00:00Z"},
		{"always-but-christmas", "Sat → Sun midnight", "2025-12-20T15:00:00Z", "2025-12-21T00:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.cal+"/"+tc.name, func(t *testing.T) {
			b := calNamed(t, cfg, tc.cal)
			calSameInstant(t, tc.cal+".NextBusinessDay("+tc.from+")", b.NextBusinessDay(calZ(t, tc.from)), calZ(t, tc.want))
		})
	}
}

func TestCalendarResolve(t *testing.T) {
	aivo, aion := calAIVO(t), calAIONR(t)
	ny := calLoc(t, "America/New_York")
	nbd := calTimeout(t, "next_business_day")
	cases := []struct {
		name string
		cal  *BusinessHours
		to   Timeout
		ref  time.Time
		want time.Time
	}{
		{"fixed 15m", aivo, calTimeout(t, "15m"), calAt(t, ny, "2025-10-15 10:00"), calAt(t, ny, "2025-10-15 10:15")},
		{"fixed 4h past closing", aivo, calTimeout(t, "4h"), calAt(t, ny, "2025-10-15 16:00"), calAt(t, ny, "2025-10-15 20:00")},
		{"fixed 1d", aivo, calTimeout(t, "1d"), calAt(t, ny, "2025-10-17 20:00"), calAt(t, ny, "2025-10-18 20:00")},
		{"FixedTimeout 90s", aivo, FixedTimeout(90 * time.Second), calZ(t, "2025-10-15T10:00:00Z"), calZ(t, "2025-10-15T10:01:30Z")},
		// Fixed durations are elapsed time: 1h after 01:30 EDT on the
		// fall-back night is 01:30 EST (05:30Z → 06:30Z).
		{"fixed 1h across fall-back", aivo, calTimeout(t, "1h"), calZ(t, "2025-11-02T05:30:00Z"), calZ(t, "2025-11-02T06:30:00Z")},
		{"next_business_day AIVO Tue 10:00", aivo, nbd, calAt(t, ny, "2025-10-14 10:00"), calAt(t, ny, "2025-10-15 08:00")},
		{"next_business_day AIVO Fri 2025-08-29", aivo, nbd, calAt(t, ny, "2025-08-29 20:00"), calAt(t, ny, "2025-09-03 08:00")},
		{"next_business_day AION-R Fri 20:00Z", aion, nbd, calZ(t, "2025-10-10T20:00:00Z"), calZ(t, "2025-10-13T09:00:00Z")},
		{"next_business_day AION-R Tue 03:00Z", aion, nbd, calZ(t, "2025-10-14T03:00:00Z"), calZ(t, "2025-10-14T09:00:00Z")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calSameInstant(t, "Resolve("+tc.to.String()+")", tc.cal.Resolve(tc.to, tc.ref), tc.want)
		})
	}
}

// calTimeout parses a timeout the way config writes it.
func calTimeout(t *testing.T, s string) Timeout {
	t.Helper()
	cfg := calParse(t, `
business_hours:
  - {name: x, start: "09:00", end: "17:00"}
escalation_policies:
  - name: p
    levels:
      - targets: [{user: u}]
        timeout: `+s+`
users:
  - {id: u, contacts: [{channel: push, via: log}]}
`)
	to := cfg.EscalationPolicies[0].Levels[0].Timeout
	if !to.IsSet() {
		t.Fatalf("timeout %q did not load", s)
	}
	return to
}

func TestCalendarServiceWithoutCalendarIsAlwaysOpen(t *testing.T) {
	cfg := calParse(t, `
users:
  - {id: u, contacts: [{channel: push, via: log}]}
escalation_policies:
  - name: p
    levels:
      - targets: [{user: u}]
services:
  - name: svc
    escalation_policy: p
    priority_scheme: P0-P3
`)
	b := calServiceCalendar(t, cfg, "svc")
	for _, at := range []string{"2025-10-18T03:00:00Z", "2025-12-25T23:59:00Z", "2025-10-15T00:00:00Z"} {
		t.Run(at, func(t *testing.T) {
			if !b.IsOpen(calZ(t, at)) {
				t.Errorf("IsOpen(%s) = false for a service without business_hours, want always open", at)
			}
		})
	}
}

package policy

import (
	"strings"
	"testing"
	"time"
)

// mustLoc loads a time zone or fails the test.
func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load location %s: %v", name, err)
	}
	return loc
}

// at parses a local wall-clock time "2006-01-02T15:04:05" in loc.
func at(t *testing.T, loc *time.Location, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02T15:04:05", s, loc)
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return v
}

// utc parses an RFC 3339 instant.
func utc(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return v
}

// dateMoment is a Moment written as a date in config.
func dateMoment(t *testing.T, s string) Moment {
	t.Helper()
	d, err := ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return Moment{Date: d, IsDate: true, set: true}
}

// instantMoment is a Moment written as an RFC 3339 instant in config.
func instantMoment(t *testing.T, s string) Moment {
	t.Helper()
	return Moment{Instant: utc(t, s), set: true}
}

// mustDate parses YYYY-MM-DD or fails the test.
func mustDate(t *testing.T, s string) Date {
	t.Helper()
	d, err := ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// aivoSchedule is AIVO's rotation: New York, handoff Monday 08:00, three
// tiers starting 2025-08-18, Labor Day and Thanksgiving overrides.
func aivoSchedule(t *testing.T) *Schedule {
	t.Helper()
	start := mustDate(t, "2025-08-18")
	return &Schedule{
		Name:     "aivo-oncall",
		TimeZone: "America/New_York",
		Handoff:  Handoff{Weekday: schedWeekday(time.Monday), Time: TimeOfDay{Hour: 8, set: true}},
		Tiers: []Tier{
			{Name: "primary", Start: start, Members: []string{"marcus", "emily", "alex", "jennifer"}},
			{Name: "secondary", Start: start, Members: []string{"emily", "alex", "jennifer", "marcus"}},
			{Name: "escalation_lead", Start: start, Members: []string{"jennifer", "david", "marcus", "emily", "alex"}},
		},
		Overrides: []Override{
			{
				Reason: "Labor Day weekend",
				From:   dateMoment(t, "2025-08-30"),
				Until:  dateMoment(t, "2025-09-02"),
				Tiers:  map[string]string{"primary": "emily", "secondary": "marcus", "escalation_lead": "david"},
			},
			{
				Reason: "Thanksgiving",
				From:   dateMoment(t, "2025-11-27"),
				Until:  dateMoment(t, "2025-11-29"),
				Tiers:  map[string]string{"primary": "jennifer", "secondary": "alex", "escalation_lead": "sarah"},
			},
		},
		loc: mustLoc(t, "America/New_York"),
	}
}

// aionSchedule is AION-R's rotation: UTC, handoff Monday 00:00, eight
// engineers on primary and secondary, two leads on two-week tertiary shifts.
func aionSchedule(t *testing.T, overrides ...Override) *Schedule {
	t.Helper()
	start := mustDate(t, "2025-10-06")
	return &Schedule{
		Name:     "aion-r",
		TimeZone: "UTC",
		Handoff:  Handoff{Weekday: schedWeekday(time.Monday), Time: TimeOfDay{set: true}},
		Tiers: []Tier{
			{Name: "primary", Start: start, Members: []string{"eng-a", "eng-b", "eng-c", "eng-d", "eng-e", "eng-f", "eng-g", "eng-h"}},
			{Name: "secondary", Start: start, Members: []string{"eng-b", "eng-c", "eng-d", "eng-e", "eng-f", "eng-g", "eng-h", "eng-a"}},
			{Name: "tertiary", Start: start, ShiftWeeks: 2, Members: []string{"lead-x", "lead-y"}},
		},
		Overrides: overrides,
		loc:       mustLoc(t, "UTC"),
	}
}

// aionOverrides are a swap with a reason and a reasonless swap written with
// a UTC offset.
func aionOverrides(t *testing.T) []Override {
	return []Override{
		{
			Reason: "swap",
			From:   instantMoment(t, "2025-10-14T00:00:00Z"),
			Until:  instantMoment(t, "2025-10-16T00:00:00Z"),
			Tiers:  map[string]string{"primary": "eng-c"},
		},
		{
			From:  instantMoment(t, "2025-10-22T06:00:00+02:00"),
			Until: instantMoment(t, "2025-10-22T18:00:00Z"),
			Tiers: map[string]string{"tertiary": "lead-x"},
		},
	}
}

var aivoNames = map[string]string{
	"marcus":   "Marcus Rodriguez",
	"emily":    "Emily Watson",
	"alex":     "Alex Thompson",
	"jennifer": "Jennifer Liu",
	"david":    "David Park",
	"sarah":    "Sarah Kim",
}

// checkShift compares a shift field by field, times with Equal.
func checkShift(t *testing.T, got, want Shift) {
	t.Helper()
	if got.Schedule != want.Schedule || got.Tier != want.Tier || got.User != want.User || got.Override != want.Override {
		t.Errorf("shift = {%s %s %s override=%q}, want {%s %s %s override=%q}",
			got.Schedule, got.Tier, got.User, got.Override, want.Schedule, want.Tier, want.User, want.Override)
	}
	if !got.From.Equal(want.From) || !got.Until.Equal(want.Until) {
		t.Errorf("%s span = [%s, %s), want [%s, %s)", got.Tier,
			got.From.UTC().Format(time.RFC3339), got.Until.UTC().Format(time.RFC3339),
			want.From.UTC().Format(time.RFC3339), want.Until.UTC().Format(time.RFC3339))
	}
}

func TestScheduleHandoff(t *testing.T) {
	aivo := aivoSchedule(t)
	aion := aionSchedule(t)
	london := &Schedule{
		Name:    "friday",
		Handoff: Handoff{Weekday: schedWeekday(time.Friday), Time: TimeOfDay{Hour: 17, Minute: 30, set: true}},
		loc:     mustLoc(t, "Europe/London"),
	}
	tests := []struct {
		name       string
		s          *Schedule
		t          string // RFC 3339
		atOrBefore string
		next       string
	}{
		{"aivo mid-week", aivo, "2025-08-20T16:00:00Z", "2025-08-18T12:00:00Z", "2025-08-25T12:00:00Z"},
		{"aivo minute before handoff", aivo, "2025-08-25T11:59:00Z", "2025-08-18T12:00:00Z", "2025-08-25T12:00:00Z"},
		{"aivo exactly at handoff", aivo, "2025-08-25T12:00:00Z", "2025-08-25T12:00:00Z", "2025-09-01T12:00:00Z"},
		{"aivo monday before handoff UTC sunday local", aivo, "2025-08-25T03:00:00Z", "2025-08-18T12:00:00Z", "2025-08-25T12:00:00Z"},
		// Clocks go back on Sun 2025-11-02: the Nov 3 handoff is 08:00 EST.
		{"aivo before fall back", aivo, "2025-11-01T12:00:00Z", "2025-10-27T12:00:00Z", "2025-11-03T13:00:00Z"},
		{"aivo after fall back, before handoff", aivo, "2025-11-03T12:59:59Z", "2025-10-27T12:00:00Z", "2025-11-03T13:00:00Z"},
		{"aivo EDT handoff", aivo, "2025-10-27T12:00:00Z", "2025-10-27T12:00:00Z", "2025-11-03T13:00:00Z"},
		{"aivo first EST handoff", aivo, "2025-11-03T13:00:00Z", "2025-11-03T13:00:00Z", "2025-11-10T13:00:00Z"},
		// Clocks go forward on Sun 2026-03-08: the Mar 9 handoff is 08:00 EDT.
		{"aivo before spring forward", aivo, "2026-03-08T06:00:00Z", "2026-03-02T13:00:00Z", "2026-03-09T12:00:00Z"},
		{"aivo after spring forward, before handoff", aivo, "2026-03-09T11:59:59Z", "2026-03-02T13:00:00Z", "2026-03-09T12:00:00Z"},
		{"aivo first EDT handoff", aivo, "2026-03-09T12:00:00Z", "2026-03-09T12:00:00Z", "2026-03-16T12:00:00Z"},
		{"aion sunday night", aion, "2025-10-12T23:59:59Z", "2025-10-06T00:00:00Z", "2025-10-13T00:00:00Z"},
		{"aion at handoff", aion, "2025-10-13T00:00:00Z", "2025-10-13T00:00:00Z", "2025-10-20T00:00:00Z"},
		{"friday handoff wednesday", london, "2025-10-22T12:00:00Z", "2025-10-17T16:30:00Z", "2025-10-24T16:30:00Z"},
		{"friday handoff across BST end", london, "2025-10-28T12:00:00Z", "2025-10-24T16:30:00Z", "2025-10-31T17:30:00Z"},
		{"friday handoff saturday", london, "2025-11-01T00:00:00Z", "2025-10-31T17:30:00Z", "2025-11-07T17:30:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := utc(t, tc.t)
			if got, want := tc.s.HandoffAtOrBefore(in), utc(t, tc.atOrBefore); !got.Equal(want) {
				t.Errorf("HandoffAtOrBefore(%s) = %s, want %s", tc.t, got.UTC().Format(time.RFC3339), tc.atOrBefore)
			}
			if got, want := tc.s.NextHandoff(in), utc(t, tc.next); !got.Equal(want) {
				t.Errorf("NextHandoff(%s) = %s, want %s", tc.t, got.UTC().Format(time.RFC3339), tc.next)
			}
		})
	}
}

func TestScheduleWeekLengthAcrossDST(t *testing.T) {
	s := aivoSchedule(t)
	tests := []struct {
		name  string
		from  string
		hours float64
	}{
		{"fall back week", "2025-10-28T12:00:00Z", 169},
		{"ordinary week", "2025-11-05T12:00:00Z", 168},
		{"spring forward week", "2026-03-04T12:00:00Z", 167},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := s.Weeks(utc(t, tc.from), 1)
			if len(w) != 1 {
				t.Fatalf("Weeks returned %d rows, want 1", len(w))
			}
			if got := w[0].End.Sub(w[0].Start).Hours(); got != tc.hours {
				t.Errorf("week is %vh long, want %vh", got, tc.hours)
			}
			for _, b := range []time.Time{w[0].Start, w[0].End} {
				l := b.In(s.Location())
				if l.Weekday() != time.Monday || l.Hour() != 8 || l.Minute() != 0 {
					t.Errorf("boundary %s is not Monday 08:00 local", l)
				}
			}
		})
	}
}

func TestScheduleOnCallAIVO(t *testing.T) {
	s := aivoSchedule(t)
	ny := s.Location()
	tests := []struct {
		name     string
		at       string // New York wall clock
		users    [3]string
		override string
		from     string // New York wall clock
		until    string
	}{
		{"first week", "2025-08-20T12:00:00", [3]string{"marcus", "emily", "jennifer"}, "", "2025-08-18T08:00:00", "2025-08-25T08:00:00"},
		{"minute before handoff", "2025-08-25T07:59:00", [3]string{"marcus", "emily", "jennifer"}, "", "2025-08-18T08:00:00", "2025-08-25T08:00:00"},
		{"at handoff, clipped by labor day", "2025-08-25T08:00:00", [3]string{"emily", "alex", "david"}, "", "2025-08-25T08:00:00", "2025-08-30T00:00:00"},
		{"second before labor day", "2025-08-29T23:59:59", [3]string{"emily", "alex", "david"}, "", "2025-08-25T08:00:00", "2025-08-30T00:00:00"},
		{"labor day starts", "2025-08-30T00:00:00", [3]string{"emily", "marcus", "david"}, "Labor Day weekend", "2025-08-30T00:00:00", "2025-09-03T00:00:00"},
		{"labor day over the handoff", "2025-09-01T08:00:00", [3]string{"emily", "marcus", "david"}, "Labor Day weekend", "2025-08-30T00:00:00", "2025-09-03T00:00:00"},
		{"labor day last minute", "2025-09-02T23:59:00", [3]string{"emily", "marcus", "david"}, "Labor Day weekend", "2025-08-30T00:00:00", "2025-09-03T00:00:00"},
		{"after labor day", "2025-09-03T00:00:00", [3]string{"alex", "jennifer", "marcus"}, "", "2025-09-03T00:00:00", "2025-09-08T08:00:00"},
		{"before start date", "2025-08-12T12:00:00", [3]string{"jennifer", "marcus", "alex"}, "", "2025-08-11T08:00:00", "2025-08-18T08:00:00"},
		{"two weeks before start", "2025-08-04T08:00:00", [3]string{"alex", "jennifer", "emily"}, "", "2025-08-04T08:00:00", "2025-08-11T08:00:00"},
		{"last EDT week", "2025-11-03T07:30:00", [3]string{"alex", "jennifer", "jennifer"}, "", "2025-10-27T08:00:00", "2025-11-03T08:00:00"},
		{"first EST week", "2025-11-03T08:00:00", [3]string{"jennifer", "marcus", "david"}, "", "2025-11-03T08:00:00", "2025-11-10T08:00:00"},
		{"thanksgiving week before override", "2025-11-24T09:00:00", [3]string{"alex", "jennifer", "alex"}, "", "2025-11-24T08:00:00", "2025-11-27T00:00:00"},
		{"thanksgiving", "2025-11-28T12:00:00", [3]string{"jennifer", "alex", "sarah"}, "Thanksgiving", "2025-11-27T00:00:00", "2025-11-30T00:00:00"},
		{"after thanksgiving", "2025-11-30T00:00:00", [3]string{"alex", "jennifer", "alex"}, "", "2025-11-30T00:00:00", "2025-12-01T08:00:00"},
		{"after spring forward", "2026-03-09T08:00:00", [3]string{"emily", "alex", "alex"}, "", "2026-03-09T08:00:00", "2026-03-16T08:00:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := s.OnCall(at(t, ny, tc.at))
			if len(got) != len(s.Tiers) {
				t.Fatalf("OnCall returned %d shifts, want %d", len(got), len(s.Tiers))
			}
			for i, tier := range s.Tiers {
				want := Shift{
					Schedule: s.Name,
					Tier:     tier.Name,
					User:     tc.users[i],
					From:     at(t, ny, tc.from),
					Until:    at(t, ny, tc.until),
					Override: tc.override,
				}
				checkShift(t, got[i], want)
				one, ok := s.OnCallTier(tier.Name, at(t, ny, tc.at))
				if !ok {
					t.Fatalf("OnCallTier(%s) not ok", tier.Name)
				}
				checkShift(t, one, want)
			}
		})
	}
}

func TestScheduleOverrideSpan(t *testing.T) {
	aivo := aivoSchedule(t)
	ny := aivo.Location()
	aion := aionSchedule(t, aionOverrides(t)...)
	tests := []struct {
		name        string
		s           *Schedule
		o           *Override
		from, until time.Time
	}{
		{"dates are whole local days, until inclusive", aivo, &aivo.Overrides[0], at(t, ny, "2025-08-30T00:00:00"), at(t, ny, "2025-09-03T00:00:00")},
		{"instants as given", aion, &aion.Overrides[0], utc(t, "2025-10-14T00:00:00Z"), utc(t, "2025-10-16T00:00:00Z")},
		{"instant with offset", aion, &aion.Overrides[1], utc(t, "2025-10-22T04:00:00Z"), utc(t, "2025-10-22T18:00:00Z")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			from, until := tc.s.OverrideSpan(tc.o)
			if !from.Equal(tc.from) || !until.Equal(tc.until) {
				t.Errorf("OverrideSpan = [%s, %s), want [%s, %s)", from, until, tc.from, tc.until)
			}
		})
	}
}

func TestScheduleWeeksAIONR(t *testing.T) {
	s := aionSchedule(t)
	rows := s.Weeks(utc(t, "2025-10-08T15:00:00Z"), 5)
	want := []struct {
		label   string
		start   string
		holders []string
	}{
		{"Oct 6-12", "2025-10-06T00:00:00Z", []string{"eng-a", "eng-b", "lead-x"}},
		{"Oct 13-19", "2025-10-13T00:00:00Z", []string{"eng-b", "eng-c", "lead-x"}},
		{"Oct 20-26", "2025-10-20T00:00:00Z", []string{"eng-c", "eng-d", "lead-y"}},
		{"Oct 27-Nov 2", "2025-10-27T00:00:00Z", []string{"eng-d", "eng-e", "lead-y"}},
		{"Nov 3-9", "2025-11-03T00:00:00Z", []string{"eng-e", "eng-f", "lead-x"}},
	}
	if len(rows) != len(want) {
		t.Fatalf("Weeks returned %d rows, want %d", len(rows), len(want))
	}
	for i, w := range want {
		t.Run(w.label, func(t *testing.T) {
			r := rows[i]
			if got := s.WeekLabel(r); got != w.label {
				t.Errorf("label = %q, want %q", got, w.label)
			}
			start := utc(t, w.start)
			if !r.Start.Equal(start) || !r.End.Equal(start.AddDate(0, 0, 7)) {
				t.Errorf("week = [%s, %s), want to start %s", r.Start, r.End, w.start)
			}
			if strings.Join(r.Holders, ",") != strings.Join(w.holders, ",") {
				t.Errorf("holders = %v, want %v", r.Holders, w.holders)
			}
		})
	}
}

func TestScheduleWeeksAIVO(t *testing.T) {
	s := aivoSchedule(t)
	ny := s.Location()
	tests := []struct {
		name    string
		from    string // New York wall clock
		n       int
		starts  []string
		primary []string
	}{
		{"mid-week starts at containing week", "2025-08-20T12:00:00", 2, []string{"2025-08-18T08:00:00", "2025-08-25T08:00:00"}, []string{"marcus", "emily"}},
		{"monday before handoff is previous week", "2025-08-25T07:00:00", 1, []string{"2025-08-18T08:00:00"}, []string{"marcus"}},
		{"overrides not applied", "2025-08-31T12:00:00", 1, []string{"2025-08-25T08:00:00"}, []string{"emily"}},
		{"across fall back", "2025-10-28T00:00:00", 2, []string{"2025-10-27T08:00:00", "2025-11-03T08:00:00"}, []string{"alex", "jennifer"}},
		{"zero weeks", "2025-08-20T12:00:00", 0, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows := s.Weeks(at(t, ny, tc.from), tc.n)
			if len(rows) != len(tc.starts) {
				t.Fatalf("Weeks returned %d rows, want %d", len(rows), len(tc.starts))
			}
			for i, r := range rows {
				if want := at(t, ny, tc.starts[i]); !r.Start.Equal(want) {
					t.Errorf("row %d starts %s, want %s", i, r.Start.In(ny), want)
				}
				if i > 0 && !rows[i-1].End.Equal(r.Start) {
					t.Errorf("row %d does not start where row %d ends", i, i-1)
				}
				if r.Holders[0] != tc.primary[i] {
					t.Errorf("row %d primary = %s, want %s", i, r.Holders[0], tc.primary[i])
				}
			}
		})
	}
}

func TestScheduleRotationHolder(t *testing.T) {
	s := aionSchedule(t, aionOverrides(t)...)
	tests := []struct {
		name        string
		tier        string
		at          string
		user        string
		from, until string
	}{
		{"tertiary first week of shift", "tertiary", "2025-10-10T00:00:00Z", "lead-x", "2025-10-06T00:00:00Z", "2025-10-20T00:00:00Z"},
		{"tertiary second week of shift", "tertiary", "2025-10-19T23:59:59Z", "lead-x", "2025-10-06T00:00:00Z", "2025-10-20T00:00:00Z"},
		{"tertiary next shift", "tertiary", "2025-10-20T00:00:00Z", "lead-y", "2025-10-20T00:00:00Z", "2025-11-03T00:00:00Z"},
		{"tertiary override ignored", "tertiary", "2025-10-22T12:00:00Z", "lead-y", "2025-10-20T00:00:00Z", "2025-11-03T00:00:00Z"},
		{"tertiary week before start", "tertiary", "2025-09-29T00:00:00Z", "lead-y", "2025-09-22T00:00:00Z", "2025-10-06T00:00:00Z"},
		{"tertiary two weeks before start", "tertiary", "2025-09-22T00:00:00Z", "lead-y", "2025-09-22T00:00:00Z", "2025-10-06T00:00:00Z"},
		{"tertiary three weeks before start", "tertiary", "2025-09-21T23:59:59Z", "lead-x", "2025-09-08T00:00:00Z", "2025-09-22T00:00:00Z"},
		{"primary swap ignored", "primary", "2025-10-15T00:00:00Z", "eng-b", "2025-10-13T00:00:00Z", "2025-10-20T00:00:00Z"},
		{"primary week before start", "primary", "2025-09-29T00:00:00Z", "eng-h", "2025-09-29T00:00:00Z", "2025-10-06T00:00:00Z"},
		{"primary wraps after eight weeks", "primary", "2025-12-01T00:00:00Z", "eng-a", "2025-12-01T00:00:00Z", "2025-12-08T00:00:00Z"},
		{"secondary", "secondary", "2025-11-05T00:00:00Z", "eng-f", "2025-11-03T00:00:00Z", "2025-11-10T00:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := s.RotationHolder(s.Tier(tc.tier), utc(t, tc.at))
			checkShift(t, got, Shift{Schedule: "aion-r", Tier: tc.tier, User: tc.user, From: utc(t, tc.from), Until: utc(t, tc.until)})
		})
	}
}

func TestScheduleRotationHolderStartOffWeekday(t *testing.T) {
	// A Start that is not a handoff weekday anchors at the next handoff.
	s := aionSchedule(t)
	s.Tiers[0].Start = mustDate(t, "2025-10-02") // a Thursday
	tests := []struct {
		at   string
		user string
	}{
		{"2025-10-05T12:00:00Z", "eng-h"},
		{"2025-10-06T00:00:00Z", "eng-a"},
		{"2025-10-13T00:00:00Z", "eng-b"},
	}
	for _, tc := range tests {
		t.Run(tc.at, func(t *testing.T) {
			if got := s.RotationHolder(&s.Tiers[0], utc(t, tc.at)).User; got != tc.user {
				t.Errorf("holder = %s, want %s", got, tc.user)
			}
		})
	}
}

func TestScheduleOnCallTierOverrides(t *testing.T) {
	swap := aionSchedule(t, aionOverrides(t)...)
	overlap := aionSchedule(t,
		Override{Reason: "long", From: instantMoment(t, "2025-10-14T00:00:00Z"), Until: instantMoment(t, "2025-10-18T00:00:00Z"), Tiers: map[string]string{"primary": "eng-z1"}},
		Override{Reason: "short", From: instantMoment(t, "2025-10-15T00:00:00Z"), Until: instantMoment(t, "2025-10-16T00:00:00Z"), Tiers: map[string]string{"primary": "eng-z2"}},
	)
	tests := []struct {
		name        string
		s           *Schedule
		tier        string
		at          string
		user        string
		override    string
		from, until string
	}{
		{"regular before swap is clipped", swap, "primary", "2025-10-13T12:00:00Z", "eng-b", "", "2025-10-13T00:00:00Z", "2025-10-14T00:00:00Z"},
		{"swap starts", swap, "primary", "2025-10-14T00:00:00Z", "eng-c", "swap", "2025-10-14T00:00:00Z", "2025-10-16T00:00:00Z"},
		{"swap last second", swap, "primary", "2025-10-15T23:59:59Z", "eng-c", "swap", "2025-10-14T00:00:00Z", "2025-10-16T00:00:00Z"},
		{"regular after swap is clipped", swap, "primary", "2025-10-16T00:00:00Z", "eng-b", "", "2025-10-16T00:00:00Z", "2025-10-20T00:00:00Z"},
		{"other tier untouched by swap", swap, "secondary", "2025-10-14T12:00:00Z", "eng-c", "", "2025-10-13T00:00:00Z", "2025-10-20T00:00:00Z"},
		{"swap outside shift does not clip", swap, "primary", "2025-10-21T00:00:00Z", "eng-c", "", "2025-10-20T00:00:00Z", "2025-10-27T00:00:00Z"},
		{"two-week shift clipped before reasonless override", swap, "tertiary", "2025-10-21T00:00:00Z", "lead-y", "", "2025-10-20T00:00:00Z", "2025-10-22T04:00:00Z"},
		{"reasonless override", swap, "tertiary", "2025-10-22T12:00:00Z", "lead-x", "override", "2025-10-22T04:00:00Z", "2025-10-22T18:00:00Z"},
		{"two-week shift clipped after reasonless override", swap, "tertiary", "2025-10-30T00:00:00Z", "lead-y", "", "2025-10-22T18:00:00Z", "2025-11-03T00:00:00Z"},
		{"overlap: earlier override before the later", overlap, "primary", "2025-10-14T12:00:00Z", "eng-z1", "long", "2025-10-14T00:00:00Z", "2025-10-15T00:00:00Z"},
		{"overlap: later-listed override wins", overlap, "primary", "2025-10-15T12:00:00Z", "eng-z2", "short", "2025-10-15T00:00:00Z", "2025-10-16T00:00:00Z"},
		{"overlap: earlier override after the later", overlap, "primary", "2025-10-17T12:00:00Z", "eng-z1", "long", "2025-10-16T00:00:00Z", "2025-10-18T00:00:00Z"},
		{"overlap: regular after both", overlap, "primary", "2025-10-18T00:00:00Z", "eng-b", "", "2025-10-18T00:00:00Z", "2025-10-20T00:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.s.OnCallTier(tc.tier, utc(t, tc.at))
			if !ok {
				t.Fatalf("OnCallTier(%s) not ok", tc.tier)
			}
			checkShift(t, got, Shift{Schedule: "aion-r", Tier: tc.tier, User: tc.user, From: utc(t, tc.from), Until: utc(t, tc.until), Override: tc.override})
		})
	}
}

func TestScheduleOnCallTierMissing(t *testing.T) {
	s := aionSchedule(t)
	s.Tiers = append(s.Tiers, Tier{Name: "empty", Start: mustDate(t, "2025-10-06")})
	s.Overrides = []Override{{Reason: "x", From: instantMoment(t, "2025-10-01T00:00:00Z"), Until: instantMoment(t, "2025-11-01T00:00:00Z"), Tiers: map[string]string{"empty": "eng-a"}}}
	now := utc(t, "2025-10-10T00:00:00Z")
	tests := []struct {
		name string
		tier string
	}{
		{"unknown tier", "quaternary"},
		{"tier without members", "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if sh, ok := s.OnCallTier(tc.tier, now); ok {
				t.Errorf("OnCallTier(%s) = %+v, true; want not ok", tc.tier, sh)
			}
		})
	}
	t.Run("OnCall keeps tier order", func(t *testing.T) {
		got := s.OnCall(now)
		if len(got) != 4 || got[3].Tier != "empty" || got[3].User != "" || got[0].User != "eng-a" {
			t.Errorf("OnCall = %+v", got)
		}
	})
}

// NextOnCall is the holder from when the current shift ends, and nobody
// when that shift does not end after now.
func TestScheduleNextOnCall(t *testing.T) {
	s := aionSchedule(t)
	now := utc(t, "2025-10-10T00:00:00Z")
	cur, ok := s.OnCallTier("primary", now)
	if !ok {
		t.Fatal("OnCallTier(primary) not ok")
	}
	next, ok := s.NextOnCall("primary", cur.Until, now)
	if want, _ := s.OnCallTier("primary", cur.Until); !ok || !next.From.Equal(cur.Until) || next.User != want.User {
		t.Errorf("NextOnCall = %+v, %v; want the holder from %s, %s", next, ok, cur.Until, want.User)
	}
	for _, tc := range []struct {
		name  string
		tier  string
		until time.Time
	}{
		{"a shift that never ends", "primary", time.Time{}},
		{"a shift ending now", "primary", now},
		{"an unknown tier", "quaternary", now.Add(time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if sh, ok := s.NextOnCall(tc.tier, tc.until, now); ok {
				t.Errorf("NextOnCall = %+v, true; want not ok", sh)
			}
		})
	}
}

func TestScheduleWeekLabel(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	tokyo := mustLoc(t, "Asia/Tokyo")
	tests := []struct {
		name  string
		loc   *time.Location
		start time.Time
		want  string
	}{
		{"same month", ny, at(t, ny, "2025-08-18T08:00:00"), "Aug 18-24"},
		{"single digits", ny, at(t, ny, "2025-09-01T08:00:00"), "Sep 1-7"},
		{"month changes", ny, at(t, ny, "2025-09-29T08:00:00"), "Sep 29-Oct 5"},
		{"year changes", ny, at(t, ny, "2025-12-29T08:00:00"), "Dec 29-Jan 4"},
		{"leap february", ny, at(t, ny, "2028-02-28T08:00:00"), "Feb 28-Mar 5"},
		{"local date, not UTC date", tokyo, at(t, tokyo, "2025-08-18T08:00:00").UTC(), "Aug 18-24"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Schedule{loc: tc.loc}
			if got := s.WeekLabel(WeekRow{Start: tc.start, End: tc.start.AddDate(0, 0, 7)}); got != tc.want {
				t.Errorf("WeekLabel = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestScheduleTierDisplayTitle(t *testing.T) {
	tests := []struct {
		tier Tier
		want string
	}{
		{Tier{Name: "primary"}, "Primary"},
		{Tier{Name: "escalation_lead"}, "Escalation Lead"},
		{Tier{Name: "on-call-lead"}, "On Call Lead"},
		{Tier{Name: "ic", Title: "Incident Commander"}, "Incident Commander"},
	}
	for _, tc := range tests {
		t.Run(tc.tier.Name, func(t *testing.T) {
			if got := tc.tier.DisplayTitle(); got != tc.want {
				t.Errorf("DisplayTitle = %q, want %q", got, tc.want)
			}
		})
	}
}

const aivoTable = `| Week | Primary | Secondary | Escalation Lead |
|------|---------|-----------|-----------------|
| Aug 18-24 | Marcus Rodriguez | Emily Watson | Jennifer Liu |
| Aug 25-31 | Emily Watson | Alex Thompson | David Park |
| Sep 1-7 | Alex Thompson | Jennifer Liu | Marcus Rodriguez |
| Sep 8-14 | Jennifer Liu | Marcus Rodriguez | Emily Watson |
| Sep 15-21 | Marcus Rodriguez | Emily Watson | Alex Thompson |
| Sep 22-28 | Emily Watson | Alex Thompson | Jennifer Liu |
| Sep 29-Oct 5 | Alex Thompson | Jennifer Liu | David Park |

Overrides:
- Labor Day weekend (2025-08-30 to 2025-09-02): Primary: Emily Watson, Secondary: Marcus Rodriguez, Escalation Lead: David Park
`

const aivoTableOctober = `| Week | Primary | Secondary | Escalation Lead |
|------|---------|-----------|-----------------|
| Oct 6-12 | Jennifer Liu | Marcus Rodriguez | Marcus Rodriguez |
| Oct 13-19 | Marcus Rodriguez | Emily Watson | Emily Watson |

Two tiers at once:
- Marcus Rodriguez holds Secondary and Escalation Lead at once, Mon 2025-10-06 08:00 to Mon 2025-10-13 08:00 (America/New_York): an escalation from one to the other pages them again, nobody new
- Emily Watson holds Secondary and Escalation Lead at once, Mon 2025-10-13 08:00 to Mon 2025-10-20 08:00 (America/New_York): an escalation from one to the other pages them again, nobody new
`

const aionTable = `| Week | Primary | Secondary | Leads |
|------|---------|-----------|-------|
| Oct 13-19 | eng-b | eng-c | lead-x |
| Oct 20-26 | eng-c | eng-d | lead-y |

Overrides:
- swap (2025-10-14T00:00:00Z to 2025-10-16T00:00:00Z): Primary: eng-c
- override (2025-10-22T06:00:00+02:00 to 2025-10-22T18:00:00Z): Leads: lead-x

Two tiers at once:
- eng-c holds Primary and Secondary at once, Tue 2025-10-14 00:00 to Thu 2025-10-16 00:00 (UTC): an escalation from one to the other pages them again, nobody new
`

func TestScheduleMarkdownTable(t *testing.T) {
	aivo := aivoSchedule(t)
	ny := aivo.Location()
	aion := aionSchedule(t, aionOverrides(t)...)
	aion.Tiers[2].Title = "Leads"
	names := func(id string) string { return aivoNames[id] }
	tests := []struct {
		name  string
		s     *Schedule
		from  time.Time
		weeks int
		names func(string) string
		want  string
	}{
		{"aivo seven weeks from mid-week", aivo, at(t, ny, "2025-08-20T12:00:00"), 7, names, aivoTable},
		{"aivo without overrides in range", aivo, at(t, ny, "2025-10-06T08:00:00"), 2, names, aivoTableOctober},
		{"aion instants and titles, ids as names", aion, utc(t, "2025-10-13T00:00:00Z"), 2, nil, aionTable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.MarkdownTable(tc.from, tc.weeks, tc.names); got != tc.want {
				t.Errorf("MarkdownTable =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestScheduleMarkdownTableOverrideBoundaries(t *testing.T) {
	s := aionSchedule(t)
	mk := func(from, until string) []Override {
		return []Override{{Reason: "edge", From: instantMoment(t, from), Until: instantMoment(t, until), Tiers: map[string]string{"primary": "eng-z"}}}
	}
	// The table covers [2025-10-13T00:00Z, 2025-10-20T00:00Z).
	tests := []struct {
		name        string
		from, until string
		listed      bool
	}{
		{"ends at table start", "2025-10-12T00:00:00Z", "2025-10-13T00:00:00Z", false},
		{"ends just inside", "2025-10-12T00:00:00Z", "2025-10-13T00:00:01Z", true},
		{"starts at table end", "2025-10-20T00:00:00Z", "2025-10-21T00:00:00Z", false},
		{"starts just inside", "2025-10-19T23:59:59Z", "2025-10-21T00:00:00Z", true},
		{"covers whole table", "2025-10-01T00:00:00Z", "2025-11-01T00:00:00Z", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.Overrides = mk(tc.from, tc.until)
			got := s.MarkdownTable(utc(t, "2025-10-13T00:00:00Z"), 1, nil)
			if listed := strings.Contains(got, "\nOverrides:\n- edge ("); listed != tc.listed {
				t.Errorf("override listed = %v, want %v; table:\n%s", listed, tc.listed, got)
			}
		})
	}
}

func schedWeekday(d time.Weekday) *Weekday { w := Weekday(d); return &w }

// TestScheduleListsOverrideBoundsToTheFraction: an override an import
// wrote to the nanosecond (a piece of a vendor's override inside one
// second) is listed with its bounds as written, not as one that ends
// when it starts.
func TestScheduleListsOverrideBoundsToTheFraction(t *testing.T) {
	s := aionSchedule(t, Override{Reason: "piece", From: instantMoment(t, "2025-10-14T12:00:00.25Z"),
		Until: instantMoment(t, "2025-10-14T12:00:00.75Z"), Tiers: map[string]string{"primary": "eng-z"}})
	got := s.MarkdownTable(utc(t, "2025-10-13T00:00:00Z"), 1, nil)
	if want := "- piece (2025-10-14T12:00:00.25Z to 2025-10-14T12:00:00.75Z): Primary: eng-z\n"; !strings.Contains(got, want) {
		t.Errorf("table lacks %q:\n%s", want, got)
	}
}

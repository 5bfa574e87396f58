package policy

import (
	"strings"
	"testing"
	"time"
)

const compConfig = `
business_hours:
  - {name: office, time_zone: UTC, start: "09:00", end: "17:00", holidays: [{date: 2025-12-25, name: Christmas}]}
users:
  - {id: utc, contacts: [{channel: push, via: log}]}
  - {id: ny, time_zone: America/New_York, contacts: [{channel: push, via: log}]}
  - {id: nozone, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers: [{name: primary, start: 2025-10-06, members: [utc]}]
  - name: ny-team
    time_zone: America/New_York
    handoff: {weekday: monday, time: "09:00"}
    tiers: [{name: primary, start: 2025-10-06, members: [nozone]}]
escalation_policies:
  - name: p
    levels: [{targets: [{schedule: s, tier: primary}]}]
compensation:
  - name: pay
    business_hours: office
    minimum: 30m
    round_to: 15m
    comp_days:
      - {priorities: [SEV-1], longer_than: 4h, days: 1}
      - {priorities: [SEV-1], longer_than: 8h, days: 2}
      - {priorities: [SEV-1], weekend: true, days: 1}
services:
  - {name: svc, priority_scheme: SEV-1-4, escalation_policy: p, compensation: pay}
`

func TestCompensation(t *testing.T) {
	c, err := Parse([]byte(compConfig), "comp.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	cp := c.CompensationFor(c.Service("svc"))
	if cp == nil {
		t.Fatal("service has no compensation")
	}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name       string
		user, prio string
		from, to   string
		billable   time.Duration
		days       int
	}{
		{"business hours are not billable", "utc", "SEV-1", "2025-10-07T10:00:00Z", "2025-10-07T11:00:00Z", 0, 0},
		{"ten minutes after hours bill the 30 minute minimum", "utc", "SEV-2", "2025-10-07T16:50:00Z", "2025-10-07T17:10:00Z", 30 * time.Minute, 0},
		{"80 minutes round down to 75", "utc", "SEV-2", "2025-10-07T16:00:00Z", "2025-10-07T18:20:00Z", 75 * time.Minute, 0},
		{"83 minutes round up to 90", "utc", "SEV-2", "2025-10-07T16:00:00Z", "2025-10-07T18:23:00Z", 90 * time.Minute, 0},
		{"before opening counts too", "utc", "SEV-3", "2025-10-07T08:00:00Z", "2025-10-07T10:00:00Z", time.Hour, 0},
		{"overnight SEV-1 over 8h earns two comp days", "utc", "SEV-1", "2025-10-08T20:00:00Z", "2025-10-09T05:00:00Z", 9 * time.Hour, 2},
		{"SEV-1 just over 4h earns one", "utc", "SEV-1", "2025-10-08T20:00:00Z", "2025-10-09T00:01:00Z", 4 * time.Hour, 1},
		{"exactly 4h earns none", "utc", "SEV-1", "2025-10-08T20:00:00Z", "2025-10-09T00:00:00Z", 4 * time.Hour, 0},
		{"weekend SEV-1 earns the Monday, plus the duration day", "utc", "SEV-1", "2025-10-11T10:00:00Z", "2025-10-11T14:30:00Z", 4*time.Hour + 30*time.Minute, 2},
		{"weekend SEV-2 earns no comp day", "utc", "SEV-2", "2025-10-11T10:00:00Z", "2025-10-11T14:30:00Z", 4*time.Hour + 30*time.Minute, 0},
		{"holidays are billable", "utc", "SEV-3", "2025-12-25T10:00:00Z", "2025-12-25T11:00:00Z", time.Hour, 0},
		{"the responder's own time zone: 10:00 in New York", "ny", "SEV-2", "2025-10-07T14:00:00Z", "2025-10-07T15:00:00Z", 0, 0},
		{"the responder's own time zone: 18:00 in New York", "ny", "SEV-2", "2025-10-07T22:00:00Z", "2025-10-07T23:00:00Z", time.Hour, 0},
		{"Saturday in New York is Friday night's end in UTC terms", "ny", "SEV-1", "2025-10-11T02:00:00Z", "2025-10-11T03:00:00Z", time.Hour, 0},
		{"Saturday 00:30 in New York starts a weekend SEV-1", "ny", "SEV-1", "2025-10-11T04:30:00Z", "2025-10-11T05:00:00Z", 30 * time.Minute, 1},
		{"a SEV-1 from Friday night into Saturday earns the Monday too", "utc", "SEV-1", "2025-10-10T22:00:00Z", "2025-10-11T06:00:00Z", 8 * time.Hour, 2},
		{"a SEV-1 from Sunday night into Monday earns it", "utc", "SEV-1", "2025-10-12T23:00:00Z", "2025-10-13T01:00:00Z", 2 * time.Hour, 1},
		{"a SEV-1 that ends as Saturday begins earns none", "utc", "SEV-1", "2025-10-10T22:00:00Z", "2025-10-11T00:00:00Z", 2 * time.Hour, 0},
		{"Friday night into Saturday in New York", "ny", "SEV-1", "2025-10-11T02:00:00Z", "2025-10-11T04:30:00Z", 2*time.Hour + 30*time.Minute, 1},
		// Without a time_zone, the clock of their schedule (as reports
		// count their nights), not UTC: 14:00-16:00 in New York is
		// business hours, though 18:00-20:00 UTC is not.
		{"no time_zone: the schedule's clock, 14:00 in New York", "nozone", "SEV-2", "2025-10-07T18:00:00Z", "2025-10-07T20:00:00Z", 0, 0},
		// 02:00 UTC on Saturday is Friday 22:00 in New York: no weekend
		// comp day.
		{"no time_zone: the schedule's clock, Friday night in New York", "nozone", "SEV-1", "2025-10-11T02:00:00Z", "2025-10-11T02:30:00Z", 30 * time.Minute, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := c.Pay(cp, tc.prio, tc.user, at(tc.from), at(tc.to))
			if p.Billable != tc.billable || p.CompDays != tc.days {
				t.Fatalf("billable %s, %d comp days; want %s, %d (%v)", p.Billable, p.CompDays, tc.billable, tc.days, p.Reasons)
			}
			if p.BillableMinutes != int(tc.billable/time.Minute) {
				t.Fatalf("billable_minutes %d", p.BillableMinutes)
			}
		})
	}
}

// TestCompensationSplitsWeekendAndAfterHours: billable time is split
// between the two rates payroll applies (weekend, after hours), on the
// responder's clock, and the parts add up to the billable minutes.
func TestCompensationSplitsWeekendAndAfterHours(t *testing.T) {
	c, err := Parse([]byte(compConfig), "comp.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	cp := c.CompensationFor(c.Service("svc"))
	cases := []struct {
		name, user, from, to string
		weekend, afterHours  int
	}{
		// Friday 20:00 to Saturday 02:00 in New York.
		{"Friday night into Saturday on the responder's clock", "ny", "2025-10-11T00:00:00Z", "2025-10-11T06:00:00Z", 120, 240},
		{"no time_zone: Friday night into Saturday on the schedule's clock", "nozone", "2025-10-11T00:00:00Z", "2025-10-11T06:00:00Z", 120, 240},
		{"the same instants are all Saturday in UTC", "utc", "2025-10-11T00:00:00Z", "2025-10-11T06:00:00Z", 360, 0},
		{"ten minutes on a Sunday bill the minimum at the weekend rate", "utc", "2025-10-12T10:00:00Z", "2025-10-12T10:10:00Z", 30, 0},
		{"ten minutes on a weekday evening bill it after hours", "utc", "2025-10-07T20:00:00Z", "2025-10-07T20:10:00Z", 0, 30},
		{"a holiday is paid as a weekend", "utc", "2025-12-25T10:00:00Z", "2025-12-25T11:00:00Z", 60, 0},
		{"business hours are neither", "utc", "2025-10-10T16:00:00Z", "2025-10-10T18:00:00Z", 0, 60},
		// Raw 10m after hours and 20m weekend: the 30 billed minutes
		// are shared in quarter hours, not 10 and 20.
		{"the billed total is shared in round_to steps", "utc", "2025-10-10T23:50:00Z", "2025-10-11T00:20:00Z", 15, 15},
		// Sunday 23:37:30 to Monday 00:22:30: raw 22m30s each, 45m
		// billed; the quarter hour split in half goes to the weekend.
		{"a tie goes to the weekend", "utc", "2025-10-12T23:37:30Z", "2025-10-13T00:22:30Z", 30, 15},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := c.Pay(cp, "SEV-3", tc.user, scenAt(t, tc.from), scenAt(t, tc.to))
			if p.WeekendMinutes != tc.weekend || p.AfterHoursMinutes != tc.afterHours {
				t.Fatalf("weekend %d, after hours %d minutes; want %d, %d (billable %d)", p.WeekendMinutes, p.AfterHoursMinutes, tc.weekend, tc.afterHours, p.BillableMinutes)
			}
			if p.WeekendMinutes+p.AfterHoursMinutes != p.BillableMinutes {
				t.Fatalf("weekend %d + after hours %d != billable %d", p.WeekendMinutes, p.AfterHoursMinutes, p.BillableMinutes)
			}
		})
	}
}

// TestSplitBillable: the weekend share of billed minutes, in round_to
// steps when the total is made of them, else in minutes.
func TestSplitBillable(t *testing.T) {
	m := time.Minute
	cases := []struct {
		name                         string
		billed                       int
		weekend, afterHours, roundTo time.Duration
		want                         int
	}{
		{"nothing billed", 0, 0, 0, 15 * m, 0},
		{"all weekend", 30, 10 * m, 0, 15 * m, 30},
		{"all after hours", 30, 0, 10 * m, 15 * m, 0},
		{"proportional in quarter hours", 60, 40 * m, 20 * m, 15 * m, 45},
		// 9m weekend and 8m after hours round to one quarter hour: the
		// larger part gets it, not the smaller one.
		{"one step to the larger part", 15, 9 * m, 8 * m, 15 * m, 15},
		{"one step to the larger part, after hours", 15, 8 * m, 9 * m, 15 * m, 0},
		{"no rounding: minutes", 20, 5 * m, 5 * m, 0, 10},
		{"a minimum of 20m is no multiple of 15m: minutes", 20, 5 * m, 10 * m, 15 * m, 7},
		{"seconds in the raw time", 75, 30*m + 30*time.Second, 44*m + 30*time.Second, 15 * m, 30},
		{"a year of raw time does not overflow", 1051200, 365 * 24 * time.Hour, 365 * 24 * time.Hour, 15 * m, 525600},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := splitBillable(tc.billed, tc.weekend, tc.afterHours, tc.roundTo); got != tc.want {
				t.Fatalf("splitBillable(%d, %s, %s, %s) = %d, want %d", tc.billed, tc.weekend, tc.afterHours, tc.roundTo, got, tc.want)
			}
		})
	}
}

func TestCompensationConfigErrors(t *testing.T) {
	cases := []struct{ from, to, want string }{
		{"{priorities: [SEV-1], longer_than: 4h, days: 1}", "{priorities: [SEV-1], days: 1}", "compensation[pay].comp_days[0]: set exactly one of longer_than or weekend"},
		{"{priorities: [SEV-1], longer_than: 4h, days: 1}", "{priorities: [P0], longer_than: 4h, days: 1}", `compensation[pay].comp_days[0].priorities: priority "P0" is not in scheme SEV-1-4`},
		{"business_hours: office\n    minimum", "business_hours: nope\n    minimum", `compensation[pay].business_hours: no business_hours calendar "nope"`},
		{"compensation: pay}", "compensation: unpaid}", `services[svc].compensation: no compensation "unpaid"`},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			src := strings.Replace(compConfig, tc.from, tc.to, 1)
			if src == compConfig {
				t.Fatalf("edit %q did not apply", tc.from)
			}
			_, err := Parse([]byte(src), "comp.yaml", "")
			if err == nil || !strings.Contains(err.Error(), "comp.yaml: "+tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSimulateReportsCompensation(t *testing.T) {
	c := scenLoad(t, "aion-r.yaml")
	res, err := c.Simulate(SimOptions{
		At: scenAt(t, "2025-10-11T16:00:00Z"), AckAfter: 2 * time.Minute, UpdateEvery: 15 * time.Minute,
		ResolveAfter: 5 * time.Hour, Labels: map[string]string{"severity": "critical"},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Compensation
	if p == nil || p.User != "eng-a" || p.Billable != 5*time.Hour || p.CompDays != 2 || p.WeekendMinutes != 300 || p.AfterHoursMinutes != 0 {
		t.Fatalf("compensation %+v, want eng-a billable 5h, all at the weekend rate, with 2 comp days (weekend + over 4h)", p)
	}
}

// TestPayReasonsSayTheTimeWorkedAndHowItWasBilled: the reason a pay table
// shows next to an incident names the time really outside business hours
// and, when the rounding or the minimum made the billed time differ, how:
// a 10-minute incident is not "30m outside business hours".
func TestPayReasonsSayTheTimeWorkedAndHowItWasBilled(t *testing.T) {
	c, err := Parse([]byte(compConfig), "comp.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	cp := c.CompensationFor(c.Service("svc"))
	for _, tc := range []struct{ from, to, want string }{
		{"2025-10-07T16:50:00Z", "2025-10-07T17:10:00Z", "10m outside business hours, billed as the 30m minimum"},
		{"2025-10-07T16:00:00Z", "2025-10-07T18:23:00Z", "1h23m outside business hours, rounded to 1h30m"},
		{"2025-10-07T08:00:00Z", "2025-10-07T10:00:00Z", "1h outside business hours"},
		{"2025-10-07T16:52:30Z", "2025-10-07T17:00:00Z", ""},
		{"2025-10-07T16:52:30Z", "2025-10-07T17:07:30Z", "7m30s outside business hours, billed as the 30m minimum"},
		// Incident times are stamped to the nanosecond; the reason names
		// the time to the second, as a person reads it.
		{"2025-10-07T16:00:00.5Z", "2025-10-07T17:47:12.345678Z", "47m12s outside business hours, rounded to 45m"},
		{"2025-10-07T16:00:00Z", "2025-10-07T17:30:00.3Z", "30m outside business hours"},
	} {
		from, _ := time.Parse(time.RFC3339, tc.from)
		to, _ := time.Parse(time.RFC3339, tc.to)
		p := c.Pay(cp, "SEV-2", "utc", from, to)
		if got := strings.Join(p.Reasons, "; "); got != tc.want {
			t.Errorf("%s to %s: reasons %q, want %q", tc.from, tc.to, got, tc.want)
		}
	}
	// Without round_to or a minimum the time is billed as it is: no
	// rounding to speak of, whatever its fraction of a second.
	plain := *cp
	plain.RoundTo, plain.Minimum = 0, 0
	from, _ := time.Parse(time.RFC3339, "2025-10-07T17:00:00Z")
	to, _ := time.Parse(time.RFC3339Nano, "2025-10-07T17:10:30.345Z")
	if got, want := strings.Join(c.Pay(&plain, "SEV-2", "utc", from, to).Reasons, "; "), "10m30s outside business hours"; got != want {
		t.Errorf("without round_to: reasons %q, want %q", got, want)
	}
}

// TestWeekendSEV1OnADaySkippingMidnight: where the clocks skip midnight
// (Santiago goes from Saturday 23:59 to Sunday 01:00 when DST starts), a
// SEV-1 that starts on that Sunday started on a Sunday: it never ran
// into Saturday.
func TestWeekendSEV1OnADaySkippingMidnight(t *testing.T) {
	src := strings.Replace(compConfig, "  - {id: nozone,", "  - {id: scl, time_zone: America/Santiago, contacts: [{channel: push, via: log}]}\n  - {id: nozone,", 1)
	c, err := Parse([]byte(src), "comp.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	scl, err := time.LoadLocation("America/Santiago")
	if err != nil {
		t.Skip(err)
	}
	from := time.Date(2025, 9, 7, 10, 0, 0, 0, scl)
	p := c.Pay(c.CompensationFor(c.Service("svc")), "SEV-1", "scl", from, from.Add(time.Hour))
	if got, want := strings.Join(p.Reasons, "; "), "1h outside business hours; SEV-1 started on a Sunday: 1 comp day(s)"; got != want {
		t.Errorf("reasons %q, want %q", got, want)
	}
}

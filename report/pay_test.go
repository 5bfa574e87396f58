package report

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// TestPayGoesByTheWallClock: on-call pay counts incident time from
// creation to resolution on the wall clock, the time a maintenance window
// held the incident included (docs/CONFIG.md, reports), though MTTR leaves
// it out.
func TestPayGoesByTheWallClock(t *testing.T) {
	cfg := loadSeed(t, "aion-r.yaml")
	// A SEV-1 on Saturday 10:00 UTC, opened inside a maintenance window
	// that ends at 12:00; Engineer A is paged then, acknowledges at 12:05
	// and resolves it at 15:00.
	inc := incident(time.UTC, "01-h1", "aion-r-platform", "SEV-1", "2025-10-11 10:00", "Payments webhook failing", alertmanager("WebhookFailures", 1),
		page(2*time.Hour, 1, "eng-a", "push"), ack(125*m, 1, "eng-a"), statusUpdate(130*m, "eng-a", "provider outage"), resolve(5*time.Hour, "eng-a"))
	inc.Held = []policy.HeldSpan{{From: inc.CreatedAt, To: inc.CreatedAt.Add(2 * time.Hour)}}
	r, err := Build(cfg, Options{From: time.Date(2025, 10, 6, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 10, 13, 0, 0, 0, 0, time.UTC)}, []Incident{inc})
	if err != nil {
		t.Fatal(err)
	}
	wantStats(t, "MTTR", r.Total.MTTR, 1, "3h", "3h", "3h")
	var pay []string
	for _, p := range r.Pay.Incidents {
		pay = append(pay, fmt.Sprintf("%s %s %s-%s %dmin %dd", p.Incident, p.User, p.Start.Format("15:04"), p.End.Format("15:04"), p.BillableMinutes, p.CompDays))
	}
	// 10:00 to 15:00 on a Saturday: 5h billable; a weekend SEV-1 over 4h:
	// two comp days.
	if got, want := strings.Join(pay, "; "), "01-h1 eng-a 10:00-15:00 300min 2d"; got != want {
		t.Errorf("pay %s, want %s", got, want)
	}
}

// paidTeam is a New York team paid by AION-R's rules whose members set no
// time_zone: their clock is their schedule's.
const paidTeam = `
business_hours:
  - {name: office, time_zone: UTC, days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
users:
  - {id: ann, name: Ann, contacts: [{channel: push, via: log}]}
  - {id: bob, name: Bob, contacts: [{channel: push, via: log}]}
  - {id: cat, name: Cat, time_zone: UTC, contacts: [{channel: push, via: log}]}
  - {id: dan, name: Dan, time_zone: UTC, contacts: [{channel: push, via: log}]}
schedules:
  - name: ny
    time_zone: America/New_York
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-10-06, members: [ann, bob]}
      - {name: secondary, start: 2025-10-06, members: [bob, ann]}
  - name: leads
    time_zone: UTC
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: lead, start: 2025-10-06, members: [cat]}
      - {name: unpaged, start: 2025-10-06, members: [dan]}
escalation_policies:
  - name: p
    repeat: 1
    levels:
      - {name: primary, targets: [{schedule: ny, tier: primary}], timeout: 10m}
      - {name: secondary, targets: [{schedule: ny, tier: secondary}], timeout: 10m}
    unresolved:
      - {priorities: [SEV-1], after: 1h, notify: [{schedule: leads, tier: lead}]}
compensation:
  - {name: pay, business_hours: office, minimum: 30m, round_to: 15m}
services:
  - {name: svc, priority_scheme: SEV-1-4, escalation_policy: p, compensation: pay}
reports:
  week: {time_zone: America/New_York, weekday: monday, time: "00:00"}
`

// TestPayOnThePersonsClock: billable time of someone without a time_zone
// is judged on the clock their nights are counted on, their schedule's,
// not on UTC (docs/CONFIG.md, compensation and reports.night).
func TestPayOnThePersonsClock(t *testing.T) {
	cfg, err := policy.Parse([]byte(paidTeam), "team.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	// Tuesday 08:00-10:00 in New York (12:00-14:00 UTC, business hours
	// there): the hour before 09:00 is billable.
	inc := incident(ny, "z1", "svc", "SEV-2", "2025-10-07 08:00", "disk", nil,
		page(0, 1, "ann", "push"), ack(5*m, 1, "ann"), resolve(2*time.Hour, "ann"))
	r, err := Build(cfg, Options{From: time.Date(2025, 10, 6, 0, 0, 0, 0, ny), To: time.Date(2025, 10, 13, 0, 0, 0, 0, ny)}, []Incident{inc})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Engineers) != 1 || r.Engineers[0].TimeZone != "America/New_York" {
		t.Fatalf("engineers %+v: ann's nights should be counted in New York", r.Engineers)
	}
	var pay []string
	for _, p := range r.Pay.Incidents {
		pay = append(pay, fmt.Sprintf("%s %s %dmin", p.Incident, p.User, p.BillableMinutes))
	}
	if got, want := strings.Join(pay, "; "), "z1 ann 60min"; got != want {
		t.Errorf("pay %q, want %q (08:00-09:00 New York time)", got, want)
	}
	if want := "Ann (ann) has no time_zone: nights and billable time are counted in America/New_York (schedule ny)"; !slices.Contains(r.Notes, want) {
		t.Errorf("notes %q lack %q", r.Notes, want)
	}
}

// TestPaySplitsWeekendAndAfterHours: each incident's billable time and
// each person's week are split between the weekend and the after-hours
// rate on the person's own clock (docs/CONFIG.md, compensation), in the
// pay tables and the payroll CSV too.
func TestPaySplitsWeekendAndAfterHours(t *testing.T) {
	cfg, err := policy.Parse([]byte(paidTeam), "team.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	incs := []Incident{
		// Friday 20:00 to Saturday 02:00 in New York, Ann's clock (she
		// has no time_zone; her schedule's): 4h after hours, 2h weekend.
		incident(ny, "w1", "svc", "SEV-2", "2025-10-10 20:00", "queue stuck", nil,
			page(0, 1, "ann", "push"), ack(5*m, 1, "ann"), resolve(6*time.Hour, "ann")),
		// Ten minutes on Sunday: the 30-minute minimum, at the weekend rate.
		incident(ny, "w2", "svc", "SEV-3", "2025-10-12 11:00", "disk", nil,
			page(0, 1, "ann", "push"), ack(2*m, 1, "ann"), resolve(10*m, "ann")),
		// The same instants as w1 on Cat's clock (UTC): all Saturday.
		incident(ny, "w3", "svc", "SEV-2", "2025-10-10 20:00", "queue stuck again", nil,
			page(0, 1, "cat", "push"), ack(5*m, 1, "cat"), resolve(6*time.Hour, "cat")),
	}
	r, err := Build(cfg, Options{From: time.Date(2025, 10, 6, 0, 0, 0, 0, ny), To: time.Date(2025, 10, 13, 0, 0, 0, 0, ny)}, incs)
	if err != nil {
		t.Fatal(err)
	}
	var items, weeks []string
	for _, p := range r.Pay.Incidents {
		items = append(items, fmt.Sprintf("%s %s %d = %d weekend + %d after hours", p.Incident, p.User, p.BillableMinutes, p.WeekendMinutes, p.AfterHoursMinutes))
	}
	for _, w := range r.Pay.Weeks {
		if w.BillableMinutes > 0 {
			weeks = append(weeks, fmt.Sprintf("%s %d = %d weekend + %d after hours", w.User, w.BillableMinutes, w.WeekendMinutes, w.AfterHoursMinutes))
		}
	}
	want := []string{
		"w1 ann 360 = 120 weekend + 240 after hours",
		"w3 cat 360 = 360 weekend + 0 after hours",
		"w2 ann 30 = 30 weekend + 0 after hours",
	}
	if got := strings.Join(items, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("pay incidents:\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	want = []string{
		"ann 390 = 150 weekend + 240 after hours",
		"cat 360 = 360 weekend + 0 after hours",
	}
	if got := strings.Join(weeks, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("pay weeks:\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	csv := render(t, func(b *bytes.Buffer) error { return r.WritePayrollCSV(b) })
	if !strings.Contains(csv, "\n2025-10-06,ann,Ann,390,6.50,0,w1 w2,10080,168.00,150,2.50,240,4.00\n") {
		t.Errorf("payroll CSV:\n%s", csv)
	}
	text := render(t, func(b *bytes.Buffer) error { return r.WriteText(b) })
	if !strings.Contains(text, "Ann (ann)  168:00   6:30      2:30     4:00         0          w1 w2") {
		t.Errorf("text report's pay table:\n%s", text)
	}
}

// TestPayCountsTimeOnCall: each pay week says how long the person was on
// call in the rotations the paid services page (the stipend's "per week"),
// overrides applied, each minute once when they hold two such tiers at
// once, up to the instant the report is as of; people on call without
// incidents get a row, people in rotations no paid policy pages do not.
func TestPayCountsTimeOnCall(t *testing.T) {
	// Bob covers Ann's primary shift all Wednesday (New York) while he is
	// secondary.
	src := strings.Replace(paidTeam, "      - {name: secondary, start: 2025-10-06, members: [bob, ann]}\n",
		"      - {name: secondary, start: 2025-10-06, members: [bob, ann]}\n    overrides:\n      - {reason: dentist, from: 2025-10-08, until: 2025-10-08, tiers: {primary: bob}}\n", 1)
	if src == paidTeam {
		t.Fatal("override not added")
	}
	cfg, err := policy.Parse([]byte(src), "team.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	// Two weeks, made on the second Wednesday at noon.
	r, err := Build(cfg, Options{From: time.Date(2025, 10, 6, 0, 0, 0, 0, ny), To: time.Date(2025, 10, 20, 0, 0, 0, 0, ny),
		AsOf: time.Date(2025, 10, 15, 12, 0, 0, 0, ny)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var weeks []string
	for _, w := range r.Pay.Weeks {
		weeks = append(weeks, fmt.Sprintf("%s %s %dmin on call, %dmin billable %v", w.Week.In(ny).Format("2006-01-02"), w.User, w.OnCallMinutes, w.BillableMinutes, w.Incidents))
	}
	want := []string{
		// Ann: primary all week but Wednesday: 6 days.
		"2025-10-06 ann 8640min on call, 0min billable []",
		// Bob: secondary all week, primary on Wednesday too: 7 days, not 8.
		"2025-10-06 bob 10080min on call, 0min billable []",
		// Cat: the lead tier, paged by an "unresolved after" rule.
		"2025-10-06 cat 10080min on call, 0min billable []",
		// The second week up to Wednesday noon: 2.5 days each.
		"2025-10-13 ann 3600min on call, 0min billable []",
		"2025-10-13 bob 3600min on call, 0min billable []",
		"2025-10-13 cat 3600min on call, 0min billable []",
		// Dan's tier is paged by no paid policy: no row.
	}
	if got := strings.Join(weeks, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("pay weeks:\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	if got := strings.Join(r.Pay.OnCallRotations, " "); got != "ny/primary ny/secondary leads/lead" {
		t.Errorf("on-call rotations %q", got)
	}
	// The payroll CSV carries it, in new columns after the old ones.
	csv := render(t, func(b *bytes.Buffer) error { return r.WritePayrollCSV(b) })
	if !strings.HasPrefix(csv, "week,user,name,billable_minutes,billable_hours,comp_days,incidents,on_call_minutes,on_call_hours,weekend_minutes,weekend_hours,after_hours_minutes,after_hours_hours\n2025-10-06,ann,Ann,0,0.00,0,,8640,144.00,0,0.00,0,0.00\n") {
		t.Errorf("payroll CSV:\n%s", csv)
	}
}

// TestPaySaysWhatIsStillOpen: an incident of a paid service still open
// when the report is made earns nothing yet (its time runs to its
// resolution), so the report says how many there are: a payroll run made
// then would otherwise leave their time out without a word.
func TestPaySaysWhatIsStillOpen(t *testing.T) {
	cfg, err := policy.Parse([]byte(paidTeam), "team.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	incs := []Incident{
		// Sunday 23:00, acknowledged, not resolved when the report is made
		// on Monday 00:30.
		incident(ny, "o1", "svc", "SEV-2", "2025-10-12 23:00", "queue stuck", nil,
			page(0, 1, "ann", "push"), ack(5*m, 1, "ann")),
		incident(ny, "o2", "svc", "SEV-2", "2025-10-11 11:00", "disk", nil,
			page(0, 1, "ann", "push"), ack(2*m, 1, "ann"), resolve(40*m, "ann")),
	}
	r, err := Build(cfg, Options{From: time.Date(2025, 10, 6, 0, 0, 0, 0, ny), To: time.Date(2025, 10, 13, 0, 0, 0, 0, ny),
		AsOf: time.Date(2025, 10, 13, 0, 30, 0, 0, ny)}, incs)
	if err != nil {
		t.Fatal(err)
	}
	if r.Pay.Open != 1 {
		t.Errorf("open %d, want 1 (o1)", r.Pay.Open)
	}
	want := "1 incident(s) of paid services still open when the report was made earn nothing yet: once resolved, they are paid in the week they were created; make this report again then."
	for name, f := range map[string]func(*bytes.Buffer) error{
		"text":     func(b *bytes.Buffer) error { return r.WriteText(b) },
		"markdown": func(b *bytes.Buffer) error { return r.WriteMarkdown(b) },
	} {
		if got := render(t, f); !strings.Contains(got, want) {
			t.Errorf("%s report lacks %q:\n%s", name, want, got)
		}
	}
}

// TestPaySaysWhoseClockIsAGuess: someone paid for an incident without
// having been paged for it (they resolved it from the console, or
// acknowledged it unpaged), with no time_zone and in no schedule, has
// their billable time counted on UTC; the report says so, as it does for
// those it paged (docs/CONFIG.md, compensation: never silently on UTC).
func TestPaySaysWhoseClockIsAGuess(t *testing.T) {
	src := strings.Replace(paidTeam, "  - {id: dan,", "  - {id: eve, name: Eve, contacts: [{channel: push, via: log}]}\n  - {id: fay, name: Fay, contacts: [{channel: push, via: log}]}\n  - {id: dan,", 1)
	cfg, err := policy.Parse([]byte(src), "team.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	incs := []Incident{
		// Cat is paged; Eve acknowledges it from the console and works it.
		incident(ny, "g1", "svc", "SEV-2", "2025-10-07 19:00", "queue stuck", nil,
			page(0, 1, "cat", "push"), ack(5*m, 1, "eve"), resolve(time.Hour, "eve")),
		// Nobody acknowledges; Fay resolves it.
		incident(ny, "g2", "svc", "SEV-2", "2025-10-08 19:00", "disk", nil,
			page(0, 1, "cat", "push"), resolve(time.Hour, "fay")),
	}
	r, err := Build(cfg, Options{From: time.Date(2025, 10, 6, 0, 0, 0, 0, ny), To: time.Date(2025, 10, 13, 0, 0, 0, 0, ny)}, incs)
	if err != nil {
		t.Fatal(err)
	}
	var pay []string
	for _, p := range r.Pay.Incidents {
		pay = append(pay, fmt.Sprintf("%s %s %dmin", p.Incident, p.User, p.BillableMinutes))
	}
	if got, want := strings.Join(pay, "; "), "g1 eve 60min; g2 fay 60min"; got != want {
		t.Fatalf("pay %q, want %q", got, want)
	}
	for _, want := range []string{
		"Eve (eve) has no time_zone: nights and billable time are counted in UTC (none set: UTC)",
		"Fay (fay) has no time_zone: nights and billable time are counted in UTC (none set: UTC)",
	} {
		if !slices.Contains(r.Notes, want) {
			t.Errorf("notes %q lack %q", r.Notes, want)
		}
	}
}

// TestPaySaysAServiceGoneFromTheConfigEarnedNothing: incidents of a
// service the config no longer has (renamed, or removed since) are paid
// by no compensation policy. The report said only that they were counted
// without targets or business hours, and so did the notes pagerd report
// --payroll writes to stderr, while their after-hours time was missing
// from the CSV: a renamed paid service cost its people their pay for the
// weeks before the rename without a word.
func TestPaySaysAServiceGoneFromTheConfigEarnedNothing(t *testing.T) {
	cfg := loadSeed(t, "aion-r.yaml")
	// Wednesday 20:00 UTC to 23:00, worked by Engineer A, under the
	// service's old name.
	inc := incident(time.UTC, "01-old", "aion-platform", "SEV-2", "2025-10-08 20:00", "Model serving down", nil,
		page(0, 1, "eng-a", "push"), ack(3*m, 1, "eng-a"), resolve(3*time.Hour, "eng-a"))
	r, err := Build(cfg, Options{From: time.Date(2025, 10, 6, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 10, 13, 0, 0, 0, 0, time.UTC)}, []Incident{inc})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Pay.Incidents) != 0 {
		t.Fatalf("paid %+v", r.Pay.Incidents)
	}
	want := `service "aion-platform" is not in the config: its 1 incident(s) are counted without targets or business hours, and earn no pay (no compensation policy is known for them): if the service was paid, pay them by hand (01-old)`
	if !slices.Contains(r.Notes, want) {
		t.Errorf("notes %q lack %q", r.Notes, want)
	}
}

package policy

import (
	"strings"
	"testing"
	"time"
)

// TestReportsDefaults: the seeds' goals load as written, and what they
// leave out gets its default: report weeks are the first schedule's
// handoff weeks, nights 22:00-07:00, resolved incidents kept 400 days.
func TestReportsDefaults(t *testing.T) {
	aivo := scenLoad(t, "aivo.yaml")
	r := &aivo.Reports
	if got := r.Week.String(); got != "Monday 08:00 America/New_York" || r.Week.From != "schedules[aivo-oncall].handoff" {
		t.Errorf("AIVO week %q from %q", got, r.Week.From)
	}
	if r.Night.String() != "22:00-07:00" || time.Duration(r.FalsePositiveWithin) != 5*time.Minute || r.RecurringAfter != 3 {
		t.Errorf("AIVO night %s, false positives within %s, recurring after %d", r.Night, r.FalsePositiveWithin, r.RecurringAfter)
	}
	tg := r.Targets
	for _, g := range []struct {
		goal *Goal
		want string
	}{
		{tg.AckWithinTarget, "> 95%"}, {tg.ResolvedWithinTarget, "> 90%"}, {tg.MTTA, "< 10m"},
		{tg.AlertsPerEngineerWeek, "<= 50"}, {tg.FalsePositiveRate, "< 5%"}, {tg.EscalationRate, "< 20%"},
	} {
		if got := g.goal.String(); got != g.want {
			t.Errorf("goal %q, want %q", got, g.want)
		}
	}
	if tg.MTTR != nil {
		t.Errorf("AIVO sets no MTTR goal, got %s", tg.MTTR)
	}
	if s := aivo.Schedule("aivo-oncall"); s.HandoffTemplate != HandoffText {
		t.Errorf("AIVO handoff template %q", s.HandoffTemplate)
	}
	if time.Duration(aivo.Server.Retention) != 400*24*time.Hour {
		t.Errorf("retention %s, want the 400d default", aivo.Server.Retention)
	}

	aion := scenLoad(t, "aion-r.yaml")
	if got := aion.Reports.Week.String(); got != "Monday 00:00 UTC" || aion.Reports.Week.From != "" {
		t.Errorf("AION-R week %q from %q", got, aion.Reports.Week.From)
	}
	if s := aion.Schedule("aion-r-oncall"); s.HandoffTemplate != HandoffMarkdown {
		t.Errorf("AION-R handoff template %q", s.HandoffTemplate)
	}
	at := aion.Reports.Targets
	if at.AckWithinTarget != nil || at.MTTA != nil || at.AlertsPerEngineerWeek != nil {
		t.Errorf("AION-R's seed sets no rate goals: %+v", at)
	}

	// A config with no schedule and no reports section still has weeks.
	c, err := Parse([]byte("users: [{id: u, contacts: [{channel: push, via: log}]}]\n"), "min.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Reports.Week.String() != "Monday 00:00 UTC" || c.Reports.Night != DefaultNight {
		t.Errorf("week %s, night %s", &c.Reports.Week, c.Reports.Night)
	}
}

func TestReportsConfigErrors(t *testing.T) {
	const base = `
users: [{id: u, contacts: [{channel: push, via: log}]}]
schedules:
  - {name: s, handoff: {weekday: monday, time: "00:00"}, tiers: [{name: primary, start: 2025-10-06, members: [u]}]}
`
	cases := []struct{ yaml, want string }{
		{"server: {retention: 2d}", "server.retention: must be at least 7d"},
		{"schedules:\n  - {name: s, handoff_template: html, handoff: {weekday: monday, time: \"00:00\"}, tiers: [{name: primary, start: 2025-10-06, members: [u]}]}",
			`schedules[s].handoff_template: unknown template "html"`},
		{"reports: {targets: {mtta: {below: 10m, above: 1m}}}", "reports.targets.mtta: set exactly one of above, at_least, below or at_most"},
		{"reports: {targets: {mtta: {}}}", "reports.targets.mtta: set exactly one of above, at_least, below or at_most"},
		{"reports: {targets: {ack_within_target: {above: 95}}}", `reports.targets.ack_within_target: "95" is not a share like 95%`},
		{"reports: {targets: {ack_within_target: {above: 195%}}}", `reports.targets.ack_within_target: "195%" is not a share like 95%`},
		{"reports: {targets: {mtta: {below: soon}}}", `reports.targets.mtta: "soon" is not a duration like 10m`},
		{"reports: {targets: {alerts_per_engineer_week: {at_most: 5.5}}}", `reports.targets.alerts_per_engineer_week: "5.5" is not a whole number like 50`},
		{"reports: {targets: {escalation_rate: {under: 20%}}}", `unknown field "under" in a report goal`},
		{"reports: {targets: {uptime: {above: 99%}}}", `unknown field "uptime" in reports.targets`},
		{"reports: {night: {start: \"22:00\"}}", "reports.night: set both start and end"},
		{"reports: {night: {start: \"07:00\", end: \"07:00\"}}", "reports.night.end: the night from 07:00 to 07:00 is empty"},
		{"reports: {false_positive_within: 2d}", "reports.false_positive_within: must be more than 0s and at most 1d"},
		{"reports: {recurring_after: -1}", "reports.recurring_after: must be from 1 to 1000"},
		{"reports: {week: {time_zone: Mars/Olympus}}", `reports.week.time_zone: unknown time zone "Mars/Olympus"`},
		{"reports: {week: {time: \"24:00\"}}", "reports.week.time: 24:00 is not a time a week can begin"},
		{"reports: {weekly: true}", `unknown field "weekly" in reports`},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			src := base + tc.yaml + "\n"
			if strings.HasPrefix(tc.yaml, "schedules:") {
				src = "users: [{id: u, contacts: [{channel: push, via: log}]}]\n" + tc.yaml + "\n"
			}
			_, err := Parse([]byte(src), "r.yaml", "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestGoalMet(t *testing.T) {
	for _, tc := range []struct {
		g    Goal
		kind GoalKind
		v    float64
		met  bool
		str  string
	}{
		{Goal{Above: "95%"}, GoalPercent, 95, false, "> 95%"},
		{Goal{Above: "95%"}, GoalPercent, 95.1, true, "> 95%"},
		{Goal{AtLeast: "95%"}, GoalPercent, 95, true, ">= 95%"},
		{Goal{Below: "10m"}, GoalDuration, 600, false, "< 10m"},
		{Goal{Below: "10m"}, GoalDuration, 599, true, "< 10m"},
		{Goal{AtMost: "50"}, GoalCount, 50, true, "<= 50"},
		{Goal{AtMost: "50"}, GoalCount, 51, false, "<= 50"},
		{Goal{Below: "99.5%"}, GoalPercent, 99.4, true, "< 99.5%"},
	} {
		g := tc.g
		if err := g.parse(tc.kind); err != nil {
			t.Fatal(err)
		}
		if g.Met(tc.v) != tc.met || g.String() != tc.str {
			t.Errorf("%s met by %v: %v", g.String(), tc.v, g.Met(tc.v))
		}
	}
}

// TestReportWeekAcrossDST: report weeks begin at the same wall-clock time
// on both sides of a DST change, like schedule handoffs.
func TestReportWeekAcrossDST(t *testing.T) {
	c := scenLoad(t, "aivo.yaml")
	w := &c.Reports.Week
	ny := w.Location()
	// New York leaves DST on Sunday Nov 2 2025.
	start := w.Start(time.Date(2025, 11, 2, 12, 0, 0, 0, ny))
	if want := time.Date(2025, 10, 27, 8, 0, 0, 0, ny); !start.Equal(want) {
		t.Errorf("start %s, want %s", start, want)
	}
	next := w.Next(start)
	if want := time.Date(2025, 11, 3, 8, 0, 0, 0, ny); !next.Equal(want) || next.Sub(start) != 169*time.Hour {
		t.Errorf("next %s (%s later)", next, next.Sub(start))
	}
	// At the instant a week begins, it is that week.
	if got := w.Start(next); !got.Equal(next) {
		t.Errorf("start at a boundary %s", got)
	}
	// Monday 07:59 is still the week before.
	if got := w.Start(time.Date(2025, 11, 3, 7, 59, 0, 0, ny)); !got.Equal(start) {
		t.Errorf("Monday 07:59: %s", got)
	}
}

func TestNightWindow(t *testing.T) {
	n := DefaultNight
	for _, tc := range []struct {
		clock string
		in    bool
		night string
	}{
		{"2025-10-07 21:59", false, ""},
		{"2025-10-07 22:00", true, "2025-10-07"},
		{"2025-10-08 03:00", true, "2025-10-07"},
		{"2025-10-08 06:59", true, "2025-10-07"},
		{"2025-10-08 07:00", false, ""},
	} {
		at, _ := time.Parse("2006-01-02 15:04", tc.clock)
		if n.Contains(at) != tc.in {
			t.Errorf("%s: in the night %v", tc.clock, !tc.in)
		}
		if tc.in && n.NightOf(at).String() != tc.night {
			t.Errorf("%s: night of %s, want %s", tc.clock, n.NightOf(at), tc.night)
		}
	}
	day := NightWindow{Start: TimeOfDay{Hour: 1, set: true}, End: TimeOfDay{Hour: 5, set: true}}
	if at := time.Date(2025, 10, 8, 3, 0, 0, 0, time.UTC); !day.Contains(at) || day.NightOf(at).String() != "2025-10-08" {
		t.Errorf("a window after midnight: %v %s", day.Contains(at), day.NightOf(at))
	}
}

// TestConfigDocReportsExample: the reports example in docs/CONFIG.md
// loads, with the goals it says.
func TestConfigDocReportsExample(t *testing.T) {
	c, err := Parse([]byte("users: [{id: u, contacts: [{channel: push, via: log}]}]\n"+docYAML(t, "## `reports`", 0)), "doc.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	if g := c.Reports.Targets.AlertsPerEngineerWeek.String(); g != "<= 50" {
		t.Errorf("alerts per engineer per week %q", g)
	}
}

func TestRetentionExpiresAt(t *testing.T) {
	c := scenLoad(t, "aivo.yaml")
	at := time.Date(2025, 10, 6, 12, 0, 0, 0, time.UTC)
	if got := c.Server.ExpiresAt(at); !got.Equal(at.Add(400 * 24 * time.Hour)) {
		t.Errorf("expires at %s", got)
	}
	c2, err := Parse([]byte("server: {retention: 90d}\n"), "r.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := c2.Server.ExpiresAt(at); !got.Equal(at.Add(90 * 24 * time.Hour)) {
		t.Errorf("expires at %s", got)
	}
}

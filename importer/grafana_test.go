package importer

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// grafanaWeeks is who Grafana OnCall has on call in the web schedule "Core
// web", worked out by hand from testdata/grafana-oncall/on_call_shifts.json
// in Europe/Madrid (CEST, UTC+2, until Sun 2025-10-26; CET, UTC+1, after):
//
//   - "Weekly pair" (level 1): weekly from Mon 2025-10-06 10:00, turns
//     [kate leo], [mia kate], starting from index 1: [mia kate] first,
//     [kate leo] from Oct 13, [mia kate] from Oct 20, [kate leo] from Oct 27.
//   - "Fortnight" (level 1): two weeks from Mon Oct 6 10:00: leo, then mia
//     from Oct 20 10:00.
//   - "Office hours" (level 1): mia, weekdays 09:00-17:00: a tier of her
//     own restricted to those hours; office says whether she holds it.
//   - "Old weekly" (level 0): beneath the level-1 rotations, never on call.
//   - Override: leo alone from Wed Oct 8 20:00 for 12 hours.
var grafanaWeeks = []struct {
	at       string
	pair     [2]string // tiers weekly-pair-1, weekly-pair-2
	fortnite string
	office   bool
}{
	{"2025-10-06T10:00:00+02:00", [2]string{"mia", "kate"}, "leo", true},
	{"2025-10-07T20:00:00+02:00", [2]string{"mia", "kate"}, "leo", false},
	{"2025-10-08T20:00:00+02:00", [2]string{"leo", "leo"}, "leo", false}, // the override
	{"2025-10-09T07:59:00+02:00", [2]string{"leo", "leo"}, "leo", false},
	{"2025-10-09T08:00:00+02:00", [2]string{"mia", "kate"}, "leo", false},
	{"2025-10-11T12:00:00+02:00", [2]string{"mia", "kate"}, "leo", false},
	{"2025-10-13T09:59:00+02:00", [2]string{"mia", "kate"}, "leo", true},
	{"2025-10-13T10:00:00+02:00", [2]string{"kate", "leo"}, "leo", true},
	{"2025-10-13T17:00:00+02:00", [2]string{"kate", "leo"}, "leo", false},
	{"2025-10-20T10:00:00+02:00", [2]string{"mia", "kate"}, "mia", true},
	{"2025-10-27T09:59:00+01:00", [2]string{"mia", "kate"}, "mia", true},
	{"2025-10-27T10:00:00+01:00", [2]string{"kate", "leo"}, "mia", true},
}

func TestGrafanaOnCall(t *testing.T) {
	// Imported once the level-1 rotations have begun (Mon 10:00 in
	// Madrid): before, "Old weekly" beneath them is still on call.
	res, cfg := importFixture(t, GrafanaOnCall, Options{Now: time.Date(2025, 10, 6, 8, 0, 0, 0, time.UTC)}, "grafana-oncall")
	rep := res.Report
	sc := cfg.Schedule("core-web")
	if sc == nil {
		t.Fatalf("no schedule core-web:\n%s", res.Config)
	}
	for _, c := range grafanaWeeks {
		at, err := time.Parse(time.RFC3339, c.at)
		if err != nil {
			t.Fatal(err)
		}
		var got [3]string
		for i, tier := range []string{"weekly-pair-1", "weekly-pair-2", "fortnight"} {
			sh, ok := sc.OnCallTier(tier, at)
			if !ok {
				t.Fatalf("no tier %s", tier)
			}
			got[i] = sh.User
		}
		if want := [3]string{c.pair[0], c.pair[1], c.fortnite}; got != want {
			t.Errorf("%s: tiers %v, want %v", c.at, got, want)
		}
		if sh, _ := sc.OnCallTier("office-hours", at); (sh.User == "mia") != c.office {
			t.Errorf("%s: office hours held by %q, want mia: %v", c.at, sh.User, c.office)
		}
		// As a set, what the source has.
		want := map[string]bool{c.pair[0]: true, c.pair[1]: true, c.fortnite: true}
		if c.office {
			want["mia"] = true
		}
		var wl []string
		for u := range want {
			wl = append(wl, u)
		}
		sort.Strings(wl)
		if got := onCallUsers(t, cfg, at); !reflect.DeepEqual(got, wl) {
			t.Errorf("%s: on call %v, want %v", c.at, got, wl)
		}
	}
	for _, w := range []struct {
		kind IssueKind
		want []string
	}{
		{NotMapped, []string{`shift "Old weekly"`, "never on call"}},
		{NotMapped, []string{`shift "Launch night"`, "one-off shift"}},
		{Changed, []string{`shift "Weekly pair"`, "2 people on call together", "2 tiers"}},
		{NotMapped, []string{`schedule "Legacy iCal"`, "iCal"}},
		{NotMapped, []string{`step "4 notify_user_group"`}},
		{Changed, []string{`step "2 notify_persons"`, "important"}},
		{NotMapped, []string{`route "team=\"db\""`, "make a service"}},
		{NotMapped, []string{`user "kate"`, "important notification rules (phone_call)"}},
		{Changed, []string{`user "kate"`, "push after 0s", "voice after 5m", "the other steps"}},
		{Changed, []string{`user "leo"`, "sms after 0s", "the other steps"}},
		{Changed, []string{`integration "Alertmanager prod"`, "PAGERD_ALERTMANAGER_PROD_ALERTMANAGER_KEY"}},
	} {
		if issueWith(rep, w.kind, w.want...) == nil {
			t.Errorf("the report has no %v issue with %q", w.kind, w.want)
		}
	}
	// The chain: the schedule at once, kate after 15m, the Slack user
	// group after 45m (not imported), then over again, up to five times.
	pol := cfg.Policy("core-default")
	if pol == nil || len(pol.Levels) != 2 || pol.Repeat != 5 {
		t.Fatalf("policy core-default: %+v", pol)
	}
	if want := []policy.Target{{Schedule: "core-web", Tier: "weekly-pair-1"}, {Schedule: "core-web", Tier: "weekly-pair-2"}, {Schedule: "core-web", Tier: "fortnight"}, {Schedule: "core-web", Tier: "office-hours"}}; !reflect.DeepEqual(pol.Levels[0].Targets, want) {
		t.Errorf("level 1 %+v, want %+v", pol.Levels[0].Targets, want)
	}
	if pol.Levels[0].Timeout.Duration != 15*time.Minute || pol.Levels[1].Timeout.Duration != 30*time.Minute {
		t.Errorf("timeouts %s, %s; want 15m, 30m", pol.Levels[0].Timeout, pol.Levels[1].Timeout)
	}
	if svc := cfg.Service("alertmanager-prod"); svc == nil || svc.EscalationPolicy != "core-default" {
		t.Errorf("service alertmanager-prod: %+v", svc)
	}
	// notify_by_email sends to the user's email, notify_by_slack to the
	// Slack user they linked (a list in OnCall OSS's API, kate; one object
	// in Grafana Cloud's, leo): kate's ladder keeps her email step at 15m
	// and her Slack one at 20m, leo's his email at 2m. Both are their
	// Slack users, so buttons pressed in Slack act as them. mia's Slack
	// rule has no Slack user to go to: reported, and she has the log
	// placeholder.
	k := cfg.User("kate")
	if k == nil || k.Email != "kate@example.io" || k.TimeZone != "Europe/Madrid" || len(k.Contacts) != 2 {
		t.Fatalf("kate: %+v", k)
	}
	emailMapped(t, res, cfg, "kate", "kate@example.io")
	emailMapped(t, res, cfg, "leo", "leo@example.io")
	slackMapped(t, res, cfg, "kate", "U0KATE001")
	if l := cfg.User("leo"); l.SlackUser != "U0LEO0002" || len(l.Contacts) != 1 {
		t.Errorf("leo: slack_user %q, contacts %+v; want U0LEO0002 and his email only (no Slack rule)", l.SlackUser, l.Contacts)
	}
	for id, want := range map[string][]policy.NotifyStep{
		"kate": {{After: policy.Duration(15 * time.Minute), Channel: "email"}, {After: policy.Duration(20 * time.Minute), Channel: "slack"}},
		"leo":  {{After: policy.Duration(2 * time.Minute), Channel: "email"}},
	} {
		if got := cfg.User(id).NotificationRules.High; !reflect.DeepEqual(got, want) {
			t.Errorf("%s's ladder %+v, want %+v", id, got, want)
		}
	}
	if m := cfg.User("mia"); len(m.Contacts) != 1 || m.Contacts[0].Via != "log" || m.SlackUser != "" {
		t.Errorf("mia: %+v", m)
	}
	if issueWith(rep, NotMapped, `user "mia"`, "notify_by_slack", "no Slack member id", "not linked to Slack") == nil {
		t.Errorf("mia's Slack rule without a Slack user is not reported")
	}
}

// TestGrafanaLeftOutIsReported: values the importer cannot read, and
// objects nothing in the export leads to, each get a report line rather
// than being dropped or guessed at in silence.
func TestGrafanaLeftOutIsReported(t *testing.T) {
	shift := func(id, extra string) string {
		return `{"id": "` + id + `", "name": "` + id + `", "type": "rolling_users", "level": 1, "start": "2025-10-06T10:00:00", "duration": 604800,
			"frequency": "weekly", "interval": 1, "rolling_users": [["U1"]]` + extra + `}`
	}
	res, cfg := mustImport(t, GrafanaOnCall, []Document{
		{Name: "users.json", Data: []byte(`{"results": [{"id": "U1", "email": "u@example.io", "username": "u"}]}`)},
		{Name: "schedules.json", Data: []byte(`{"results": [{"id": "S1", "name": "Main", "type": "web", "time_zone": "UTC", "shifts": ["OZONE", "OSTART", "OUNTIL"]}]}`)},
		{Name: "shifts.json", Data: []byte(`{"results": [` +
			shift("OZONE", `, "time_zone": "Mars/Olympus"`) + `,` +
			shift("OSTART", `, "rotation_start": "next tuesday"`) + `,` +
			shift("OUNTIL", `, "until": "2025-13-45"`) + `,` +
			shift("OSTRAY", ``) + `]}`)},
		{Name: "routes.json", Data: []byte(`{"results": [{"id": "RGONE", "integration_id": "CGONE", "escalation_chain_id": "F1", "routing_regex": ".*", "position": 0}]}`)},
		{Name: "rules.json", Data: []byte(`{"results": [{"id": "R1", "user_id": "UGONE", "position": 0, "type": "notify_by_sms"}, {"id": "R2", "user_id": "UGONE", "position": 1, "type": "wait", "duration": 300}]}`)},
	}, Options{})
	if cfg.Schedule("main") == nil {
		t.Fatalf("schedule main not imported:\n%s", res.Config)
	}
	for _, w := range []struct {
		kind IssueKind
		want []string
	}{
		{Changed, []string{`shift "OZONE"`, `time zone "Mars/Olympus" is not one pagerd knows`}},
		{Changed, []string{`shift "OSTART"`, `rotation_start "next tuesday" is not a time`}},
		{Changed, []string{`shift "OUNTIL"`, `until "2025-13-45" is not a time`}},
		{NotMapped, []string{`shift "OSTRAY"`, "in no schedule"}},
		{NotMapped, []string{`route ".*" (id RGONE)`, "integration CGONE", "not in the export"}},
		{NotMapped, []string{`user (id UGONE)`, "2 personal notification rules", "not in the export"}},
	} {
		if issueWith(res.Report, w.kind, w.want...) == nil {
			t.Errorf("the report has no %v issue with %q:\n%+v", w.kind, w.want, res.Report.Issues)
		}
	}
}

// TestGrafanaUnknownScheduleZone: a schedule whose time_zone Go cannot
// load is reported once, as not imported, and none of its shifts is read
// in UTC instead (which would move every handoff by hours) or reported
// against a zone the schedule does not have; the escalation step to it is
// left out and says so.
func TestGrafanaUnknownScheduleZone(t *testing.T) {
	shift := func(id, extra string) string {
		return `{"id": "` + id + `", "name": "` + id + `", "type": "rolling_users", "level": 1, "start": "2025-10-06T10:00:00", "duration": 604800,
			"frequency": "weekly", "interval": 1, "rolling_users": [["U1"], ["U2"]]` + extra + `}`
	}
	res, cfg := mustImport(t, GrafanaOnCall, []Document{
		{Name: "users.json", Data: []byte(`{"results": [{"id": "U1", "email": "u1@example.io", "username": "u1"}, {"id": "U2", "email": "u2@example.io", "username": "u2"}]}`)},
		{Name: "schedules.json", Data: []byte(`{"results": [{"id": "S1", "name": "Main", "type": "web", "time_zone": "Europe/Madird", "shifts": ["OWEEK", "OMADRID", "OVER"]}]}`)},
		{Name: "shifts.json", Data: []byte(`{"results": [` +
			shift("OWEEK", ``) + `,` +
			shift("OMADRID", `, "time_zone": "Europe/Madrid"`) + `,` +
			`{"id": "OVER", "name": "OVER", "type": "override", "start": "2025-10-08T20:00:00", "duration": 43200, "users": ["U2"]}]}`)},
		{Name: "chains.json", Data: []byte(`{"results": [{"id": "F1", "name": "Main chain"}]}`)},
		{Name: "steps.json", Data: []byte(`{"results": [
			{"id": "E1", "escalation_chain_id": "F1", "position": 0, "type": "notify_on_call_from_schedule", "notify_on_call_from_schedule": "S1"},
			{"id": "E2", "escalation_chain_id": "F1", "position": 1, "type": "notify_persons", "persons_to_notify": ["U1"]}]}`)},
	}, Options{})
	if len(cfg.Schedules) != 0 {
		t.Errorf("a schedule in an unknown zone was imported:\n%s", res.Config)
	}
	if issueWith(res.Report, NotMapped, `schedule "Main" (id S1)`, `time zone "Europe/Madird" is not one pagerd knows`, "not imported") == nil {
		t.Errorf("the unknown zone is not reported: %+v", res.Report.Issues)
	}
	var zone, shifts []string
	for _, is := range res.Report.Issues {
		if strings.Contains(is.Detail, "Europe/Madird") {
			zone = append(zone, is.Source+": "+is.Detail)
		}
		if strings.Contains(is.Source, "shift") {
			shifts = append(shifts, is.Source+": "+is.Detail)
		}
	}
	if len(zone) != 1 {
		t.Errorf("the unknown zone is reported %d times, want once: %q", len(zone), zone)
	}
	if len(shifts) != 0 {
		t.Errorf("shifts of a schedule that is not imported were read against a zone it does not have: %q", shifts)
	}
	if issueWith(res.Report, NotMapped, `step "0 notify_on_call_from_schedule"`, `pages schedule "S1", which was not imported`) == nil || cfg.Policy("main-chain") == nil {
		t.Errorf("the escalation step to the schedule: %+v\n%s", res.Report.Issues, res.Config)
	}
}

// TestGrafanaStepsAfterTheRepeatAreNotFirstPassLevels: Grafana OnCall's
// repeat_escalation starts the chain over up to 5 times and then goes on
// to the steps after it, the last resort paged only once every repeat went
// unanswered. A pagerd policy has no level after its repeats, so such a
// step is reported, not imported. (Before: it became a level at the
// repeat's time: ben was paged 5 minutes after the alert, not 25, and
// ann's repeats every 6.)
func TestGrafanaStepsAfterTheRepeatAreNotFirstPassLevels(t *testing.T) {
	users := `{"count":2,"next":null,"results":[
 {"id":"UA","email":"ann@example.com","username":"ann","timezone":"UTC","slack":null},
 {"id":"UB","email":"ben@example.com","username":"ben","timezone":"UTC","slack":null}]}`
	rules := `{"count":2,"next":null,"results":[
 {"id":"N1","user_id":"UA","position":0,"important":false,"type":"notify_by_email"},
 {"id":"N2","user_id":"UB","position":0,"important":false,"type":"notify_by_email"}]}`
	chains := `{"count":1,"next":null,"results":[{"id":"FCHAIN","name":"Default","team_id":null}]}`
	steps := `{"count":4,"next":null,"results":[
 {"id":"E1","escalation_chain_id":"FCHAIN","position":0,"type":"notify_persons","important":false,"persons_to_notify":["UA"]},
 {"id":"E2","escalation_chain_id":"FCHAIN","position":1,"type":"wait","duration":300},
 {"id":"E3","escalation_chain_id":"FCHAIN","position":2,"type":"repeat_escalation"},
 {"id":"E4","escalation_chain_id":"FCHAIN","position":3,"type":"notify_persons","important":false,"persons_to_notify":["UB"]}]}`
	integ := `{"count":1,"next":null,"results":[{"id":"CI1","name":"Alertmanager","type":"alertmanager","link":"https://x/","default_route":{"id":"RD","escalation_chain_id":"FCHAIN"}}]}`
	var docs []Document
	for i, d := range []string{users, rules, chains, steps, integ} {
		docs = append(docs, Document{Name: fmt.Sprintf("doc%d.json", i), Data: []byte(d)})
	}
	res, cfg := importDocs(t, GrafanaOnCall, Options{}, docs...)
	sim, err := cfg.Simulate(policy.SimOptions{At: fixtureNow, For: time.Hour, Labels: map[string]string{"alertname": "Test", "severity": "critical"}})
	if err != nil {
		t.Fatal(err)
	}
	var ann []int
	for _, ev := range sim.Events {
		if ev.Type == "notify" && ev.User == "ben" {
			t.Fatalf("ben, the step after repeat_escalation, is paged %s after the alert on the first pass", time.Duration(ev.OffsetSeconds)*time.Second)
		}
		if ev.Type == "notify" && ev.User == "ann" {
			ann = append(ann, int(ev.OffsetSeconds/60))
		}
	}
	if want := []int{0, 5, 10, 15, 20, 25}; !slices.Equal(ann, want) {
		t.Errorf("ann paged at minutes %v, want %v (the first pass and 5 repeats)", ann, want)
	}
	if issueWith(res.Report, NotMapped, "3 notify_persons", "after repeat_escalation") == nil {
		t.Errorf("the step after the repeat is not reported:\n%+v", res.Report.Issues)
	}
}

// TestGrafanaWebShiftsWithoutAZoneAreUTC: Grafana OnCall lays out the
// events of a web schedule (shifts made in its UI, which stores their
// start in UTC and no time_zone) in the shift's time_zone, else UTC,
// whatever the schedule's time_zone: OnCallScheduleWeb's iCal is made by
// convert_to_ical without the schedule's zone, while a calendar schedule
// (shifts made through the API) passes its own. Here the web schedule is
// in Madrid and its weekly rotation starts "2025-10-06T08:00:00", 10:00 in
// Madrid (CEST): Grafana hands off Mondays at 10:00 there until the clocks
// go back; the override from "2025-10-15T18:00:00" holds from 20:00 in
// Madrid. Read in the schedule's zone, both were two hours early.
func TestGrafanaWebShiftsWithoutAZoneAreUTC(t *testing.T) {
	res, cfg := mustImport(t, GrafanaOnCall, []Document{
		{Name: "users.json", Data: []byte(`{"results": [{"id": "U1", "email": "u1@example.io", "username": "u1"}, {"id": "U2", "email": "u2@example.io", "username": "u2"}, {"id": "U3", "email": "u3@example.io", "username": "u3"}]}`)},
		{Name: "schedules.json", Data: []byte(`{"results": [
			{"id": "SWEB", "name": "Web", "type": "web", "time_zone": "Europe/Madrid", "shifts": ["OWEEK", "OVER"]},
			{"id": "SCAL", "name": "Calendar", "type": "calendar", "time_zone": "Europe/Madrid", "shifts": ["OCAL"]}]}`)},
		{Name: "shifts.json", Data: []byte(`{"results": [
			{"id": "OWEEK", "name": "Weekly", "type": "rolling_users", "time_zone": null, "level": 1, "start": "2025-10-06T08:00:00", "rotation_start": "2025-10-06T08:00:00",
			 "duration": 604800, "frequency": "weekly", "interval": 1, "week_start": "MO", "rolling_users": [["U1"], ["U2"]], "start_rotation_from_user_index": 0},
			{"id": "OVER", "name": "Evening swap", "type": "override", "time_zone": null, "start": "2025-10-15T18:00:00", "rotation_start": "2025-10-15T18:00:00", "duration": 7200, "users": ["U3"]},
			{"id": "OCAL", "name": "Calendar weekly", "type": "rolling_users", "time_zone": null, "level": 1, "start": "2025-10-06T08:00:00", "rotation_start": "2025-10-06T08:00:00",
			 "duration": 604800, "frequency": "weekly", "interval": 1, "week_start": "MO", "rolling_users": [["U1"], ["U2"]], "start_rotation_from_user_index": 0}]}`)},
	}, Options{})
	madrid, _ := time.LoadLocation("Europe/Madrid")
	for _, c := range []struct {
		schedule string
		at       time.Time
		want     string
	}{
		{"web", time.Date(2025, 10, 13, 9, 59, 0, 0, madrid), "u1"},
		{"web", time.Date(2025, 10, 13, 10, 0, 0, 0, madrid), "u2"},
		{"web", time.Date(2025, 10, 15, 19, 59, 0, 0, madrid), "u2"},
		{"web", time.Date(2025, 10, 15, 20, 0, 0, 0, madrid), "u3"},
		{"web", time.Date(2025, 10, 15, 21, 59, 0, 0, madrid), "u3"},
		{"web", time.Date(2025, 10, 15, 22, 0, 0, 0, madrid), "u2"},
		{"web", time.Date(2025, 10, 20, 10, 0, 0, 0, madrid), "u1"},
		// A calendar schedule's shifts without a zone are on its clock.
		{"calendar", time.Date(2025, 10, 13, 7, 59, 0, 0, madrid), "u1"},
		{"calendar", time.Date(2025, 10, 13, 8, 0, 0, 0, madrid), "u2"},
	} {
		rows, err := cfg.WhoIsOnCall(c.at, c.schedule)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].User != c.want {
			t.Errorf("%s %s: on call %+v, want %s as in Grafana OnCall\n%s", c.schedule, c.at.Format(time.RFC3339), rows, c.want, res.Config)
		}
	}
	if issueWith(res.Report, Changed, `shift "Weekly"`, "UTC", "Europe/Madrid") == nil {
		t.Errorf("the report does not say the web shift keeps its handoff in UTC while pagerd keeps it in Madrid: %+v", res.Report.Issues)
	}
	if is := issueWith(res.Report, Changed, `shift "Calendar weekly"`, "UTC"); is != nil {
		t.Errorf("a calendar schedule's shift is reported as kept in UTC: %s", is.Detail)
	}
}

// TestGrafanaOverrideWithoutItsPeople: Grafana OnCall's API gives an
// override made in its web UI with "users": [] (the UI keeps the person in
// rolling_users, which the API leaves out of overrides), so the export
// does not say who covers. The report must say that and when the override
// runs, so it can be added by hand, not call it an override of nobody; an
// override of two people says when it runs too.
func TestGrafanaOverrideWithoutItsPeople(t *testing.T) {
	res, _ := mustImport(t, GrafanaOnCall, []Document{
		{Name: "users.json", Data: []byte(`{"results": [{"id": "U1", "email": "u1@example.io", "username": "u1"}, {"id": "U2", "email": "u2@example.io", "username": "u2"}]}`)},
		{Name: "schedules.json", Data: []byte(`{"results": [{"id": "S1", "name": "Main", "type": "web", "time_zone": "UTC", "shifts": ["OWEEK", "OWEB", "OTWO"]}]}`)},
		{Name: "shifts.json", Data: []byte(`{"results": [
			{"id": "OWEEK", "name": "Weekly", "type": "rolling_users", "level": 1, "start": "2025-10-06T08:00:00", "duration": 604800,
			 "frequency": "weekly", "interval": 1, "week_start": "MO", "rolling_users": [["U1"], ["U2"]], "start_rotation_from_user_index": 0},
			{"id": "OWEB", "name": "Dentist", "type": "override", "time_zone": null, "start": "2025-10-15T13:00:00", "duration": 7200, "users": []},
			{"id": "OTWO", "name": "Pair", "type": "override", "time_zone": null, "start": "2025-10-16T13:00:00", "duration": 3600, "users": ["U1", "U2"]}]}`)},
	}, Options{})
	for _, w := range [][]string{
		{`shift "Dentist"`, "2025-10-15T13:00:00Z", "2025-10-15T15:00:00Z", "does not say who", "by hand"},
		{`shift "Pair"`, "2025-10-16T13:00:00Z", "2025-10-16T14:00:00Z", "2 people"},
	} {
		if issueWith(res.Report, NotMapped, w...) == nil {
			t.Errorf("the report has no not-imported issue with %q: %+v", w, res.Report.Issues)
		}
	}
}

// TestGrafanaWebScheduleSaysItsZonelessShiftsAreReadInUTC: reading a web
// schedule's shifts without a time_zone in UTC is what current Grafana
// OnCall does; older versions laid them out in the schedule's zone. The
// report says so once for the schedule, overrides included (which the
// handoff note leaves out), so that whoever migrates from such a version
// can tell, and what to change; a web schedule in UTC, where both read
// the same, and a calendar schedule say nothing.
func TestGrafanaWebScheduleSaysItsZonelessShiftsAreReadInUTC(t *testing.T) {
	res, _ := mustImport(t, GrafanaOnCall, []Document{
		{Name: "users.json", Data: []byte(`{"results": [{"id": "U1", "email": "u1@example.io", "username": "u1"}, {"id": "U2", "email": "u2@example.io", "username": "u2"}, {"id": "U3", "email": "u3@example.io", "username": "u3"}]}`)},
		{Name: "schedules.json", Data: []byte(`{"results": [
			{"id": "SWEB", "name": "Web", "type": "web", "time_zone": "Europe/Madrid", "shifts": ["OVER", "OZONED"]},
			{"id": "SUTC", "name": "Web UTC", "type": "web", "time_zone": "UTC", "shifts": ["OUTC"]},
			{"id": "SCAL", "name": "Calendar", "type": "calendar", "time_zone": "Europe/Madrid", "shifts": ["OCAL"]}]}`)},
		{Name: "shifts.json", Data: []byte(`{"results": [
			{"id": "OVER", "name": "Evening swap", "type": "override", "time_zone": null, "start": "2025-10-15T18:00:00", "rotation_start": "2025-10-15T18:00:00", "duration": 7200, "users": ["U3"]},
			{"id": "OZONED", "name": "Weekly", "type": "rolling_users", "time_zone": "Europe/Madrid", "level": 1, "start": "2025-10-06T08:00:00", "rotation_start": "2025-10-06T08:00:00",
			 "duration": 604800, "frequency": "weekly", "interval": 1, "week_start": "MO", "rolling_users": [["U1"], ["U2"]], "start_rotation_from_user_index": 0},
			{"id": "OUTC", "name": "UTC weekly", "type": "rolling_users", "time_zone": null, "level": 1, "start": "2025-10-06T08:00:00", "rotation_start": "2025-10-06T08:00:00",
			 "duration": 604800, "frequency": "weekly", "interval": 1, "week_start": "MO", "rolling_users": [["U1"], ["U2"]], "start_rotation_from_user_index": 0},
			{"id": "OCAL", "name": "Calendar weekly", "type": "rolling_users", "time_zone": null, "level": 1, "start": "2025-10-06T08:00:00", "rotation_start": "2025-10-06T08:00:00",
			 "duration": 604800, "frequency": "weekly", "interval": 1, "week_start": "MO", "rolling_users": [["U1"], ["U2"]], "start_rotation_from_user_index": 0}]}`)},
	}, Options{})
	is := issueWith(res.Report, Changed, `schedule "Web" (id SWEB)`, "without a time_zone", `"Evening swap"`, "UTC", "older", "Europe/Madrid")
	if is == nil {
		t.Fatalf("the report does not say the web schedule's zoneless shifts are read in UTC, as older Grafana OnCall did not: %+v", res.Report.Issues)
	}
	if strings.Contains(is.Source, "shift") || strings.Contains(is.Detail, `"Weekly"`) {
		t.Errorf("said of a shift, or names one with its own time_zone: %s: %s", is.Source, is.Detail)
	}
	for _, name := range []string{`schedule "Web UTC"`, `schedule "Calendar"`} {
		if is := issueWith(res.Report, Changed, name, "without a time_zone"); is != nil {
			t.Errorf("%s: %s", is.Source, is.Detail)
		}
	}
}

// TestGrafanaLegacyNotifyOnePerson: notify_one_person, Grafana OnCall's
// legacy "Notify User" step, pages its person as notify_persons does,
// level by level at the chain's times; it was reported "not imported",
// and the escalation lost its people. A step whose person the export
// leaves out (Grafana OnCall's API does) says so, and when it pages.
func TestGrafanaLegacyNotifyOnePerson(t *testing.T) {
	users := `{"count":2,"next":null,"results":[
 {"id":"UA","email":"ann@example.com","username":"ann","timezone":"UTC","slack":null},
 {"id":"UB","email":"ben@example.com","username":"ben","timezone":"UTC","slack":null}]}`
	rules := `{"count":2,"next":null,"results":[
 {"id":"N1","user_id":"UA","position":0,"important":false,"type":"notify_by_email"},
 {"id":"N2","user_id":"UB","position":0,"important":false,"type":"notify_by_email"}]}`
	chains := `{"count":1,"next":null,"results":[{"id":"FCHAIN","name":"Default","team_id":null}]}`
	steps := `{"count":5,"next":null,"results":[
 {"id":"E1","escalation_chain_id":"FCHAIN","position":0,"type":"notify_one_person","persons_to_notify":["UA"]},
 {"id":"E2","escalation_chain_id":"FCHAIN","position":1,"type":"wait","duration":600},
 {"id":"E3","escalation_chain_id":"FCHAIN","position":2,"type":"notify_one_person","persons_to_notify":["UB"]},
 {"id":"E4","escalation_chain_id":"FCHAIN","position":3,"type":"wait","duration":600},
 {"id":"E5","escalation_chain_id":"FCHAIN","position":4,"type":"notify_one_person"}]}`
	integ := `{"count":1,"next":null,"results":[{"id":"CI1","name":"Alertmanager","type":"alertmanager","link":"https://x/","default_route":{"id":"RD","escalation_chain_id":"FCHAIN"}}]}`
	var docs []Document
	for i, d := range []string{users, rules, chains, steps, integ} {
		docs = append(docs, Document{Name: fmt.Sprintf("doc%d.json", i), Data: []byte(d)})
	}
	res, cfg := importDocs(t, GrafanaOnCall, Options{}, docs...)
	sim, err := cfg.Simulate(policy.SimOptions{At: fixtureNow, For: 15 * time.Minute, Labels: map[string]string{"alertname": "Test", "severity": "critical"}})
	if err != nil {
		t.Fatalf("%v\n%s", err, res.Config)
	}
	var paged []string
	for _, ev := range sim.Events {
		if ev.Type == "notify" {
			paged = append(paged, fmt.Sprintf("%s at %dm", ev.User, ev.OffsetSeconds/60))
		}
	}
	if want := []string{"ann at 0m", "ben at 10m"}; !slices.Equal(paged, want) {
		t.Errorf("paged %v, want %v\n%s", paged, want, res.Config)
	}
	for _, is := range res.Report.Issues {
		if strings.Contains(is.Source, "notify_one_person") && !strings.Contains(is.Source, "4 notify_one_person") {
			t.Errorf("a notify_one_person step that names its person is reported: %s: %s", is.Source, is.Detail)
		}
	}
	if issueWith(res.Report, NotMapped, `step "4 notify_one_person"`, "does not say whom it notifies", "20m after the alert") == nil {
		t.Errorf("the step without its person is not reported as such:\n%+v", res.Report.Issues)
	}
}

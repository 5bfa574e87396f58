package importer

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// ogDoc is a small Opsgenie export written inline: two users, a weekly
// schedule, and whatever the test adds.
func ogDocs(extra ...string) []Document {
	docs := []Document{
		{Name: "users.json", Data: []byte(`{"data": [
			{"id": "u1", "username": "ann@example.com", "fullName": "Ann", "timeZone": "UTC",
			 "userContacts": [{"contactMethod": "sms", "to": "1-5555550123", "enabled": true}]},
			{"id": "u2", "username": "ben@example.com", "fullName": "Ben", "timeZone": "EST",
			 "userContacts": [{"contactMethod": "sms", "to": "1-5555550124", "enabled": true}]}]}`)},
		{Name: "schedules.json", Data: []byte(`{"data": [{"id": "s1", "name": "Ops", "timezone": "UTC", "enabled": true,
			"rotations": [{"id": "r1", "name": "Main", "type": "weekly", "length": 1, "startDate": "2025-10-06T00:00:00Z",
			  "participants": [{"type": "user", "id": "u1"}, {"type": "user", "id": "u2"}]}]}]}`)},
	}
	for i, e := range extra {
		docs = append(docs, Document{Name: "extra" + string(rune('0'+i)) + ".json", Data: []byte(e)})
	}
	return docs
}

func mustImport(t *testing.T, vendor string, docs []Document, opt Options) (*Result, *policy.Config) {
	t.Helper()
	if opt.Now.IsZero() {
		opt.Now = fixtureNow
	}
	res, err := Import(vendor, docs, opt)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := policy.Parse(res.Config, "imported.yaml", "")
	if err != nil {
		t.Fatalf("%v\n%s", err, res.Config)
	}
	return res, cfg
}

// TestOverlappingOverrides: pagerd refuses overlapping overrides of one
// tier. Which of two Opsgenie overrides holds the time they share is not
// in the export, so the first listed keeps it and the report says so; the
// other still holds the rest of its span, where it alone overrides the
// rotation at the source. The config still loads.
func TestOverlappingOverrides(t *testing.T) {
	res, cfg := mustImport(t, Opsgenie, ogDocs(`{"data": [
		{"_parent": {"id": "s1"}, "alias": "first", "user": {"type": "user", "id": "u2"}, "startDate": "2025-10-07T08:00:00Z", "endDate": "2025-10-07T12:00:00Z"},
		{"_parent": {"id": "s1"}, "alias": "second", "user": {"type": "user", "id": "u1"}, "startDate": "2025-10-07T10:00:00Z", "endDate": "2025-10-07T14:00:00Z"},
		{"_parent": {"name": "Ops"}, "alias": "later", "user": {"type": "user", "username": "ann@example.com"}, "startDate": "2025-10-08T10:00:00Z", "endDate": "2025-10-08T14:00:00Z", "rotations": [{"name": "Main"}]},
		{"_parent": {"id": "nope"}, "alias": "elsewhere", "user": {"type": "user", "id": "u1"}, "startDate": "2025-10-08T10:00:00Z", "endDate": "2025-10-08T14:00:00Z"}]}`), Options{})
	if n := len(cfg.Schedule("ops").Overrides); n != 3 {
		t.Errorf("%d overrides, want 3 (first, the rest of second, and later):\n%s", n, res.Config)
	}
	if issueWith(res.Report, NotMapped, `override "second"`, `tier ops/main the override "first"`, "Opsgenie documents no rule", "only from 2025-10-07T12:00:00Z to 2025-10-07T14:00:00Z") == nil {
		t.Errorf("the overlap is not reported: %+v", res.Report.Issues)
	}
	if is := issueWith(res.Report, NotMapped, `override "second"`, "created last"); is != nil {
		t.Errorf("the report claims an Opsgenie rule its documentation does not give: %s", is.Detail)
	}
	for at, want := range map[string]string{"2025-10-07T09:00:00Z": "ben", "2025-10-07T11:00:00Z": "ben", "2025-10-07T12:00:00Z": "ann", "2025-10-07T14:00:00Z": "ann"} {
		ts, _ := time.Parse(time.RFC3339, at)
		if got := onCallUsers(t, cfg, ts); len(got) != 1 || got[0] != want {
			t.Errorf("%s: on call %v, want [%s] (the first listed holds the overlap; ann holds the rotation this week)", at, got, want)
		}
	}
	if !strings.Contains(string(res.Config), `from: "2025-10-07T12:00:00Z"`) || !strings.Contains(string(res.Config), `until: "2025-10-07T14:00:00Z"`) {
		t.Errorf("the rest of second, 12:00 to 14:00, is not imported:\n%s", res.Config)
	}
	if issueWith(res.Report, NotMapped, `override "elsewhere"`, `schedule "nope"`) == nil {
		t.Errorf("the override of a schedule not in the export is not reported")
	}
	if issueWith(res.Report, Changed, `user "ben@example.com"`, `time zone "EST"`) == nil {
		t.Errorf("a fixed-offset zone is not reported")
	}
}

// TestSEVScheme: with SEV-1–4, Opsgenie priorities and "if not closed"
// rules use the scheme's priorities.
func TestSEVScheme(t *testing.T) {
	_, cfg := mustImport(t, Opsgenie, ogDocs(
		`{"data": [{"id": "e1", "name": "Ops esc", "ownerTeam": {"id": "t1"}, "rules": [
			{"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 0}, "recipient": {"type": "schedule", "id": "s1"}},
			{"condition": "if-not-closed", "notifyType": "default", "delay": {"timeAmount": 2, "timeUnit": "hours"}, "recipient": {"type": "user", "id": "u2"}}],
			"repeat": {"waitInterval": 0, "count": 3}}]}`,
		`{"data": {"id": "t1", "name": "Ops team", "members": []}}`), Options{Scheme: policy.SchemeSEV})
	svc := cfg.Service("ops-team")
	if svc == nil || svc.PriorityScheme != "SEV-1-4" {
		t.Fatalf("service: %+v", svc)
	}
	for og, want := range map[string]string{"P1": "SEV-1", "P3": "SEV-3", "P5": "SEV-4"} {
		if r := cfg.Route(svc, map[string]string{"priority": og}, fixtureNow); r.Priority != want {
			t.Errorf("%s → %s, want %s", og, r.Priority, want)
		}
	}
	pol := cfg.Policy("ops-esc")
	if len(pol.Unresolved) != 1 || strings.Join(pol.Unresolved[0].Priorities, ",") != "SEV-1,SEV-2,SEV-3,SEV-4" || pol.Unresolved[0].After != policy.Duration(7200e9) {
		t.Errorf("unresolved: %+v", pol.Unresolved)
	}
	// Repeating with no wait: pagerd's last level waits a minute.
	if pol.Repeat != 3 || pol.Levels[0].Timeout.Duration.Minutes() != 1 {
		t.Errorf("repeat %d, last timeout %s; want 3, 1m", pol.Repeat, pol.Levels[0].Timeout)
	}
}

// TestNothingLeftToPage: an escalation whose every target was left out is
// not imported, nor the service that uses it, and both are reported.
func TestNothingLeftToPage(t *testing.T) {
	res, cfg := mustImport(t, Opsgenie, ogDocs(
		`{"data": [{"id": "e1", "name": "Ghosts", "rules": [
			{"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 0}, "recipient": {"type": "user", "id": "gone"}}]}]}`,
		`{"team": {"id": "t1", "name": "Ghost team"}, "teamRoutingRules": [{"isDefault": true, "notify": {"type": "escalation", "id": "e1"}}]}`), Options{})
	if cfg.Policy("ghosts") != nil || cfg.Service("ghost-team") != nil {
		t.Errorf("an escalation that pages nobody, or its service, was imported:\n%s", res.Config)
	}
	for _, want := range [][]string{
		{`escalation "Ghosts"`, `pages "gone"`},
		{`escalation "Ghosts"`, "nobody it pages was imported"},
		{`team "Ghost team"`, "its escalation", "not imported"},
	} {
		if issueWith(res.Report, NotMapped, want...) == nil {
			t.Errorf("not reported: %q\n%+v", want, res.Report.Issues)
		}
	}
}

// TestReportText: the report's sections, in order, with their counts.
func TestReportText(t *testing.T) {
	res, _ := importFixture(t, Opsgenie, Options{}, "opsgenie/OpsGenieBackups")
	var b strings.Builder
	if err := res.Report.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	last := -1
	for _, h := range []string{
		"# pagerd import opsgenie\n\nImported 4 users, 2 schedules (3 tiers), 1 escalation policies and 1 services;",
		"\n## Not imported: pagerd cannot express these (",
		"\n## Imported with a difference: check these (",
		"\n## To do before pagerd serve: what check-config says (",
		"\n## Imported (3)\n",
	} {
		i := strings.Index(text, h)
		if i < 0 || i < last {
			t.Errorf("the report does not have %q after the section before it:\n%s", h, text)
		}
		last = i
	}
	if n := res.Report.Count(NotMapped) + res.Report.Count(Changed); n != len(res.Report.Issues) || strings.Count(text, "\n- ") != n+len(res.Report.Warnings)+len(res.Report.Imported) {
		t.Errorf("%d issues, %d list items in the text", n, strings.Count(text, "\n- "))
	}
}

// TestImportNeverWritesAConfigThatFails: input that would break pagerd's
// rules (two people with one email, an address pagerd refuses, two
// services whose key variables would collide, support hours that are not a
// span) is reported, and the config still loads.
func TestImportNeverWritesAConfigThatFails(t *testing.T) {
	docs := []Document{
		{Name: "users.json", Data: []byte(`{"users": [
			{"id": "P1", "name": "One", "email": "same@example.com", "contact_methods": [{"id": "c1", "type": "sms_contact_method", "address": "5555550101", "country_code": 1}]},
			{"id": "P2", "name": "Two", "email": "SAME@example.com", "contact_methods": [{"id": "c2", "type": "sms_contact_method", "address": "5555550102", "country_code": 1}]},
			{"id": "P3", "name": "Three", "email": "a@b@c", "contact_methods": [{"id": "c3", "type": "sms_contact_method", "address": "12", "country_code": 1}]}]}`)},
		{Name: "escalation_policies.json", Data: []byte(`{"escalation_policies": [{"id": "E1", "name": "E", "num_loops": 0,
			"escalation_rules": [{"escalation_delay_in_minutes": 5, "targets": [{"id": "P1", "type": "user_reference"}]},
			                     {"escalation_delay_in_minutes": 5, "targets": [{"id": "T1", "type": "team_reference", "summary": "Team"}]}]}]}`)},
		{Name: "services.json", Data: []byte(`{"services": [
			{"id": "S1", "name": "api-v2", "escalation_policy": {"id": "E1"},
			 "incident_urgency_rule": {"type": "use_support_hours", "during_support_hours": {"type": "constant", "urgency": "high"}, "outside_support_hours": {"type": "constant", "urgency": "low"}},
			 "support_hours": {"type": "fixed_time_per_day", "time_zone": "UTC", "start_time": "17:00:00", "end_time": "09:00:00", "days_of_week": [1,2,3,4,5]}},
			{"id": "S2", "name": "api_v2", "escalation_policy": {"id": "E1"},
			 "incident_urgency_rule": {"type": "constant", "urgency": "low"}}]}`)},
	}
	res, cfg := mustImport(t, PagerDuty, docs, Options{})
	// Ids come from the emails' local parts: same, same-2, a.
	for id, want := range map[string]string{"same": "same@example.com", "same-2": "", "a": ""} {
		if u := cfg.User(id); u == nil || u.Email != want {
			t.Errorf("user %s: %+v, want email %q", id, u, want)
		}
	}
	a, b := cfg.Service("api-v2"), cfg.Service("api_v2")
	if a == nil || b == nil {
		t.Fatalf("services: %+v %+v", a, b)
	}
	if a.Integrations.PagerDutyRoutingKeyFile != "" || !strings.Contains(string(res.Config), `pagerduty_routing_key: "${PAGERD_API_V2_PAGERDUTY_ROUTING_KEY}"`) ||
		!strings.Contains(string(res.Config), `pagerduty_routing_key: "${PAGERD_API_V2_PAGERDUTY_ROUTING_KEY_2}"`) {
		t.Errorf("the two services do not read different variables:\n%s", res.Config)
	}
	if a.BusinessHours != "" {
		t.Errorf("support hours from 17:00 to 09:00 became calendar %q", a.BusinessHours)
	}
	if r := cfg.Route(b, map[string]string{"severity": "critical"}, fixtureNow); r.Urgency != policy.UrgencyLow {
		t.Errorf("a constant low urgency service routes a critical alert at %s urgency", r.Urgency)
	}
	for _, want := range [][]string{
		{`user "Two"`, "same email as same"},
		{`user "Three"`, `"a@b@c" is not an email address`},
	} {
		if issueWith(res.Report, Changed, want...) == nil {
			t.Errorf("not reported: %q\n%+v", want, res.Report.Issues)
		}
	}
	for _, want := range [][]string{
		{`service "api-v2"`, "support hours 17:00 to 09:00"},
		{`contact method`, `"12" is not a phone number`},
		{`rule "2"`, "pages a team_reference (Team)"},
		{`rule "2"`, "pages nobody pagerd could import"},
	} {
		if issueWith(res.Report, NotMapped, want...) == nil {
			t.Errorf("not reported: %q\n%+v", want, res.Report.Issues)
		}
	}
}

// TestGrafanaStepsOfAnUnlistedChain: escalation steps whose chain is not in
// the export are still imported, under the chain's id.
func TestGrafanaStepsOfAnUnlistedChain(t *testing.T) {
	_, cfg := mustImport(t, GrafanaOnCall, []Document{
		{Name: "users.json", Data: []byte(`{"results": [{"id": "U1", "email": "u@example.io", "username": "u"}]}`)},
		{Name: "steps.json", Data: []byte(`{"results": [{"id": "S1", "escalation_chain_id": "FX1", "position": 0, "type": "notify_persons", "persons_to_notify": ["U1"]}]}`)},
	}, Options{})
	if p := cfg.Policy("fx1"); p == nil || len(p.Levels) != 1 || p.Levels[0].Targets[0].User != "u" {
		t.Errorf("policy fx1: %+v", p)
	}
}

// TestLayerHiddenByALayerNotImported: a layer of 90-minute turns (not
// whole hours, which pagerd cannot express) on top of a weekly one hides it
// at every hour at the source, so the weekly layer is not imported as if it
// were on call.
func TestLayerHiddenByALayerNotImported(t *testing.T) {
	res, cfg := mustImport(t, PagerDuty, []Document{
		{Name: "users.json", Data: []byte(`{"users": [{"id": "P1", "name": "One", "email": "one@example.com"}, {"id": "P2", "name": "Two", "email": "two@example.com"}]}`)},
		{Name: "schedule.json", Data: []byte(`{"schedule": {"id": "S1", "name": "Layered", "time_zone": "UTC", "schedule_layers": [
			{"id": "L2", "name": "Daily", "start": "2025-10-01T00:00:00Z", "rotation_virtual_start": "2025-10-01T00:00:00Z", "rotation_turn_length_seconds": 5400,
			 "users": [{"user": {"id": "P1"}}, {"user": {"id": "P2"}}], "restrictions": []},
			{"id": "L1", "name": "Weekly", "start": "2025-10-01T00:00:00Z", "rotation_virtual_start": "2025-10-06T00:00:00Z", "rotation_turn_length_seconds": 604800,
			 "users": [{"user": {"id": "P2"}}, {"user": {"id": "P1"}}], "restrictions": []}]}}`)},
	}, Options{})
	if len(cfg.Schedules) != 0 {
		t.Errorf("imported %d schedules; the weekly layer is never on call at the source:\n%s", len(cfg.Schedules), res.Config)
	}
	if issueWith(res.Report, NotMapped, `layer "Daily"`, "turns of 5400 seconds: not whole hours") == nil || issueWith(res.Report, NotMapped, `layer "Weekly"`, `never on call`, `"Daily"`) == nil {
		t.Errorf("the report does not say why: %+v", res.Report.Issues)
	}
}

// TestContactsPagerdWouldRefuse: email addresses and Slack member ids that
// pagerd's config would refuse, and a Slack member id two users share, are
// reported and left out, and the config still loads.
func TestContactsPagerdWouldRefuse(t *testing.T) {
	res, cfg := mustImport(t, GrafanaOnCall, []Document{
		{Name: "users.json", Data: []byte(`{"results": [
			{"id": "U1", "email": "one@example.io", "username": "one", "slack": [{"user_id": "U0SHARED1"}, {"user_id": "U0OTHER01"}]},
			{"id": "U2", "email": "two@example.io", "username": "two", "slack": {"user_id": "U0SHARED1"}},
			{"id": "U3", "email": "three@example.io", "username": "three", "slack": [{"user_id": "someone"}]},
			{"id": "U4", "email": "four@example.io", "username": "four", "slack": "U0NOTALIST"}]}`)},
		{Name: "rules.json", Data: []byte(`{"results": [
			{"id": "R1", "user_id": "U1", "position": 0, "type": "notify_by_slack"},
			{"id": "R2", "user_id": "U2", "position": 0, "type": "notify_by_slack"},
			{"id": "R3", "user_id": "U3", "position": 0, "type": "notify_by_slack"},
			{"id": "R4", "user_id": "U4", "position": 0, "type": "notify_by_slack"}]}`)},
	}, Options{})
	if u := cfg.User("one"); u.SlackUser != "U0SHARED1" || len(u.Contacts) != 1 || u.Contacts[0].Address != "U0SHARED1" {
		t.Errorf("one: %+v", u)
	}
	// two is not messaged at the shared id either: pagerd refuses a
	// member id two users claim.
	if u := cfg.User("two"); u.SlackUser != "" || len(u.Contacts) != 1 || u.Contacts[0].Via != "log" {
		t.Errorf("two: %+v", u)
	}
	if u := cfg.User("three"); u.SlackUser != "" || u.Contacts[0].Via != "log" {
		t.Errorf("three: %+v", u)
	}
	if u := cfg.User("four"); u.SlackUser != "" || u.Contacts[0].Via != "log" {
		t.Errorf("four: %+v", u)
	}
	for _, w := range []struct {
		kind IssueKind
		want []string
	}{
		{NotMapped, []string{`user "one"`, "linked to 2 Slack users (U0SHARED1, U0OTHER01)", "the first is imported"}},
		{Changed, []string{`user "two"`, "same Slack member id as one"}},
		{NotMapped, []string{`user "two"`, "Slack member id U0SHARED1 is one's too", "not imported"}},
		{Changed, []string{`user "three"`, `"someone" is not a Slack member id`}},
		{NotMapped, []string{`user "three"`, `Slack user "someone"`, "not a Slack member id pagerd can message"}},
		{NotMapped, []string{`user "four"`, "notify_by_slack", "no Slack member id"}},
	} {
		if issueWith(res.Report, w.kind, w.want...) == nil {
			t.Errorf("the report has no %v issue with %q:\n%+v", w.kind, w.want, res.Report.Issues)
		}
	}

	res, cfg = mustImport(t, PagerDuty, []Document{{Name: "users.json", Data: []byte(`{"users": [
		{"id": "P1", "name": "One", "email": "one@example.com", "contact_methods": [
			{"id": "c1", "type": "email_contact_method", "label": "Work", "address": "One <one@example.com>"},
			{"id": "c2", "type": "email_contact_method", "label": "Home", "address": "one@home.example"},
			{"id": "c3", "type": "email_contact_method", "label": "Old", "address": "one@old.example"}]}]}`)}}, Options{})
	if u := cfg.User("one"); len(u.Contacts) != 1 || u.Contacts[0] != (policy.Contact{Channel: "email", Via: "email", Address: "one@home.example"}) {
		t.Errorf("one: %+v, want the first address pagerd takes", u.Contacts)
	}
	if issueWith(res.Report, NotMapped, `contact method "Work"`, `"One <one@example.com>" is not an email address pagerd can send to`) == nil ||
		issueWith(res.Report, NotMapped, `contact method "Old"`, "a second email contact") == nil {
		t.Errorf("the refused and the second address are not reported: %+v", res.Report.Issues)
	}
}

// checkConfigTakes reports whether check-config loads a config whose one
// user has the YAML fields given (each value quoted; a push contact on the
// log when they give no contacts): the notifiers every contact needs are
// configured, so a refusal is the value's.
func checkConfigTakes(t *testing.T, user string) bool {
	t.Helper()
	if !strings.Contains(user, "contacts:") {
		user += ", contacts: [{channel: push, via: log}]"
	}
	cfg := `notifiers:
  twilio: {account_sid: AC0123456789abcdef0123456789abcdef, auth_token: 0123456789abcdef0123456789abcdef, from: "+15555550199"}
  email: {smarthost: "smtp.example.com:587", from: pagerd@example.com}
  slack: {bot_token: xoxb-0123, signing_secret: 0123456789abcdef}
users:
  - {id: x, ` + user + `}
`
	_, err := policy.Parse([]byte(cfg), "c.yaml", "")
	return err == nil
}

// TestImportTakesWhatCheckConfigTakes: the importer keeps a phone number,
// an email address, a Slack member id or a time zone exactly when
// check-config would load it, so an imported config never fails
// check-config on one, and nothing check-config would load is dropped. The
// values are the edges of each form.
func TestImportTakesWhatCheckConfigTakes(t *testing.T) {
	q := strconv.Quote
	for _, n := range []struct{ cc, number string }{
		{"1", "555 555 0100"}, {"", "+1 555 555 0100"}, {"", "1-5555550100"}, {"44", "7700 900123"},
		{"1", "12"}, {"", "+353456"}, {"", "+3534567"}, {"", "+353456789012345"}, {"", "+3534567890123456"},
		{"1", "555 550 100"}, {"", "+1 555 155 0100"},
		{"0", "5555550100"}, {"", "+0 555 555 0100"}, {"", ""},
	} {
		num, ok := phone(n.cc, n.number)
		if takes := checkConfigTakes(t, "contacts: [{channel: sms, via: twilio, address: "+q(num)+"}]"); ok != takes {
			t.Errorf("phone(%q, %q) = %q, %v; check-config takes it: %v", n.cc, n.number, num, ok, takes)
		}
	}
	for _, e := range []string{
		"jane@example.com", "JANE+pager@Example.COM", "jane@example", `"jane doe"@example.com`, "Jane <jane@example.com>",
		"<jane@example.com>", "jane@example.com (Jane)", " jane@example.com", "a@b@c", "jane@example.com, joe@example.com", "jane",
	} {
		res, cfg := mustImport(t, PagerDuty, []Document{{Name: "users.json", Data: []byte(`{"users": [
			{"id": "P1", "name": "Jane", "email": ` + q(e) + `, "contact_methods": [
				{"id": "c1", "type": "email_contact_method", "label": "Work", "address": ` + q(e) + `}]}]}`)}}, Options{})
		u := cfg.Users[0]
		if kept, takes := u.Email == e, checkConfigTakes(t, "email: "+q(e)); kept != takes {
			t.Errorf("user email %q: imported %v, check-config takes it %v\n%s", e, kept, takes, res.Config)
		}
		kept := len(u.Contacts) == 1 && u.Contacts[0].Channel == policy.ChannelEmail && u.Contacts[0].Address == e
		if takes := checkConfigTakes(t, "contacts: [{channel: email, via: email, address: "+q(e)+"}]"); kept != takes {
			t.Errorf("email contact %q: imported %v, check-config takes it %v\n%s", e, kept, takes, res.Config)
		}
	}
	for _, id := range []string{"U0SHARED1", "W012ABC", "U01", "U1", "u0123ABC", "C0123ABC", "U0123abc", "someone"} {
		res, cfg := mustImport(t, GrafanaOnCall, []Document{{Name: "users.json", Data: []byte(
			`{"results": [{"id": "U1", "email": "jane@example.io", "username": "jane", "slack": [{"user_id": ` + q(id) + `}]}]}`)}}, Options{})
		if kept, takes := cfg.Users[0].SlackUser == id, checkConfigTakes(t, "slack_user: "+q(id)); kept != takes {
			t.Errorf("Slack member id %q: imported %v, check-config takes it %v\n%s", id, kept, takes, res.Config)
		}
	}
	// An empty zone is left out on purpose (the importer does not guess
	// UTC), so it is not among these.
	for _, tz := range []string{"Europe/Madrid", "America/New_York", "UTC", "EST5EDT", "EST", "MST", "HST", "Mars/Olympus", "utc", "europe/madrid"} {
		res, cfg := mustImport(t, PagerDuty, []Document{{Name: "users.json", Data: []byte(`{"users": [
			{"id": "P1", "name": "Jane", "email": "jane@example.com", "time_zone": ` + q(tz) + `}]}`)}}, Options{})
		if kept, takes := cfg.Users[0].TimeZone == tz, checkConfigTakes(t, "time_zone: "+q(tz)); kept != takes {
			t.Errorf("time zone %q: imported %v, check-config takes it %v\n%s", tz, kept, takes, res.Config)
		}
	}
}

// TestOpsgenieUsernamesCompareWithoutCase: Opsgenie usernames are email
// addresses, which it compares without case; a rotation, an override or
// an escalation naming a user as "Ann@Example.com" where the user list
// has "ann@example.com" was left out ("not a user in the export"), and
// the imported schedule paged nobody for Ann's turns.
func TestOpsgenieUsernamesCompareWithoutCase(t *testing.T) {
	docs := ogDocs(`{"data": [{"_parent": {"id": "s1"}, "alias": "cover", "user": {"type": "user", "username": "BEN@example.com"},
		"startDate": "2025-10-07T08:00:00Z", "endDate": "2025-10-07T12:00:00Z"}]}`,
		`{"data": [{"id": "e1", "name": "Ops", "rules": [
		{"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 0, "timeUnit": "minutes"}, "recipient": {"type": "schedule", "id": "s1"}},
		{"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 10, "timeUnit": "minutes"}, "recipient": {"type": "user", "username": "Ben@Example.COM"}}]}]}`)
	docs[1].Data = []byte(`{"data": [{"id": "s1", "name": "Ops", "timezone": "UTC", "enabled": true,
		"rotations": [{"id": "r1", "name": "Main", "type": "weekly", "length": 1, "startDate": "2025-10-06T00:00:00Z",
		  "participants": [{"type": "user", "username": "Ann@Example.com"}, {"type": "user", "username": "ben@EXAMPLE.com"}]}]}]}`)
	res, cfg := mustImport(t, Opsgenie, docs, Options{})
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2025, 10, 6, 12, 0, 0, 0, time.UTC), "ann"},  // her turn
		{time.Date(2025, 10, 7, 9, 0, 0, 0, time.UTC), "ben"},   // his override in her turn
		{time.Date(2025, 10, 13, 12, 0, 0, 0, time.UTC), "ben"}, // his turn
	} {
		if got := onCallUsers(t, cfg, c.at); !reflect.DeepEqual(got, []string{c.want}) {
			t.Errorf("on call at %s: %v, want %s\n%s", c.at, got, c.want, res.Config)
		}
	}
	pol := cfg.Policy("ops")
	if pol == nil || len(pol.Levels) != 2 || len(pol.Levels[1].Targets) != 1 || pol.Levels[1].Targets[0].User != "ben" {
		t.Errorf("policy ops: %+v, want a second level paging ben\n%s", pol, res.Config)
	}
	for _, is := range res.Report.Issues {
		if strings.Contains(is.Detail, "not a user in the export") {
			t.Errorf("reported: %s: %s", is.Source, is.Detail)
		}
	}
}

// TestOpsgenieTeamRecipientsSayWhatTheyNotify: an escalation rule that
// notifies a random member of a team was reported as notifying the team
// "through its routing rules (random)", which is not what Opsgenie does
// with it, nor why pagerd leaves it out.
func TestOpsgenieTeamRecipientsSayWhatTheyNotify(t *testing.T) {
	rule := func(notify string) string {
		return `{"condition": "if-not-acked", "notifyType": "` + notify + `", "delay": {"timeAmount": 5, "timeUnit": "minutes"}, "recipient": {"type": "team", "id": "t9", "name": "DBA"}}`
	}
	res, _ := mustImport(t, Opsgenie, ogDocs(`{"data": [{"id": "e1", "name": "Ops", "rules": [
		{"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 0, "timeUnit": "minutes"}, "recipient": {"type": "schedule", "id": "s1"}},
		`+rule("default")+`, `+rule("random")+`, `+rule("everyone")+`]}]}`), Options{})
	for _, c := range []struct{ rule, want string }{
		{`rule "2"`, `notifies team "DBA" through its routing rules`},
		{`rule "3"`, `notifies a random member of team "DBA"`},
		{`rule "4"`, `notifies team "DBA" as "everyone", which pagerd import does not know`},
	} {
		if issueWith(res.Report, NotMapped, c.rule, c.want) == nil {
			t.Errorf("%s: no issue saying %q: %+v", c.rule, c.want, res.Report.Issues)
		}
	}
}

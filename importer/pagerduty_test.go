package importer

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// pagerDutyWeek is who PagerDuty's final schedule has on call, worked out
// by hand from testdata/pagerduty/schedule-PSCH001.json in America/Chicago
// (CDT, UTC-5, until Sun 2025-11-02; CST, UTC-6, after):
//
//   - Layer "Weekend cover" (highest): jo, Saturday 00:00 for 48 hours: a
//     layer restricted to that window on the weekly layer's tier.
//   - Layer "Weekly": turns of one week from the virtual start Tue
//     2025-10-07 15:00, hana, ivan, jo (so jo holds the week before).
//   - Layers "Old daily" (hidden beneath "Weekly" at every hour) and
//     "Retired" (ended 2025-09-01) are never on call.
//   - Override: jo, Thu 2025-10-09 09:00-17:00.
var pagerDutyWeek = []struct {
	at, source, imported string
}{
	{"2025-10-07T14:59:00-05:00", "jo", "jo"},
	{"2025-10-07T15:00:00-05:00", "hana", "hana"},
	{"2025-10-09T08:59:00-05:00", "hana", "hana"},
	{"2025-10-09T09:00:00-05:00", "jo", "jo"},
	{"2025-10-09T16:59:00-05:00", "jo", "jo"},
	{"2025-10-09T17:00:00-05:00", "hana", "hana"},
	{"2025-10-10T23:59:00-05:00", "hana", "hana"},
	{"2025-10-11T00:00:00-05:00", "jo", "jo"}, // weekend cover
	{"2025-10-12T23:59:00-05:00", "jo", "jo"},
	{"2025-10-13T00:00:00-05:00", "hana", "hana"},
	{"2025-10-14T14:59:00-05:00", "hana", "hana"},
	{"2025-10-14T15:00:00-05:00", "ivan", "ivan"},
	{"2025-11-04T14:59:00-06:00", "hana", "hana"},
	{"2025-11-04T15:00:00-06:00", "ivan", "ivan"},
}

func TestPagerDuty(t *testing.T) {
	res, cfg := importFixture(t, PagerDuty, Options{PublicURL: "https://pagerd.example.com"}, "pagerduty")
	rep := res.Report
	for _, c := range pagerDutyWeek {
		at, err := time.Parse(time.RFC3339, c.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := onCallUsers(t, cfg, at); !reflect.DeepEqual(got, []string{c.imported}) {
			t.Errorf("%s: on call %v, want [%s] (PagerDuty: %s)", c.at, got, c.imported, c.source)
		}
		if c.source != c.imported {
			t.Errorf("%s: PagerDuty has %s on call, the table says the import has %s", c.at, c.source, c.imported)
		}
	}
	for _, w := range []struct {
		kind IssueKind
		want []string
	}{
		{NotMapped, []string{`layer "Old daily"`, "never on call", `"Weekly"`}},
		{NotMapped, []string{`layer "Retired"`, "ended 2025-09-01"}},
		{Changed, []string{`rule "2"`, "round robin"}},
		{NotMapped, []string{`service "Checkout API"`, "re-triggers acknowledged incidents after 30m"}},
		{NotMapped, []string{`service "Checkout API"`, "resolves incidents on its own after 4h"}},
		{Changed, []string{`integration "Prometheus"`, "PAGERD_CHECKOUT_API_PAGERDUTY_ROUTING_KEY"}},
		{NotMapped, []string{`user "Hana Hill"`, "push to the PagerDuty app (Pixel)", "by SMS and calls through Twilio and by email"}},
		{Changed, []string{`user "Hana Hill"`, "high-urgency", "push after 0s"}},
		{NotMapped, []string{`user "Jo Jones"`, `contact method "Home"`, "a second voice contact"}},
	} {
		if issueWith(rep, w.kind, w.want...) == nil {
			t.Errorf("the report has no %v issue with %q", w.kind, w.want)
		}
	}

	// The policy: the schedule, then ivan and hana after 10m, once more
	// 20m after that.
	pol := cfg.Policy("checkout")
	if pol == nil || len(pol.Levels) != 2 || pol.Repeat != 1 {
		t.Fatalf("policy checkout: %+v", pol)
	}
	if want := []policy.Target{{Schedule: "checkout-primary", Tier: "weekly"}}; !reflect.DeepEqual(pol.Levels[0].Targets, want) {
		t.Errorf("level 1 %+v, want %+v", pol.Levels[0].Targets, want)
	}
	if want := []policy.Target{{User: "ivan"}, {User: "hana"}}; !reflect.DeepEqual(pol.Levels[1].Targets, want) {
		t.Errorf("level 2 %+v, want %+v", pol.Levels[1].Targets, want)
	}
	if pol.Levels[0].Timeout.Duration != 10*time.Minute || pol.Levels[1].Timeout.Duration != 20*time.Minute {
		t.Errorf("timeouts %s, %s; want 10m, 20m", pol.Levels[0].Timeout, pol.Levels[1].Timeout)
	}

	// The service: PagerDuty's routing key from the environment; high
	// urgency in support hours, low outside them.
	svc := cfg.Service("checkout-api")
	if svc == nil || svc.EscalationPolicy != "checkout" || svc.BusinessHours != "checkout-api-support-hours" {
		t.Fatalf("service checkout-api: %+v", svc)
	}
	for at, want := range map[string]string{
		"2025-10-07T10:00:00-05:00": policy.UrgencyHigh, // Tuesday, in support hours
		"2025-10-07T17:00:00-05:00": policy.UrgencyLow,
		"2025-10-11T10:00:00-05:00": policy.UrgencyLow, // Saturday
	} {
		ts, _ := time.Parse(time.RFC3339, at)
		for _, sev := range []string{"critical", "info"} {
			if r := cfg.Route(svc, map[string]string{"severity": sev}, ts); r.Urgency != want {
				t.Errorf("%s, severity %s: urgency %s, want %s", at, sev, r.Urgency, want)
			}
		}
	}

	// People: E.164 numbers from PagerDuty's country code and number,
	// email contact methods through SMTP, the ladders per urgency without
	// the app push.
	hana := cfg.User("hana")
	if hana == nil || hana.Email != "hana@example.net" || len(hana.Contacts) != 3 {
		t.Fatalf("hana: %+v", hana)
	}
	emailMapped(t, res, cfg, "hana", "hana@example.net")
	emailMapped(t, res, cfg, "ivan", "ivan@example.net")
	if want := []policy.NotifyStep{{After: policy.Duration(time.Minute), Channel: "sms"}, {After: policy.Duration(4 * time.Minute), Channel: "voice"}}; !reflect.DeepEqual(hana.NotificationRules.High, want) {
		t.Errorf("hana high %+v, want %+v", hana.NotificationRules.High, want)
	}
	if want := []policy.NotifyStep{{After: 0, Channel: "sms"}, {After: policy.Duration(10 * time.Minute), Channel: "email"}}; !reflect.DeepEqual(hana.NotificationRules.Low, want) {
		t.Errorf("hana low %+v, want %+v", hana.NotificationRules.Low, want)
	}
	if jo := cfg.User("jo"); len(jo.Contacts) != 1 || jo.Contacts[0].Address != "+15555550113" {
		t.Errorf("jo: %+v, want the first phone only", jo.Contacts)
	}
}

// TestPagerDutyFullerCopyWins: an object read twice (a list and a get) is
// imported from the fuller copy: a bare reference never displaces the
// object, and the object displaces an earlier reference.
func TestPagerDutyFullerCopyWins(t *testing.T) {
	ref := `{"id": "P1", "type": "user_reference", "summary": "One"}`
	full := `{"id": "P1", "type": "user", "name": "One", "email": "one@example.com", "contact_methods": [
		{"id": "c1", "type": "sms_contact_method", "label": "Mobile", "address": "5555550123", "country_code": 1}]}`
	for name, docs := range map[string][]string{
		"reference first": {`{"users": [` + ref + `]}`, `{"user": ` + full + `}`},
		"reference last":  {`{"user": ` + full + `}`, `{"users": [` + ref + `]}`},
	} {
		t.Run(name, func(t *testing.T) {
			var in []Document
			for i, d := range docs {
				in = append(in, Document{Name: fmt.Sprintf("doc%d.json", i), Data: []byte(d)})
			}
			res, cfg := mustImport(t, PagerDuty, in, Options{})
			if len(cfg.Users) != 1 {
				t.Fatalf("%d users, want 1:\n%s", len(cfg.Users), res.Config)
			}
			if u := cfg.Users[0]; !hasContact(&u, policy.Contact{Channel: "sms", Via: "twilio", Address: "+15555550123"}) {
				t.Errorf("user %+v, want the full copy's SMS contact", u)
			}
		})
	}
}

// TestPagerDutyUnknownKeyReported: a key pagerd import does not read, in a
// file whose other keys it does read, is reported rather than skipped.
func TestPagerDutyUnknownKeyReported(t *testing.T) {
	res, _ := mustImport(t, PagerDuty, []Document{{Name: "users.json", Data: []byte(`{
		"users": [{"id": "P1", "type": "user", "name": "One", "email": "one@example.com"}],
		"teams": [{"id": "T1", "name": "Ops"}], "limit": 25, "offset": 0, "more": false, "total": null}`)}}, Options{})
	if issueWith(res.Report, NotMapped, `file "users.json"`, "(teams)", "not read") == nil {
		t.Errorf("the teams key is not reported: %+v", res.Report.Issues)
	}
	for _, is := range res.Report.Issues {
		if strings.Contains(is.Detail, "limit") || strings.Contains(is.Detail, "offset") {
			t.Errorf("paging keys reported: %s", is.Detail)
		}
	}
}

// TestPagerDutySupportHoursMissing: a service whose urgency follows
// support hours, exported without them, is reported: its urgencies are
// lost and every priority pages at high urgency.
func TestPagerDutySupportHoursMissing(t *testing.T) {
	res, _ := mustImport(t, PagerDuty, []Document{
		{Name: "users.json", Data: []byte(`{"users": [{"id": "P1", "name": "One", "email": "one@example.com"}]}`)},
		{Name: "policies.json", Data: []byte(`{"escalation_policies": [{"id": "E1", "name": "Main", "escalation_rules": [
			{"escalation_delay_in_minutes": 30, "targets": [{"id": "P1", "type": "user_reference"}]}]}]}`)},
		{Name: "services.json", Data: []byte(`{"services": [{"id": "S1", "name": "Web", "escalation_policy": {"id": "E1"},
			"incident_urgency_rule": {"type": "use_support_hours",
				"during_support_hours": {"type": "constant", "urgency": "high"},
				"outside_support_hours": {"type": "constant", "urgency": "low"}}}]}`)},
	}, Options{})
	if issueWith(res.Report, NotMapped, `PagerDuty service "Web"`, "use_support_hours", "no support_hours", "high urgency") == nil {
		t.Errorf("the lost urgencies are not reported: %+v", res.Report.Issues)
	}
}

// TestPagerDutyListCopyDoesNotHideTheFullOne: GET /schedules gives each
// schedule without its layers, GET /schedules/{id} with them; with both in
// the export, whatever the files' order, the full copy is imported. (Before:
// the later copy won unless it was a reference, so schedules.json, sorting
// after schedule-S1.json, replaced it: the schedule and every escalation to
// it were left out.) Users listed without include[] (contact methods as
// references) likewise do not hide the full copy.
func TestPagerDutyListCopyDoesNotHideTheFullOne(t *testing.T) {
	fullUsers := `{"users":[{"id":"PA","type":"user","name":"Ann A","email":"ann@example.com","time_zone":"UTC",
  "contact_methods":[{"id":"C1","type":"sms_contact_method","address":"5555550101","country_code":1}],"notification_rules":[]}]}`
	listUsers := `{"users":[{"id":"PA","type":"user","name":"Ann A","email":"ann@example.com","time_zone":"UTC",
  "contact_methods":[{"id":"C1","type":"sms_contact_method_reference","summary":"Mobile"}],"notification_rules":[]}],"more":false}`
	full := `{"schedule":{"id":"S1","type":"schedule","name":"Primary","time_zone":"UTC","schedule_layers":[
 {"id":"L1","name":"Layer 1","start":"2025-09-01T09:00:00Z","end":null,"rotation_virtual_start":"2025-09-01T09:00:00Z","rotation_turn_length_seconds":604800,
  "users":[{"user":{"id":"PA","type":"user_reference"}}],"restrictions":[]}]}}`
	list := `{"schedules":[{"id":"S1","type":"schedule","summary":"Primary","name":"Primary","time_zone":"UTC","description":null,
  "users":[{"id":"PA","type":"user_reference","summary":"Ann A"}],"escalation_policies":[],"teams":[]}],
 "limit":100,"offset":0,"more":false,"total":null}`
	for _, order := range [][]Document{
		{{Name: "pd/schedule-S1.json", Data: []byte(full)}, {Name: "pd/schedules.json", Data: []byte(list)},
			{Name: "pd/users-full.json", Data: []byte(fullUsers)}, {Name: "pd/users.json", Data: []byte(listUsers)}},
		{{Name: "pd/schedules.json", Data: []byte(list)}, {Name: "pd/schedule-S1.json", Data: []byte(full)},
			{Name: "pd/users.json", Data: []byte(listUsers)}, {Name: "pd/users-full.json", Data: []byte(fullUsers)}},
	} {
		res, cfg := importDocs(t, PagerDuty, Options{}, order...)
		if s := cfg.Schedule("primary"); s == nil {
			t.Fatalf("%s then %s: schedule Primary, whose layers are in schedule-S1.json, was not imported:\n%s", order[0].Name, order[1].Name, res.Config)
		}
		if u := cfg.User("ann"); u == nil || len(u.Contacts) == 0 {
			t.Fatalf("%s then %s: ann's SMS contact, whole in users-full.json, was not imported:\n%s", order[2].Name, order[3].Name, res.Config)
		}
	}
}

// TestPagerDutyLowUrgencyDoesNotEscalate: PagerDuty notifies a
// low-urgency incident's first rule on the people's low-urgency rules and
// does not escalate it ("uses low-urgency notification rules and cannot be
// escalated", its Dynamic Notifications page); a pagerd level escalates
// whatever the urgency. A service whose warnings are low urgency
// (severity_based), or whose nights are (support hours), wakes the
// policy's later levels in pagerd where PagerDuty wakes nobody more; the
// report must say so, for either rule. A policy of one level without
// loops escalates nowhere, and a service of constant high urgency has no
// low-urgency incident: neither is reported.
func TestPagerDutyLowUrgencyDoesNotEscalate(t *testing.T) {
	policies := `{"escalation_policies": [
		{"id": "E2", "name": "Two levels", "num_loops": 0, "escalation_rules": [
			{"escalation_delay_in_minutes": 15, "targets": [{"id": "PHANA01", "type": "user_reference"}]},
			{"escalation_delay_in_minutes": 30, "targets": [{"id": "PIVAN02", "type": "user_reference"}]}]},
		{"id": "E1", "name": "One level", "num_loops": 0, "escalation_rules": [
			{"escalation_delay_in_minutes": 15, "targets": [{"id": "PHANA01", "type": "user_reference"}]}]}]}`
	services := `{"services": [
		{"id": "S1", "name": "Warnings", "escalation_policy": {"id": "E2"}, "incident_urgency_rule": {"type": "severity_based"}},
		{"id": "S2", "name": "Nights", "escalation_policy": {"id": "E2"},
		 "incident_urgency_rule": {"type": "use_support_hours",
			"during_support_hours": {"type": "constant", "urgency": "high"},
			"outside_support_hours": {"type": "constant", "urgency": "low"}},
		 "support_hours": {"type": "fixed_time_per_day", "time_zone": "Europe/Berlin", "start_time": "09:00:00", "end_time": "17:00:00", "days_of_week": [1, 2, 3, 4, 5]}},
		{"id": "S3", "name": "Single", "escalation_policy": {"id": "E1"}, "incident_urgency_rule": {"type": "severity_based"}},
		{"id": "S4", "name": "Loud", "escalation_policy": {"id": "E2"}, "incident_urgency_rule": {"type": "constant", "urgency": "high"}}]}`
	res, cfg := mustImport(t, PagerDuty, []Document{
		{Name: "users.json", Data: []byte(pdFourUsers)},
		{Name: "escalation_policies.json", Data: []byte(policies)},
		{Name: "services.json", Data: []byte(services)},
	}, Options{})
	// What pagerd does: a P2 (a warning) is low urgency and still
	// escalates to ivan after 15 minutes.
	svc := cfg.Service("warnings")
	if svc == nil || svc.Targets["P2"].Urgency != policy.UrgencyLow || len(cfg.Policy(svc.EscalationPolicy).Levels) != 2 {
		t.Fatalf("service warnings: %+v\n%s", svc, res.Config)
	}
	for _, w := range [][]string{
		{`PagerDuty service "Warnings"`, "low urgency", "P2, P3", "escalat", "two-levels"},
		{`PagerDuty service "Nights"`, "low urgency", "P0, P1, P2, P3", "escalat", "two-levels"},
	} {
		if issueWith(res.Report, Changed, w...) == nil {
			t.Errorf("the report does not say that pagerd escalates what PagerDuty does not (%q):\n%+v", w, res.Report.Issues)
		}
	}
	for _, s := range []string{`PagerDuty service "Single"`, `PagerDuty service "Loud"`} {
		if is := issueWith(res.Report, Changed, s, "low urgency"); is != nil {
			t.Errorf("%s escalates no low-urgency incident, yet: %s", s, is.Detail)
		}
	}
}

// TestPagerDutyOverrideCutAtTheExportsEnd: GET /schedules/{id} with since
// and until (the export docs/MIGRATING.md gives) renders each override
// cut at until. Kim's override from 2026-01-02 runs on to 2026-01-09 at
// PagerDuty, but the export was made with until 2026-01-05 and renders it
// to then: pagerd's override ends there and hana, the rotation's, is on
// call again. The report must say that the override may go on after the
// export's end; Lee's, which ends before it, is not reported, nor is an
// override of an export without a final schedule, whose end is not known.
func TestPagerDutyOverrideCutAtTheExportsEnd(t *testing.T) {
	schedule := `{"schedule": {"id": "PSCH9", "name": "Payments", "time_zone": "Europe/Berlin", "schedule_layers": [
			{"id": "PL1", "name": "Weekly", "start": "2025-09-01T09:00:00+02:00", "end": null,
			 "rotation_virtual_start": "2025-09-01T09:00:00+02:00", "rotation_turn_length_seconds": 604800,
			 "users": [{"user": {"id": "PHANA01", "type": "user_reference"}}], "restrictions": [],
			 "rendered_schedule_entries": [{"start": "2025-12-29T09:00:00+01:00", "end": "2026-01-05T00:00:00+01:00", "user": {"id": "PHANA01", "type": "user_reference"}}]}],
			"overrides_subschedule": {"name": "Overrides", "rendered_schedule_entries": [
				{"start": "2025-12-30T08:00:00+01:00", "end": "2025-12-30T20:00:00+01:00", "user": {"id": "PLEEL04", "type": "user_reference", "summary": "Lee"}},
				{"start": "2026-01-02T09:00:00+01:00", "end": "2026-01-05T00:00:00+01:00", "user": {"id": "PKIMK03", "type": "user_reference", "summary": "Kim"}}]},
			"final_schedule": {"name": "Final Schedule", "rendered_schedule_entries": [
				{"start": "2025-12-29T09:00:00+01:00", "end": "2025-12-30T08:00:00+01:00", "user": {"id": "PHANA01", "type": "user_reference"}},
				{"start": "2025-12-30T08:00:00+01:00", "end": "2025-12-30T20:00:00+01:00", "user": {"id": "PLEEL04", "type": "user_reference"}},
				{"start": "2025-12-30T20:00:00+01:00", "end": "2026-01-02T09:00:00+01:00", "user": {"id": "PHANA01", "type": "user_reference"}},
				{"start": "2026-01-02T09:00:00+01:00", "end": "2026-01-05T00:00:00+01:00", "user": {"id": "PKIMK03", "type": "user_reference"}}]}}}`
	now := Options{Now: time.Date(2025, 12, 29, 8, 0, 0, 0, time.UTC)}
	res, _ := mustImport(t, PagerDuty, []Document{{Name: "users.json", Data: []byte(pdFourUsers)}, {Name: "schedule.json", Data: []byte(schedule)}}, now)
	if issueWith(res.Report, Changed, `override "Kim 2026-01-02`, "2026-01-05T00:00:00+01:00", "may go on", "PSCH9") == nil {
		t.Errorf("the override cut at the export's end is not reported:\n%+v", res.Report.Issues)
	}
	if is := issueWith(res.Report, Changed, `override "Lee`); is != nil {
		t.Errorf("an override that ends before the export's end is reported: %s", is.Detail)
	}
	noFinal := strings.Replace(schedule, `"final_schedule"`, `"final_schedule_not_exported"`, 1)
	noFinal = strings.Replace(noFinal, `"rendered_schedule_entries": [{"start": "2025-12-29T09:00:00+01:00"`, `"rendered_not_exported": [{"start": "2025-12-29T09:00:00+01:00"`, 1)
	var top map[string]map[string]any
	if err := json.Unmarshal([]byte(noFinal), &top); err != nil {
		t.Fatal(err)
	}
	delete(top["schedule"], "final_schedule_not_exported")
	data, _ := json.Marshal(top)
	res, _ = mustImport(t, PagerDuty, []Document{{Name: "users.json", Data: []byte(pdFourUsers)}, {Name: "schedule.json", Data: data}}, now)
	if is := issueWith(res.Report, Changed, "may go on"); is != nil {
		t.Errorf("without a final schedule the export's end is not known, yet: %s", is.Detail)
	}
}

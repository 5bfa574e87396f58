package importer

import (
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// The done-when test of issue 16: an Opsgenie export of a team with two
// rotations, a rotation restricted to business hours, an override and an
// escalation imports; the report lists what did not map; and who is on
// call in the imported config matches the source for a week of instants.
//
// The expected holders below are worked out by hand from the fixture
// (testdata/opsgenie/OpsGenieBackups/schedules/Platform_schedule-….json),
// in America/New_York, where October 2025 is EDT (UTC-4):
//
//   - Primary: weekly from Mon 2025-10-06 09:00, alice, bob, carol. Override
//     dentist-swap puts dave on Primary Wed 2025-10-08 13:00-21:00.
//   - Secondary: daily, 7 days a turn, from Wed 2025-10-01 12:00, dave,
//     alice, bob: dave until Wed Oct 8 12:00, alice until Wed Oct 15 12:00.
//   - Business hours: weekly from Mon Oct 6 09:00, carol, dave, on call only
//     Monday to Friday 09:00-17:00: a tier restricted to those windows, so
//     nobody holds it outside them.
var opsgenieWeek = []struct {
	at                           string
	primary, secondary, business string
}{
	{"2025-10-06T10:00:00-04:00", "alice", "dave", "carol"},
	{"2025-10-06T20:00:00-04:00", "alice", "dave", ""},
	{"2025-10-07T03:00:00-04:00", "alice", "dave", ""},
	{"2025-10-08T11:59:00-04:00", "alice", "dave", "carol"},
	{"2025-10-08T12:00:00-04:00", "alice", "alice", "carol"},
	{"2025-10-08T14:00:00-04:00", "dave", "alice", "carol"}, // the override
	{"2025-10-08T21:00:00-04:00", "alice", "alice", ""},     // override over (until is exclusive)
	{"2025-10-10T16:59:00-04:00", "alice", "alice", "carol"},
	{"2025-10-11T12:00:00-04:00", "alice", "alice", ""}, // Saturday
	{"2025-10-12T23:00:00-04:00", "alice", "alice", ""},
	{"2025-10-13T08:59:00-04:00", "alice", "alice", ""},
	{"2025-10-13T09:00:00-04:00", "bob", "alice", "dave"},
	{"2025-10-13T17:00:00-04:00", "bob", "alice", ""},
}

func TestOpsgenieDoneWhen(t *testing.T) {
	res, cfg := importFixture(t, Opsgenie, Options{PublicURL: "https://pagerd.example.com"}, "opsgenie/OpsGenieBackups")
	rep := res.Report

	// The restricted rotation is a tier restricted to its windows.
	if issueWith(rep, NotMapped, `rotation "Business hours"`) != nil {
		t.Errorf("the business-hours rotation is reported as not imported:\n%+v", rep.Issues)
	}
	bh := cfg.Schedule("platform_schedule")
	if bh == nil {
		t.Fatalf("no schedule platform_schedule:\n%s", res.Config)
	}
	if tr := bh.Tier("business-hours"); tr == nil || len(tr.Restrictions) != 5 {
		t.Fatalf("tier business-hours: %+v, want five windows, Monday to Friday", tr)
	}
	for _, c := range opsgenieWeek {
		at, err := time.Parse(time.RFC3339, c.at)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{c.primary: true, c.secondary: true}
		if c.business != "" {
			want[c.business] = true
		}
		var wantList []string
		for u := range want {
			wantList = append(wantList, u)
		}
		sort.Strings(wantList)
		if got := onCallUsers(t, cfg, at); !reflect.DeepEqual(got, wantList) {
			t.Errorf("%s: on call %v, want %v (primary %s, secondary %s, business hours %q)",
				c.at, got, wantList, c.primary, c.secondary, c.business)
		}
	}
	// Per tier too, so a swap of primary and secondary cannot pass.
	for _, c := range opsgenieWeek {
		at, _ := time.Parse(time.RFC3339, c.at)
		p, _ := cfg.Schedule("platform_schedule").OnCallTier("primary", at)
		s, _ := cfg.Schedule("platform_schedule-secondary").OnCallTier("secondary", at)
		b, _ := cfg.Schedule("platform_schedule").OnCallTier("business-hours", at)
		if p.User != c.primary || s.User != c.secondary || b.User != c.business {
			t.Errorf("%s: primary %s, secondary %s, business hours %q; want %s, %s, %q", c.at, p.User, s.User, b.User, c.primary, c.secondary, c.business)
		}
	}

	// The escalation: the schedule at once (its three tiers, in two pagerd
	// schedules),
	// "next on call" at 5m not imported, the whole team at 15m, then over
	// again twice, 10m after the last step; alice if still open after 1h.
	pol := cfg.Policy("platform_escalation")
	if pol == nil {
		t.Fatalf("no escalation policy platform_escalation:\n%s", res.Config)
	}
	if len(pol.Levels) != 2 || pol.Repeat != 2 {
		t.Fatalf("levels %d, repeat %d; want 2 levels, repeat 2", len(pol.Levels), pol.Repeat)
	}
	wantTargets := [][]policy.Target{
		{{Schedule: "platform_schedule", Tier: "primary"}, {Schedule: "platform_schedule-secondary", Tier: "secondary"}, {Schedule: "platform_schedule", Tier: "business-hours"}},
		{{User: "alice"}, {User: "bob"}, {User: "carol"}, {User: "dave"}},
	}
	for i, want := range wantTargets {
		if !reflect.DeepEqual(pol.Levels[i].Targets, want) {
			t.Errorf("level %d targets %+v, want %+v", i+1, pol.Levels[i].Targets, want)
		}
	}
	if pol.Levels[0].Timeout.Duration != 15*time.Minute || pol.Levels[1].Timeout.Duration != 10*time.Minute {
		t.Errorf("timeouts %s, %s; want 15m (the team at 15 minutes), 10m (the repeat's wait)", pol.Levels[0].Timeout, pol.Levels[1].Timeout)
	}
	if len(pol.Unresolved) != 1 || pol.Unresolved[0].After != policy.Duration(time.Hour) ||
		!reflect.DeepEqual(pol.Unresolved[0].Notify, []policy.Target{{User: "alice"}}) {
		t.Errorf("unresolved %+v, want alice after 1h", pol.Unresolved)
	}
	if issueWith(rep, NotMapped, `rule "2"`, "next on-call user") == nil {
		t.Errorf("the notify-next rule is not reported")
	}
	if issueWith(rep, Changed, `rule "3"`, `team "Platform"`, "(4)") == nil {
		t.Errorf("the team expanded to its members is not reported")
	}

	// Who the levels page during the override: dave on primary, alice on
	// secondary, carol for business hours.
	svc := cfg.Service("platform")
	if svc == nil {
		t.Fatalf("no service platform")
	}
	at, _ := time.Parse(time.RFC3339, "2025-10-08T14:00:00-04:00")
	if got := cfg.LevelUsers(svc, 0, at); !reflect.DeepEqual(got, []string{"dave", "alice", "carol"}) {
		t.Errorf("level 1 during the override pages %v, want [dave alice carol]", got)
	}

	// Opsgenie priorities route by the published table.
	for og, want := range map[string]string{"P1": "P0", "P2": "P1", "P3": "P2", "P4": "P3", "P5": "P3"} {
		if r := cfg.Route(svc, map[string]string{"priority": og}, at); r.Priority != want {
			t.Errorf("an alert with priority=%s gets %s (rule %q), want %s", og, r.Priority, r.Rule, want)
		}
	}

	// The team's heartbeat is the service's: missed, it is P0 by its
	// Opsgenie priority.
	hb := svc.Heartbeat("platform-watchdog")
	if hb == nil || hb.Expiry() != 5*time.Minute {
		t.Fatalf("heartbeats %+v, want platform-watchdog every 5m", svc.Heartbeats)
	}
	if r := cfg.Route(svc, hb.AlertLabels(), at); r.Priority != "P0" {
		t.Errorf("the missed heartbeat gets %s (rule %q), want P0 (Opsgenie P1)", r.Priority, r.Rule)
	}

	// The rest of the report: what the team's second routing rule, the
	// heartbeat's pinger, the contacts and the notification rules lost.
	for _, w := range []struct {
		kind IssueKind
		want []string
	}{
		{NotMapped, []string{`routing rule "Databases at night"`, "from 22:00 to 06:00 every day", "make a service"}},
		{Changed, []string{`heartbeat "platform-watchdog"`, "/api/v1/heartbeats/platform-watchdog/ping", "PAGERD_PLATFORM_ALERTMANAGER_KEY"}},
		{NotMapped, []string{`user "alice@example.com"`, "the Opsgenie app (Alice's phone)", "by SMS and calls through Twilio and by email"}},
		{NotMapped, []string{`user "alice@example.com"`, `"Acknowledged Alert" (acknowledged-alert)`}},
		{Changed, []string{`user "alice@example.com"`, "push after 0s"}},
		{NotMapped, []string{`user "dave@example.com"`, "disabled sms"}},
		{Changed, []string{`rotation "Secondary"`, "different times", "platform_schedule-secondary"}},
	} {
		if issueWith(rep, w.kind, w.want...) == nil {
			t.Errorf("the report has no %v issue with %q", w.kind, w.want)
		}
	}

	// People: emails from Opsgenie usernames, phone numbers in E.164,
	// email contacts through SMTP, and alice's ladder without the app push.
	alice := cfg.User("alice")
	if alice == nil || alice.Email != "alice@example.com" || alice.Name != "Alice Andersen" || alice.TimeZone != "Europe/Berlin" {
		t.Fatalf("alice: %+v", alice)
	}
	if want := []policy.NotifyStep{{After: policy.Duration(time.Minute), Channel: "sms"}, {After: policy.Duration(3 * time.Minute), Channel: "voice"}, {After: policy.Duration(10 * time.Minute), Channel: "email"}}; !reflect.DeepEqual(alice.NotificationRules.High, want) {
		t.Errorf("alice's ladder %+v, want %+v", alice.NotificationRules.High, want)
	}
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		emailMapped(t, res, cfg, u, u+"@example.com")
	}
	if d := cfg.User("dave"); len(d.Contacts) != 2 || !hasContact(d, policy.Contact{Channel: "voice", Via: "twilio", Address: "+447700900123"}) {
		t.Errorf("dave's contacts %+v, want email and voice +447700900123 (his SMS is disabled)", d.Contacts)
	}
}

// TestOpsgenieAPIResponses reads raw API responses (list and get, the
// envelope with data, overrides found by their _parent): a two-week
// rotation across the end of summer time in Berlin, an override of the
// whole schedule, and what pagerd cannot carry.
//
// By hand, Europe/Berlin: Fortnight hands off Monday 08:00, erin from Mon
// 2025-10-06 08:00 CEST (06:00Z) for two weeks, frank from Mon Oct 20
// 08:00 CEST (06:00Z), erin again from Mon Nov 3 08:00 CET (07:00Z, after
// the clocks went back on Oct 26). Follow the sun hands off every 12 hours
// from Oct 6 08:00 on the wall clock: erin 08:00-20:00, frank 20:00-08:00,
// before and after the change. frank covers the whole schedule on Fri
// Oct 10 12:00-18:00Z.
func TestOpsgenieAPIResponses(t *testing.T) {
	res, cfg := importFixture(t, Opsgenie, Options{}, "opsgenie/api")
	for at, want := range map[string][]string{
		"2025-10-06T06:00:00Z": {"erin"},
		"2025-10-10T11:59:00Z": {"erin"},
		"2025-10-10T12:00:00Z": {"frank"},
		"2025-10-10T17:59:00Z": {"frank"},
		"2025-10-10T18:00:00Z": {"erin", "frank"}, // 20:00 CEST: frank's night
		"2025-10-20T05:59:00Z": {"erin", "frank"},
		"2025-10-20T06:00:00Z": {"erin", "frank"}, // fortnight frank, the day erin
		"2025-10-26T18:59:00Z": {"erin", "frank"}, // 19:59 CET, the clocks went back: still erin's day
		"2025-10-26T19:00:00Z": {"frank"},         // 20:00 CET
		"2025-10-27T06:59:00Z": {"frank"},
		"2025-10-27T07:00:00Z": {"erin", "frank"}, // 08:00 CET
		"2025-11-03T06:59:00Z": {"frank"},
		"2025-11-03T07:00:00Z": {"erin"},
	} {
		ts, _ := time.Parse(time.RFC3339, at)
		if got := onCallUsers(t, cfg, ts); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: on call %v, want %v", at, got, want)
		}
	}
	s := cfg.Schedule("payments_schedule")
	if s == nil || len(s.Tiers) != 2 || s.Tiers[0].ShiftWeeks != 2 || s.Tiers[1].ShiftHours != 12 || s.Tiers[1].HandoffTime.String() != "08:00" {
		t.Fatalf("payments_schedule: %+v", s)
	}
	rep := res.Report
	for _, w := range []struct {
		kind IssueKind
		want []string
	}{
		{NotMapped, []string{`rotation "Escalate to SRE"`, `"SRE" is a team`}},
		{NotMapped, []string{`override "offsite"`, "puts nobody on call"}},
		{NotMapped, []string{`heartbeat "checkout-cron"`, "every 1 hours (disabled)", "P4"}},
		{NotMapped, []string{`heartbeat "quarterly-audit"`, "every 92 days", "pagerd's heartbeats are pinged at least every 31d"}},
		{NotMapped, []string{`heartbeat "forever"`, "every 300000 days"}}, // more nanoseconds than a time.Duration holds
		{Changed, []string{`heartbeat "monthly-invoices"`, "/api/v1/heartbeats/monthly-invoices/ping"}},
		{NotMapped, []string{"notification-rules-erin.json", "1 notification rules without their user"}},
		{Changed, []string{`escalation "Payments_escalation"`, "first responders 5m after the alert"}},
		{Changed, []string{`user "frank@example.org"`, "no contact pagerd can page", "log transport"}},
	} {
		if issueWith(rep, w.kind, w.want...) == nil {
			t.Errorf("the report has no %v issue with %q", w.kind, w.want)
		}
	}
	// erin's contacts came from GET /v2/users/{id}?expand=contact, read
	// after the list that lacks them; she is one user, not two.
	if len(cfg.Users) != 2 {
		t.Errorf("%d users, want 2 (erin read twice is one user)", len(cfg.Users))
	}
	if e := cfg.User("erin"); e == nil || len(e.Contacts) != 2 || !hasContact(e, policy.Contact{Channel: "sms", Via: "twilio", Address: "+4915550100200"}) {
		t.Errorf("erin: %+v; want her email and SMS contacts (no voice without --public-url)", e)
	}
	emailMapped(t, res, cfg, "erin", "erin@example.org")
	// No routing rules in API responses: the team's one escalation is its
	// service's. Level 1 (erin) is paged at once, the schedule at 20m; no
	// repeat, which check-config warns about.
	svc := cfg.Service("payments")
	if svc == nil || svc.EscalationPolicy != "payments_escalation" {
		t.Fatalf("service payments: %+v", svc)
	}
	// A heartbeat of 31 days, pagerd's longest, is imported; one of 92
	// days is reported as not mapped, so the written config loads.
	if hb := svc.Heartbeat("monthly-invoices"); hb == nil || hb.Expiry() != policy.MaxHeartbeatInterval || len(svc.Heartbeats) != 1 {
		t.Errorf("heartbeats %+v, want only monthly-invoices every 31d", svc.Heartbeats)
	}
	pol := cfg.Policy("payments_escalation")
	if len(pol.Levels) != 2 || pol.Levels[0].Timeout.Duration != 20*time.Minute || pol.Levels[1].Timeout.IsSet() || pol.Repeat != 0 {
		t.Errorf("payments_escalation: %+v", pol.Levels)
	}
	warned := false
	for _, w := range rep.Warnings {
		warned = warned || strings.Contains(w, "escalation_policies[payments_escalation].repeat")
	}
	if !warned {
		t.Errorf("the report does not pass on check-config's warning about a policy that stops paging: %q", rep.Warnings)
	}
}

// TestOpsgenieRoutingWithoutADefault: with no rule marked isDefault, the
// last rule becomes the service's escalation; it is reported as changed
// (its criteria and time restriction no longer apply), not as left out.
func TestOpsgenieRoutingWithoutADefault(t *testing.T) {
	esc := func(id, name string) string {
		return `{"id": "` + id + `", "name": "` + name + `", "rules": [{"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 0, "timeUnit": "minutes"}, "recipient": {"type": "schedule", "id": "s1"}}]}`
	}
	res, cfg := mustImport(t, Opsgenie, ogDocs(
		`{"data": [`+esc("e1", "Day")+`, `+esc("e2", "Night")+`]}`,
		`{"team": {"id": "t1", "name": "Ops"}, "teamRoutingRules": [
			{"id": "rr1", "name": "Day rule", "isDefault": false, "order": 0, "criteria": {"type": "match-all"},
			 "timeRestriction": {"type": "time-of-day", "restriction": {"startHour": 8, "startMin": 0, "endHour": 20, "endMin": 0}},
			 "notify": {"type": "escalation", "id": "e1", "name": "Day"}},
			{"id": "rr2", "name": "Night rule", "isDefault": false, "order": 1,
			 "criteria": {"type": "match-all-conditions", "conditions": [{"field": "priority", "operation": "equals", "expectedValue": "P1"}]},
			 "notify": {"type": "escalation", "id": "e2", "name": "Night"}}]}`), Options{})
	svc := cfg.Service("ops")
	if svc == nil || svc.EscalationPolicy != "night" {
		t.Fatalf("service ops: %+v, want escalation night (the last rule)\n%s", svc, res.Config)
	}
	if issueWith(res.Report, NotMapped, `routing rule "Day rule"`, "make a service") == nil {
		t.Errorf("the first rule is not reported as left out: %+v", res.Report.Issues)
	}
	if is := issueWith(res.Report, NotMapped, `routing rule "Night rule"`); is != nil {
		t.Errorf("the rule imported as the service's escalation is reported as not imported: %s", is.Detail)
	}
	if issueWith(res.Report, Changed, `routing rule "Night rule"`, "no routing rule is the default", "criteria (match-all-conditions, 1 conditions) is ignored") == nil {
		t.Errorf("the report does not say the last rule's criteria are ignored: %+v", res.Report.Issues)
	}
}

// TestOpsgenieTimeUnits: delays are read in their unit, and one in a unit
// the importer does not know is reported, not read as minutes.
func TestOpsgenieTimeUnits(t *testing.T) {
	res, cfg := mustImport(t, Opsgenie, ogDocs(`{"data": [{"id": "e1", "name": "Slow", "rules": [
		{"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 0, "timeUnit": "minutes"}, "recipient": {"type": "user", "id": "u1"}},
		{"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 2, "timeUnit": "weeks"}, "recipient": {"type": "user", "id": "u2"}},
		{"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 3, "timeUnit": "fortnights"}, "recipient": {"type": "schedule", "id": "s1"}}]}]}`), Options{})
	pol := cfg.Policy("slow")
	if pol == nil || len(pol.Levels) != 2 || pol.Levels[0].Timeout.Duration != 14*24*time.Hour {
		t.Fatalf("policy slow: %+v, want two levels, the second after two weeks\n%s", pol, res.Config)
	}
	if issueWith(res.Report, NotMapped, `escalation "Slow" (id e1), rule "3"`, `3 fortnights`, "time unit pagerd import does not know") == nil {
		t.Errorf("the unknown unit is not reported: %+v", res.Report.Issues)
	}
}

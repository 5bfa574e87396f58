package importer

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// pdFourUsers are four PagerDuty users for the inline schedules below.
const pdFourUsers = `{"users": [
	{"id": "PHANA01", "name": "Hana", "email": "hana@example.com"},
	{"id": "PIVAN02", "name": "Ivan", "email": "ivan@example.com"},
	{"id": "PKIMK03", "name": "Kim", "email": "kim@example.com"},
	{"id": "PLEEL04", "name": "Lee", "email": "lee@example.com"}]}`

// TestPagerDutyLayerReplacedInTheFuture: a team moves to a new rotation
// from Monday 2025-10-20, as PagerDuty records an edit with a future
// effective date: the old layer ends then and a new layer (listed first,
// above it) starts then. Until then the old layer is on call; the new
// layer does not hide it, and it must not be reported as never on call.
func TestPagerDutyLayerReplacedInTheFuture(t *testing.T) {
	res, cfg := mustImport(t, PagerDuty, []Document{
		{Name: "users.json", Data: []byte(pdFourUsers)},
		{Name: "schedule.json", Data: []byte(`{"schedule": {"id": "PSCH9", "name": "Payments", "time_zone": "Europe/Berlin", "schedule_layers": [
			{"id": "PL2", "name": "New weekly", "start": "2025-10-20T09:00:00+02:00", "end": null,
			 "rotation_virtual_start": "2025-10-20T09:00:00+02:00", "rotation_turn_length_seconds": 604800,
			 "users": [{"user": {"id": "PKIMK03", "type": "user_reference"}}, {"user": {"id": "PLEEL04", "type": "user_reference"}}], "restrictions": []},
			{"id": "PL1", "name": "Old weekly", "start": "2025-09-01T09:00:00+02:00", "end": "2025-10-20T09:00:00+02:00",
			 "rotation_virtual_start": "2025-09-01T09:00:00+02:00", "rotation_turn_length_seconds": 604800,
			 "users": [{"user": {"id": "PHANA01", "type": "user_reference"}}, {"user": {"id": "PIVAN02", "type": "user_reference"}}], "restrictions": []}]}}`)},
	}, Options{})
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		// Old layer: hana from 09-01, ivan 09-08, ... ivan 10-06, hana 10-13.
		{time.Date(2025, 10, 8, 12, 0, 0, 0, berlin), "ivan"},
		{time.Date(2025, 10, 15, 12, 0, 0, 0, berlin), "hana"},
		{time.Date(2025, 10, 20, 8, 59, 0, 0, berlin), "hana"},
		// New layer from 10-20 09:00: kim, then lee.
		{time.Date(2025, 10, 20, 9, 0, 0, 0, berlin), "kim"},
		{time.Date(2025, 10, 28, 12, 0, 0, 0, berlin), "lee"},
	} {
		if got := onCallUsers(t, cfg, c.at); !reflect.DeepEqual(got, []string{c.want}) {
			t.Errorf("%s: on call %v, want [%s] as in PagerDuty\n%s", c.at, got, c.want, res.Config)
		}
	}
	if is := issueWith(res.Report, NotMapped, `layer "Old weekly"`, "never on call"); is != nil {
		t.Errorf("the old layer, on call until 2025-10-20, is reported as never on call: %s", is.Detail)
	}
	if issueWith(res.Report, Changed, `layer "Old weekly"`, "ends 2025-10-20") == nil {
		t.Errorf("the old layer's end is not reported: %+v", res.Report.Issues)
	}
}

// TestPagerDutyLayerStartsAfterItsVirtualStart: a new layer keeps the
// phase of an older rotation (its rotation_virtual_start weeks back) but is
// on call only from its start, 2025-10-20 09:00; a start inside a turn is
// reported, the layer taking over at the next handoff.
func TestPagerDutyLayerStartsAfterItsVirtualStart(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, c := range []struct {
		name, start string
		checks      map[time.Time]string
		inside      bool
	}{
		{name: "at a handoff", start: "2025-10-20T09:00:00+02:00", checks: map[time.Time]string{
			time.Date(2025, 10, 8, 12, 0, 0, 0, berlin):  "ivan",
			time.Date(2025, 10, 20, 8, 59, 0, 0, berlin): "hana",
			// Turn 7 from the virtual start 09-01: lee, then kim.
			time.Date(2025, 10, 20, 9, 0, 0, 0, berlin): "lee",
			time.Date(2025, 10, 27, 9, 0, 0, 0, berlin): "kim",
			time.Date(2025, 11, 3, 9, 0, 0, 0, berlin):  "lee",
		}},
		// PagerDuty has lee from Wed 12:00; pagerd keeps the old layer's
		// ivan until the next handoff, and the report says so.
		{name: "inside a turn", start: "2025-10-22T12:00:00+02:00", inside: true, checks: map[time.Time]string{
			time.Date(2025, 10, 22, 12, 0, 0, 0, berlin): "ivan",
			time.Date(2025, 10, 27, 9, 0, 0, 0, berlin):  "kim",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, cfg := mustImport(t, PagerDuty, []Document{
				{Name: "users.json", Data: []byte(pdFourUsers)},
				{Name: "schedule.json", Data: []byte(`{"schedule": {"id": "PSCH9", "name": "Payments", "time_zone": "Europe/Berlin", "schedule_layers": [
			{"id": "PL2", "name": "New weekly", "start": "` + c.start + `", "end": null,
			 "rotation_virtual_start": "2025-09-01T09:00:00+02:00", "rotation_turn_length_seconds": 604800,
			 "users": [{"user": {"id": "PKIMK03", "type": "user_reference"}}, {"user": {"id": "PLEEL04", "type": "user_reference"}}], "restrictions": []},
			{"id": "PL1", "name": "Old weekly", "start": "2025-09-01T09:00:00+02:00", "end": null,
			 "rotation_virtual_start": "2025-09-01T09:00:00+02:00", "rotation_turn_length_seconds": 604800,
			 "users": [{"user": {"id": "PHANA01", "type": "user_reference"}}, {"user": {"id": "PIVAN02", "type": "user_reference"}}], "restrictions": []}]}}`)},
			}, Options{})
			for at, want := range c.checks {
				if got := onCallUsers(t, cfg, at); !reflect.DeepEqual(got, []string{want}) {
					t.Errorf("%s: on call %v, want [%s]\n%s", at, got, want, res.Config)
				}
			}
			if got := issueWith(res.Report, Changed, `layer "New weekly"`, "inside a turn", "2025-10-27T09:00:00+01:00") != nil; got != c.inside {
				t.Errorf("a start inside a turn reported: %v, want %v: %+v", got, c.inside, res.Report.Issues)
			}
		})
	}
}

// TestRepeatWaitWhenTheLastRuleIsLeftOut: Opsgenie starts an escalation
// over waitInterval after its last rule, here the one that notifies a team
// through its routing rules at 15 minutes, which pagerd cannot import. The
// ladder still starts over at 25 minutes, not 10 minutes after the last
// rule imported (the user at 5).
func TestRepeatWaitWhenTheLastRuleIsLeftOut(t *testing.T) {
	res, cfg := mustImport(t, Opsgenie, ogDocs(
		`{"data": [{"id": "e1", "name": "Ops esc", "ownerTeam": {"id": "t1"}, "rules": [
			{"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 0, "timeUnit": "minutes"}, "recipient": {"type": "schedule", "id": "s1"}},
			{"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 5, "timeUnit": "minutes"}, "recipient": {"type": "user", "id": "u2"}},
			{"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 15, "timeUnit": "minutes"}, "recipient": {"type": "team", "id": "t9", "name": "DBA"}}],
			"repeat": {"waitInterval": 10, "count": 2, "resetRecipientStates": false, "closeAlertAfterAll": false}}]}`,
		`{"data": {"id": "t1", "name": "Ops team", "members": []}}`), Options{})
	pol := cfg.Policy("ops-esc")
	if pol == nil || len(pol.Levels) != 2 || pol.Repeat != 2 {
		t.Fatalf("policy: %+v\n%s", pol, res.Config)
	}
	if got := pol.Levels[1].Timeout.Duration; got != 20*time.Minute {
		t.Errorf("the last level waits %s before starting over, want 20m (over again at 25m, as in Opsgenie)", got)
	}
	if issueWith(res.Report, NotMapped, `rule "3"`, `team "DBA"`) == nil {
		t.Errorf("the team rule is not reported: %+v", res.Report.Issues)
	}
}

// TestPagerDutyLoopWhenTheLastRuleIsLeftOut: PagerDuty loops back to its
// first rule after every rule's delay has run (10 + 15 minutes), whether
// or not pagerd could import the last rule.
func TestPagerDutyLoopWhenTheLastRuleIsLeftOut(t *testing.T) {
	res, cfg := mustImport(t, PagerDuty, []Document{
		{Name: "users.json", Data: []byte(pdFourUsers)},
		{Name: "escalation_policies.json", Data: []byte(`{"escalation_policies": [{"id": "PEP1", "type": "escalation_policy", "name": "Payments", "num_loops": 1,
			"escalation_rules": [
				{"id": "R1", "escalation_delay_in_minutes": 10, "targets": [{"id": "PHANA01", "type": "user_reference"}]},
				{"id": "R2", "escalation_delay_in_minutes": 15, "targets": [{"id": "PGONE99", "type": "user_reference", "summary": "Left the company"}]}]}],
			"limit": 25, "offset": 0, "more": false}`)},
	}, Options{})
	pol := cfg.Policy("payments")
	if pol == nil || len(pol.Levels) != 1 || pol.Repeat != 1 {
		t.Fatalf("policy: %+v\n%s", pol, res.Config)
	}
	if got := pol.Levels[0].Timeout.Duration; got != 25*time.Minute {
		t.Errorf("the level waits %s before looping, want 25m as in PagerDuty", got)
	}
	if issueWith(res.Report, NotMapped, `rule "2"`, `"PGONE99"`) == nil {
		t.Errorf("the rule left out is not reported: %+v", res.Report.Issues)
	}
}

// TestOpsgenieNotificationRuleRepeat: an Opsgenie rule for new alerts that
// repeats its steps every 5 minutes until the alert is acknowledged rings
// the person again and again; pagerd's ladder sends each step once, so the
// report must say so.
func TestOpsgenieNotificationRuleRepeat(t *testing.T) {
	res, cfg := mustImport(t, Opsgenie, []Document{{Name: "users/cara.json", Data: []byte(`{
		"user": {"id": "u7", "username": "cara@example.com", "fullName": "Cara", "timeZone": "Europe/Dublin",
			"userContacts": [{"id": "c1", "contactMethod": "sms", "to": "353-871234567", "enabled": true},
			                 {"id": "c2", "contactMethod": "voice", "to": "353-871234567", "enabled": true}]},
		"notificationRuleList": [{"id": "nr1", "name": "New Alert", "actionType": "create-alert", "order": 0, "enabled": true,
			"criteria": {"type": "match-all"},
			"steps": [{"contact": {"method": "sms", "to": "353-871234567"}, "sendAfter": {"timeAmount": 0}, "enabled": true},
			          {"contact": {"method": "voice", "to": "353-871234567"}, "sendAfter": {"timeAmount": 2}, "enabled": true}],
			"repeat": {"loopAfter": 5, "enabled": true}}]}`)}}, Options{PublicURL: "https://pagerd.example.com"})
	u := cfg.User("cara")
	if u == nil || len(u.NotificationRules.High) != 2 {
		t.Fatalf("cara: %+v\n%s", u, res.Config)
	}
	if issueWith(res.Report, NotMapped, `notification rule "New Alert"`, "repeats its steps every 5m") == nil {
		t.Errorf("the rule's repeat is left out without a word: %+v", res.Report.Issues)
	}
}

// TestPagerDutyLayerEndingLater: a layer that covers every hour until it
// ends on 2025-10-20 hides the layer below only until then; from then on
// the layer below is on call at the source, so it is imported, beneath it.
func TestPagerDutyLayerEndingLater(t *testing.T) {
	res, cfg := mustImport(t, PagerDuty, []Document{
		{Name: "users.json", Data: []byte(pdFourUsers)},
		{Name: "schedule.json", Data: []byte(`{"schedule": {"id": "PSCH9", "name": "Payments", "time_zone": "Europe/Berlin", "schedule_layers": [
			{"id": "PL2", "name": "Temporary cover", "start": "2025-09-29T09:00:00+02:00", "end": "2025-10-20T09:00:00+02:00",
			 "rotation_virtual_start": "2025-09-29T09:00:00+02:00", "rotation_turn_length_seconds": 604800,
			 "users": [{"user": {"id": "PKIMK03", "type": "user_reference"}}], "restrictions": []},
			{"id": "PL1", "name": "Weekly", "start": "2025-09-01T09:00:00+02:00", "end": null,
			 "rotation_virtual_start": "2025-09-01T09:00:00+02:00", "rotation_turn_length_seconds": 604800,
			 "users": [{"user": {"id": "PHANA01", "type": "user_reference"}}, {"user": {"id": "PIVAN02", "type": "user_reference"}}], "restrictions": []}]}}`)},
	}, Options{})
	if is := issueWith(res.Report, NotMapped, `layer "Weekly"`); is != nil {
		t.Errorf("the layer on call from 2025-10-20 is left out: %s\n%s", is.Detail, res.Config)
	}
	if issueWith(res.Report, Changed, `layer "Temporary cover"`, "ends 2025-10-20", "remove it then") == nil {
		t.Errorf("the end of the covering layer is not reported: %+v", res.Report.Issues)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	if got := onCallUsers(t, cfg, time.Date(2025, 10, 8, 12, 0, 0, 0, berlin)); !reflect.DeepEqual(got, []string{"kim"}) {
		t.Errorf("on call %v before the cover ends, want [kim]", got)
	}
	// Once the covering layer is removed, as the report says, Weekly is
	// what is left.
	sc := cfg.Schedule("payments")
	if sc == nil || len(sc.Tiers) != 1 || len(sc.Tiers[0].Members) != 2 || len(sc.Tiers[0].Layers) != 1 {
		t.Fatalf("want one tier of the weekly rotation with the cover as its layer:\n%s", res.Config)
	}
}

// TestPagerDutyBlacklistedNumber: PagerDuty stops messaging a number that
// is blacklisted (it replied STOP, or PagerDuty flagged it) and an SMS
// contact whose enabled is false; its API still lists both. pagerd must
// not message them either, and the report names them.
func TestPagerDutyBlacklistedNumber(t *testing.T) {
	res, cfg := mustImport(t, PagerDuty, []Document{{Name: "users.json", Data: []byte(`{"users": [
		{"id": "PHANA01", "type": "user", "name": "Hana", "email": "hana@example.com", "time_zone": "Europe/Berlin",
		 "contact_methods": [
			{"id": "PC2", "type": "sms_contact_method", "summary": "Old mobile", "label": "Old mobile", "address": "15550199", "country_code": 49, "blacklisted": true, "enabled": true},
			{"id": "PC1", "type": "sms_contact_method", "summary": "Mobile", "label": "Mobile", "address": "15550100", "country_code": 49, "blacklisted": false, "enabled": true},
			{"id": "PC3", "type": "phone_contact_method", "summary": "Desk", "label": "Desk", "address": "305550123", "country_code": 49, "blacklisted": true},
			{"id": "PC4", "type": "sms_contact_method", "summary": "Travel", "label": "Travel", "address": "15550177", "country_code": 49, "blacklisted": false, "enabled": false}],
		 "notification_rules": [
			{"id": "PN1", "type": "assignment_notification_rule", "start_delay_in_minutes": 0, "urgency": "high",
			 "contact_method": {"id": "PC1", "type": "sms_contact_method_reference"}}]}],
		"limit": 25, "offset": 0, "more": false}`)}}, Options{PublicURL: "https://pagerd.example.com"})
	u := cfg.User("hana")
	if u == nil {
		t.Fatalf("no hana:\n%s", res.Config)
	}
	for _, c := range u.Contacts {
		if c.Address != "+4915550100" {
			t.Errorf("hana is paged at %s %s, which PagerDuty does not message", c.Channel, c.Address)
		}
	}
	if !hasContact(u, policy.Contact{Channel: policy.ChannelSMS, Via: "twilio", Address: "+4915550100"}) {
		t.Errorf("hana's live number is not imported: %+v", u.Contacts)
	}
	for _, c := range []struct{ label, why string }{
		{`"Old mobile"`, "blacklisted"}, {`"Desk"`, "blacklisted"}, {`"Travel"`, "disabled"},
	} {
		if issueWith(res.Report, NotMapped, `contact method `+c.label, c.why, "not imported") == nil {
			t.Errorf("contact method %s left out without a word: %+v", c.label, res.Report.Issues)
		}
	}
}

// ogFourUsers are four Opsgenie users for the inline schedules below.
const ogFourUsers = `{"data": [
	{"id": "u-hana", "username": "hana@example.com", "fullName": "Hana", "timeZone": "Europe/Berlin"},
	{"id": "u-ivan", "username": "ivan@example.com", "fullName": "Ivan", "timeZone": "Europe/Berlin"},
	{"id": "u-kim", "username": "kim@example.com", "fullName": "Kim", "timeZone": "Europe/Berlin"},
	{"id": "u-lee", "username": "lee@example.com", "fullName": "Lee", "timeZone": "Europe/Berlin"}]}`

// TestOpsgenieRotationReplacedInTheFuture: a team moves to a new rotation
// from Monday 2025-10-20 09:00 as Opsgenie records it: the old rotation
// gets that endDate and a new rotation starts then. Opsgenie has exactly
// one person on call at every instant; pagerd must too, so the new
// rotation (which pagerd would otherwise run backwards) must not be on
// call before it starts, and the old one not after it ends.
func TestOpsgenieRotationReplacedInTheFuture(t *testing.T) {
	res, cfg := mustImport(t, Opsgenie, []Document{
		{Name: "users.json", Data: []byte(ogFourUsers)},
		{Name: "schedules.json", Data: []byte(`{"data": [{"id": "s-pay", "name": "Payments", "timezone": "Europe/Berlin", "enabled": true,
			"ownerTeam": {"id": "t1", "name": "Payments team"},
			"rotations": [
				{"id": "r-old", "name": "Old weekly", "type": "weekly", "length": 1,
				 "startDate": "2025-09-01T07:00:00Z", "endDate": "2025-10-20T07:00:00Z",
				 "participants": [{"type": "user", "id": "u-hana", "username": "hana@example.com"}, {"type": "user", "id": "u-ivan", "username": "ivan@example.com"}]},
				{"id": "r-new", "name": "New weekly", "type": "weekly", "length": 1,
				 "startDate": "2025-10-20T07:00:00Z",
				 "participants": [{"type": "user", "id": "u-kim", "username": "kim@example.com"}, {"type": "user", "id": "u-lee", "username": "lee@example.com"}]}]}]}`)},
	}, Options{})
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		// Old rotation: hana from 09-01, ivan 09-08, ... ivan 10-06, hana 10-13.
		{time.Date(2025, 10, 8, 12, 0, 0, 0, berlin), "ivan"},
		{time.Date(2025, 10, 15, 12, 0, 0, 0, berlin), "hana"},
		{time.Date(2025, 10, 20, 8, 59, 0, 0, berlin), "hana"},
		// New rotation from 10-20 09:00: kim, then lee, then kim.
		{time.Date(2025, 10, 20, 9, 0, 0, 0, berlin), "kim"},
		{time.Date(2025, 10, 28, 12, 0, 0, 0, berlin), "lee"},
		{time.Date(2025, 11, 5, 12, 0, 0, 0, berlin), "kim"},
	} {
		if got := onCallUsers(t, cfg, c.at); !reflect.DeepEqual(got, []string{c.want}) {
			t.Errorf("%s: on call %v, want [%s] as in Opsgenie\n%s", c.at, got, c.want, res.Config)
		}
	}
	if issueWith(res.Report, Changed, `rotation "Old weekly"`, "ends 2025-10-20T09:00:00+02:00", `"New weekly" takes over`) == nil {
		t.Errorf("the handover is not reported: %+v", res.Report.Issues)
	}
	if is := issueWith(res.Report, Changed, `rotation "New weekly"`, "runs backwards"); is != nil {
		t.Errorf("the new rotation is said to be on call before it starts: %s", is.Detail)
	}
}

// TestPagerDutyOverrideOnTopOfAnother: Kim covers Tuesday 08:00-20:00 and
// later Lee takes 12:00-16:00 of it, an override created on top of Kim's.
// PagerDuty gives the last created override priority, and its rendered
// overrides show that: Kim, Lee, Kim. An export that also carries the
// schedule's override list (GET /schedules/{id}/overrides, which says
// nothing of creation order) lists Kim's first. Lee is on call from
// 12:00 to 16:00, as at PagerDuty; Kim's listed override is reported
// where it loses.
func TestPagerDutyOverrideOnTopOfAnother(t *testing.T) {
	res, cfg := mustImport(t, PagerDuty, []Document{
		{Name: "users.json", Data: []byte(pdFourUsers)},
		{Name: "schedule.json", Data: []byte(`{"schedule": {"id": "PSCH9", "name": "Payments", "time_zone": "Europe/Berlin", "schedule_layers": [
			{"id": "PL1", "name": "Weekly", "start": "2025-09-01T09:00:00+02:00", "end": null,
			 "rotation_virtual_start": "2025-09-01T09:00:00+02:00", "rotation_turn_length_seconds": 604800,
			 "users": [{"user": {"id": "PHANA01", "type": "user_reference"}}, {"user": {"id": "PIVAN02", "type": "user_reference"}}], "restrictions": []}],
			"overrides_subschedule": {"name": "Overrides", "rendered_schedule_entries": [
				{"start": "2025-10-07T08:00:00+02:00", "end": "2025-10-07T12:00:00+02:00", "user": {"id": "PKIMK03", "type": "user_reference", "summary": "Kim"}},
				{"start": "2025-10-07T12:00:00+02:00", "end": "2025-10-07T16:00:00+02:00", "user": {"id": "PLEEL04", "type": "user_reference", "summary": "Lee"}},
				{"start": "2025-10-07T16:00:00+02:00", "end": "2025-10-07T20:00:00+02:00", "user": {"id": "PKIMK03", "type": "user_reference", "summary": "Kim"}}]},
			"overrides": [
				{"id": "PQ1KIM", "type": "override", "start": "2025-10-07T08:00:00+02:00", "end": "2025-10-07T20:00:00+02:00", "user": {"id": "PKIMK03", "type": "user_reference", "summary": "Kim"}},
				{"id": "PQ2LEE", "type": "override", "start": "2025-10-07T12:00:00+02:00", "end": "2025-10-07T16:00:00+02:00", "user": {"id": "PLEEL04", "type": "user_reference", "summary": "Lee"}}]}}`)},
	}, Options{})
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2025, 10, 7, 7, 59, 0, 0, berlin), "ivan"},
		{time.Date(2025, 10, 7, 10, 0, 0, 0, berlin), "kim"},
		{time.Date(2025, 10, 7, 14, 0, 0, 0, berlin), "lee"},
		{time.Date(2025, 10, 7, 18, 0, 0, 0, berlin), "kim"},
		{time.Date(2025, 10, 7, 20, 0, 0, 0, berlin), "ivan"},
	} {
		if got := onCallUsers(t, cfg, c.at); !reflect.DeepEqual(got, []string{c.want}) {
			t.Errorf("%s: on call %v, want [%s] as at PagerDuty\n%s", c.at, got, c.want, res.Config)
		}
	}
	if issueWith(res.Report, NotMapped, `override "Kim 2025-10-07T08:00:00+02:00" (id PQ1KIM)`, `"Lee`, "created last") == nil {
		t.Errorf("Kim's listed override, which Lee's beats, is not reported: %+v", res.Report.Issues)
	}
	for _, is := range res.Report.Issues {
		if strings.Contains(is.Source, "PQ2LEE") {
			t.Errorf("Lee's override, which wins, is reported: %s", is.Detail)
		}
	}
}

// TestPagerDutyLayerOrderFromTheFinalSchedule: which PagerDuty layer wins
// is not a field of the layers, only their order in the response, which
// PagerDuty has returned both ways (highest first, the reverse of the
// order a POST takes; its Terraform provider waited on a "layer order
// fix" to have them in the same order). The export's final schedule shows
// which one PagerDuty puts on call where two layers both have someone.
// Here the layers come lowest first: Base (hana, every hour), then
// Weekend (kim, Saturday and Sunday), and the final schedule has kim at
// the weekend. Read highest first, Base hid Weekend, and hana was paged
// at the weekend while PagerDuty pages kim. Where the final schedule
// agrees with the listed order (the other PagerDuty tests), nothing
// changes.
func TestPagerDutyLayerOrderFromTheFinalSchedule(t *testing.T) {
	base := `{"id": "PL1", "name": "Base", "start": "2025-09-01T00:00:00+02:00", "end": null,
		"rotation_virtual_start": "2025-09-01T00:00:00+02:00", "rotation_turn_length_seconds": 604800,
		"users": [{"user": {"id": "PHANA01", "type": "user_reference"}}], "restrictions": [],
		"rendered_schedule_entries": [{"start": "2025-10-06T00:00:00+02:00", "end": "2025-10-20T00:00:00+02:00", "user": {"id": "PHANA01", "type": "user_reference"}}]}`
	weekend := `{"id": "PL2", "name": "Weekend", "start": "2025-09-01T00:00:00+02:00", "end": null,
		"rotation_virtual_start": "2025-09-06T00:00:00+02:00", "rotation_turn_length_seconds": 604800,
		"users": [{"user": {"id": "PKIMK03", "type": "user_reference"}}],
		"restrictions": [{"type": "weekly_restriction", "start_time_of_day": "00:00:00", "start_day_of_week": 6, "duration_seconds": 172800}],
		"rendered_schedule_entries": [
			{"start": "2025-10-11T00:00:00+02:00", "end": "2025-10-13T00:00:00+02:00", "user": {"id": "PKIMK03", "type": "user_reference"}},
			{"start": "2025-10-18T00:00:00+02:00", "end": "2025-10-20T00:00:00+02:00", "user": {"id": "PKIMK03", "type": "user_reference"}}]}`
	final := `"overrides_subschedule": {"rendered_schedule_entries": []},
		"final_schedule": {"rendered_schedule_entries": [
			{"start": "2025-10-06T00:00:00+02:00", "end": "2025-10-11T00:00:00+02:00", "user": {"id": "PHANA01", "type": "user_reference"}},
			{"start": "2025-10-11T00:00:00+02:00", "end": "2025-10-13T00:00:00+02:00", "user": {"id": "PKIMK03", "type": "user_reference"}},
			{"start": "2025-10-13T00:00:00+02:00", "end": "2025-10-18T00:00:00+02:00", "user": {"id": "PHANA01", "type": "user_reference"}},
			{"start": "2025-10-18T00:00:00+02:00", "end": "2025-10-20T00:00:00+02:00", "user": {"id": "PKIMK03", "type": "user_reference"}}]}`
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, order := range []struct {
		name, layers string
		reversed     bool
	}{
		{"lowest first", base + ", " + weekend, true},
		{"highest first", weekend + ", " + base, false},
	} {
		res, cfg := mustImport(t, PagerDuty, []Document{
			{Name: "users.json", Data: []byte(pdFourUsers)},
			{Name: "schedule.json", Data: []byte(`{"schedule": {"id": "PSCH9", "name": "Payments", "time_zone": "Europe/Berlin", "schedule_layers": [` +
				order.layers + `], ` + final + `}}`)},
		}, Options{})
		for _, c := range []struct {
			at   time.Time
			want string
		}{
			{time.Date(2025, 10, 10, 23, 59, 0, 0, berlin), "hana"},
			{time.Date(2025, 10, 11, 0, 0, 0, 0, berlin), "kim"},
			{time.Date(2025, 10, 12, 23, 59, 0, 0, berlin), "kim"},
			{time.Date(2025, 10, 13, 0, 0, 0, 0, berlin), "hana"},
			{time.Date(2026, 3, 7, 12, 0, 0, 0, berlin), "kim"},
		} {
			if got := onCallUsers(t, cfg, c.at); !reflect.DeepEqual(got, []string{c.want}) {
				t.Errorf("layers %s, %s: on call %v, want [%s] as in PagerDuty's final schedule\n%s", order.name, c.at.Format(time.RFC3339), got, c.want, res.Config)
			}
		}
		if said := issueWith(res.Report, Changed, `schedule "Payments"`, "final schedule", `"Weekend"`) != nil; said != order.reversed {
			t.Errorf("layers %s: the report says they were read in the order the final schedule shows: %v, want %v: %+v", order.name, said, order.reversed, res.Report.Issues)
		}
		if is := issueWith(res.Report, NotMapped, `layer "Weekend"`); is != nil {
			t.Errorf("layers %s: the weekend layer is reported as not imported: %s", order.name, is.Detail)
		}
		if is := issueWith(res.Report, Changed, "final schedule in the export has"); is != nil {
			t.Errorf("layers %s: the imported schedule differs from PagerDuty's final schedule: %s", order.name, is.Detail)
		}
	}
}

// TestPagerDutyFinalScheduleChecked: the export's final schedule is who
// PagerDuty itself pages, so the import checks its schedule against it and
// reports where they differ, with what the import cannot know otherwise.
// Here a 12-hour layer in Berlin hands off at 08:00 and 20:00 until the
// clocks go forward on 2026-03-29; PagerDuty's final schedule then hands
// off at 09:00 and 21:00 (elapsed hours), while pagerd keeps 08:00 and
// 20:00 on the wall clock: the report names the first instant that
// differs. A final schedule that agrees adds nothing, nor does one that
// differs only before the import.
func TestPagerDutyFinalScheduleChecked(t *testing.T) {
	layer := `{"id": "PL1", "name": "Twelve", "start": "2026-03-23T08:00:00+01:00", "end": null,
		"rotation_virtual_start": "2026-03-23T08:00:00+01:00", "rotation_turn_length_seconds": 43200,
		"users": [{"user": {"id": "PHANA01", "type": "user_reference"}}, {"user": {"id": "PIVAN02", "type": "user_reference"}}], "restrictions": []}`
	entry := func(from, until, who string) string {
		return `{"start": "` + from + `", "end": "` + until + `", "user": {"id": "` + who + `", "type": "user_reference"}}`
	}
	elapsed := []string{
		entry("2026-03-28T08:00:00+01:00", "2026-03-28T20:00:00+01:00", "PHANA01"),
		entry("2026-03-28T20:00:00+01:00", "2026-03-29T09:00:00+02:00", "PIVAN02"),
		entry("2026-03-29T09:00:00+02:00", "2026-03-29T21:00:00+02:00", "PHANA01"),
	}
	for _, c := range []struct {
		name    string
		entries []string
		now     time.Time
		differs bool
	}{
		{"elapsed hours across the change", elapsed, time.Date(2026, 3, 25, 0, 0, 0, 0, time.UTC), true},
		// kim's hour on 03-24 is before the import: it pages nobody any more.
		{"a difference before the import", []string{
			entry("2026-03-24T10:00:00+01:00", "2026-03-24T11:00:00+01:00", "PKIMK03"),
			entry("2026-03-28T20:00:00+01:00", "2026-03-29T08:00:00+02:00", "PIVAN02"),
		}, time.Date(2026, 3, 25, 0, 0, 0, 0, time.UTC), false},
		{"wall clock across the change", []string{
			entry("2026-03-28T08:00:00+01:00", "2026-03-28T20:00:00+01:00", "PHANA01"),
			entry("2026-03-28T20:00:00+01:00", "2026-03-29T08:00:00+02:00", "PIVAN02"),
			entry("2026-03-29T08:00:00+02:00", "2026-03-29T20:00:00+02:00", "PHANA01"),
		}, time.Date(2026, 3, 25, 0, 0, 0, 0, time.UTC), false},
	} {
		res, _ := mustImport(t, PagerDuty, []Document{
			{Name: "users.json", Data: []byte(pdFourUsers)},
			{Name: "schedule.json", Data: []byte(`{"schedule": {"id": "PSCH9", "name": "Payments", "time_zone": "Europe/Berlin", "schedule_layers": [` + layer + `],
				"final_schedule": {"rendered_schedule_entries": [` + strings.Join(c.entries, ",") + `]}}}`)},
		}, Options{Now: c.now})
		is := issueWith(res.Report, Changed, `schedule "Payments"`, "final schedule in the export has ivan at 2026-03-29T08:59:00+02:00", "has hana")
		if (is != nil) != c.differs {
			t.Errorf("%s: the report says the imported schedule differs from PagerDuty's final schedule: %v, want %v: %+v", c.name, is != nil, c.differs, res.Report.Issues)
		}
		if !c.differs && issueWith(res.Report, Changed, "final schedule in the export") != nil {
			t.Errorf("%s: a final schedule that agrees is reported: %+v", c.name, res.Report.Issues)
		}
	}
}

package importer

import (
	"reflect"
	"testing"
	"time"
)

// TestOpsgenieOverrideOfARotationThatEnds: an Opsgenie override that names
// rotations replaces only their participants, so it holds only while they
// are on call at the source. Here the team moves from "Old weekly" to "New
// weekly" on Monday 2025-10-20 09:00 (one pagerd tier, the new rotation a
// layer from then on), and:
//
//   - ivan overrides Old weekly from Sat 10-18 12:00 to Wed 10-22 12:00,
//     across the move: Opsgenie has ivan until 10-20 09:00, then New
//     weekly's kim (Old weekly has ended, so there is nothing to override);
//   - hana overrides New weekly from Sun 10-19 00:00 to Mon 10-20 12:00:
//     New weekly is not on call before 10-20 09:00, so Opsgenie has hana
//     only from then, ivan's override of Old weekly before;
//   - hana overrides New weekly again from Sun 10-26 12:00 to Tue 10-28
//     12:00, across its handoff (kim to lee, Mon 10-27 09:00): hana all
//     along, lee after.
//
// The expected holders follow from Opsgenie's rule for overrides (as its
// user guides put it: an override that selects a rotation applies only to
// that rotation; one that selects none takes precedence over all of them),
// not from the importer.
func TestOpsgenieOverrideOfARotationThatEnds(t *testing.T) {
	res, cfg := mustImport(t, Opsgenie, []Document{
		{Name: "users.json", Data: []byte(ogFourUsers)},
		{Name: "schedules.json", Data: []byte(`{"data": [{"id": "s-pay", "name": "Payments", "timezone": "Europe/Berlin", "enabled": true,
			"rotations": [
				{"id": "r-old", "name": "Old weekly", "type": "weekly", "length": 1,
				 "startDate": "2025-09-01T07:00:00Z", "endDate": "2025-10-20T07:00:00Z",
				 "participants": [{"type": "user", "id": "u-hana"}, {"type": "user", "id": "u-ivan"}]},
				{"id": "r-new", "name": "New weekly", "type": "weekly", "length": 1,
				 "startDate": "2025-10-20T07:00:00Z",
				 "participants": [{"type": "user", "id": "u-kim"}, {"type": "user", "id": "u-lee"}]}]}]}`)},
		{Name: "overrides.json", Data: []byte(`{"data": [
			{"_parent": {"id": "s-pay"}, "alias": "ivan-across-the-move", "user": {"type": "user", "id": "u-ivan"},
			 "startDate": "2025-10-18T10:00:00Z", "endDate": "2025-10-22T10:00:00Z", "rotations": [{"id": "r-old"}]},
			{"_parent": {"id": "s-pay"}, "alias": "hana-early", "user": {"type": "user", "id": "u-hana"},
			 "startDate": "2025-10-18T22:00:00Z", "endDate": "2025-10-20T10:00:00Z", "rotations": [{"id": "r-new"}]},
			{"_parent": {"id": "s-pay"}, "alias": "hana-across-a-handoff", "user": {"type": "user", "id": "u-hana"},
			 "startDate": "2025-10-26T11:00:00Z", "endDate": "2025-10-28T11:00:00Z", "rotations": [{"name": "New weekly"}]}]}`)},
	}, Options{})
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := func(mo time.Month, d, h, m int) time.Time { return time.Date(2025, mo, d, h, m, 0, 0, berlin) }
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{at(10, 18, 11, 59), "hana"}, // Old weekly: hana from 10-13
		{at(10, 18, 12, 0), "ivan"},  // ivan's override of Old weekly
		{at(10, 19, 6, 0), "ivan"},   // hana's override of New weekly, which is not on call yet
		{at(10, 20, 8, 59), "ivan"},
		{at(10, 20, 9, 0), "hana"}, // New weekly on call: hana's override of it
		{at(10, 20, 11, 59), "hana"},
		{at(10, 20, 12, 0), "kim"}, // ivan's override named Old weekly, which has ended
		{at(10, 21, 12, 0), "kim"},
		{at(10, 22, 12, 0), "kim"},
		{at(10, 26, 12, 0), "hana"},
		{at(10, 27, 9, 0), "hana"}, // across New weekly's handoff
		{at(10, 28, 11, 59), "hana"},
		{at(10, 28, 12, 0), "lee"},
	} {
		if got := onCallUsers(t, cfg, c.at); !reflect.DeepEqual(got, []string{c.want}) {
			t.Errorf("%s: on call %v, want [%s] as in Opsgenie\n%s", c.at.Format(time.RFC3339), got, c.want, res.Config)
		}
	}
	for _, w := range [][]string{
		{`override "ivan-across-the-move"`, `rotation "Old weekly"`, "2025-10-20T09:00:00+02:00"},
		{`override "hana-early"`, `rotation "New weekly"`, "2025-10-20T09:00:00+02:00"},
	} {
		if issueWith(res.Report, Changed, w...) == nil {
			t.Errorf("the report does not say the override holds only while its rotation is on call (%q): %+v", w, res.Report.Issues)
		}
	}
	for _, is := range res.Report.Issues {
		if reflect.DeepEqual(is.Source, `Opsgenie schedule "Payments" (id s-pay), override "hana-across-a-handoff"`) {
			t.Errorf("an override inside its rotation's time is reported: %s", is.Detail)
		}
	}
}

// TestOpsgenieHourlyAcrossClockChanges: Opsgenie documents a rotation's
// start time as "the handover time for on-call responsibilities", in the
// schedule's time zone, and nothing about hourly turns across a daylight
// saving change. The import reads them on the wall clock, as pagerd counts
// them: a 12-hour rotation from 08:00 in Berlin hands off at 08:00 and
// 20:00 before and after 2026-03-29 and 2026-10-25, an 8-hour one from
// 06:00 in New York at 06:00, 14:00 and 22:00 across 2026-03-08; and it
// says so in the report for every hourly rotation in a zone that changes
// its clocks, naming the change, since elapsed hours would move every
// handoff after it. A rotation in UTC is not reported.
func TestOpsgenieHourlyAcrossClockChanges(t *testing.T) {
	res, cfg := mustImport(t, Opsgenie, []Document{
		{Name: "users.json", Data: []byte(ogFourUsers)},
		{Name: "schedules.json", Data: []byte(`{"data": [
			{"id": "s-ber", "name": "Berlin", "timezone": "Europe/Berlin", "enabled": true, "rotations": [
				{"id": "r-12", "name": "Twelve", "type": "hourly", "length": 12, "startDate": "2026-02-02T07:00:00Z",
				 "participants": [{"type": "user", "id": "u-hana"}, {"type": "user", "id": "u-ivan"}]}]},
			{"id": "s-nyc", "name": "New York", "timezone": "America/New_York", "enabled": true, "rotations": [
				{"id": "r-8", "name": "Eight", "type": "hourly", "length": 8, "startDate": "2026-02-02T11:00:00Z",
				 "participants": [{"type": "user", "id": "u-kim"}, {"type": "user", "id": "u-lee"}, {"type": "user", "id": "u-hana"}]}]},
			{"id": "s-utc", "name": "UTC", "timezone": "UTC", "enabled": true, "rotations": [
				{"id": "r-6", "name": "Six", "type": "hourly", "length": 6, "startDate": "2026-02-02T00:00:00Z",
				 "participants": [{"type": "user", "id": "u-kim"}, {"type": "user", "id": "u-lee"}]}]}]}`)},
	}, Options{Now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	berlin, _ := time.LoadLocation("Europe/Berlin")
	nyc, _ := time.LoadLocation("America/New_York")
	for _, c := range []struct {
		schedule string
		at       time.Time
		want     string
	}{
		// Twelve: hana from Mon 2026-02-02 08:00, 56 turns to 03-02 08:00
		// (hana), so hana holds 08:00-20:00 every day, ivan the nights.
		{"berlin", time.Date(2026, 3, 28, 7, 59, 0, 0, berlin), "ivan"},
		{"berlin", time.Date(2026, 3, 28, 8, 0, 0, 0, berlin), "hana"},
		{"berlin", time.Date(2026, 3, 29, 7, 59, 0, 0, berlin), "ivan"}, // CEST since 02:00
		{"berlin", time.Date(2026, 3, 29, 8, 0, 0, 0, berlin), "hana"},
		{"berlin", time.Date(2026, 3, 29, 20, 0, 0, 0, berlin), "ivan"},
		{"berlin", time.Date(2026, 10, 25, 19, 59, 0, 0, berlin), "hana"}, // CET since 03:00
		{"berlin", time.Date(2026, 10, 25, 20, 0, 0, 0, berlin), "ivan"},
		// Eight: kim from 2026-02-02 06:00 EST, three turns a day, so kim
		// 06:00-14:00, lee 14:00-22:00, hana 22:00-06:00 every day.
		{"new-york", time.Date(2026, 3, 7, 23, 0, 0, 0, nyc), "hana"},
		{"new-york", time.Date(2026, 3, 8, 5, 59, 0, 0, nyc), "hana"}, // EDT since 02:00
		{"new-york", time.Date(2026, 3, 8, 6, 0, 0, 0, nyc), "kim"},
		{"new-york", time.Date(2026, 3, 8, 14, 0, 0, 0, nyc), "lee"},
		{"new-york", time.Date(2026, 3, 9, 22, 0, 0, 0, nyc), "hana"},
	} {
		rows, err := cfg.WhoIsOnCall(c.at, c.schedule)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].User != c.want {
			t.Errorf("%s %s: on call %+v, want %s\n%s", c.schedule, c.at.Format(time.RFC3339), rows, c.want, res.Config)
		}
	}
	for _, w := range [][]string{
		{`rotation "Twelve"`, "turns of 12 hours", "wall clock", "Europe/Berlin", "2026-03-29T03:00:00+02:00", "elapsed"},
		{`rotation "Eight"`, "turns of 8 hours", "wall clock", "America/New_York", "2026-03-08T03:00:00-04:00", "elapsed"},
	} {
		if issueWith(res.Report, Changed, w...) == nil {
			t.Errorf("the report does not say how the hourly turns cross the clock change (%q): %+v", w, res.Report.Issues)
		}
	}
	if is := issueWith(res.Report, Changed, `rotation "Six"`); is != nil {
		t.Errorf("a rotation in UTC, whose clock never changes, is reported: %s", is.Detail)
	}
	if got := onCallUsers(t, cfg, time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC)); !reflect.DeepEqual(got, []string{"hana", "lee"}) { // Berlin 08:00 hana, New York 02:00 hana, UTC 07:00 lee
		t.Errorf("on call %v", got)
	}
}

// TestOverrideBoundsInsideASecond: an override's instants are written as
// they are, fractions of a second included. Written to the second, what
// is left of an override beneath another one listed first (here lee's,
// from the end of kim's at 12:00:00.5 to 12:00:00.9) became an override
// from 12:00:00 until 12:00:00, which check-config refuses, and the whole
// import failed with "a bug in pagerd import".
func TestOverrideBoundsInsideASecond(t *testing.T) {
	res, cfg := mustImport(t, Opsgenie, []Document{
		{Name: "users.json", Data: []byte(ogFourUsers)},
		{Name: "schedules.json", Data: []byte(`{"data": [{"id": "s-pay", "name": "Payments", "timezone": "Europe/Berlin", "enabled": true,
			"rotations": [{"id": "r-a", "name": "A", "type": "weekly", "length": 1, "startDate": "2025-09-01T07:00:00Z",
				 "participants": [{"type": "user", "id": "u-hana"}, {"type": "user", "id": "u-ivan"}]}]}]}`)},
		{Name: "overrides.json", Data: []byte(`{"data": [
			{"_parent": {"id": "s-pay"}, "alias": "kim", "user": {"type": "user", "id": "u-kim"}, "startDate": "2025-10-18T10:00:00Z", "endDate": "2025-10-18T12:00:00.500Z"},
			{"_parent": {"id": "s-pay"}, "alias": "lee", "user": {"type": "user", "id": "u-lee"}, "startDate": "2025-10-18T10:00:00Z", "endDate": "2025-10-18T12:00:00.900Z"}]}`)},
	}, Options{})
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2025, 10, 18, 12, 0, 0, 400e6, time.UTC), "kim"},
		{time.Date(2025, 10, 18, 12, 0, 0, 600e6, time.UTC), "lee"},
		{time.Date(2025, 10, 18, 12, 0, 1, 0, time.UTC), "hana"},
	} {
		if got := onCallUsers(t, cfg, c.at); !reflect.DeepEqual(got, []string{c.want}) {
			t.Errorf("%s: on call %v, want [%s]\n%s", c.at.Format(time.RFC3339Nano), got, c.want, res.Config)
		}
	}
}

// TestOpsgenieNotClosedRuleAfterAnAcknowledgement: Opsgenie's "if not
// closed" rule notifies its recipient when the alert is still open, and
// changes nothing else: an alert hana acknowledged at 2 minutes gets kim
// at one hour, and ivan, whose rule is "if not acknowledged", never.
// pagerd's unresolved rule, which it becomes, also reopens an
// acknowledged incident and climbs the ladder from there when nobody
// acknowledges again (docs/CONFIG.md, unresolved), so ivan is paged at
// 1h10m. The import must say so: it was written without a word.
func TestOpsgenieNotClosedRuleAfterAnAcknowledgement(t *testing.T) {
	res, cfg := mustImport(t, Opsgenie, []Document{
		{Name: "users.json", Data: []byte(ogFourUsers)},
		{Name: "escalations.json", Data: []byte(`{"data": [{"id": "e1", "name": "Ops", "rules": [
			{"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 0, "timeUnit": "minutes"}, "recipient": {"type": "user", "id": "u-hana"}},
			{"condition": "if-not-acked", "notifyType": "default", "delay": {"timeAmount": 10, "timeUnit": "minutes"}, "recipient": {"type": "user", "id": "u-ivan"}},
			{"condition": "if-not-closed", "notifyType": "default", "delay": {"timeAmount": 60, "timeUnit": "minutes"}, "recipient": {"type": "user", "id": "u-kim"}}]}]}`)},
	}, Options{})
	// What pagerd does with it: ivan (the second level) is paged after
	// hana acknowledged, which Opsgenie never does.
	pol := cfg.Policy("ops")
	if pol == nil || len(pol.Levels) != 2 || len(pol.Unresolved) != 1 {
		t.Fatalf("policy: %+v\n%s", pol, res.Config)
	}
	is := issueWith(res.Report, Changed, `Opsgenie escalation "Ops" (id e1), rule "3"`, "kim", "1h", "acknowledged", "reopens", "level")
	if is == nil {
		t.Errorf("the report does not say that the unresolved rule reopens an acknowledged incident and pages the later levels, which Opsgenie's if-not-closed rule does not:\n%+v", res.Report.Issues)
	}
}

// TestOpsgenieOverrideOfARestrictedRotation: an Opsgenie override that
// names a rotation replaces that rotation's people, and this one is on
// call only from 09:00 to 17:00. pagerd's override of its tier holds the
// tier for the whole span, restrictions or not, so kim, covering the day
// rotation for a week, is on call (and paged) every night of it too,
// beside the night rotation's person. The report must say so: the
// override was written without a word.
func TestOpsgenieOverrideOfARestrictedRotation(t *testing.T) {
	res, cfg := mustImport(t, Opsgenie, []Document{
		{Name: "users.json", Data: []byte(ogFourUsers)},
		{Name: "schedules.json", Data: []byte(`{"data": [{"id": "s-pay", "name": "Payments", "timezone": "Europe/Berlin", "enabled": true,
			"rotations": [
				{"id": "r-day", "name": "Day", "type": "weekly", "length": 1, "startDate": "2025-09-01T07:00:00Z",
				 "participants": [{"type": "user", "id": "u-hana"}, {"type": "user", "id": "u-ivan"}],
				 "timeRestriction": {"type": "time-of-day", "restriction": {"startHour": 9, "startMin": 0, "endHour": 17, "endMin": 0}}},
				{"id": "r-night", "name": "Night", "type": "weekly", "length": 1, "startDate": "2025-09-01T07:00:00Z",
				 "participants": [{"type": "user", "id": "u-lee"}],
				 "timeRestriction": {"type": "time-of-day", "restriction": {"startHour": 17, "startMin": 0, "endHour": 9, "endMin": 0}}}]}]}`)},
		{Name: "overrides.json", Data: []byte(`{"data": [
			{"_parent": {"id": "s-pay"}, "alias": "kim-covers-days", "user": {"type": "user", "id": "u-kim"},
			 "startDate": "2025-10-13T07:00:00Z", "endDate": "2025-10-20T07:00:00Z", "rotations": [{"id": "r-day"}]}]}`)},
	}, Options{})
	berlin, _ := time.LoadLocation("Europe/Berlin")
	// What pagerd does at 03:00 inside the override: kim holds the day
	// tier, lee the night one.
	if got := onCallUsers(t, cfg, time.Date(2025, 10, 15, 3, 0, 0, 0, berlin)); !reflect.DeepEqual(got, []string{"kim", "lee"}) {
		t.Fatalf("on call %v at 03:00\n%s", got, res.Config)
	}
	if issueWith(res.Report, Changed, `override "kim-covers-days"`, `rotation "Day"`, "09:00", "17:00", `"kim"`, "whole span") == nil {
		t.Errorf("the report does not say that the override of a rotation restricted to 09:00-17:00 holds its tier at every hour:\n%+v", res.Report.Issues)
	}
	if is := issueWith(res.Report, Changed, `override "kim-covers-days"`, `rotation "Night"`); is != nil {
		t.Errorf("the override names Day only: %s", is.Detail)
	}
}

package importer

import (
	"reflect"
	"testing"
	"time"
)

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

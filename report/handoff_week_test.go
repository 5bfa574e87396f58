package report

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// weekOf writes who holds a tier in the week, with their hours: "cat
// (emea: daily 06:00–14:00 UTC)".
func weekOf(th TierHolder) string {
	var out []string
	for _, w := range th.Week {
		out = append(out, fmt.Sprintf("%s (%s)", w.User, w.Hours))
	}
	return strings.Join(out, ", ")
}

// followTheSun is a primary held by three regions in their own hours,
// written in UTC (Sydney's, London's and New York's working days), each
// with a weekly rotation of its own that hands over on Monday at 06:00,
// when London's hours begin; a swap gives Cat's first day to Dan.
const followTheSun = `
users:
  - {id: ann, name: Ann Lee, time_zone: Australia/Sydney, contacts: [{channel: push, via: log}]}
  - {id: bob, name: Bob Tran, time_zone: Australia/Sydney, contacts: [{channel: push, via: log}]}
  - {id: cat, name: Cat Byrne, time_zone: Europe/London, contacts: [{channel: push, via: log}]}
  - {id: dan, name: Dan Okafor, time_zone: Europe/London, contacts: [{channel: push, via: log}]}
  - {id: eve, name: Eve Ruiz, time_zone: America/New_York, contacts: [{channel: push, via: log}]}
  - {id: fay, name: Fay Cohen, time_zone: America/New_York, contacts: [{channel: push, via: log}]}
schedules:
  - name: sun
    time_zone: UTC
    handoff: {weekday: monday, time: "06:00"}
    handoff_template: text
    tiers:
      - name: primary
        layers:
          - {name: apac, start: 2025-10-06, members: [ann, bob], restrictions: [{start: "22:00", end: "06:00"}]}
          - {name: emea, start: 2025-10-06, members: [cat, dan], restrictions: [{start: "06:00", end: "14:00"}]}
          - {name: amer, start: 2025-10-06, members: [eve, fay], restrictions: [{start: "14:00", end: "22:00"}]}
    overrides:
      - {reason: swap, from: "2025-10-20T06:00:00Z", until: "2025-10-20T14:00:00Z", tiers: {primary: dan}}
`

// TestFollowTheSunHandoffNamesEveryRegion: at the handoff of Monday Oct
// 20 06:00 UTC, London's hours begin; the document names every region's
// person of each week with the hours they hold the primary, outgoing
// (Bob, Dan, Fay) and incoming (Cat, Eve, Ann), and Dan at the handoff
// itself, covering Cat's first day.
// (Before, it named who held the tier at the instant only: Bob going
// off, Dan coming on; Dan's and Fay's, Eve's and Ann's weeks nowhere.)
func TestFollowTheSunHandoffNamesEveryRegion(t *testing.T) {
	cfg, err := policy.Parse([]byte(followTheSun), "sun.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Handoff(cfg, "sun", time.Date(2025, 10, 20, 5, 0, 0, 0, time.UTC), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(d.Outgoing) + " / " + names(d.Incoming); got != "primary=bob / primary=dan" {
		t.Errorf("at the handoff %s", got)
	}
	if got, want := weekOf(d.Outgoing[0]), "dan (emea: daily 06:00–14:00 UTC), fay (amer: daily 14:00–22:00 UTC), bob (apac: daily 22:00–06:00 UTC)"; got != want {
		t.Errorf("outgoing week %s, want %s", got, want)
	}
	if got, want := weekOf(d.Incoming[0]), "cat (emea: daily 06:00–14:00 UTC), eve (amer: daily 14:00–22:00 UTC), ann (apac: daily 22:00–06:00 UTC)"; got != want {
		t.Errorf("incoming week %s, want %s", got, want)
	}
	// Ann's shifts run from Monday 22:00 to the next handoff: seven
	// nights, the last ending at it.
	if len(d.Incoming[0].Week) != 3 {
		t.Fatalf("the incoming week names %d people, not the three regions'", len(d.Incoming[0].Week))
	}
	ann := d.Incoming[0].Week[2]
	if n := len(ann.Shifts); n != 7 || !ann.Shifts[0].From.Equal(time.Date(2025, 10, 20, 22, 0, 0, 0, time.UTC)) ||
		!ann.Shifts[n-1].Until.Equal(time.Date(2025, 10, 27, 6, 0, 0, 0, time.UTC)) || ann.Layer != "apac" || ann.Name != "Ann Lee" {
		t.Errorf("ann's week %+v", ann)
	}
	text := d.String()
	for _, want := range []string{
		"Outgoing: Dan Okafor (emea: daily 06:00–14:00 UTC), Fay Cohen (amer: daily 14:00–22:00 UTC), Bob Tran (apac: daily 22:00–06:00 UTC)\n",
		"Incoming: Cat Byrne (emea: daily 06:00–14:00 UTC), Eve Ruiz (amer: daily 14:00–22:00 UTC), Ann Lee (apac: daily 22:00–06:00 UTC); " +
			"at the handoff Dan Okafor (covering for Cat Byrne until Mon 2025-10-20 14:00: swap)\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("the text does not say %q:\n%s", want, text)
		}
	}
	d.Template = policy.HandoffMarkdown
	if want := "- Incoming:\n  - Primary: Cat Byrne (emea: daily 06:00–14:00 UTC), Eve Ruiz"; !strings.Contains(d.String(), want) {
		t.Errorf("the markdown does not say %q:\n%s", want, d.String())
	}
	// In JSON, user and override still say who holds the tier at the
	// handoff; week lists the week's people beside them.
	b, err := json.Marshal(d.Incoming[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"user":"dan"`, `"rotation_user":"cat"`, `"week":[{"user":"cat","name":"Cat Byrne","layer":"emea","hours":"emea: daily 06:00–14:00 UTC","shifts":[{"from":"2025-10-20T06:00:00Z","until":"2025-10-20T14:00:00Z"}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the JSON lacks %s: %s", want, b)
		}
	}
}

// officeHours are tiers held in Berlin's office hours only: a tier's own
// restricted rotation, a tier whose only rotation is a restricted layer,
// and office hours over a weekly rotation that holds the rest. One
// schedule hands off on Monday at 08:00, before the office opens, the
// other on Saturday at noon.
const officeHours = `
users:
  - {id: ann, name: Ann, contacts: [{channel: push, via: log}]}
  - {id: bob, name: Bob, contacts: [{channel: push, via: log}]}
  - {id: cat, name: Cat, contacts: [{channel: push, via: log}]}
  - {id: dan, name: Dan, contacts: [{channel: push, via: log}]}
  - {id: eve, name: Eve, contacts: [{channel: push, via: log}]}
  - {id: fay, name: Fay, contacts: [{channel: push, via: log}]}
schedules:
  - name: office
    time_zone: Europe/Berlin
    handoff: {weekday: monday, time: "08:00"}
    handoff_template: text
    tiers:
      - name: primary
        start: 2025-10-06
        members: [ann, bob]
        restrictions: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]
      - name: lead
        layers:
          - {name: office, start: 2025-10-06, members: [cat], restrictions: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]}
      - name: secondary
        start: 2025-10-06
        members: [dan, eve]
        layers:
          - {name: office, start: 2025-10-06, members: [fay], restrictions: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]}
  - name: weekend
    time_zone: Europe/Berlin
    handoff: {weekday: saturday, time: "12:00"}
    tiers:
      - name: primary
        start: 2025-10-04
        members: [ann, bob]
        restrictions: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]
`

// TestBusinessHoursHandoffNamesTheWeeksPeople: a tier held in office
// hours only, at a handoff outside them (Monday 08:00, or Saturday noon),
// is held by nobody at the instant; the document names the incoming
// week's person (the first to hold it) and the outgoing week's (the last)
// with the hours they hold it.
// (Before, it said nobody, going off and coming on, though Bob held the
// tier all the week before and Ann holds it every weekday of the next.)
func TestBusinessHoursHandoffNamesTheWeeksPeople(t *testing.T) {
	cfg, err := policy.Parse([]byte(officeHours), "office.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	berlin := mustZone(t, "Europe/Berlin")
	for _, tc := range []struct {
		schedule string
		at       time.Time
		out, in  string
		text     string
	}{
		{"office", time.Date(2025, 10, 20, 8, 0, 0, 0, berlin), "primary=bob lead=cat secondary=eve", "primary=ann lead=cat secondary=dan",
			"Outgoing: Bob (Mon–Fri 09:00–17:00 Europe/Berlin)\nIncoming: Ann (Mon–Fri 09:00–17:00 Europe/Berlin)\n"},
		{"weekend", time.Date(2025, 10, 18, 12, 0, 0, 0, berlin), "primary=bob", "primary=ann",
			"Outgoing: Bob (Mon–Fri 09:00–17:00 Europe/Berlin)\nIncoming: Ann (Mon–Fri 09:00–17:00 Europe/Berlin)\n"},
	} {
		d, err := Handoff(cfg, tc.schedule, tc.at, nil)
		if err != nil {
			t.Fatal(err)
		}
		d.Template = policy.HandoffText
		if got := names(d.Outgoing) + " / " + names(d.Incoming); got != tc.out+" / "+tc.in {
			t.Errorf("%s: holders %s, want %s / %s", tc.schedule, got, tc.out, tc.in)
		}
		if !strings.Contains(d.String(), tc.text) {
			t.Errorf("%s: the text does not say %q:\n%s", tc.schedule, tc.text, d.String())
		}
		// The incoming person first holds the tier on Monday at 09:00.
		if w := d.Incoming[0].Week; len(w) != 1 || len(w[0].Shifts) != 5 || w[0].Shifts[0].From.In(berlin).Format("Mon 15:04") != "Mon 09:00" {
			t.Errorf("%s: incoming week %+v", tc.schedule, w)
		}
	}
	d, err := Handoff(cfg, "office", time.Date(2025, 10, 20, 8, 0, 0, 0, berlin), nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Template = policy.HandoffMarkdown
	for _, want := range []string{
		"- Incoming:\n  - Primary: Ann (Mon–Fri 09:00–17:00 Europe/Berlin)\n" +
			"  - Lead: Cat (office: Mon–Fri 09:00–17:00 Europe/Berlin)\n" +
			"  - Secondary: Dan (other hours), Fay (office: Mon–Fri 09:00–17:00 Europe/Berlin)\n",
		"  - Secondary: Eve (other hours), Fay (office: Mon–Fri 09:00–17:00 Europe/Berlin)\n"} {
		if !strings.Contains(d.String(), want) {
			t.Errorf("the markdown does not say %q:\n%s", want, d.String())
		}
	}
}

// TestAnOverrideAfterTheHandoffIsNotSaidToHoldIt: at a Saturday noon
// handoff nobody holds a business-hours tier; an override that gives Bob
// the incoming week's first day (09:00–17:00), and one that gave Ann the
// outgoing week's last, are the people named first and last, but the
// document does not say they hold the tier at the handoff.
func TestAnOverrideAfterTheHandoffIsNotSaidToHoldIt(t *testing.T) {
	cfg, err := policy.Parse([]byte(officeHours+`
    overrides:
      - {reason: dentist, from: "2025-10-20T09:00:00+02:00", until: "2025-10-20T17:00:00+02:00", tiers: {primary: bob}}
      - {reason: swap, from: "2025-10-17T09:00:00+02:00", until: "2025-10-17T17:00:00+02:00", tiers: {primary: ann}}
`), "office.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Handoff(cfg, "weekend", time.Date(2025, 10, 18, 12, 0, 0, 0, mustZone(t, "Europe/Berlin")), nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Template = policy.HandoffText
	text := d.String()
	if strings.Contains(text, "at the handoff") {
		t.Errorf("an override after the handoff is said to hold it then:\n%s", text)
	}
	for _, want := range []string{
		"Outgoing: Bob (Mon–Fri 09:00–17:00 Europe/Berlin); last Ann (covering for Bob until Fri 2025-10-17 17:00: swap)\n",
		"Incoming: Ann (Mon–Fri 09:00–17:00 Europe/Berlin); first Bob (covering for Ann until Mon 2025-10-20 17:00: dentist)\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the text does not say %q:\n%s", want, text)
		}
	}
}

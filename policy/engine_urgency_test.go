package policy

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// urgencyConfig is AIVO's contract in small: business hours 08:00–18:00
// (UTC) on weekdays, P2 and P3 low urgency off hours. ann is the first
// level, bob the second, each on the default ladders (high: push, SMS at
// 2m, voice at 5m; low: push only). plain has the same targets and no
// calendar: it is always in business hours.
const urgencyConfig = `
business_hours:
  - {name: office, time_zone: UTC, start: "08:00", end: "18:00"}
users:
  - {id: ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
  - {id: bob, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
escalation_policies:
  - name: p
    levels:
      - name: first
        targets: [{user: ann}]
        timeout: 1h
      - name: second
        targets: [{user: bob}]
    unresolved:
      - {priorities: [P3], after: 90m, notify: [{user: bob}]}
services:
  - name: svc
    priority_scheme: P0-P3
    escalation_policy: p
    business_hours: office
    targets: &targets
      P2: {urgency: high, off_hours: {urgency: low}}
      P3: {urgency: high, off_hours: {urgency: low}}
  - name: plain
    priority_scheme: P0-P3
    escalation_policy: p
    targets: *targets
`

// wed is h:m on Wednesday 2025-01-08, UTC.
func wed(h, m int) time.Time { return time.Date(2025, 1, 8, h, m, 0, 0, time.UTC) }

// urgencyRun opens an incident of the service at the severity (warning is
// P2, info P3) at start, applies the extra events at their times, fires
// every deadline due until end at its own time, and returns the pages and
// escalations as "15:04 kind level user channel" lines, with the
// incident's Urgency after each event that changed it as "15:04 urgency
// <u>".
func urgencyRun(t *testing.T, service, sev string, start, end time.Time, extra ...urgencyEvent) []string {
	t.Helper()
	var lines []string
	urgencyDrive(t, urgencyConfig, service, sev, start, end, func(prev string, inc Incident, at time.Time, acts []Action) {
		for _, a := range acts {
			if a.Kind != ActionNotify && a.Kind != ActionEscalate {
				continue
			}
			s := a.At.UTC().Format("15:04") + " " + string(a.Kind) + " " + a.LevelName
			if a.User != "" {
				s += " " + a.User + " " + a.Channel
			}
			lines = append(lines, s)
		}
		if inc.Urgency != prev {
			lines = append(lines, at.UTC().Format("15:04")+" urgency "+inc.Urgency)
		}
	}, extra...)
	return lines
}

// urgencyDrive runs urgencyRun's incident on the config yaml, handing
// note the incident's Urgency before each event, the incident after it,
// the event's time and its actions.
func urgencyDrive(t *testing.T, yaml, service, sev string, start, end time.Time,
	note func(prev string, inc Incident, at time.Time, acts []Action), extra ...urgencyEvent) {
	t.Helper()
	c, err := Parse([]byte(yaml), "urgency.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Config: c}
	rt := c.Route(c.Service(service), map[string]string{"severity": sev}, start)
	inc, acts := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, start)
	note("", inc, start, acts)
	for {
		d, ok := inc.Next()
		if len(extra) > 0 && (!ok || !d.At.Before(extra[0].at)) {
			prev := inc.Urgency
			inc, acts = engApply(t, e, inc, extra[0].ev, extra[0].at)
			note(prev, inc, extra[0].at, acts)
			extra = extra[1:]
			continue
		}
		if !ok || d.At.After(end) {
			return
		}
		prev := inc.Urgency
		inc, acts, _ = engFire(t, e, inc)
		note(prev, inc, d.At, acts)
	}
}

// annHigh is ann paged at h:m on the high ladder, as the first page of
// an incident opened then: urgency high, push, SMS at 2m, voice at 5m.
func annHigh(h, m int) []string {
	at := wed(h, m)
	line := func(d time.Duration, rest string) string { return at.Add(d).Format("15:04") + " " + rest }
	return []string{line(0, "urgency high"), line(0, "notify first ann push"),
		line(2*time.Minute, "notify first ann sms"), line(5*time.Minute, "notify first ann voice")}
}

type urgencyEvent struct {
	at time.Time
	ev Event
}

// TestEngineUrgencyAtEachPage: each page runs the ladder of the urgency in
// force when it is made (the calendar at that moment), as its level's
// timeout does, whatever made it; the incident's Urgency is its latest
// page's. A page's own steps keep their ladder across the boundary.
func TestEngineUrgencyAtEachPage(t *testing.T) {
	cases := []struct {
		name       string
		service    string
		sev        string
		start, end time.Time
		extra      []urgencyEvent
		want       []string
	}{{
		// The night must not get SMS and calls for a P3 opened in the
		// afternoon.
		name: "P3 opened in business hours, escalated after 18:00: push only",
		sev:  "info", start: wed(17, 30), end: wed(18, 45),
		want: slices.Concat(
			annHigh(17, 30),
			[]string{"18:30 escalate second", "18:30 urgency low", "18:30 notify second bob push"},
		),
	}, {
		// Nor the working day be left with push only for a P2 opened
		// before it began.
		name: "P2 opened at 07:30, escalated after 08:00: high ladder",
		sev:  "warning", start: wed(7, 30), end: wed(9, 0),
		want: []string{
			"07:30 urgency low",
			"07:30 notify first ann push",
			"08:30 escalate second",
			"08:30 urgency high",
			"08:30 notify second bob push",
			"08:32 notify second bob sms",
			"08:35 notify second bob voice",
		},
	}, {
		name: "a page at 17:58 keeps its voice step at 18:03",
		sev:  "info", start: wed(17, 58), end: wed(18, 10),
		want: []string{"17:58 urgency high", "17:58 notify first ann push", "18:00 notify first ann sms", "18:03 notify first ann voice"},
	}, {
		name:    "a service without a calendar is always in business hours",
		service: "plain", sev: "info", start: wed(17, 30), end: wed(18, 45),
		want: slices.Concat(
			annHigh(17, 30),
			[]string{"18:30 escalate second", "18:30 notify second bob push", "18:32 notify second bob sms", "18:35 notify second bob voice"},
		),
	}, {
		name: "an escalation by hand after 18:00",
		sev:  "info", start: wed(17, 50), end: wed(18, 20),
		extra: []urgencyEvent{{wed(18, 10), Event{Kind: EventEscalate, Actor: "ann"}}},
		want: slices.Concat(
			annHigh(17, 50),
			[]string{"18:10 escalate second", "18:10 urgency low", "18:10 notify second bob push"},
		),
	}, {
		name: "an unresolved rule firing after 18:00",
		sev:  "info", start: wed(17, 0), end: wed(18, 40),
		extra: []urgencyEvent{{wed(17, 10), Event{Kind: EventAcknowledge, Actor: "ann"}}},
		want: slices.Concat(
			annHigh(17, 0),
			[]string{"18:30 escalate second", "18:30 urgency low", "18:30 notify second bob push"},
		),
	}, {
		name: "a maintenance window ending after 18:00 pages as new, push only",
		sev:  "info", start: wed(17, 0), end: wed(18, 40),
		extra: []urgencyEvent{{wed(17, 1), Event{Kind: EventHold, Hold: &Hold{ID: "mw", Until: wed(18, 15)}}}},
		want: []string{
			"17:00 urgency high",
			"17:00 notify first ann push",
			"18:15 urgency low",
			"18:15 notify first ann push",
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := tc.service
			if svc == "" {
				svc = "svc"
			}
			got := urgencyRun(t, svc, tc.sev, tc.start, tc.end, tc.extra...)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestPreviewUrgencyPerLevel: `pagerd route` says which ladder each level
// gets, by the calendar when it is reached, as the engine pages it.
func TestPreviewUrgencyPerLevel(t *testing.T) {
	c, err := Parse([]byte(urgencyConfig), "urgency.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		service, sev string
		at           time.Time
		want         []string
	}{
		{"svc", "info", wed(17, 30), []string{"high", "low"}}, // level 2 is reached at 18:30
		{"svc", "warning", wed(7, 30), []string{"low", "high"}},
		{"plain", "info", wed(17, 30), []string{"high", "high"}},
	} {
		p := c.Preview(c.Service(tc.service), map[string]string{"severity": tc.sev}, tc.at)
		var got []string
		for _, l := range p.Levels {
			got = append(got, l.Urgency)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %s at %s: levels' urgency %q, want %q", tc.service, tc.sev, tc.at.Format("15:04"), got, tc.want)
		}
	}
}

// TestEngineStepsKeepTheirPageUrgency: each notify step carries the
// urgency of the page it belongs to, and is sent with it, whatever page
// of the incident came since: ann's page at 17:58 is high, bob's
// escalation page at 18:00 low, and ann's SMS at 18:00 and call at 18:03
// are still high, as is her call brought forward by a failed SMS.
func TestEngineStepsKeepTheirPageUrgency(t *testing.T) {
	escalate := urgencyEvent{wed(18, 0), Event{Kind: EventEscalate, Actor: "ann"}}
	for _, tc := range []struct {
		name  string
		extra []urgencyEvent
		want  []string
	}{{
		name:  "an escalation page at 18:00 on the low ladder",
		extra: []urgencyEvent{escalate},
		want: []string{
			"17:58 ann push high", "18:00 ann sms high", "18:00 bob push low", "18:03 ann voice high",
			"urgency low",
		},
	}, {
		name:  "a failed SMS brings the call forward on its own page's urgency",
		extra: []urgencyEvent{escalate, {wed(18, 1), Event{Kind: EventChannelFailed, Actor: "ann", Channel: "sms"}}},
		want: []string{
			"17:58 ann push high", "18:00 ann sms high", "18:00 bob push low", "18:01 ann voice high",
			"urgency low",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			var last Incident
			urgencyDrive(t, urgencyConfig, "svc", "info", wed(17, 58), wed(18, 10), func(_ string, inc Incident, _ time.Time, acts []Action) {
				for _, a := range acts {
					if a.Kind == ActionNotify {
						got = append(got, a.At.UTC().Format("15:04")+" "+a.User+" "+a.Channel+" "+a.Urgency)
					}
				}
				last = inc
			}, tc.extra...)
			got = append(got, "urgency "+last.Urgency)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestEngineUrgencyOnlyFromPagesThatReachSomeone: a page that reaches
// nobody (its tier is in a gap) leaves the incident's Urgency on the page
// that did reach someone: the API and the console must not show a ladder
// nobody is on.
func TestEngineUrgencyOnlyFromPagesThatReachSomeone(t *testing.T) {
	// The unresolved rule pages a tier held in office hours only: at
	// 18:30 nobody holds it.
	yaml := strings.Replace(urgencyConfig, "escalation_policies:", `schedules:
  - name: day
    time_zone: UTC
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - name: office
        layers:
          - name: office
            start: 2025-01-06
            members: [bob]
            restrictions: [{days: [mon, tue, wed, thu, fri], start: "08:00", end: "18:00"}]
escalation_policies:`, 1)
	yaml = strings.Replace(yaml, "notify: [{user: bob}]", "notify: [{schedule: day, tier: office}]", 1)
	var got []string
	urgencyDrive(t, yaml, "svc", "info", wed(17, 0), wed(18, 40), func(prev string, inc Incident, at time.Time, acts []Action) {
		for _, a := range acts {
			if a.PagedNobody {
				got = append(got, at.UTC().Format("15:04")+" paged nobody")
			}
		}
		if inc.Urgency != prev {
			got = append(got, at.UTC().Format("15:04")+" urgency "+inc.Urgency)
		}
	}, urgencyEvent{wed(17, 10), Event{Kind: EventAcknowledge, Actor: "ann"}})
	want := []string{"17:00 urgency high", "18:30 paged nobody"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

package policy

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// seedRun triggers an alert with these labels on the example config at
// at, fires every deadline due until each of the events' offsets and
// applies the event there (a trigger takes its labels' route then), and
// fires deadlines up to until. It returns the pages sent from the last
// event on, as "offset user channel urgency".
func seedRun(t *testing.T, file string, at time.Time, labels map[string]string, until time.Duration, events []seedEvent) []string {
	t.Helper()
	c := scenLoad(t, file)
	svc := &c.Services[0]
	e := &Engine{Config: c}
	rt := c.Route(svc, labels, at)
	inc, _, err := e.Apply(Incident{ID: "seed"}, Event{Kind: EventTrigger, Route: &rt}, at)
	if err != nil {
		t.Fatal(err)
	}
	var pages []string
	fire := func(to time.Time) {
		for {
			d, ok := inc.Next()
			if !ok || d.At.After(to) {
				return
			}
			var acts []Action
			if inc, acts, err = e.Apply(inc, Event{Kind: EventDeadline, Deadline: d.ID}, d.At); err != nil {
				t.Fatal(err)
			}
			for _, a := range acts {
				if a.Kind == ActionNotify {
					pages = append(pages, fmt.Sprintf("%s %s %s %s", Duration(a.At.Sub(at)), a.User, a.Channel, a.Urgency))
				}
			}
		}
	}
	for _, ev := range events {
		now := at.Add(ev.off)
		fire(now.Add(-time.Nanosecond))
		pages = nil
		e := ev.ev
		if e.Kind == EventTrigger {
			r := c.Route(svc, ev.labels, now)
			e.Route = &r
		}
		if inc, _, err = (&Engine{Config: c}).Apply(inc, e, now); err != nil {
			t.Fatal(err)
		}
	}
	fire(at.Add(until))
	return pages
}

type seedEvent struct {
	off    time.Duration
	ev     Event
	labels map[string]string
}

// TestEngineRaiseAfterTheLadderRanOutKeepsEscalating: an AIVO P3 fired
// off-hours on a Friday evening runs its low-urgency ladder (push only, an
// hour a level) through every round the policy's repeat allows, and goes
// quiet at the executives. When its alert turns critical the next morning,
// the incident is a P0: "Primary → Secondary → VP Eng → CTO", 15 minutes a
// level. The raise pages the level it stands at (the CTO) on the P0's
// ladder with the P0's timeout, and the ladder goes on from there, back to
// the primary after the executives' 30 minutes; it must not stop at the
// CTO because the P3 used up the rounds.
func TestEngineRaiseAfterTheLadderRanOutKeepsEscalating(t *testing.T) {
	// Fri 2025-09-12 19:00 New York: Jennifer primary, Marcus secondary,
	// Emily escalation lead, David VP, Sarah CTO.
	at := time.Date(2025, 9, 12, 23, 0, 0, 0, time.UTC)
	got := seedRun(t, "aivo.yaml", at, map[string]string{"severity": "info"}, 14*time.Hour+49*time.Minute, []seedEvent{
		{off: 14 * time.Hour, ev: Event{Kind: EventTrigger, Message: "a critical alert"}, labels: map[string]string{"severity": "critical"}},
	})
	want := []string{
		"14h sarah push high", "14h2m sarah sms high", "14h5m sarah voice high",
		"14h30m jennifer push high", "14h32m jennifer sms high", "14h35m jennifer voice high",
		"14h45m marcus push high", "14h47m marcus sms high",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pages after the P3 was raised to P0 at 14h, its ladder run out:\n got %q\nwant %q", got, want)
	}
}

// TestEngineUnresolvedRuleAtTheLevelDoesNotHoldItsEscalation: AION-R
// "Automatic escalation if: alert not acknowledged within maximum time"
// (SEV-2: 20 minutes) and "incident unresolved after SEV-2: 2 hours →
// escalate to secondary". An unacknowledged SEV-2 stands at the tertiary
// (Team Lead X, paged at 1h40m) in its second round when the 2h rule
// pages the secondary. The team lead's 20 minutes end at 2h all the same:
// the ladder goes on to the primary then, not 20 minutes later, as if the
// rule had paged the team lead afresh.
func TestEngineUnresolvedRuleAtTheLevelDoesNotHoldItsEscalation(t *testing.T) {
	// Wed 2025-10-08 03:00 UTC: Engineer A primary, B secondary, Team
	// Lead X tertiary.
	at := time.Date(2025, 10, 8, 3, 0, 0, 0, time.UTC)
	var got []string
	for _, p := range seedRun(t, "aion-r.yaml", at, map[string]string{"severity": "error"}, 2*time.Hour+30*time.Minute, []seedEvent{
		// Only the pages from 1h50m on are returned.
		{off: 110 * time.Minute, ev: Event{Kind: EventStatusUpdate, Actor: "eng-a"}},
	}) {
		if strings.Contains(p, " push ") {
			got = append(got, p)
		}
	}
	want := []string{"2h eng-b push high", "2h eng-a push high", "2h20m eng-b push high"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("first pages from 1h50m to 2h30m of an unacknowledged SEV-2:\n got %q\nwant %q", got, want)
	}
}

// TestEngineRaiseOfAnAcknowledgedIncidentRepeatsItsLadder: an AIVO P2 in
// business hours that the primary acknowledged turns critical: the raise
// re-opens it, and the P0 nobody has acknowledged climbs "Primary →
// Secondary → VP Eng → CTO" at the P0's pace. After the executives' 30
// minutes it starts over at the primary, as the policy's repeat does for
// any unacknowledged P0, rather than going quiet at the CTO because the
// P2 had been acknowledged.
func TestEngineRaiseOfAnAcknowledgedIncidentRepeatsItsLadder(t *testing.T) {
	// Tue 2025-09-09 14:00 New York: Jennifer primary, Marcus secondary,
	// Emily escalation lead, David VP, Sarah CTO. The raise at 30m pages
	// Jennifer again; Marcus at 45m, Emily and David at 1h, Sarah at 1h30m
	// (the P0's unresolved rule, an hour after the raise, pages the
	// leadership and her then too).
	at := time.Date(2025, 9, 9, 18, 0, 0, 0, time.UTC)
	var got []string
	for _, p := range seedRun(t, "aivo.yaml", at, map[string]string{"severity": "warning"}, 2*time.Hour+20*time.Minute, []seedEvent{
		{off: 5 * time.Minute, ev: Event{Kind: EventAcknowledge, Actor: "jennifer"}},
		{off: 30 * time.Minute, ev: Event{Kind: EventTrigger, Message: "a critical alert"}, labels: map[string]string{"severity": "critical"}},
	}) {
		if strings.Contains(p, " push ") {
			got = append(got, p)
		}
	}
	want := []string{
		"30m jennifer push high", "45m marcus push high", "1h emily push high", "1h david push high",
		"1h30m emily push high", "1h30m david push high", "1h30m sarah push high",
		"2h jennifer push high", "2h15m marcus push high",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pushes after an acknowledged P2 was raised to P0 at 30m:\n got %q\nwant %q", got, want)
	}
}

// TestEngineAutoEscalationOfAnAcknowledgedIncidentRepeatsItsLadder: an
// AIVO P0 the primary acknowledged is joined by a confirmed security
// breach ("Auto-Escalation Triggers: Immediate Executive Escalation").
// The trigger re-opens it and pages the CTO at once; the breach nobody has
// acknowledged climbs "Primary → Secondary → VP Eng → CTO" and, after the
// executives' 30 minutes, starts over at the primary as the policy's
// repeat does for any unacknowledged P0, rather than going quiet at the
// CTO because the P0 before the breach had been acknowledged.
func TestEngineAutoEscalationOfAnAcknowledgedIncidentRepeatsItsLadder(t *testing.T) {
	// Tue 2025-09-09 14:00 New York: Jennifer primary, Marcus secondary,
	// Emily escalation lead, David VP, Sarah CTO. The breach at 20m pages
	// Jennifer again and Sarah at once; Marcus at 35m, Emily and David at
	// 50m; the P0's unresolved rule pages leadership and Sarah at 1h and
	// takes the incident to the executives, whose 30 minutes end at 1h30m:
	// Jennifer again then, Marcus at 1h45m, leadership at 2h.
	at := time.Date(2025, 9, 9, 18, 0, 0, 0, time.UTC)
	var got []string
	for _, p := range seedRun(t, "aivo.yaml", at, map[string]string{"severity": "critical"}, 2*time.Hour+10*time.Minute, []seedEvent{
		{off: 5 * time.Minute, ev: Event{Kind: EventAcknowledge, Actor: "jennifer"}},
		{off: 20 * time.Minute, ev: Event{Kind: EventTrigger, Message: "a security alert"}, labels: map[string]string{"severity": "critical", "category": "security_breach"}},
	}) {
		if strings.Contains(p, " push ") {
			got = append(got, p)
		}
	}
	want := []string{
		"20m jennifer push high", "20m sarah push high", "35m marcus push high", "50m emily push high", "50m david push high",
		"1h emily push high", "1h david push high", "1h sarah push high",
		"1h30m jennifer push high", "1h45m marcus push high", "2h emily push high", "2h david push high",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pushes after an acknowledged P0 was joined by a security breach at 20m:\n got %q\nwant %q", got, want)
	}
}

// TestEngineAutoEscalationAfterTheLastRoundRepeatsItsLadder: the primary
// acknowledges the P0 in the policy's last round (3h5m: the rounds of
// repeat: 2 were spent before anyone answered), and a security breach
// joins it at 3h20m. The breach nobody has acknowledged gets the policy's
// rounds afresh: after the executives' 30 minutes (4h50m) it starts over
// at the primary, rather than going quiet because the rounds were spent
// on the P0 before the breach.
func TestEngineAutoEscalationAfterTheLastRoundRepeatsItsLadder(t *testing.T) {
	at := time.Date(2025, 9, 9, 18, 0, 0, 0, time.UTC)
	pages := seedRun(t, "aivo.yaml", at, map[string]string{"severity": "critical"}, 5*time.Hour, []seedEvent{
		{off: 3*time.Hour + 5*time.Minute, ev: Event{Kind: EventAcknowledge, Actor: "jennifer"}},
		{off: 3*time.Hour + 20*time.Minute, ev: Event{Kind: EventTrigger, Message: "a security alert"}, labels: map[string]string{"severity": "critical", "category": "security_breach"}},
	})
	for _, want := range []string{"3h20m sarah push high", "4h20m sarah push high", "4h50m jennifer push high"} {
		if !slices.Contains(pages, want) {
			t.Errorf("no %q after an acknowledged P0 in its last round was joined by a security breach: %q", want, pages)
		}
	}
}

// TestEngineRaiseHoldsTheIncidentToTheNewPrioritysTargets: AIVO's "Response
// Time Targets" are per priority, and an incident raised to P0 (a critical
// alert joins a warning group) is a P0 from then on: the targets it has not
// met yet fall due at the P0's times counted from the raise (or earlier,
// if the P2's came sooner); the ones it met stay met and the ones it
// missed are not missed twice.
func TestEngineRaiseHoldsTheIncidentToTheNewPrioritysTargets(t *testing.T) {
	cfg := loadExample(t, "aivo.yaml")
	ny := exampleLoc(t, "America/New_York")
	svc := cfg.Service("aivo-production")
	e := &Engine{Config: cfg}
	at := func(h, m int) time.Time { return time.Date(2025, 10, 7, h, m, 0, 0, ny) }
	route := func(sev string, t0 time.Time) *Route {
		rt := cfg.Route(svc, map[string]string{"alertname": "Errors", "severity": sev}, t0)
		return &rt
	}
	type step struct {
		at time.Time
		ev Event
	}
	for _, tc := range []struct {
		name  string
		sev   string
		start time.Time
		steps []step
		until time.Time
		want  []string
	}{
		{"P2 acknowledged, then raised to P0", "warning", at(14, 0), []step{
			{at(14, 10), Event{Kind: EventAcknowledge, Actor: "jennifer"}},
			{at(14, 20), Event{Kind: EventTrigger, Route: route("critical", at(14, 20))}},
			{at(14, 21), Event{Kind: EventAcknowledge, Actor: "jennifer"}},
		}, at(16, 30), []string{"14:35 initial_response", "15:20 resolution"}},
		{"P2 raised to P0 unacknowledged", "warning", at(14, 0), []step{
			{at(14, 20), Event{Kind: EventTrigger, Route: route("critical", at(14, 20))}},
		}, at(15, 30), []string{"14:25 acknowledge", "14:35 initial_response", "15:20 resolution"}},
		{"P2 raised to P1 after the P2's acknowledge target: missed once", "warning", at(14, 0), []step{
			{at(15, 30), Event{Kind: EventTrigger, Route: route("error", at(15, 30))}},
			{at(15, 31), Event{Kind: EventAcknowledge, Actor: "marcus"}},
		}, at(17, 0), []string{"15:00 acknowledge", "16:00 initial_response"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: route(tc.sev, tc.start)}, tc.start)
			var got []string
			note := func(acts []Action) {
				for _, a := range acts {
					if a.Kind == ActionSLABreach {
						got = append(got, a.At.In(ny).Format("15:04")+" "+a.Detail)
					}
				}
			}
			steps := tc.steps
			for {
				d, ok := inc.Next()
				if len(steps) > 0 && (!ok || !d.At.Before(steps[0].at)) {
					var acts []Action
					inc, acts = engApply(t, e, inc, steps[0].ev, steps[0].at)
					note(acts)
					steps = steps[1:]
					continue
				}
				if !ok || d.At.After(tc.until) {
					break
				}
				var acts []Action
				inc, acts, _ = engFire(t, e, inc)
				note(acts)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("SLA breaches until %s:\n got %q\nwant %q", tc.until.Format("15:04"), got, tc.want)
			}
		})
	}
}

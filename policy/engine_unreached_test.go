package policy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// unreachedRun triggers a P0 at start on engConfig and fires every
// deadline until end. Each page to a person on a channel at a level in
// refuse ("first a sms") fails at the provider, late after it is sent (an
// EventChannelFailed naming its step, or, with anonymous, naming none),
// and each event in at is applied at its offset. It returns the pages and
// escalations as "offset kind level [user channel]" lines, an escalation
// followed by its detail, and the incident at the end.
func unreachedRun(t *testing.T, start time.Time, end time.Duration, refuse map[string]bool, late time.Duration, anonymous bool, at map[time.Duration]Event) ([]string, Incident) {
	t.Helper()
	e, s := engLoad(t)
	rt := e.Config.Route(s, map[string]string{"severity": "critical"}, start)
	inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, start)
	type timed struct {
		at time.Time
		ev Event
	}
	var events []timed
	for off, ev := range at {
		events = append(events, timed{start.Add(off), ev})
	}
	var lines []string
	line := func(a Action) {
		l := Duration(a.At.Sub(start)).String() + " " + string(a.Kind) + " " + a.LevelName
		if a.User != "" {
			l += " " + a.User + " " + a.Channel
		}
		if a.Kind == ActionEscalate {
			l += ": " + a.Detail
		}
		lines = append(lines, l)
	}
	for {
		slices.SortStableFunc(events, func(a, b timed) int { return a.at.Compare(b.at) })
		d, ok := inc.Next()
		if len(events) > 0 && (!ok || !d.At.Before(events[0].at)) {
			var acts []Action
			inc, acts = engApply(t, e, inc, events[0].ev, events[0].at)
			for _, a := range acts {
				line(a)
			}
			events = events[1:]
			continue
		}
		if !ok || d.At.After(start.Add(end)) {
			return lines, inc
		}
		var acts []Action
		inc, acts = engApply(t, e, inc, Event{Kind: EventDeadline, Deadline: d.ID}, d.At)
		for _, a := range acts {
			line(a)
			if a.Kind == ActionNotify && refuse[a.LevelName+" "+a.User+" "+a.Channel] {
				ev := Event{Kind: EventChannelFailed, Actor: a.User, Channel: a.Channel, Step: d.ID}
				if anonymous {
					ev.Step = ""
				}
				events = append(events, timed{a.At.Add(late), ev})
			}
		}
	}
}

// TestEngineLevelNobodyCanBeReachedEscalatesAtOnce: when the provider
// refuses every page of a level (Ann's number refused by Twilio for the
// push, the SMS and the call alike) and no step of the level is left, the
// next level is paged at once, not at the level's timeout 10 minutes in,
// and the timeline says why. The next level is paged once: the first
// level's timeout is gone, and the second's own runs from the early
// escalation. Anything else keeps the timeout: a page that went out and
// is not acknowledged, an acknowledgement meanwhile, a failure that may
// have reached the person (no step named), the last level.
func TestEngineLevelNobodyCanBeReachedEscalatesAtOnce(t *testing.T) {
	ann := map[string]bool{"first a push": true, "first a sms": true, "first a voice": true}
	escalations := func(lines []string) []string {
		var out []string
		for _, l := range lines {
			if strings.Contains(l, " escalate ") {
				out = append(out, l)
			}
		}
		return out
	}
	check := func(t *testing.T, lines, want []string) {
		t.Helper()
		if got := escalations(lines); !slices.Equal(got, want) {
			t.Fatalf("escalations:\n got %q\nwant %q\nall: %q", got, want, lines)
		}
	}
	t.Run("every page refused", func(t *testing.T) {
		// Ann's push is refused 10s after it is sent, which brings her
		// SMS forward, refused 10s later, and the call, refused at 30s.
		lines, _ := unreachedRun(t, t0, 41*time.Minute, ann, 10*time.Second, false, nil)
		check(t, lines, []string{
			"30s escalate second: every page at level first failed, nobody was reached: escalated at once",
			"10m30s escalate third: not acknowledged within 10m",
			"20m30s escalate first: not acknowledged within 10m",
			"21m escalate second: every page at level first failed, nobody was reached: escalated at once",
			"31m escalate third: not acknowledged within 10m",
		})
		var bob []string
		for _, l := range lines {
			if strings.Contains(l, " b ") {
				bob = append(bob, l)
			}
		}
		// Paged once each step, at 30s: the first level's timeout at 10m
		// pages nobody again.
		if want := []string{"30s notify second b push", "2m30s notify second b sms", "5m30s notify second b voice",
			"21m notify second b push", "23m notify second b sms", "26m notify second b voice"}; !slices.Equal(bob, want) {
			t.Fatalf("Bob's pages: got %q, want %q", bob, want)
		}
	})
	t.Run("every page of two people refused", func(t *testing.T) {
		// The week of 2025-01-13: Bob primary, Cat secondary; level
		// second pages Cat and Bob.
		all := map[string]bool{}
		for _, l := range []string{"first b", "second b", "second c"} {
			for _, ch := range []string{"push", "sms", "voice"} {
				all[l+" "+ch] = true
			}
		}
		lines, _ := unreachedRun(t, t0.AddDate(0, 0, 7), 9*time.Minute, all, 0, false, nil)
		check(t, lines, []string{
			"0s escalate second: every page at level first failed, nobody was reached: escalated at once",
			"0s escalate third: every page at level second failed, nobody was reached: escalated at once",
		})
	})
	t.Run("one of two people reached", func(t *testing.T) {
		some := map[string]bool{"first b push": true, "first b sms": true, "first b voice": true,
			"second c push": true, "second c sms": true, "second c voice": true, "second b push": true}
		lines, _ := unreachedRun(t, t0.AddDate(0, 0, 7), 11*time.Minute, some, 0, false, nil)
		check(t, lines, []string{
			"0s escalate second: every page at level first failed, nobody was reached: escalated at once",
			"10m escalate third: not acknowledged within 10m",
		})
	})
	t.Run("a page went out", func(t *testing.T) {
		lines, _ := unreachedRun(t, t0, 11*time.Minute, map[string]bool{"first a push": true, "first a voice": true}, 0, false, nil)
		check(t, lines, []string{"10m escalate second: not acknowledged within 10m"})
	})
	t.Run("acknowledged meanwhile", func(t *testing.T) {
		// Ann acknowledges on the app before the refusal of her call is
		// known.
		lines, inc := unreachedRun(t, t0, 11*time.Minute, ann, 10*time.Second, false, map[time.Duration]Event{
			25 * time.Second: {Kind: EventAcknowledge, Actor: "a"},
		})
		check(t, lines, nil)
		if inc.Status != StatusAcknowledged {
			t.Fatalf("status %s", inc.Status)
		}
	})
	t.Run("held by a maintenance window meanwhile", func(t *testing.T) {
		// A window starts before the refusal of Ann's call is known:
		// nobody is paged until it ends, the next level neither.
		lines, _ := unreachedRun(t, t0, 50*time.Minute, ann, 10*time.Second, false, map[time.Duration]Event{
			25 * time.Second: {Kind: EventHold, Hold: &Hold{ID: "w", Until: t0.Add(time.Hour)}},
		})
		check(t, lines, nil)
	})
	t.Run("failures that may have reached the person", func(t *testing.T) {
		lines, _ := unreachedRun(t, t0, 11*time.Minute, ann, 0, true, nil)
		check(t, lines, []string{"10m escalate second: not acknowledged within 10m"})
	})
	t.Run("the last level keeps its timeout and the repeat", func(t *testing.T) {
		// Dan, the last level, has an SMS at once and another at 1m;
		// both refused. The policy's repeat starts over at level first
		// at the last level's timeout, not at once.
		lines, _ := unreachedRun(t, t0, 20*time.Minute, map[string]bool{"third d sms": true}, 0, false, map[time.Duration]Event{
			time.Minute / 2: {Kind: EventEscalate, ToLevel: "third"},
		})
		check(t, lines, []string{"30s escalate third: escalated", "10m30s escalate first: not acknowledged within 10m"})
	})
}

package policy

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// ladderTimeoutConfig: ann's ladder calls at 5m, and her level times out
// at 3m. bob is the second level; the third pages ann again.
const ladderTimeoutConfig = `
users:
  - {id: ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
  - {id: bob, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    time_zone: UTC
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [ann]}
escalation_policies:
  - name: p
    levels:
      - name: first
        targets: [{schedule: s, tier: primary}]
        timeout: 3m
      - name: second
        targets: [{user: bob}]
        timeout: 3m
      - name: third
        targets: [{schedule: s, tier: primary}]
services:
  - name: svc
    priority_scheme: P0-P3
    escalation_policy: p
`

// TestEngineStepsPastTheLevelTimeout: a level's timeout does not cut the
// ladders of the people it paged. Escalating to other people leaves them
// running, so ann's call at 5m comes at 5m though her level timed out at
// 3m; only paging the same person again starts their ladder over (the
// third level, at 6m), so the step is put off, not lost. check-config
// warns about the second case only (TestWarningsLadderPastTheTimeout).
func TestEngineStepsPastTheLevelTimeout(t *testing.T) {
	c, err := Parse([]byte(ladderTimeoutConfig), "l.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Config: c}
	rt := c.Route(c.Service("svc"), map[string]string{"severity": "critical"}, t0)
	inc, _, err := e.Apply(Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, t0)
	if err != nil {
		t.Fatal(err)
	}
	_, lines := engRun(t, e, inc, t0.Add(time.Hour))
	want := []string{
		"0s notify first ann push",
		"2m notify first ann sms",
		"3m escalate second",
		"3m notify second bob push",
		"5m notify first ann voice", // past first's 3m timeout, and still sent
		"6m escalate third",
		"6m notify third ann push", // ann's ladder starts over
		"8m notify third ann sms",
		"11m notify third ann voice",
	}
	if !reflect.DeepEqual(lines, want) {
		t.Fatalf("timeline:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestWarningsLadderPastTheTimeout: check-config warns when a level times
// out before a step of the ladder of someone the next level (or, with
// repeat, the same level again) pages again: their ladder starts over
// there, so the step does not come when their notification rules say. It
// does not warn when the next level pages other people: the step comes.
func TestWarningsLadderPastTheTimeout(t *testing.T) {
	cases := []struct {
		name  string
		edits []string
		// field and words of the one ladder warning wanted; "" wants none.
		field string
		words []string
	}{
		{
			name:  "the next level pages someone else",
			edits: []string{"      - name: third\n        targets: [{schedule: s, tier: primary}]\n", ""},
		},
		{
			name: "the next level pages the same tier",
			edits: []string{"      - name: second\n        targets: [{user: bob}]\n", "      - name: second\n        targets: [{user: bob}, {schedule: s, tier: primary}]\n",
				"      - name: third\n        targets: [{schedule: s, tier: primary}]\n", ""},
			field: "escalation_policies[p].levels[first].timeout",
			words: []string{`3m is shorter than the ladder of user "ann" (voice at 5m)`, "level second pages them again", "starts over", "the last time they are paged"},
		},
		{
			name:  "the next level names the same user",
			edits: []string{"        targets: [{user: bob}]\n        timeout: 3m\n", "        targets: [{user: bob}]\n        timeouts: {P0: 2m, P1: 3m, P2: 1h, P3: 1h}\n", "      - name: third\n        targets: [{schedule: s, tier: primary}]\n", "      - name: third\n        targets: [{user: bob}]\n"},
			field: "escalation_policies[p].levels[second].timeouts.P0",
			words: []string{`2m is shorter than the ladder of user "bob" (push at 5m, notification_rules.low)`, "level third pages them again"},
		},
		{
			name:  "repeat pages the one level again",
			edits: []string{"      - name: second\n        targets: [{user: bob}]\n        timeout: 3m\n      - name: third\n        targets: [{schedule: s, tier: primary}]\n", "    repeat: 2\n"},
			field: "escalation_policies[p].levels[first].timeout",
			words: []string{`3m is shorter than the ladder of user "ann" (voice at 5m)`, "level first pages them again (repeat starts the policy over)"},
		},
		{
			name:  "a step at the timeout comes before it",
			edits: []string{"        timeout: 3m\n      - name: second\n        targets: [{user: bob}]\n        timeout: 3m\n      - name: third\n        targets: [{schedule: s, tier: primary}]\n", "        timeout: 5m\n    repeat: 1\n"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := ladderTimeoutConfig
			if strings.Contains(c.name, "names the same user") {
				// bob's low-urgency ladder pushes again at 5m.
				text = loadEdit(t, text, "  - {id: bob, contacts: [{channel: push, via: log}]}\n",
					"  - {id: bob, contacts: [{channel: push, via: log}], notification_rules: {low: [{after: 0s, channel: push}, {after: 5m, channel: push}]}}\n")
			}
			text = loadEdit(t, text, c.edits...)
			cfg, err := Parse([]byte(text), "l.yaml", "")
			if err != nil {
				t.Fatalf("a warning must not stop the config from loading: %v", err)
			}
			var got []string
			for _, w := range cfg.warnings {
				if strings.Contains(w, "is shorter than the ladder") {
					got = append(got, w)
				}
			}
			if c.field == "" {
				if len(got) != 0 {
					t.Fatalf("warnings: %q", got)
				}
				return
			}
			if len(got) != 1 || !strings.HasPrefix(got[0], c.field+": ") {
				t.Fatalf("want one warning naming %s; got:\n%s", c.field, strings.Join(got, "\n"))
			}
			for _, w := range c.words {
				if !strings.Contains(got[0], w) {
					t.Errorf("the warning does not say %q:\n%s", w, got[0])
				}
			}
		})
	}
}

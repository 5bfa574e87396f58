package policy

import (
	"testing"
	"time"
)

// lateConfig hands off every Monday at 08:00 UTC: primary a then b,
// secondary c then d.
const lateConfig = `
users:
  - {id: a, name: Ann, contacts: [{channel: push, via: log}]}
  - {id: b, name: Bob, contacts: [{channel: push, via: log}]}
  - {id: c, name: Cat, contacts: [{channel: push, via: log}]}
  - {id: d, name: Dan, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    time_zone: UTC
    handoff: {weekday: monday, time: "08:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [a, b]}
      - {name: secondary, start: 2025-01-06, members: [c, d]}
escalation_policies:
  - name: p
    levels:
      - name: first
        targets: [{schedule: s, tier: primary}]
        timeout: 5m
      - name: second
        targets: [{schedule: s, tier: secondary}]
        timeout: 5m
    unresolved:
      - {priorities: [P0], after: 5m, notify: [{schedule: s, tier: secondary}]}
services:
  - name: svc
    priority_scheme: P0-P3
    escalation_policy: p
`

// TestEngineLateDeadlinePagesWhoIsOnCallNow: a deadline fired late (a
// replica died holding the incident's lease, the store was away, the
// daemon restarted) across a handoff pages whoever holds the tier when it
// fires, as `pagerd oncall` and GET /api/v1/oncall say at that moment, not
// the person whose shift ended meanwhile: paging them is a missed page for
// the one now on call. The steps still count from the deadline's own time.
func TestEngineLateDeadlinePagesWhoIsOnCallNow(t *testing.T) {
	c, err := Parse([]byte(lateConfig), "late.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Config: c}
	trigger := time.Date(2025, 1, 13, 7, 50, 0, 0, time.UTC) // week 0: a and c
	fired := time.Date(2025, 1, 13, 8, 1, 0, 0, time.UTC)    // week 1: b and d
	for _, tc := range []struct {
		name string
		kind DeadlineKind
		ack  bool
	}{
		{"escalation", DeadlineEscalate, false},
		{"unresolved rule", DeadlineUnresolved, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := c.Route(c.Service("svc"), map[string]string{"severity": "critical"}, trigger)
			inc, _, err := e.Apply(Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, trigger)
			if err != nil {
				t.Fatal(err)
			}
			if tc.ack {
				if inc, _, err = e.Apply(inc, Event{Kind: EventAcknowledge, Actor: "a"}, trigger.Add(time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			var due Deadline
			for _, d := range inc.Pending {
				if d.Kind == tc.kind {
					due = d
				}
			}
			if due.ID == "" || !due.At.Before(time.Date(2025, 1, 13, 8, 0, 0, 0, time.UTC)) {
				t.Fatalf("no %s deadline before the handoff: %+v", tc.kind, inc.Pending)
			}
			inc, _, err = e.Apply(inc, Event{Kind: EventDeadline, Deadline: due.ID}, fired)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := c.WhoIsOnCall(fired, "s")
			if err != nil {
				t.Fatal(err)
			}
			want := rows[1].User
			var paged []string
			for _, d := range inc.Pending {
				if d.Kind == DeadlineNotify && d.Level == 1 {
					paged = append(paged, d.User)
					if !d.At.Equal(due.At) {
						t.Errorf("%s's push is due at %v, want at the deadline's own time %v", d.User, d.At, due.At)
					}
				}
			}
			if len(paged) != 1 || paged[0] != want {
				t.Fatalf("the late %s at %v paged %q; oncall at that moment says the secondary is %q", tc.kind, fired, paged, want)
			}
		})
	}
}

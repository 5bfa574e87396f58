package report

import (
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// gapTeam pages one level, a tier held in office hours only: an alert at
// night finds nobody on call and nowhere to escalate to.
const gapTeam = `
users:
  - {id: ann, name: Ann, time_zone: UTC, contacts: [{channel: push, via: log}]}
schedules:
  - name: s
    time_zone: UTC
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - name: primary
        layers:
          - {name: office, start: 2025-01-06, members: [ann], restrictions: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]}
escalation_policies:
  - name: p
    levels:
      - {name: primary, targets: [{schedule: s, tier: primary}], timeout: 10m}
services:
  - {name: svc, priority_scheme: P0-P3, escalation_policy: p}
`

// TestLevelPagingNobodyIsNoEscalation: a one-level policy whose level
// nobody holds at the trigger (a business-hours tier at night) pages
// nobody, and the engine says so on the timeline with an escalate entry at
// level 1 ("level primary pages nobody"): the incident stayed at its first
// level, nobody was paged beyond it. The report counted it as escalated, so
// a team whose only level is staffed in office hours saw every night alert
// in its escalation rate (here 1 of 1, 100%, against a goal of < 20%)
// although nothing ever escalated; the handoff listed it among the
// escalations too.
func TestLevelPagingNobodyIsNoEscalation(t *testing.T) {
	cfg, err := policy.Parse([]byte(gapTeam), "gap.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	night := time.Date(2025, 10, 7, 3, 0, 0, 0, time.UTC) // Tuesday 03:00
	svc := cfg.Service("svc")
	rt := cfg.Route(svc, map[string]string{"severity": "critical"}, night)
	_, acts, err := (&policy.Engine{Config: cfg}).Apply(policy.Incident{ID: "n1"}, policy.Event{Kind: policy.EventTrigger, Route: &rt}, night)
	if err != nil {
		t.Fatal(err)
	}
	// One escalate at the first level, then the wait for someone on call
	// beginning (a timeline entry of its own, wait_on_call).
	if len(acts) != 2 || acts[0].Kind != policy.ActionEscalate || acts[0].Level != 0 ||
		acts[1].Kind != policy.ActionWaitOnCall || acts[1].Level != 0 {
		t.Fatalf("trigger acts %+v, want one escalate at the first level and the wait beginning", acts)
	}
	// What the engine wrote, then Ann picks it up from the console at 03:40.
	inc := incident(time.UTC, "n1", "svc", "P0", "2025-10-07 03:00", "disk full", nil,
		escalate(0, 1, acts[0].Detail), step{typ: string(acts[1].Kind), level: 1, actor: "pagerd", detail: acts[1].Detail},
		ack(40*m, 1, "ann"), resolve(time.Hour, "ann"))
	r, err := Build(cfg, Options{From: time.Date(2025, 10, 6, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 10, 13, 0, 0, 0, 0, time.UTC)}, []Incident{inc})
	if err != nil {
		t.Fatal(err)
	}
	wantRatio(t, "escalated", r.Total.Escalated, 0, 1)
	if r.Weeks[0].Escalated != 0 {
		t.Errorf("week escalated %d, want 0", r.Weeks[0].Escalated)
	}
	// A first level that pages nobody and escalates to one that does is
	// an escalation still.
	moved := incident(time.UTC, "n2", "svc", "P0", "2025-10-07 03:00", "disk full", nil,
		escalate(0, 2, "level primary pages nobody (nobody is on call for it): escalated at once"), resolve(time.Hour, "ann"))
	if r, err = Build(cfg, Options{From: time.Date(2025, 10, 6, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 10, 13, 0, 0, 0, 0, time.UTC)}, []Incident{moved}); err != nil {
		t.Fatal(err)
	}
	wantRatio(t, "escalated", r.Total.Escalated, 1, 1)
}

// TestAlertThatWaitedForSomeoneOnCallIsNoEscalation: the same night alert
// now waits for someone on call, and at 09:00 the engine pages ann, with
// an escalate entry at level 1 saying why ("nobody was on call when the
// alert came; level primary has someone now"). That is the incident's
// first page, at the level it stood at, not an escalation: counted as
// one, every night alert of a team staffed in office hours was in its
// escalation rate again (1 of 1), as TestLevelPagingNobodyIsNoEscalation
// had fixed.
func TestAlertThatWaitedForSomeoneOnCallIsNoEscalation(t *testing.T) {
	cfg, err := policy.Parse([]byte(gapTeam), "gap.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	night := time.Date(2025, 10, 7, 3, 0, 0, 0, time.UTC) // Tuesday 03:00
	e := &policy.Engine{Config: cfg}
	rt := cfg.Route(cfg.Service("svc"), map[string]string{"severity": "critical"}, night)
	inc, acts, err := e.Apply(policy.Incident{ID: "n1"}, policy.Event{Kind: policy.EventTrigger, Route: &rt}, night)
	if err != nil {
		t.Fatal(err)
	}
	var entries []step
	var detail []string
	nine := night.Add(6 * time.Hour)
	for {
		for _, a := range acts {
			if a.Kind == policy.ActionEscalate {
				entries = append(entries, escalate(a.At.Sub(night), a.Level+1, a.Detail))
				detail = append(detail, a.Detail)
			}
		}
		d, ok := inc.Next()
		if !ok || d.At.After(nine) {
			break
		}
		if inc, acts, err = e.Apply(inc, policy.Event{Kind: policy.EventDeadline, Deadline: d.ID}, d.At); err != nil {
			t.Fatal(err)
		}
	}
	if len(entries) != 2 || !strings.HasPrefix(detail[1], "nobody was on call when the alert came") {
		t.Fatalf("escalate entries %q, want the trigger's and the 09:00 look's", detail)
	}
	entries = append(entries, ack(6*time.Hour+3*m, 1, "ann"), resolve(7*time.Hour, "ann"))
	rec := incident(time.UTC, "n1", "svc", "P0", "2025-10-07 03:00", "disk full", nil, entries...)
	r, err := Build(cfg, Options{From: time.Date(2025, 10, 6, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 10, 13, 0, 0, 0, 0, time.UTC)}, []Incident{rec})
	if err != nil {
		t.Fatal(err)
	}
	wantRatio(t, "escalated", r.Total.Escalated, 0, 1)
}

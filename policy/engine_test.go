package policy

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// engConfig is a small config that exercises every part of the machine:
// three levels, a repeat, a low-urgency priority, a person reachable in two
// tiers, and unresolved and missing-status-update rules.
const engConfig = `
users:
  - {id: a, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
  - {id: b, name: Bob, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
  - {id: c, name: Cat, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
  - id: d
    name: Dan
    contacts: [{channel: sms, via: log}]
    notification_rules:
      high: [{after: 0s, channel: sms}, {after: 1m, channel: sms}]
schedules:
  - name: s
    time_zone: UTC
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [a, b]}
      - {name: secondary, start: 2025-01-06, members: [b, c]}
escalation_policies:
  - name: p
    repeat: 1
    levels:
      - name: first
        targets: [{schedule: s, tier: primary}]
        timeout: 10m
      - name: second
        targets: [{schedule: s, tier: secondary}, {user: b}]
        timeout: 10m
        timeouts: {P1: 20m}
      - name: third
        targets: [{user: d}]
        timeout: 10m
    unresolved:
      - {priorities: [P0], after: 1h, notify: [{level: second}, {user: d}]}
    missing_status_update:
      - {priorities: [P0], after: 30m}
services:
  - name: svc
    priority_scheme: P0-P3
    escalation_policy: p
    targets:
      P0: {acknowledge: 5m, status_update: 30m}
      P3: {urgency: low}
`

// t0 is a Wednesday in the week a is primary and b secondary.
var t0 = time.Date(2025, 1, 8, 3, 0, 0, 0, time.UTC)

func engLoad(t *testing.T) (*Engine, *Service) {
	t.Helper()
	c, err := Parse([]byte(engConfig), "engine.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	return &Engine{Config: c}, c.Service("svc")
}

func engTrigger(t *testing.T, e *Engine, s *Service, sev string) (Incident, []Action) {
	t.Helper()
	rt := e.Config.Route(s, map[string]string{"severity": sev}, t0)
	inc, acts, err := e.Apply(Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return inc, acts
}

func engApply(t *testing.T, e *Engine, inc Incident, ev Event, now time.Time) (Incident, []Action) {
	t.Helper()
	out, acts, err := e.Apply(inc, ev, now)
	if err != nil {
		t.Fatalf("apply %s: %v", ev.Kind, err)
	}
	return out, acts
}

// engFire fires the earliest deadline at its own time.
func engFire(t *testing.T, e *Engine, inc Incident) (Incident, []Action, Deadline) {
	t.Helper()
	d, ok := inc.Next()
	if !ok {
		t.Fatal("no pending deadline")
	}
	out, acts := engApply(t, e, inc, Event{Kind: EventDeadline, Deadline: d.ID}, d.At)
	return out, acts, d
}

// engSummary writes actions as "offset kind level user channel" lines.
func engSummary(acts []Action) []string {
	var out []string
	for _, a := range acts {
		s := Duration(a.At.Sub(t0)).String() + " " + string(a.Kind) + " " + a.LevelName
		if a.User != "" {
			s += " " + a.User
		}
		if a.Channel != "" {
			s += " " + a.Channel
		}
		if a.Kind == ActionSLABreach {
			s += " " + a.Detail
		}
		out = append(out, s)
	}
	return out
}

// engRun fires deadlines in order until none is left before end.
func engRun(t *testing.T, e *Engine, inc Incident, end time.Time) (Incident, []string) {
	t.Helper()
	var lines []string
	for {
		d, ok := inc.Next()
		if !ok || d.At.After(end) {
			return inc, lines
		}
		var acts []Action
		inc, acts, _ = engFire(t, e, inc)
		lines = append(lines, engSummary(acts)...)
	}
}

func engPendingKinds(inc Incident) map[DeadlineKind]int {
	m := map[DeadlineKind]int{}
	for _, d := range inc.Pending {
		m[d.Kind]++
	}
	return m
}

func TestEngineTriggerPagesFirstLevelAndArmsDeadlines(t *testing.T) {
	e, s := engLoad(t)
	inc, acts := engTrigger(t, e, s, "critical")
	// Even the first push is a deadline, due at once: the daemon stores it
	// with the incident and its dispatcher sends it.
	if len(acts) != 0 {
		t.Fatalf("trigger acted directly: %v", acts)
	}
	if inc.Status != StatusTriggered || inc.Priority != "P0" || inc.Level != 0 || inc.Epoch != 1 {
		t.Fatalf("incident = %+v", inc)
	}
	var got []string
	for _, d := range inc.Pending {
		got = append(got, Duration(d.At.Sub(t0)).String()+" "+string(d.Kind)+" "+d.User+d.Channel+d.Target)
	}
	want := []string{"0s notify apush", "2m notify asms", "5m sla acknowledge", "5m notify avoice", "10m escalate second", "30m sla status_update", "1h unresolved P0 after 1h"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("pending = %q, want %q", got, want)
	}
}

func TestEngineUnacknowledgedWalksEveryLevelAndRepeatsOnce(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "error") // P1: no SLA, no unresolved rule
	_, lines := engRun(t, e, inc, t0.Add(3*time.Hour))
	want := []string{
		"0s notify first a push",
		"2m notify first a sms",
		"5m notify first a voice",
		"10m escalate second",
		"10m notify second b push", // b is both secondary and named: paged once
		"12m notify second b sms",
		"15m notify second b voice",
		"30m escalate third", // P1 waits 20m at the second level
		"30m notify third d sms",
		"31m notify third d sms",
		"40m escalate first", // repeat: 1
		"40m notify first a push",
		"42m notify first a sms",
		"45m notify first a voice",
		"50m escalate second",
		"50m notify second b push",
		"52m notify second b sms",
		"55m notify second b voice",
		"1h10m escalate third",
		"1h10m notify third d sms",
		"1h11m notify third d sms",
	}
	if !reflect.DeepEqual(lines, want) {
		t.Fatalf("timeline:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestEngineAcknowledgeStopsEveryPendingStep(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	inc, _, _ = engFire(t, e, inc)     // 0s push
	inc, acts, _ := engFire(t, e, inc) // 2m SMS
	if got := engSummary(acts); !reflect.DeepEqual(got, []string{"2m notify first a sms"}) {
		t.Fatalf("got %v", got)
	}
	voice, _ := inc.Next()
	acked, acts := engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "a"}, t0.Add(3*time.Minute))
	if acked.Status != StatusAcknowledged || acked.AcknowledgedBy != "a" || !acked.AcknowledgedAt.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("after ack: %+v", acked)
	}
	if got := engSummary(acts); !reflect.DeepEqual(got, []string{"3m ack first a"}) {
		t.Fatalf("ack actions %v", got)
	}
	k := engPendingKinds(acked)
	if k[DeadlineNotify] != 0 || k[DeadlineEscalate] != 0 {
		t.Fatalf("pages or escalation still pending after ack: %v", acked.Pending)
	}
	for _, d := range acked.Pending {
		if d.Kind == DeadlineSLA && d.Target == "acknowledge" {
			t.Fatal("acknowledge SLA still pending after ack")
		}
	}
	if k[DeadlineStatusUpdate] != 1 || k[DeadlineUnresolved] != 1 {
		t.Fatalf("acked P0 must keep its unresolved and status-update clocks: %v", acked.Pending)
	}
	// The voice deadline was claimed before the ack landed: firing it now
	// must page nobody.
	again, acts := engApply(t, e, acked, Event{Kind: EventDeadline, Deadline: voice.ID}, voice.At)
	if len(acts) != 0 || !reflect.DeepEqual(again, acked) {
		t.Fatalf("a cancelled deadline paged: %v", acts)
	}
	// A second ack is a no-op.
	if _, acts := engApply(t, e, acked, Event{Kind: EventAcknowledge, Actor: "b"}, t0.Add(4*time.Minute)); len(acts) != 0 {
		t.Fatalf("second ack acted: %v", acts)
	}
}

func TestEngineResolveCancelsEverything(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	pending := inc.Pending
	res, acts := engApply(t, e, inc, Event{Kind: EventResolve, Actor: "api"}, t0.Add(time.Minute))
	if res.Status != StatusResolved || len(res.Pending) != 0 || len(acts) != 1 || acts[0].Kind != ActionResolve {
		t.Fatalf("resolve: %+v %v", res, acts)
	}
	for _, d := range pending {
		if _, acts := engApply(t, e, res, Event{Kind: EventDeadline, Deadline: d.ID}, d.At); len(acts) != 0 {
			t.Fatalf("deadline %s acted after resolve: %v", d.ID, acts)
		}
	}
	for _, k := range []EventKind{EventAcknowledge, EventEscalate, EventStatusUpdate} {
		if _, _, err := e.Apply(res, Event{Kind: k}, t0.Add(2*time.Minute)); !errors.Is(err, ErrResolved) {
			t.Errorf("%s on resolved: err = %v, want ErrResolved", k, err)
		}
	}
}

func TestEngineRetrigger(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	rt := e.Config.Route(s, map[string]string{"severity": "critical"}, t0)

	again, acts := engApply(t, e, inc, Event{Kind: EventTrigger, Route: &rt}, t0.Add(time.Minute))
	if len(acts) != 0 || !reflect.DeepEqual(again, inc) {
		t.Fatalf("re-trigger of an open incident must page nobody: %v", acts)
	}

	res, _ := engApply(t, e, inc, Event{Kind: EventResolve}, t0.Add(2*time.Minute))
	fresh, acts := engApply(t, e, res, Event{Kind: EventTrigger, Route: &rt}, t0.Add(time.Hour))
	if fresh.Status != StatusTriggered || fresh.Epoch != 2 || !fresh.TriggeredAt.Equal(t0.Add(time.Hour)) || !fresh.ResolvedAt.IsZero() {
		t.Fatalf("re-trigger after resolve must start afresh: %+v", fresh)
	}
	if first, ok := fresh.Next(); len(acts) != 0 || !ok || first.Kind != DeadlineNotify || first.User != "a" || !first.At.Equal(t0.Add(time.Hour)) {
		t.Fatalf("fresh trigger must page a at once: actions %v, next %+v", acts, first)
	}
	old := map[string]bool{}
	for _, d := range inc.Pending {
		old[d.ID] = true
	}
	for _, d := range fresh.Pending {
		if old[d.ID] {
			t.Fatalf("deadline id %s reused across incarnations", d.ID)
		}
	}
}

func TestEngineManualEscalateReopensAndRestartsLadders(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	inc, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "a"}, t0.Add(time.Minute))
	inc, acts := engApply(t, e, inc, Event{Kind: EventEscalate, Actor: "a"}, t0.Add(2*time.Minute))
	if inc.Status != StatusTriggered || inc.Level != 1 {
		t.Fatalf("escalate: %+v", inc)
	}
	if got, want := engSummary(acts), []string{"2m escalate second"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
	if _, lines := engRun(t, e, inc, t0.Add(2*time.Minute)); !reflect.DeepEqual(lines, []string{"2m notify second b push"}) {
		t.Fatalf("the escalation must page b at once: %v", lines)
	}
	if engPendingKinds(inc)[DeadlineStatusUpdate] != 0 {
		t.Fatal("a re-opened incident must not keep the missing-status-update clock")
	}
	// Escalating back to the first level twice in a row leaves one ladder
	// for a, not two.
	inc, _ = engApply(t, e, inc, Event{Kind: EventEscalate, ToLevel: "first"}, t0.Add(3*time.Minute))
	inc, _ = engApply(t, e, inc, Event{Kind: EventEscalate, ToLevel: "first"}, t0.Add(4*time.Minute))
	n := 0
	for _, d := range inc.Pending {
		if d.Kind == DeadlineNotify && d.User == "a" {
			n++
			if d.At.Before(t0.Add(4 * time.Minute)) {
				t.Fatalf("a's ladder was not restarted: %v", d)
			}
		}
	}
	if n != 3 {
		t.Fatalf("a has %d pending steps, want 3 (push, sms, voice)", n)
	}
	if _, _, err := e.Apply(inc, Event{Kind: EventEscalate, ToLevel: "nope"}, t0); err == nil {
		t.Fatal("escalate to an unknown level must fail")
	}
}

// An escalation from a level is done once: the same answer sent twice (an
// SMS "5" resent, a button clicked twice) must not page the level after
// the one asked for, and the level's timeout having moved the incident on
// makes a late "escalate" a no-op too.
func TestEngineEscalateFromLevelEscalatesOnce(t *testing.T) {
	e, s := engLoad(t)
	from0 := Event{Kind: EventEscalate, Actor: "a", FromLevel: 0, FromLevelSet: true}
	t.Run("twice", func(t *testing.T) {
		inc, _ := engTrigger(t, e, s, "critical")
		inc, acts := engApply(t, e, inc, from0, t0.Add(time.Minute))
		if inc.Level != 1 || !reflect.DeepEqual(engSummary(acts), []string{"1m escalate second"}) {
			t.Fatalf("first escalate from level 0: level %d, actions %v", inc.Level, engSummary(acts))
		}
		again, acts, err := e.Apply(inc, from0, t0.Add(2*time.Minute))
		if !errors.Is(err, ErrAlreadyEscalated) {
			t.Fatalf("second escalate from level 0: err %v, want ErrAlreadyEscalated", err)
		}
		if len(acts) != 0 || again.Level != 1 || !reflect.DeepEqual(again.Pending, inc.Pending) {
			t.Fatalf("second escalate from level 0 changed the incident: level %d, actions %v", again.Level, engSummary(acts))
		}
		if _, lines := engRun(t, e, again, t0.Add(5*time.Minute)); slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, " d ") }) {
			t.Fatalf("the third level (d) was paged: %v", lines)
		}
	})
	t.Run("after the timeout", func(t *testing.T) {
		inc, _ := engTrigger(t, e, s, "critical")
		inc, _ = engApplyUntil(t, e, inc, t0.Add(10*time.Minute))
		if inc.Level != 1 {
			t.Fatalf("level %d after the first timeout, want 1", inc.Level)
		}
		if _, _, err := e.Apply(inc, from0, t0.Add(11*time.Minute)); !errors.Is(err, ErrAlreadyEscalated) {
			t.Fatalf("escalate from level 0 at level 1: err %v, want ErrAlreadyEscalated", err)
		}
	})
	t.Run("unset is from where it is", func(t *testing.T) {
		inc, _ := engTrigger(t, e, s, "critical")
		inc, _ = engApply(t, e, inc, Event{Kind: EventEscalate}, t0.Add(time.Minute))
		inc, _ = engApply(t, e, inc, Event{Kind: EventEscalate}, t0.Add(2*time.Minute))
		if inc.Level != 2 {
			t.Fatalf("two deliberate escalations: level %d, want 2", inc.Level)
		}
	})
	t.Run("from a level a reload took out", func(t *testing.T) {
		inc, _ := engTrigger(t, e, s, "critical")
		inc, _ = engApply(t, e, inc, Event{Kind: EventEscalate, ToLevel: "third"}, t0.Add(time.Minute))
		e2 := engReload(t, engConfig, engThirdLevel, "")
		inc, acts := engApply(t, e2, inc, Event{Kind: EventEscalate, FromLevel: 2, FromLevelSet: true}, t0.Add(2*time.Minute))
		if inc.Level != 1 || len(acts) == 0 {
			t.Fatalf("escalate from the third level, gone: level %d, actions %v; want the last level (second) paged again", inc.Level, engSummary(acts))
		}
	})
	t.Run("resolved", func(t *testing.T) {
		inc, _ := engTrigger(t, e, s, "critical")
		inc, _ = engApply(t, e, inc, Event{Kind: EventResolve, Actor: "a"}, t0.Add(time.Minute))
		if _, _, err := e.Apply(inc, from0, t0.Add(2*time.Minute)); !errors.Is(err, ErrResolved) {
			t.Fatalf("escalate a resolved incident: err %v, want ErrResolved", err)
		}
	})
}

// TestEngineEscalateOfAnIncidentAcknowledgedSinceIsRefused: an
// escalation says the status (and reopen count) the person saw
// (SeenStatus, SeenReopened). When the incident was acknowledged since,
// shown triggered or acknowledged again after a reopen, someone took it
// who did not ask for help: nothing changes and the answer is
// ErrAcknowledgedSince. Seen as it is, or with nobody on it now, the
// escalation goes through.
func TestEngineEscalateOfAnIncidentAcknowledgedSinceIsRefused(t *testing.T) {
	e, s := engLoad(t)
	ack := Event{Kind: EventAcknowledge, Actor: "b"}
	triggered := func(t *testing.T) Incident {
		inc, _ := engTrigger(t, e, s, "critical")
		return inc
	}
	acked := func(t *testing.T) Incident {
		inc, _ := engApply(t, e, triggered(t), ack, t0.Add(time.Minute))
		return inc
	}
	reopenedAndAcked := func(t *testing.T) Incident {
		inc, _ := engApply(t, e, acked(t), Event{Kind: EventEscalate, Actor: "b"}, t0.Add(2*time.Minute))
		inc, _ = engApply(t, e, inc, ack, t0.Add(3*time.Minute))
		if inc.Reopened != 1 || inc.Status != StatusAcknowledged {
			t.Fatalf("reopened %d, %s; want 1, acknowledged", inc.Reopened, inc.Status)
		}
		return inc
	}
	for _, c := range []struct {
		name    string
		inc     func(*testing.T) Incident
		seen    Status
		reopens int
		refused bool
	}{
		{"shown triggered, acknowledged since", acked, StatusTriggered, 0, true},
		{"shown acknowledged, acknowledged again after a reopen", reopenedAndAcked, StatusAcknowledged, 0, true},
		{"shown acknowledged, as it is", acked, StatusAcknowledged, 0, false},
		{"shown acknowledged after the reopen, as it is", reopenedAndAcked, StatusAcknowledged, 1, false},
		{"shown triggered, as it is", triggered, StatusTriggered, 0, false},
		{"not said", acked, "", 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			inc := c.inc(t)
			ev := Event{Kind: EventEscalate, Actor: "a", SeenStatus: c.seen, SeenReopened: c.reopens}
			out, acts, err := e.Apply(inc, ev, t0.Add(5*time.Minute))
			switch {
			case c.refused && (!errors.Is(err, ErrAcknowledgedSince) || len(acts) != 0 || !reflect.DeepEqual(out, inc)):
				t.Fatalf("err %v, actions %v; want ErrAcknowledgedSince and the incident unchanged", err, engSummary(acts))
			case !c.refused && (err != nil || len(acts) == 0):
				t.Fatalf("err %v, actions %v; want it escalated", err, engSummary(acts))
			}
		})
	}
}

// TestEngineEscalateFromLastLevelEscalatesOnce: at the last level an
// escalation pages that level again rather than moving on, so the level
// alone cannot tell a "5" sent twice from one answering the new pages. The
// page's time (FromLevelAt) can: an escalation after it restarted the level.
func TestEngineEscalateFromLastLevelEscalatesOnce(t *testing.T) {
	e, s := engLoad(t)
	atLast := func(t *testing.T) (Incident, time.Time) {
		t.Helper()
		inc, _ := engTrigger(t, e, s, "critical")
		at := t0.Add(time.Minute)
		inc, _ = engApply(t, e, inc, Event{Kind: EventEscalate, ToLevel: "third"}, at)
		if inc.Level != 2 {
			t.Fatalf("level %d, want the last (2)", inc.Level)
		}
		return inc, at // the last level's first page (d's SMS) went out at its start
	}
	t.Run("twice from one page", func(t *testing.T) {
		inc, paged := atLast(t)
		from := Event{Kind: EventEscalate, Actor: "d", FromLevel: 2, FromLevelSet: true, FromLevelAt: paged}
		inc, acts := engApply(t, e, inc, from, t0.Add(2*time.Minute))
		if !reflect.DeepEqual(engSummary(acts), []string{"2m escalate third"}) {
			t.Fatalf("first escalate from the last level: %v, want it paged again", engSummary(acts))
		}
		again, acts, err := e.Apply(inc, from, t0.Add(3*time.Minute))
		if !errors.Is(err, ErrAlreadyEscalated) {
			t.Fatalf("second escalate from the same page: err %v, actions %v; want ErrAlreadyEscalated", err, engSummary(acts))
		}
		if len(acts) != 0 || !reflect.DeepEqual(again, inc) {
			t.Fatalf("second escalate from the same page changed the incident: actions %v", engSummary(acts))
		}
		// A page of the level as it was paged again is a new page: its
		// "5" escalates.
		renewed := from
		renewed.FromLevelAt = t0.Add(2 * time.Minute)
		if _, acts := engApply(t, e, inc, renewed, t0.Add(4*time.Minute)); len(acts) == 0 {
			t.Fatal("an escalation from the page of the level paged again did nothing")
		}
	})
	t.Run("after a priority raise", func(t *testing.T) {
		// A raise pages the level again but escalates nothing: an
		// answer to the page before it still escalates.
		inc, _ := engTrigger(t, e, s, "warning")
		paged := t0.Add(time.Minute)
		inc, _ = engApply(t, e, inc, Event{Kind: EventEscalate, ToLevel: "third"}, paged)
		rt := e.Config.Route(s, map[string]string{"severity": "critical"}, t0)
		inc, _ = engApply(t, e, inc, Event{Kind: EventTrigger, Route: &rt}, t0.Add(2*time.Minute))
		if inc.Priority != "P0" || inc.Level != 2 {
			t.Fatalf("after the raise: %s at level %d", inc.Priority, inc.Level)
		}
		from := Event{Kind: EventEscalate, Actor: "d", FromLevel: 2, FromLevelSet: true, FromLevelAt: paged}
		if _, acts := engApply(t, e, inc, from, t0.Add(3*time.Minute)); len(acts) == 0 {
			t.Fatal("an escalation from the page before the raise did nothing")
		}
	})
	t.Run("without the page's time, as before", func(t *testing.T) {
		inc, _ := atLast(t)
		from := Event{Kind: EventEscalate, FromLevel: 2, FromLevelSet: true}
		inc, _ = engApply(t, e, inc, from, t0.Add(2*time.Minute))
		if _, acts := engApply(t, e, inc, from, t0.Add(3*time.Minute)); len(acts) == 0 {
			t.Fatal("an escalation from the last level that names no page's time did nothing")
		}
	})
}

// TestEngineEscalateFromALevelPagedAtOnceEscalates: a rule's
// page_immediately pages a level above the one the incident stands at (at
// the trigger, or at a priority raise). A "5" from that page names a level
// the incident never climbed to, and was refused as "already escalated":
// the escalation asked for was lost. It escalates the incident from where
// it stands, once: the same page answered again, after that escalation,
// is refused.
func TestEngineEscalateFromALevelPagedAtOnceEscalates(t *testing.T) {
	c, err := Parse([]byte(strings.Replace(engConfig, "    escalation_policy: p\n",
		"    escalation_policy: p\n    rules:\n      - {name: db, matchers: ['team=\"db\"'], priority: P0, page_immediately: [third]}\n", 1)), "engine.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e, s := &Engine{Config: c}, c.Service("svc")
	route := func(sev string) *Route {
		rt := c.Route(s, map[string]string{"severity": sev, "team": "db"}, t0)
		return &rt
	}
	for _, tc := range []struct {
		name string
		// paged is d's page of the third level, at once.
		start func(t *testing.T) (inc Incident, paged time.Time)
	}{
		{"at the trigger", func(t *testing.T) (Incident, time.Time) {
			inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: route("critical")}, t0)
			return inc, t0
		}},
		{"at a priority raise", func(t *testing.T) (Incident, time.Time) {
			mild := c.Route(s, map[string]string{"severity": "warning"}, t0)
			inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &mild}, t0)
			inc, _ = engApply(t, e, inc, Event{Kind: EventTrigger, Route: route("critical")}, t0.Add(time.Minute))
			return inc, t0.Add(time.Minute)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc, paged := tc.start(t)
			if inc.Level != 0 || !slices.Contains(inc.PageImmediately, "third") {
				t.Fatalf("at level %d, paged at once %v; want the first level, and the third paged at once", inc.Level, inc.PageImmediately)
			}
			from := Event{Kind: EventEscalate, Actor: "d", FromLevel: 2, FromLevelSet: true, FromLevelAt: paged}
			at := paged.Add(2 * time.Minute)
			inc, acts, err := e.Apply(inc, from, at)
			if err != nil || inc.Level != 1 {
				t.Fatalf("d's 5 from the third level paged at once: err %v, level %d, actions %v; want the incident escalated to the second",
					err, inc.Level, engSummary(acts))
			}
			// The same 5 again: the incident's state cannot tell it
			// from a 5 after the ladder moved on by itself
			// (TestEngineEscalateFromALevelPagedAtOnceAfterTheLadderMoved),
			// and losing that one is worse: it escalates too, until
			// the incident stands at the page's level.
			inc, acts, err = e.Apply(inc, from, at.Add(time.Minute))
			if err != nil || inc.Level != 2 {
				t.Fatalf("d's 5 again: err %v, level %d, actions %v; want the incident escalated to the third", err, inc.Level, engSummary(acts))
			}
			again, acts, err := e.Apply(inc, from, at.Add(90*time.Second))
			if !errors.Is(err, ErrAlreadyEscalated) || len(acts) != 0 || !reflect.DeepEqual(again, inc) {
				t.Fatalf("d's 5 a third time, the incident at its level: err %v, actions %v; want ErrAlreadyEscalated and nothing changed", err, engSummary(acts))
			}
			// Without the page's time only the level could tell, and it
			// cannot: the escalation is not refused, as before levels
			// were compared.
			bare := from
			bare.FromLevelAt = time.Time{}
			if out, _, err := e.Apply(inc, bare, at.Add(2*time.Minute)); err != nil || out.Level != 2 {
				t.Fatalf("a 5 from the third level without its time: err %v, level %d; want it escalated", err, out.Level)
			}
		})
	}
}

// TestEngineEscalateFromALevelPagedAtOnceAfterTheLadderMoved: d is paged at
// once at the third level; the first level's timeout moves the incident to
// the second; d's 5 then still escalates. Refused as "already escalated"
// (the level's start is after d's page), the escalation d asked for was
// lost.
func TestEngineEscalateFromALevelPagedAtOnceAfterTheLadderMoved(t *testing.T) {
	c, err := Parse([]byte(strings.Replace(engConfig, "    escalation_policy: p\n",
		"    escalation_policy: p\n    rules:\n      - {name: db, matchers: ['team=\"db\"'], priority: P0, page_immediately: [third]}\n", 1)), "engine.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e, s := &Engine{Config: c}, c.Service("svc")
	rt := c.Route(s, map[string]string{"severity": "critical", "team": "db"}, t0)
	inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, t0)
	at := t0
	for inc.Level == 0 && at.Before(t0.Add(time.Hour)) {
		at = at.Add(time.Minute)
		inc, _ = engRun(t, e, inc, at)
	}
	if inc.Level != 1 {
		t.Fatalf("the ladder is at level %d, want the second", inc.Level)
	}
	level := inc.Level
	from := Event{Kind: EventEscalate, Actor: "d", FromLevel: 2, FromLevelSet: true, FromLevelAt: t0}
	out, acts, err := e.Apply(inc, from, at.Add(time.Minute))
	if err != nil || len(acts) == 0 {
		t.Fatalf("d's 5 from the third level paged at once, after the ladder moved to level %d: err %v, actions %v; want it escalated", level, err, engSummary(acts))
	}
	if out.Level < level {
		t.Fatalf("d's 5 took the incident down from level %d to %d", level, out.Level)
	}
}

// TestEngineEscalateFromAPageStampedByASlowClock: at the last level an
// escalation restarts the level, and the 5 answering the level's new page
// escalates again. That page's time comes from the replica that sent it: a
// clock a few milliseconds behind the escalating replica's stamps it before
// the level's start, and the 5 was refused as answered already.
func TestEngineEscalateFromAPageStampedByASlowClock(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	started := t0.Add(time.Minute)
	inc, _ = engApply(t, e, inc, Event{Kind: EventEscalate, ToLevel: "third"}, started)
	from := Event{Kind: EventEscalate, Actor: "d", FromLevel: 2, FromLevelSet: true, FromLevelAt: started.Add(-3 * time.Millisecond)}
	if _, acts, err := e.Apply(inc, from, t0.Add(2*time.Minute)); err != nil || len(acts) == 0 {
		t.Fatalf("a 5 answering the restarted level's page, stamped 3 ms early: err %v, actions %v; want it escalated", err, engSummary(acts))
	}
}

func TestEngineLowUrgencyIsPushOnly(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "info") // P3, urgency low
	if inc.Urgency != UrgencyLow {
		t.Fatalf("urgency %q", inc.Urgency)
	}
	if _, lines := engRun(t, e, inc, t0.Add(9*time.Minute)); !reflect.DeepEqual(lines, []string{"0s notify first a push"}) {
		t.Fatalf("low urgency must be push only: %v", lines)
	}
}

func TestEngineMissingStatusUpdateAndUnresolved(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	inc, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "a"}, t0.Add(time.Minute))
	inc, _ = engApply(t, e, inc, Event{Kind: EventStatusUpdate, Actor: "a"}, t0.Add(20*time.Minute))
	// The update at 20m moves the missing-update escalation to 50m.
	inc, lines := engRun(t, e, inc, t0.Add(50*time.Minute))
	want := []string{
		"50m sla_breach first status_update",
		"50m escalate second",
		"50m notify second b push",
	}
	if !reflect.DeepEqual(lines, want) {
		t.Fatalf("timeline:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	inc, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "b"}, t0.Add(51*time.Minute))
	if !inc.AcknowledgedAt.Equal(t0.Add(time.Minute)) || inc.AcknowledgedBy != "b" {
		t.Fatalf("first ack time must be kept, latest acker recorded: %+v", inc)
	}
	if !inc.LastAcknowledgedAt.Equal(t0.Add(51*time.Minute)) || !inc.AcknowledgedByAt().Equal(t0.Add(51*time.Minute)) {
		t.Fatalf("b acknowledged at 51m: last acknowledged at %v, AcknowledgedByAt %v", inc.LastAcknowledgedAt, inc.AcknowledgedByAt())
	}
	_, lines = engRun(t, e, inc, t0.Add(time.Hour))
	want = []string{
		"1h escalate third",                // d belongs to the third level
		"1h already_acknowledged second b", // b acknowledged it: not paged again
		"1h notify third d sms",
	}
	if !reflect.DeepEqual(lines, want) {
		t.Fatalf("timeline:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestEngineAcknowledgedNeverWrapsToTheFirstLevel: repeat starts the ladder
// again for an incident nobody has seen. Once someone has acknowledged it,
// a ladder running again (an unresolved rule, a missing status update, a
// manual escalation) that nobody answers stops at the last level: wrapping
// to level 1 would phone the person who acknowledged and is working on it.
func TestEngineAcknowledgedNeverWrapsToTheFirstLevel(t *testing.T) {
	e, s := engLoad(t)
	// rule is what the unresolved rule pages at 1h: the second level and
	// d, on their ladders, and nothing after the last level.
	rule := []string{
		"1h escalate third",
		"1h notify second b push",
		"1h notify third d sms",
		"1h1m notify third d sms",
		"1h2m notify second b sms",
		"1h5m notify second b voice",
	}
	for _, tc := range []struct {
		name string
		// after the acknowledgement at 1m
		apply func(Incident) Incident
		want  []string
	}{{
		// Updates every 20m keep the missing-status-update rule quiet;
		// the unresolved rule pages the second level and d at 1h.
		name: "unresolved rule",
		apply: func(inc Incident) Incident {
			for m := 20; m < 60; m += 20 {
				inc, _ = engApply(t, e, inc, Event{Kind: EventStatusUpdate, Actor: "a"}, t0.Add(time.Duration(m)*time.Minute))
			}
			return inc
		},
		want: rule,
	}, {
		name:  "missing status update",
		apply: func(inc Incident) Incident { return inc },
		want: append([]string{
			"30m sla_breach first status_update",
			"31m escalate second",
			"31m notify second b push",
			"33m notify second b sms",
			"36m notify second b voice",
			"41m escalate third",
			"41m notify third d sms",
			"42m notify third d sms",
		}, rule...), // nobody acknowledged again: the rule still pages its people
	}, {
		name: "manual escalation",
		apply: func(inc Incident) Incident {
			inc, _ = engApply(t, e, inc, Event{Kind: EventEscalate, Actor: "a", ToLevel: "third"}, t0.Add(2*time.Minute))
			return inc
		},
		want: append([]string{"2m notify third d sms", "3m notify third d sms"}, rule...),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			inc, _ := engTrigger(t, e, s, "critical")
			inc, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "a"}, t0.Add(time.Minute))
			inc = tc.apply(inc)
			inc, lines := engRun(t, e, inc, t0.Add(4*time.Hour))
			var pages []string
			for _, l := range lines {
				if !strings.Contains(l, "sla_breach") || strings.HasPrefix(tc.name, "missing") {
					pages = append(pages, l)
				}
			}
			if !reflect.DeepEqual(pages, tc.want) {
				t.Fatalf("after a's acknowledgement:\n%s\nwant:\n%s", strings.Join(pages, "\n"), strings.Join(tc.want, "\n"))
			}
			if inc.Status != StatusTriggered || inc.Level != 2 {
				t.Fatalf("status %s at level %d; want triggered at the last level", inc.Status, inc.Level+1)
			}
		})
	}
}

func TestEngineLateDeadlineKeepsTheLadderOnTime(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "error")
	for {
		d, _ := inc.Next()
		if d.Kind == DeadlineEscalate {
			break
		}
		inc, _, _ = engFire(t, e, inc)
	}
	d, _ := inc.Next()
	late := d.At.Add(7 * time.Second)
	inc, acts := engApply(t, e, inc, Event{Kind: EventDeadline, Deadline: d.ID}, late)
	if !acts[0].At.Equal(d.At) {
		t.Fatalf("escalation stamped %v, want its deadline %v", acts[0].At, d.At)
	}
	inc, _, _ = engFire(t, e, inc) // the next level's push, due at once
	next, _ := inc.Next()
	if want := d.At.Add(2 * time.Minute); !next.At.Equal(want) {
		t.Fatalf("next step at %v, want %v (counted from the deadline, not from the late firing)", next.At, want)
	}
}

func TestEngineApplyDoesNotModifyItsInput(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	before := append([]Deadline(nil), inc.Pending...)
	d, _ := inc.Next()
	a1, x1 := engApply(t, e, inc, Event{Kind: EventDeadline, Deadline: d.ID}, d.At)
	a2, x2 := engApply(t, e, inc, Event{Kind: EventDeadline, Deadline: d.ID}, d.At)
	if !reflect.DeepEqual(inc.Pending, before) {
		t.Fatal("Apply changed the caller's pending deadlines")
	}
	if !reflect.DeepEqual(a1, a2) || !reflect.DeepEqual(x1, x2) {
		t.Fatal("Apply is not deterministic")
	}
	if _, acts := engApply(t, e, inc, Event{Kind: EventDeadline, Deadline: "no-such"}, d.At); len(acts) != 0 {
		t.Fatal("an unknown deadline acted")
	}
}

// TestEngineSurvivesAConfigThatShrank: an incident armed under a policy with
// three levels and unresolved/status rules keeps working after a reload to a
// policy with one level and no rules: its deadlines fire without a panic.
func TestEngineSurvivesAConfigThatShrank(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	inc, _ = engRun(t, e, inc, t0.Add(25*time.Minute)) // at the third level
	inc, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "d"}, t0.Add(26*time.Minute))
	if inc.Level != 2 {
		t.Fatalf("level %d", inc.Level)
	}
	small := strings.Replace(engConfig, `      - name: second
        targets: [{schedule: s, tier: secondary}, {user: b}]
        timeout: 10m
        timeouts: {P1: 20m}
      - name: third
        targets: [{user: d}]
        timeout: 10m
    unresolved:
      - {priorities: [P0], after: 1h, notify: [{level: second}, {user: d}]}
    missing_status_update:
      - {priorities: [P0], after: 30m}
`, "", 1)
	if small == engConfig {
		t.Fatal("edit did not apply")
	}
	c, err := Parse([]byte(small), "small.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e2 := &Engine{Config: c}
	for _, d := range inc.Pending {
		if _, _, err := e2.Apply(inc, Event{Kind: EventDeadline, Deadline: d.ID}, d.At); err != nil {
			t.Fatalf("%s: %v", d.Kind, err)
		}
	}
	if _, _, err := e2.Apply(inc, Event{Kind: EventEscalate}, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// TestEngineLevelRemovedMidLadderStillPagesTheNext: a reload takes out
// the level an incident is at. Levels were kept by index, so the incident
// stood at the next level (third) without its people ever paged, and the
// timeout of the removed level escalated past the end of the policy:
// nothing, silently; d, the third level, was never paged. Now the timeout
// goes to the level that was next when it was armed, by name.
func TestEngineLevelRemovedMidLadderStillPagesTheNext(t *testing.T) {
	cfg := strings.Replace(engConfig, "    repeat: 1\n", "", 1)
	c, err := Parse([]byte(cfg), "before.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Config: c}
	inc, _ := engTrigger(t, e, c.Service("svc"), "critical")
	inc, _ = engRun(t, e, inc, t0.Add(11*time.Minute)) // at second
	smaller := strings.Replace(cfg, `      - name: second
        targets: [{schedule: s, tier: secondary}, {user: b}]
        timeout: 10m
        timeouts: {P1: 20m}
`, "", 1)
	smaller = strings.Replace(smaller, "notify: [{level: second}, {user: d}]", "notify: [{user: d}]", 1)
	if c, err = Parse([]byte(smaller), "after.yaml", ""); err != nil {
		t.Fatal(err)
	}
	_, lines := engRun(t, &Engine{Config: c}, inc, t0.Add(59*time.Minute))
	if !slices.Contains(lines, "20m notify third d sms") {
		t.Fatalf("third level (d) not paged when second's timeout ran out: %v", lines)
	}
}

// engReload parses cfg with each old/new pair replaced, failing the test
// if one does not apply.
func engReload(t *testing.T, cfg string, edits ...string) *Engine {
	t.Helper()
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(cfg, edits[i]) {
			t.Fatalf("edit %q does not apply", edits[i])
		}
		cfg = strings.ReplaceAll(cfg, edits[i], edits[i+1])
	}
	c, err := Parse([]byte(cfg), "after.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	return &Engine{Config: c}
}

// engThirdLevel is engConfig's third level, as a reload takes it out.
const engThirdLevel = `      - name: third
        targets: [{user: d}]
        timeout: 10m
`

// TestEngineShrunkBelowTheIncidentGoesOnWithTheLadder: an incident at the
// third and last level of a policy that repeats once, when a reload takes
// that level out. Its timeout, armed at the level's index, no longer
// matched the level the incident stood at (the last there is now, the
// second) and was dropped: the repeat round never came, silently, and
// nobody was paged again. The policy's own behaviour past its last level
// goes on: the round repeats from the first level, and the timeline says
// why.
func TestEngineShrunkBelowTheIncidentGoesOnWithTheLadder(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	inc, lines := engRun(t, e, inc, t0.Add(25*time.Minute))
	if inc.Level != 2 || !slices.Contains(lines, "20m escalate third") {
		t.Fatalf("not at the third level: %d %v", inc.Level, lines)
	}
	e2 := engReload(t, engConfig, engThirdLevel, "")
	inc, acts := engApplyUntil(t, e2, inc, t0.Add(31*time.Minute))
	lines = engSummary(acts)
	if !slices.Contains(lines, "30m escalate first") || !slices.Contains(lines, "30m notify first a push") {
		t.Fatalf("after the reload, at the third level's timeout: %v, want the repeat round from the first level", lines)
	}
	for _, a := range acts {
		if a.Kind == ActionEscalate && !strings.Contains(a.Detail, "level 3, where it stood, is no longer in policy p") {
			t.Fatalf("the escalation does not say the level it came from is gone: %q", a.Detail)
		}
	}
	if inc.Level != 0 || inc.Round != 1 {
		t.Fatalf("after the repeat: level %d round %d", inc.Level, inc.Round)
	}
}

// TestEngineShrunkThenRestoredKeepsTheLastLevelsTimeout: an incident at
// the third and last level of a policy that repeats once; a reload takes
// that level out, and while it is out an event of the incident (a status
// update here; a page step fired by the dispatcher does the same) stores
// it at the last level there is then, the second. A reload that puts the
// level back (the first one undone, or a replica still on the old config
// in a rolling change) leaves its timeout, armed at the third level,
// above the level the incident is stored at: it was dropped as the
// timeout of a level left, and the repeat round never came. Nobody was
// paged again, and nothing said so; an "escalate" answering the third
// level's page was refused as answered already.
func TestEngineShrunkThenRestoredKeepsTheLastLevelsTimeout(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	inc, lines := engRun(t, e, inc, t0.Add(25*time.Minute))
	if inc.Level != 2 || !slices.Contains(lines, "20m escalate third") {
		t.Fatalf("not at the third level: %d %v", inc.Level, lines)
	}
	shrunk := engReload(t, engConfig, engThirdLevel, "")
	inc, _ = engApply(t, shrunk, inc, Event{Kind: EventStatusUpdate, Actor: "a", Message: "looking"}, t0.Add(26*time.Minute))

	// d answers the third level's page with "escalate": nobody escalated
	// from it, and the answer is taken.
	from := Event{Kind: EventEscalate, Actor: "d", FromLevel: 2, FromLevelSet: true, FromLevelAt: t0.Add(21 * time.Minute)}
	esc, acts, err := e.Apply(inc, from, t0.Add(27*time.Minute))
	if err != nil || !slices.Contains(engSummary(acts), "27m escalate third") ||
		!slices.ContainsFunc(esc.Pending, func(d Deadline) bool {
			return d.Kind == DeadlineNotify && d.User == "d" && d.At.Equal(t0.Add(27*time.Minute))
		}) {
		t.Fatalf("d's escalation from the third level, the level back: %v %v, want the level paged again", err, engSummary(acts))
	}

	inc, acts = engApplyUntil(t, e, inc, t0.Add(31*time.Minute))
	lines = engSummary(acts)
	if !slices.Contains(lines, "30m escalate first") || !slices.Contains(lines, "30m notify first a push") {
		t.Fatalf("the level back, at the third level's timeout: %v, want the repeat round from the first level", lines)
	}
	if inc.Level != 0 || inc.Round != 1 {
		t.Fatalf("after the repeat: level %d round %d", inc.Level, inc.Round)
	}
}

// TestEngineEscalateAfterAReloadTookOutAnEarlierLevel: an incident stands
// at level second of zero, first, second, third, fourth when a reload
// takes zero out. Its stored level is an index, and that index now holds
// third: Bob, paged at second, answers "escalate", and fourth was paged,
// third skipped, though second's timeout (armed by name) would have paged
// third. A manual escalation to the next level now goes where the level's
// timeout would, as a level nobody could be reached at does.
func TestEngineEscalateAfterAReloadTookOutAnEarlierLevel(t *testing.T) {
	withZero := strings.Replace(engConfig, "      - name: first\n",
		"      - name: zero\n        targets: [{user: c}]\n        timeout: 10m\n      - name: first\n", 1)
	withFourth := func(cfg string) string {
		return strings.Replace(cfg, engThirdLevel, engThirdLevel+"      - name: fourth\n        targets: [{user: c}]\n        timeout: 10m\n", 1)
	}
	c, err := Parse([]byte(withFourth(withZero)), "before.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Config: c}
	inc, _ := engTrigger(t, e, c.Service("svc"), "critical")
	inc, _ = engRun(t, e, inc, t0.Add(21*time.Minute))
	if inc.Level != 2 {
		t.Fatalf("at level %d, want second (2)", inc.Level)
	}
	after := engReload(t, withFourth(engConfig))
	from := Event{Kind: EventEscalate, Actor: "b", FromLevel: 2, FromLevelSet: true, FromLevelAt: t0.Add(20 * time.Minute)}
	_, acts := engApply(t, after, inc, from, t0.Add(22*time.Minute))
	if lines := engSummary(acts); len(lines) != 1 || lines[0] != "22m escalate third" {
		t.Fatalf("b's escalation from second after zero was taken out: %v, want third paged", lines)
	}
}

// TestEngineRenamedNextLevelIsStillPaged: a reload renames the level an
// incident at the first level escalates to next. The timeout names its
// target by the old name, which the policy no longer has: it goes to the
// level after the incident's, as it would have without a name, and the
// renamed level is paged.
func TestEngineRenamedNextLevelIsStillPaged(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	inc, _ = engRun(t, e, inc, t0.Add(5*time.Minute))
	e2 := engReload(t, engConfig, "      - name: second\n", "      - name: backup\n", "{level: second}", "{level: backup}")
	_, acts := engApplyUntil(t, e2, inc, t0.Add(11*time.Minute))
	if lines := engSummary(acts); !slices.Contains(lines, "10m escalate backup") || !slices.Contains(lines, "10m notify backup b push") {
		t.Fatalf("after the rename: %v, want the renamed level paged at the first level's timeout", lines)
	}
}

// engApplyUntil fires deadlines in order until none is left before end and
// returns every action.
func engApplyUntil(t *testing.T, e *Engine, inc Incident, end time.Time) (Incident, []Action) {
	t.Helper()
	var all []Action
	for {
		d, ok := inc.Next()
		if !ok || d.At.After(end) {
			return inc, all
		}
		var acts []Action
		inc, acts, _ = engFire(t, e, inc)
		all = append(all, acts...)
	}
}

// TestEngineRaisesPriorityOnAWorseRepeat: a low-urgency P3 whose alert
// fires again as critical becomes P0, is re-opened if acknowledged, and its
// current level is paged again on the high-urgency ladder; the same or a
// milder repeat changes nothing.
func TestEngineRaisesPriorityOnAWorseRepeat(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "info") // P3, low urgency: push only
	inc, _ = engRun(t, e, inc, t0.Add(time.Minute))
	inc, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "a"}, t0.Add(2*time.Minute))
	same := e.Config.Route(s, map[string]string{"severity": "info"}, t0)
	if again, acts := engApply(t, e, inc, Event{Kind: EventTrigger, Route: &same}, t0.Add(3*time.Minute)); len(acts) != 0 ||
		again.Priority != inc.Priority || again.Status != inc.Status || again.Seq != inc.Seq || len(again.Pending) != len(inc.Pending) {
		t.Fatalf("a repeat at the same priority acted: %v", acts)
	}
	worse := e.Config.Route(s, map[string]string{"severity": "critical"}, t0)
	inc, acts := engApply(t, e, inc, Event{Kind: EventTrigger, Route: &worse}, t0.Add(4*time.Minute))
	if inc.Priority != "P0" || inc.Urgency != UrgencyHigh || inc.Status != StatusTriggered {
		t.Fatalf("after a critical repeat: %s %s %s", inc.Priority, inc.Urgency, inc.Status)
	}
	if len(acts) != 1 || acts[0].Kind != ActionEscalate || !strings.Contains(acts[0].Detail, "priority raised from P3 to P0") {
		t.Fatalf("actions %v", acts)
	}
	// P0's unresolved rule applies now, counted from the raise.
	if got := engPendingAt(inc, DeadlineUnresolved); len(got) != 1 || !got[0].Equal(t0.Add(64*time.Minute)) {
		t.Fatalf("unresolved rule after the raise to P0: %v, want one at 1h after the raise", got)
	}
	_, lines := engRun(t, e, inc, t0.Add(9*time.Minute))
	want := []string{"4m notify first a push", "6m notify first a sms", "9m notify first a voice"}
	if !reflect.DeepEqual(lines, want) {
		t.Fatalf("after the raise: %v, want %v", lines, want)
	}
	milder := e.Config.Route(s, map[string]string{"severity": "warning"}, t0)
	if _, acts := engApply(t, e, inc, Event{Kind: EventTrigger, Route: &milder}, t0.Add(5*time.Minute)); len(acts) != 0 {
		t.Fatalf("a milder repeat acted: %v", acts)
	}
}

// TestEngineRaiseDoesNotHoldBackTheNextLevel: a P1 at the first level,
// paged on the high-urgency ladder (push, SMS, call), is raised to P0 at
// 8m, two minutes before the level's timeout. The raise pages the level
// again, but the next level was paged 10 minutes later than without the
// raise (at 18m, the P0's 10 minutes counted from the raise, not at 10m):
// the incident got worse, and the secondary heard of it later for that.
// The level's timeout keeps the earlier time, as the raise's SLA targets
// do. A level paged on the low-urgency ladder (push only) before the raise
// is paged loudly for the first time by it, and gets the new priority's
// whole timeout.
func TestEngineRaiseDoesNotHoldBackTheNextLevel(t *testing.T) {
	e, s := engLoad(t)
	worse := e.Config.Route(s, map[string]string{"severity": "critical"}, t0)
	for _, c := range []struct {
		sev, want string
	}{
		{"error", "10m escalate second"}, // P1, high urgency: already paged loudly
		{"info", "18m escalate second"},  // P3, low urgency: push only until the raise
	} {
		inc, _ := engTrigger(t, e, s, c.sev)
		inc, _ = engRun(t, e, inc, t0.Add(8*time.Minute))
		inc, _ = engApply(t, e, inc, Event{Kind: EventTrigger, Route: &worse}, t0.Add(8*time.Minute))
		_, lines := engRun(t, e, inc, t0.Add(19*time.Minute))
		var escalations []string
		for _, l := range lines {
			if strings.Contains(l, " escalate ") {
				escalations = append(escalations, l)
			}
		}
		if len(escalations) != 1 || escalations[0] != c.want {
			t.Errorf("%s raised to P0 at 8m: escalations %v, want %q", c.sev, escalations, c.want)
		}
	}
}

// TestEngineFailedSMSBringsTheCallForward: an SMS reported undelivered
// makes the person's next step (the call at 5m) due at once.
func TestEngineFailedSMSBringsTheCallForward(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	inc, _ = engRun(t, e, inc, t0.Add(2*time.Minute)) // push, SMS
	inc, acts := engApply(t, e, inc, Event{Kind: EventChannelFailed, Actor: "a", Channel: "sms"}, t0.Add(150*time.Second))
	if len(acts) != 0 {
		t.Fatalf("actions %v", acts)
	}
	_, lines := engRun(t, e, inc, t0.Add(6*time.Minute))
	if len(lines) == 0 || lines[0] != "2m30s notify first a voice" {
		t.Fatalf("after the failed SMS: %v", lines)
	}
	for _, l := range lines {
		if l == "5m notify first a voice" {
			t.Fatal("the call was sent twice")
		}
	}
}

// TestEngineFailureBroughtForwardAlreadyCountsItsStepOnly: a delivery
// report that came before its SMS was recorded brought the call forward
// without naming the SMS's step; the write that records the SMS counts
// the step (BroughtForward). That write must not bring a step forward
// again: the call here, still at its own time, stands for whatever step
// of Ann's comes next, which moved would page her ahead of her ladder a
// second time for one report.
func TestEngineFailureBroughtForwardAlreadyCountsItsStepOnly(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	inc, _ = engRun(t, e, inc, t0.Add(time.Minute)) // push
	before := slices.Clone(inc.LevelPages)
	inc, _ = engRun(t, e, inc, t0.Add(2*time.Minute)) // SMS
	sms := slices.DeleteFunc(slices.Clone(inc.LevelPages), func(id string) bool { return slices.Contains(before, id) })
	if len(sms) != 1 {
		t.Fatalf("level pages %v after %v: want the SMS's step added", inc.LevelPages, before)
	}
	call := slices.IndexFunc(inc.Pending, func(d Deadline) bool { return d.Kind == DeadlineNotify && d.User == "a" && d.Channel == "voice" })
	if call < 0 {
		t.Fatalf("no call pending: %+v", inc.Pending)
	}
	callAt := inc.Pending[call].At
	after, acts := engApply(t, e, inc, Event{Kind: EventChannelFailed, Actor: "a", Channel: "sms", Step: sms[0], BroughtForward: true}, t0.Add(150*time.Second))
	if len(acts) != 0 {
		t.Fatalf("actions %v", acts)
	}
	if slices.Contains(after.LevelPages, sms[0]) {
		t.Errorf("level pages %v: the SMS's step still counts as gone out", after.LevelPages)
	}
	i := slices.IndexFunc(after.Pending, func(d Deadline) bool { return d.ID == inc.Pending[call].ID })
	if i < 0 || !after.Pending[i].At.Equal(callAt) {
		t.Errorf("the call after the SMS's step was counted: %+v, want it at %s still", after.Pending, callAt)
	}
}

// TestEngineStepBroughtForwardKeepsItsID: the call a failed SMS brings
// forward is the same step at another time, with the call's id and order.
// A dispatcher placing the call by that id when the report came (on a
// replica whose clock is a little behind) finds it done once it fires it
// on the moved state, and nothing of the person's is due again: under a
// new id, the call was placed twice.
func TestEngineStepBroughtForwardKeepsItsID(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	inc, _ = engRun(t, e, inc, t0.Add(2*time.Minute)) // push, SMS
	isCall := func(d Deadline) bool { return d.Kind == DeadlineNotify && d.User == "a" && d.Channel == "voice" }
	i := slices.IndexFunc(inc.Pending, isCall)
	if i < 0 {
		t.Fatalf("no call pending: %+v", inc.Pending)
	}
	call := inc.Pending[i]
	at := call.At.Add(-time.Second)
	moved, _ := engApply(t, e, inc, Event{Kind: EventChannelFailed, Actor: "a", Channel: "sms"}, at)
	j := slices.IndexFunc(moved.Pending, isCall)
	if j < 0 || moved.Pending[j].ID != call.ID || moved.Pending[j].Seq != call.Seq || !moved.Pending[j].At.Equal(at) {
		t.Fatalf("call after the failed SMS: %+v; want id %s, seq %d, due at %s", moved.Pending, call.ID, call.Seq, at)
	}
	after, acts := engApply(t, e, moved, Event{Kind: EventDeadline, Deadline: call.ID}, call.At)
	if got := engSummary(acts); len(got) != 1 || got[0] != "4m59s notify first a voice" {
		t.Fatalf("the call fired by its id: %v", got)
	}
	if _, lines := engRun(t, e, after, t0.Add(14*time.Minute)); slices.ContainsFunc(lines, func(l string) bool { return strings.HasSuffix(l, " a voice") }) {
		t.Fatalf("the call came due again: %v", lines)
	}
}

// TestEngineCountsReopensAfterAcknowledgement: Reopened is what keys a
// page after a reopen apart from the pages acknowledged before it (the
// PagerDuty dedup key), so it moves on every acknowledged → triggered
// change, on nothing else, and survives a new life after a resolve.
func TestEngineCountsReopensAfterAcknowledgement(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	inc, _ = engApply(t, e, inc, Event{Kind: EventEscalate, Actor: "a"}, t0.Add(time.Minute))
	if inc.Reopened != 0 {
		t.Fatalf("an escalation of a triggered incident reopens nothing: reopened %d", inc.Reopened)
	}
	for i := 1; i <= 2; i++ {
		inc, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "a"}, t0.Add(time.Duration(2*i)*time.Minute))
		if inc.Reopened != i-1 {
			t.Fatalf("an acknowledgement reopens nothing: reopened %d", inc.Reopened)
		}
		inc, _ = engApply(t, e, inc, Event{Kind: EventEscalate, Actor: "a"}, t0.Add(time.Duration(2*i+1)*time.Minute))
		if inc.Status != StatusTriggered || inc.Reopened != i {
			t.Fatalf("escalation %d after an acknowledgement: status %s, reopened %d, want %d", i, inc.Status, inc.Reopened, i)
		}
	}
	res, _ := engApply(t, e, inc, Event{Kind: EventResolve}, t0.Add(time.Hour))
	rt := e.Config.Route(s, map[string]string{"severity": "critical"}, t0)
	fresh, _ := engApply(t, e, res, Event{Kind: EventTrigger, Route: &rt}, t0.Add(2*time.Hour))
	if fresh.Reopened != 2 {
		t.Fatalf("a new life after a resolve must keep the count (keys stay apart): reopened %d", fresh.Reopened)
	}
}

// TestIncidentOfAServiceGoneCanOnlyBeResolved: an incident whose service
// left the config cannot be paged, acknowledged or escalated
// (ErrUnknownService: nothing says how), but it can be resolved, which
// needs nothing of the service, so that it can be closed.
func TestIncidentOfAServiceGoneCanOnlyBeResolved(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	gone, err := Parse([]byte(strings.Replace(engConfig, "  - name: svc\n", "  - name: svc2\n", 1)), "engine.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e = &Engine{Config: gone}
	for _, ev := range []Event{{Kind: EventAcknowledge, Actor: "a"}, {Kind: EventDeadline, Deadline: inc.Pending[0].ID}, {Kind: EventEscalate}} {
		if _, _, err := e.Apply(inc, ev, t0.Add(time.Minute)); !errors.Is(err, ErrUnknownService) {
			t.Errorf("%s: %v, want ErrUnknownService", ev.Kind, err)
		}
	}
	got, acts, err := e.Apply(inc, Event{Kind: EventResolve, Actor: "a"}, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusResolved || got.ResolvedBy != "a" || len(got.Pending) != 0 || len(acts) != 1 || acts[0].Kind != ActionResolve {
		t.Errorf("resolved: status %s by %q, pending %v, actions %+v", got.Status, got.ResolvedBy, got.Pending, acts)
	}
}

// TestEngineRefusesAcknowledgementOfAPageBeforeTheReopen: an
// acknowledgement that names the reopen count of the page it answers
// (AckReopened) acknowledges only when the incident has not been reopened
// since; one sent before the reopen changes nothing, so the pages after the
// reopen go on. A resolve is not checked: resolving from any page is fine.
func TestEngineRefusesAcknowledgementOfAPageBeforeTheReopen(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	inc, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "a", AckReopenedSet: true}, t0.Add(time.Minute))
	if inc.Status != StatusAcknowledged {
		t.Fatalf("an acknowledgement of the current page: status %s", inc.Status)
	}
	inc, _ = engApply(t, e, inc, Event{Kind: EventEscalate, Actor: "a"}, t0.Add(2*time.Minute))
	if inc.Status != StatusTriggered || inc.Reopened != 1 {
		t.Fatalf("escalation after the acknowledgement: status %s, reopened %d", inc.Status, inc.Reopened)
	}
	stale := Event{Kind: EventAcknowledge, Actor: "a", AckReopened: 0, AckReopenedSet: true}
	got, acts, err := e.Apply(inc, stale, t0.Add(3*time.Minute))
	if !errors.Is(err, ErrReopenedSince) || len(acts) != 0 || got.Status != StatusTriggered || len(got.Pending) != len(inc.Pending) {
		t.Fatalf("acknowledgement of the page before the reopen: err %v, %d actions, status %s, %d of %d deadlines pending",
			err, len(acts), got.Status, len(got.Pending), len(inc.Pending))
	}
	cur := Event{Kind: EventAcknowledge, Actor: "a", AckReopened: 1, AckReopenedSet: true}
	if got, _ = engApply(t, e, inc, cur, t0.Add(3*time.Minute)); got.Status != StatusAcknowledged {
		t.Fatalf("acknowledgement of the page after the reopen: status %s", got.Status)
	}
	if got, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "a"}, t0.Add(3*time.Minute)); got.Status != StatusAcknowledged {
		t.Fatalf("acknowledgement naming no page: status %s", got.Status)
	}
	if got, _ = engApply(t, e, inc, Event{Kind: EventResolve, Actor: "a"}, t0.Add(3*time.Minute)); got.Status != StatusResolved {
		t.Fatalf("resolve after the reopen: status %s", got.Status)
	}
}

// engUserA is engConfig's user a, as a reload that removes her takes her
// out.
const engUserA = "  - {id: a, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}\n"

// TestEngineReloadRemovingThePersonPagedPagesWhoeverHoldsTheTier: a reload
// removes a, whose P0 ladder at the first level has sent its push, and
// gives her place in the primary tier to c. a's SMS and call failed (no
// contact in the config) and c, who holds the tier now, was paged only
// when the level timed out (10m). Now a's steps are dropped and the level
// is paged again at her next step's time: c's ladder starts at 2m, and
// the level still times out at 10m.
func TestEngineReloadRemovingThePersonPagedPagesWhoeverHoldsTheTier(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	inc, acts, _ := engFire(t, e, inc)
	if got := engSummary(acts); !slices.Equal(got, []string{"0s notify first a push"}) {
		t.Fatalf("first page: %v", got)
	}
	e2 := engReload(t, engConfig, engUserA, "", "members: [a, b]", "members: [c, b]")
	inc, acts = engApplyUntil(t, e2, inc, t0.Add(11*time.Minute))
	got := engSummary(acts)
	want := []string{
		"2m escalate first",
		"2m notify first c push",
		"4m notify first c sms",
		"5m sla_breach first acknowledge",
		"7m notify first c voice",
		"10m escalate second",
		"10m notify second b push",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after the reload:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := acts[0].Detail; d != "a is no longer in the config: level first paged again" || !IsPagedAgain(d) {
		t.Fatalf("the timeline says %q", d)
	}
	if IsPagedAgain(acts[5].Detail) {
		t.Fatalf("the timeout's escalation %q is taken for a page again", acts[5].Detail)
	}
	for _, d := range inc.Pending {
		if d.User == "a" {
			t.Fatalf("a step of a is still pending: %+v", d)
		}
	}
}

// TestEngineReloadTakingAContactMovesOnWithoutRepeatingAPage: a reload
// takes a's SMS and calls away while her P0 ladder at the first level
// runs (her push sent at 0). At her SMS step (2m) none of her next steps
// had a channel she still had, and her ladder as the config has it now
// started over then: push first, again. Now the steps of that ladder on
// a channel this page went out on are left out: her new channels are
// paged from 2m on, keeping their spacing; with none (push alone) she
// is treated as a person the reload removed, and the level is paged
// again without her: someone else on it is being paged already, so the
// level keeps its timeout, or nobody else is, and the next level is
// paged at once rather than at the timeout.
func TestEngineReloadTakingAContactMovesOnWithoutRepeatingAPage(t *testing.T) {
	const (
		levelC  = "        targets: [{schedule: s, tier: primary}]\n"
		pushA   = "  - {id: a, name: Ann, contacts: [{channel: push, via: log}]}\n"
		channel = "  - {id: a, name: Ann, contacts: [{channel: push, via: log}, {channel: email, via: log, address: a@example.com}, {channel: slack, via: log, address: U0A1B2C3D}], " +
			"notification_rules: {high: [{after: 0s, channel: push}, {after: 1m, channel: email}, {after: 3m, channel: slack}]}}\n"
	)
	withC := []string{levelC, "        targets: [{schedule: s, tier: primary}, {user: c}]\n"}
	for _, tc := range []struct {
		name          string
		before, after []string
		want          []string
		detail        string
	}{{
		name:  "new channels",
		after: []string{engUserA, channel},
		want: []string{
			"2m escalate first",
			"2m notify first a email",
			"4m notify first a slack",
			"5m sla_breach first acknowledge",
			"10m escalate second",
			"10m notify second b push",
		},
		detail: "a has no sms contact in the config any more: paged again at level first, on their channels as the config has them now that this page has not used (email, slack)",
	}, {
		name:  "push alone",
		after: []string{engUserA, pushA},
		want: []string{
			"2m escalate second",
			"2m notify second b push",
			"4m notify second b sms",
			"5m sla_breach second acknowledge",
			"7m notify second b voice",
		},
		detail: "a has no sms contact in the config any more, nor a channel this page has not used and level first has nobody else to page: escalated at once",
	}, {
		name:   "push alone, someone else paged at the level",
		before: withC,
		after:  append([]string{engUserA, pushA}, withC...),
		want: []string{
			"2m escalate first",
			"2m notify first c sms",
			"5m sla_breach first acknowledge",
			"5m notify first c voice",
			"10m escalate second",
			"10m notify second b push",
		},
		detail: "a has no sms contact in the config any more, nor a channel this page has not used: level first is being paged already (c)",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			e := engReload(t, engConfig, tc.before...)
			inc, _ := engTrigger(t, e, e.Config.Service("svc"), "critical")
			inc, acts := engApplyUntil(t, e, inc, t0)
			if got := engSummary(acts); !slices.Contains(got, "0s notify first a push") {
				t.Fatalf("first page: %v", got)
			}
			e2 := engReload(t, engConfig, tc.after...)
			_, acts = engApplyUntil(t, e2, inc, t0.Add(11*time.Minute))
			if got := engSummary(acts); !slices.Equal(got, tc.want) {
				t.Fatalf("after the reload:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if d := acts[0].Detail; d != tc.detail {
				t.Fatalf("the timeline says %q, want %q", d, tc.detail)
			}
			// An entry that leaves the incident at its level is no
			// escalation (reports, pagerd_escalations_total).
			if stays := acts[0].Level == 0; IsPagedAgain(acts[0].Detail) != stays {
				t.Fatalf("IsPagedAgain(%q) = %v for an entry at level %d", acts[0].Detail, !stays, acts[0].Level+1)
			}
		})
	}
}

// TestEngineReloadRemovingThePersonPagedFromALevelLeftEmpty: the reload
// removes a and the first level is left with nobody on call (the tier is
// held in office hours only, and it is 03:00). As when a level pages nobody as it starts, the
// next level is paged at once rather than after the first level's
// timeout, and the timeline says why.
func TestEngineReloadRemovingThePersonPagedFromALevelLeftEmpty(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	inc, _, _ = engFire(t, e, inc)
	e2 := engReload(t, engConfig, engUserA, "", "      - {name: primary, start: 2025-01-06, members: [a, b]}\n", `      - name: primary
        layers:
          - name: office
            start: 2025-01-06
            members: [c, b]
            restrictions: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]
`)
	inc, acts := engApplyUntil(t, e2, inc, t0.Add(3*time.Minute))
	got := engSummary(acts)
	if !slices.Equal(got, []string{"2m escalate second", "2m notify second b push"}) {
		t.Fatalf("after the reload: %v", got)
	}
	if d := acts[0].Detail; d != "a is no longer in the config and level first pages nobody (nobody is on call for it): escalated at once" || IsPagedAgain(d) {
		t.Fatalf("the timeline says %q", d)
	}
	if inc.Level != 1 {
		t.Fatalf("level %d, want second", inc.Level)
	}
}

// TestEngineContactGoneAtTheLastLevelUnpagedIsPagedNobody: d, alone at
// the last level of a policy that does not repeat, loses her SMS (her
// only channel) in a reload between the level's start and her first step,
// and is left with no step for the page's urgency: her page never went
// out (Deadline.Sent is empty). levelWithout took her still being in the
// config for her having been reached: the timeline said the level "has
// nobody else to page" and the escalation was not marked as one that
// reached nobody, so nobody learnt of a page that went nowhere. A config
// that loads gives everyone a ladder for each urgency; the test takes
// d's away after loading to stand for one that does not.
func TestEngineContactGoneAtTheLastLevelUnpagedIsPagedNobody(t *testing.T) {
	const noRepeat = "    repeat: 1\n"
	e := engReload(t, engConfig, noRepeat, "")
	inc, _ := engTrigger(t, e, e.Config.Service("svc"), "critical")
	inc, _ = engRun(t, e, inc, t0.Add(20*time.Minute-time.Second))
	inc, acts, _ := engFire(t, e, inc)
	if got := engSummary(acts); !slices.Contains(got, "20m escalate third") || inc.Level != 2 {
		t.Fatalf("at 20m: %v, level %d, want the third level", got, inc.Level+1)
	}
	if d, ok := inc.Next(); !ok || d.Kind != DeadlineNotify || d.User != "d" || len(d.Sent) != 0 {
		t.Fatalf("next step %+v, want d's first, with nothing sent", d)
	}
	e2 := engReload(t, engConfig, noRepeat, "",
		"    contacts: [{channel: sms, via: log}]\n", "    contacts: [{channel: email, via: log, address: d@example.com}]\n",
		"    notification_rules:\n      high: [{after: 0s, channel: sms}, {after: 1m, channel: sms}]\n", "")
	e2.Config.User("d").NotificationRules.High = nil
	inc, acts = engApplyUntil(t, e2, inc, t0.Add(21*time.Minute))
	if len(acts) != 1 || acts[0].Kind != ActionEscalate || !acts[0].PagedNobody {
		t.Fatalf("after the reload: %+v, want one escalate entry marked as reaching nobody", acts)
	}
	const want = "d has no sms contact in the config any more, nor a channel this page has not used: level third pages nobody"
	if d := acts[0].Detail; !strings.HasPrefix(d, want) || strings.Contains(d, "has nobody else to page") {
		t.Fatalf("the timeline says %q, want it to start %q", d, want)
	}
	if inc.Level != 2 || slices.ContainsFunc(inc.Pending, func(d Deadline) bool { return d.Kind == DeadlineNotify }) {
		t.Fatalf("level %d, pending %+v: want the third level, no page left", inc.Level+1, inc.Pending)
	}
}

// TestSentMarksOnlyThePageOfItsLevel: a person paged at two levels at once
// (an unresolved rule's level beside the incident's) has two pages; the
// push of the first is not the second's, so a reload that takes their SMS
// away still pushes the second (contactGone reads Deadline.Sent).
func TestSentMarksOnlyThePageOfItsLevel(t *testing.T) {
	r := &run{inc: Incident{Pending: []Deadline{
		{Kind: DeadlineNotify, Level: 0, User: "a", Channel: ChannelSMS},
		{Kind: DeadlineNotify, Level: 2, User: "a", Channel: ChannelPush},
		{Kind: DeadlineNotify, Level: 0, User: "b", Channel: ChannelSMS},
	}}}
	r.sent(Deadline{Kind: DeadlineNotify, Level: 0, User: "a", Channel: ChannelPush})
	got := [][]string{r.inc.Pending[0].Sent, r.inc.Pending[1].Sent, r.inc.Pending[2].Sent}
	if !slices.Equal(got[0], []string{ChannelPush}) || got[1] != nil || got[2] != nil {
		t.Fatalf("Sent after a's push at level 1: %q, want only a's level-1 step marked", got)
	}
}

// TestAcknowledgedByAtOfARecordFromBefore: a record written before
// LastAcknowledgedAt was kept says when its acknowledger acknowledged only
// if it was never reopened (then it was acknowledged once, at
// AcknowledgedAt); reopened, the latest acknowledgement may be anyone's at
// any time since, and an answer had better give no time than the first
// acknowledgement's with the latest acknowledger's name.
func TestAcknowledgedByAtOfARecordFromBefore(t *testing.T) {
	first, again := t0.Add(time.Minute), t0.Add(20*time.Minute)
	for _, c := range []struct {
		name string
		inc  Incident
		want time.Time
	}{
		{"never acknowledged", Incident{}, time.Time{}},
		{"acknowledged once, from before", Incident{AcknowledgedAt: first, AcknowledgedBy: "a"}, first},
		{"reopened and acknowledged again, from before", Incident{AcknowledgedAt: first, AcknowledgedBy: "b", Reopened: 1}, time.Time{}},
		{"reopened and acknowledged again", Incident{AcknowledgedAt: first, AcknowledgedBy: "b", Reopened: 1, LastAcknowledgedAt: again}, again},
	} {
		if got := c.inc.AcknowledgedByAt(); !got.Equal(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

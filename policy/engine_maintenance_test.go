package policy

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// engTriggerHeld triggers a critical alert inside a maintenance window
// that ends at t0+until.
func engTriggerHeld(t *testing.T, e *Engine, s *Service, until time.Duration) (Incident, []Action) {
	t.Helper()
	rt := e.Config.Route(s, map[string]string{"severity": "critical"}, t0)
	h := &Hold{ID: "mw-1", Name: "db upgrade", Until: t0.Add(until)}
	inc, acts, err := e.Apply(Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt, Hold: h}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return inc, acts
}

// TestEngineHeldTriggerPagesNobodyUntilTheWindowEnds: an alert inside a
// maintenance window opens an incident that says so and arms no page, no
// escalation, no unresolved rule and no SLA target (their clocks are
// paused: nobody is paged, so nobody can be late); when the window ends it
// is paged as new, from level 1, on the whole ladder, its targets counted
// from then.
func TestEngineHeldTriggerPagesNobodyUntilTheWindowEnds(t *testing.T) {
	e, s := engLoad(t)
	inc, acts := engTriggerHeld(t, e, s, 30*time.Minute)
	if len(acts) != 1 || acts[0].Kind != ActionMaintenance || !strings.Contains(acts[0].Detail, "in maintenance window db upgrade (mw-1)") {
		t.Fatalf("trigger actions %+v: want one maintenance entry naming the window", acts)
	}
	if inc.Maintenance == nil || inc.Maintenance.ID != "mw-1" {
		t.Fatalf("incident not held: %+v", inc.Maintenance)
	}
	k := engPendingKinds(inc)
	if k[DeadlineNotify] != 0 || k[DeadlineEscalate] != 0 || k[DeadlineUnresolved] != 0 || k[DeadlineMaintenance] != 1 || k[DeadlineSLA] != 0 {
		t.Fatalf("pending while held: %v", k)
	}
	if want := []PausedTarget{{"acknowledge", 5 * time.Minute}, {"status_update", 30 * time.Minute}}; !reflect.DeepEqual(inc.PausedTargets, want) {
		t.Fatalf("paused targets %v, want %v", inc.PausedTargets, want)
	}
	// Nothing until the window's end, then the ladder and the targets from
	// the window's end, as for a new incident.
	inc, lines := engRun(t, e, inc, t0.Add(36*time.Minute))
	want := []string{"30m maintenance first", "30m notify first a push",
		"32m notify first a sms", "35m sla_breach first acknowledge", "35m notify first a voice"}
	if !reflect.DeepEqual(lines, want) {
		t.Fatalf("held then released:\n got %q\nwant %q", lines, want)
	}
	if inc.Maintenance != nil {
		t.Fatalf("still held after the window ended: %+v", inc.Maintenance)
	}
	// Its escalation and unresolved rule count from the release.
	var esc, unres time.Time
	for _, d := range inc.Pending {
		switch d.Kind {
		case DeadlineEscalate:
			esc = d.At
		case DeadlineUnresolved:
			unres = d.At
		}
	}
	if !esc.Equal(t0.Add(40*time.Minute)) || !unres.Equal(t0.Add(90*time.Minute)) {
		t.Fatalf("escalation at %v, unresolved at %v: want 10m and 1h after the window's end", esc.Sub(t0), unres.Sub(t0))
	}
}

// TestEngineHoldStopsPendingPagesOfAnOpenIncident: a window that starts
// over an open incident cancels its pending pages and escalation; an
// incident acknowledged meanwhile is not paged when the window ends.
func TestEngineHoldStopsPendingPagesOfAnOpenIncident(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	inc, _, _ = engFire(t, e, inc) // the push at 0s
	h := &Hold{ID: "mw-2", Until: t0.Add(time.Hour)}
	inc, acts := engApply(t, e, inc, Event{Kind: EventHold, Hold: h}, t0.Add(time.Minute))
	if len(acts) != 1 || acts[0].Kind != ActionMaintenance || !strings.Contains(acts[0].Detail, "maintenance window mw-2 started") {
		t.Fatalf("hold actions %+v", acts)
	}
	if k := engPendingKinds(inc); k[DeadlineNotify] != 0 || k[DeadlineEscalate] != 0 || k[DeadlineUnresolved] != 0 {
		t.Fatalf("pages still pending while held: %v", k)
	}
	// A window ending earlier changes nothing; the same one neither.
	for _, other := range []*Hold{{ID: "mw-3", Until: t0.Add(30 * time.Minute)}, h} {
		if _, acts := engApply(t, e, inc, Event{Kind: EventHold, Hold: other}, t0.Add(2*time.Minute)); len(acts) != 0 {
			t.Fatalf("a window ending no later took over: %+v", acts)
		}
	}
	// Acknowledged while held: the window's end pages nobody (until the
	// missing-status-update rule, 30m after it, as for any acknowledged
	// incident).
	inc, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "a"}, t0.Add(10*time.Minute))
	if k := engPendingKinds(inc); k[DeadlineStatusUpdate] != 0 {
		t.Fatalf("the status-update escalation was armed while held: %v", k)
	}
	inc, lines := engRun(t, e, inc, t0.Add(80*time.Minute))
	for _, l := range lines {
		if strings.Contains(l, "notify") {
			t.Fatalf("an acknowledged incident was paged when its window ended: %q", lines)
		}
	}
	if inc.Maintenance != nil || engPendingKinds(inc)[DeadlineStatusUpdate] != 1 {
		t.Fatalf("after the window: held %v, pending %v; want released with its status-update clock back", inc.Maintenance, engPendingKinds(inc))
	}
	// Its unresolved rule is back too, counted from the window's end.
	if got := engPendingAt(inc, DeadlineUnresolved); len(got) != 1 || !got[0].Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("unresolved rule after the window: %v; want one, 1h after the window's end", got)
	}
}

// engPendingAt is when the pending deadlines of a kind are due, in order.
func engPendingAt(inc Incident, kind DeadlineKind) []time.Time {
	var out []time.Time
	for _, d := range inc.Pending {
		if d.Kind == kind {
			out = append(out, d.At)
		}
	}
	return out
}

// TestEngineAcknowledgedBeforeTheWindowKeepsItsUnresolvedRule: an
// incident acknowledged before a window starts over it, and released by
// the window's end, is still open: its unresolved rule comes back,
// counted from the window's end, and fires (it used to be dropped for
// good, so nobody was paged about an incident left open).
func TestEngineAcknowledgedBeforeTheWindowKeepsItsUnresolvedRule(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	inc, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "a"}, t0.Add(2*time.Minute))
	if got := engPendingAt(inc, DeadlineUnresolved); len(got) != 1 || !got[0].Equal(t0.Add(time.Hour)) {
		t.Fatalf("unresolved rule when acknowledged: %v; want one at 1h", got)
	}
	inc, _ = engApply(t, e, inc, Event{Kind: EventHold, Hold: &Hold{ID: "mw-4", Until: t0.Add(90 * time.Minute)}}, t0.Add(5*time.Minute))
	if got := engPendingAt(inc, DeadlineUnresolved); len(got) != 0 {
		t.Fatalf("unresolved rule armed while held: %v", got)
	}
	inc, lines := engRun(t, e, inc, t0.Add(90*time.Minute))
	if want := []string{"1h30m maintenance first"}; !reflect.DeepEqual(lines, want) {
		t.Fatalf("held:\n got %q\nwant %q", lines, want)
	}
	if got := engPendingAt(inc, DeadlineUnresolved); len(got) != 1 || !got[0].Equal(t0.Add(150*time.Minute)) {
		t.Fatalf("unresolved rule after the window: %v; want one, 1h after the window's end (2h30m)", got)
	}
	// Status updates after the window keep the missing-update rule
	// quiet: what fires at 2h30m is the unresolved rule.
	for _, at := range []time.Duration{100 * time.Minute, 125 * time.Minute} {
		inc, _ = engApply(t, e, inc, Event{Kind: EventStatusUpdate, Actor: "a"}, t0.Add(at))
	}
	_, lines = engRun(t, e, inc, t0.Add(150*time.Minute))
	want := []string{"2h30m escalate third", "2h30m notify second b push", "2h30m notify third d sms"}
	if !reflect.DeepEqual(lines, want) {
		t.Fatalf("after the window:\n got %q\nwant %q", lines, want)
	}
}

// TestEngineAcknowledgedDuringTheWindowKeepsItsUnresolvedRule: the same
// for an incident that opened held and was acknowledged before the
// window ended.
func TestEngineAcknowledgedDuringTheWindowKeepsItsUnresolvedRule(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTriggerHeld(t, e, s, 30*time.Minute)
	inc, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "a"}, t0.Add(10*time.Minute))
	inc, _ = engApply(t, e, inc, Event{Kind: EventRelease, Hold: &Hold{ID: "mw-1"}}, t0.Add(20*time.Minute))
	if inc.Maintenance != nil {
		t.Fatalf("still held: %+v", inc.Maintenance)
	}
	if got := engPendingAt(inc, DeadlineUnresolved); len(got) != 1 || !got[0].Equal(t0.Add(80*time.Minute)) {
		t.Fatalf("unresolved rule after the window was deleted: %v; want one, 1h after (1h20m)", got)
	}
}

// TestEngineReleaseEarly: a window deleted early releases the incidents it
// holds (and only those), or hands them to another window that still
// covers them without paging in between.
func TestEngineReleaseEarly(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTriggerHeld(t, e, s, 2*time.Hour)
	if _, acts := engApply(t, e, inc, Event{Kind: EventRelease, Hold: &Hold{ID: "other"}}, t0.Add(time.Minute)); len(acts) != 0 {
		t.Fatalf("another window's end released it: %+v", acts)
	}
	then := &Hold{ID: "mw-9", Until: t0.Add(3 * time.Hour)}
	handed, acts := engApply(t, e, inc, Event{Kind: EventRelease, Hold: &Hold{ID: "mw-1"}, Then: then}, t0.Add(time.Minute))
	if handed.Maintenance == nil || handed.Maintenance.ID != "mw-9" || engPendingKinds(handed)[DeadlineNotify] != 0 || len(acts) != 1 {
		t.Fatalf("handed over: held by %+v, pending %v, actions %+v", handed.Maintenance, engPendingKinds(handed), acts)
	}
	released, acts := engApply(t, e, inc, Event{Kind: EventRelease, Hold: &Hold{ID: "mw-1"}}, t0.Add(time.Minute))
	if released.Maintenance != nil || engPendingKinds(released)[DeadlineNotify] != 3 || engPendingKinds(released)[DeadlineMaintenance] != 0 {
		t.Fatalf("released: held by %+v, pending %v", released.Maintenance, engPendingKinds(released))
	}
	if len(acts) != 1 || !strings.Contains(acts[0].Detail, "ended: still firing, paged as new") {
		t.Fatalf("release actions %+v", acts)
	}
	if got := engPendingAt(handed, DeadlineUnresolved); len(got) != 0 {
		t.Fatalf("unresolved rule armed when handed to another window: %v", got)
	}
	if got := engPendingAt(released, DeadlineUnresolved); len(got) != 1 || !got[0].Equal(t0.Add(61*time.Minute)) {
		t.Fatalf("unresolved rule after an early release: %v; want one, 1h after it", got)
	}
}

// TestEngineEscalateLiftsTheHold: a person escalating a held incident is
// asking for pages: the window no longer holds it.
func TestEngineEscalateLiftsTheHold(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTriggerHeld(t, e, s, 2*time.Hour)
	inc, acts := engApply(t, e, inc, Event{Kind: EventEscalate, Actor: "a"}, t0.Add(time.Minute))
	if inc.Maintenance != nil || engPendingKinds(inc)[DeadlineNotify] == 0 || engPendingKinds(inc)[DeadlineMaintenance] != 0 {
		t.Fatalf("escalated: held by %+v, pending %v", inc.Maintenance, engPendingKinds(inc))
	}
	if acts[0].Kind != ActionMaintenance || !strings.Contains(acts[0].Detail, "paged despite maintenance window") {
		t.Fatalf("escalate actions %+v", acts)
	}
	// The escalation lifted the hold: the unresolved rule the hold had
	// cancelled is armed again, counted from the escalation, and fires.
	if got := engPendingAt(inc, DeadlineUnresolved); len(got) != 1 || !got[0].Equal(t0.Add(61*time.Minute)) {
		t.Fatalf("unresolved rule after escalating a held incident: %v; want one, 1h after it", got)
	}
	inc, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "b"}, t0.Add(2*time.Minute))
	inc, _ = engApply(t, e, inc, Event{Kind: EventStatusUpdate, Actor: "b"}, t0.Add(40*time.Minute))
	_, lines := engRun(t, e, inc, t0.Add(61*time.Minute))
	// b, who acknowledged it, is not paged by the rule; d is.
	if want := []string{"1h1m escalate third", "1h1m already_acknowledged second b", "1h1m notify third d sms"}; !reflect.DeepEqual(lines, want) {
		t.Fatalf("after the escalation:\n got %q\nwant %q", lines, want)
	}
}

// TestEngineWindowEscalatedPastDoesNotHoldAgain: a person escalated a held
// incident, asking for pages despite the window. The window's start sweeps
// again (Settle later), and a reload re-arms it: holding the incident
// again would stop the pages the person asked for, and page nobody of the
// level they escalated to until the window ends. Another window holds it.
func TestEngineWindowEscalatedPastDoesNotHoldAgain(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTriggerHeld(t, e, s, 2*time.Hour)
	inc, _ = engApply(t, e, inc, Event{Kind: EventEscalate, Actor: "a"}, t0.Add(time.Minute))
	pending := engPendingKinds(inc)[DeadlineNotify]
	again, acts := engApply(t, e, inc, Event{Kind: EventHold, Hold: &Hold{ID: "mw-1", Name: "db upgrade", Until: t0.Add(2 * time.Hour)}}, t0.Add(2*time.Minute))
	if again.Maintenance != nil || engPendingKinds(again)[DeadlineNotify] != pending || len(acts) != 0 {
		t.Fatalf("the window escalated past held it again: held by %+v, pending %v, actions %+v", again.Maintenance, engPendingKinds(again), acts)
	}
	other, _ := engApply(t, e, inc, Event{Kind: EventHold, Hold: &Hold{ID: "mw-2", Name: "network", Until: t0.Add(3 * time.Hour)}}, t0.Add(2*time.Minute))
	if other.Maintenance == nil || other.Maintenance.ID != "mw-2" {
		t.Fatalf("another window did not hold it: %+v", other.Maintenance)
	}
}

// TestEngineEscalateKeepsTheUnresolvedClock: escalating an incident that
// was never held does not restart its unresolved rule.
func TestEngineEscalateKeepsTheUnresolvedClock(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTrigger(t, e, s, "critical")
	inc, _ = engApply(t, e, inc, Event{Kind: EventEscalate, Actor: "a"}, t0.Add(3*time.Minute))
	if got := engPendingAt(inc, DeadlineUnresolved); len(got) != 1 || !got[0].Equal(t0.Add(time.Hour)) {
		t.Fatalf("unresolved rule after escalating: %v; want it still at 1h", got)
	}
}

// TestEngineRaiseWhileHeldRecordsNoEscalation: a worse repeat of a held
// incident whose new rule pages a further level at once records the new
// priority and pages nobody: the timeline gets no "auto-escalation
// trigger" (which reports count as an escalation) until the window ends
// and the level is paged.
func TestEngineRaiseWhileHeldRecordsNoEscalation(t *testing.T) {
	c, err := Parse([]byte(strings.Replace(engConfig, "    escalation_policy: p\n",
		"    escalation_policy: p\n    rules:\n      - {name: db, matchers: ['team=\"db\"'], priority: P0, page_immediately: [second]}\n", 1)), "engine.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e, s := &Engine{Config: c}, c.Service("svc")
	mild := c.Route(s, map[string]string{"severity": "info"}, t0)
	worse := c.Route(s, map[string]string{"severity": "critical", "team": "db"}, t0)
	h := &Hold{ID: "mw-1", Until: t0.Add(30 * time.Minute)}
	for _, tc := range []struct {
		name string
		hold *Hold
		want []string // the raise's actions, "kind detail"
	}{
		{"paging", nil, []string{"escalate priority raised from P3 to P0 (db)", "escalate auto-escalation trigger (db)"}},
		{"held", h, []string{"escalate priority raised from P3 to P0 (db): in maintenance window mw-1, nobody is paged until 2025-01-08T03:30:00Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &mild, Hold: tc.hold}, t0)
			inc, acts := engApply(t, e, inc, Event{Kind: EventTrigger, Route: &worse}, t0.Add(time.Minute))
			var got []string
			for _, a := range acts {
				got = append(got, string(a.Kind)+" "+a.Detail)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("raise:\n got %q\nwant %q", got, tc.want)
			}
			if tc.hold == nil {
				return
			}
			if k := engPendingKinds(inc); k[DeadlineNotify] != 0 || k[DeadlineEscalate] != 0 {
				t.Fatalf("a held raise armed pages: %v", k)
			}
			// The window's end pages the incident as new, the rule's
			// further level included, and records that escalation then.
			inc, acts = engApply(t, e, inc, Event{Kind: EventRelease, Hold: h}, t0.Add(10*time.Minute))
			got = nil
			for _, a := range acts {
				got = append(got, string(a.Kind)+" "+a.LevelName+" "+a.Detail)
			}
			want := []string{"maintenance first maintenance window mw-1 ended: still firing, paged as new", "escalate second auto-escalation trigger (db)"}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("release:\n got %q\nwant %q", got, want)
			}
			var users []string
			for _, d := range inc.Pending {
				if d.Kind == DeadlineNotify && d.Channel == "push" {
					users = append(users, d.User)
				}
			}
			if !reflect.DeepEqual(users, []string{"a", "b"}) {
				t.Fatalf("pushes after the release: %v; want levels first and second", users)
			}
		})
	}
}

// engTargets is when each pending SLA target is due.
func engTargets(inc Incident) map[string]time.Time {
	m := map[string]time.Time{}
	for _, d := range inc.Pending {
		if d.Kind == DeadlineSLA {
			m[d.Target] = d.At
		}
	}
	return m
}

// TestEngineHoldPausesSLATargets: a maintenance hold stops the clocks of
// the incident's SLA targets and lifting it starts them again with the
// time they had left; a target met while held is not armed again, one
// already missed stays missed.
func TestEngineHoldPausesSLATargets(t *testing.T) {
	e, s := engLoad(t)
	mins := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	hold := func(until int) Event { return Event{Kind: EventHold, Hold: &Hold{ID: "mw-5", Until: mins(until)}} }
	type step struct {
		ev Event
		at int // minutes after t0
	}
	cases := []struct {
		name  string
		held  bool // triggered inside the window (mw-1, until 30m)
		steps []step
		end   int                  // run deadlines until then
		want  map[string]time.Time // SLA targets pending at end
		lines []string             // sla_breach lines up to end
	}{
		{
			// Triggered at 0 (acknowledge 5m, status update 30m), held
			// from 2m to 1h: 3m and 28m left, from 1h.
			name:  "held part-way",
			steps: []step{{hold(60), 2}},
			end:   62,
			want:  map[string]time.Time{"acknowledge": mins(63), "status_update": mins(88)},
		},
		{
			name:  "held part-way, breached after the window",
			steps: []step{{hold(60), 2}},
			end:   63,
			want:  map[string]time.Time{"status_update": mins(88)},
			lines: []string{"1h3m sla_breach first acknowledge"},
		},
		{
			name:  "acknowledged while held",
			held:  true,
			steps: []step{{Event{Kind: EventAcknowledge, Actor: "a"}, 10}},
			end:   30,
			want:  map[string]time.Time{"status_update": mins(60)},
		},
		{
			name:  "status update while held",
			held:  true,
			steps: []step{{Event{Kind: EventStatusUpdate, Actor: "a"}, 20}},
			end:   30,
			want:  map[string]time.Time{"acknowledge": mins(35), "status_update": mins(60)},
		},
		{
			// The dispatcher had not fired the acknowledge target due at
			// 5m when the window began at 6m: it was missed, and is
			// recorded, window or not.
			name:  "missed before the window",
			steps: []step{{hold(60), 6}},
			end:   6,
			want:  map[string]time.Time{},
			lines: []string{"5m sla_breach first acknowledge"},
		},
		{
			name:  "escalated out of the window",
			held:  true,
			steps: []step{{Event{Kind: EventEscalate, Actor: "a"}, 10}},
			end:   10,
			want:  map[string]time.Time{"acknowledge": mins(15), "status_update": mins(40)},
		},
		{
			name:  "handed to a later window",
			held:  true,
			steps: []step{{Event{Kind: EventRelease, Hold: &Hold{ID: "mw-1"}, Then: &Hold{ID: "mw-6", Until: mins(90)}}, 10}},
			end:   90,
			want:  map[string]time.Time{"acknowledge": mins(95), "status_update": mins(120)},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var inc Incident
			if tc.held {
				inc, _ = engTriggerHeld(t, e, s, 30*time.Minute)
			} else {
				inc, _ = engTrigger(t, e, s, "critical")
			}
			for _, st := range tc.steps {
				inc, _ = engApply(t, e, inc, st.ev, mins(st.at))
			}
			inc, all := engRun(t, e, inc, mins(tc.end))
			var lines []string
			for _, l := range all {
				if strings.Contains(l, "sla_breach") {
					lines = append(lines, l)
				}
			}
			if !reflect.DeepEqual(lines, tc.lines) {
				t.Fatalf("breaches:\n got %q\nwant %q", lines, tc.lines)
			}
			if got := engTargets(inc); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("targets pending at %dm: %v, want %v", tc.end, got, tc.want)
			}
		})
	}
	// Resolving a held incident forgets its paused targets with the rest.
	inc, _ := engTriggerHeld(t, e, s, 30*time.Minute)
	inc, _ = engApply(t, e, inc, Event{Kind: EventResolve, Actor: "a"}, mins(10))
	if len(inc.PausedTargets) != 0 || len(inc.Pending) != 0 {
		t.Fatalf("resolved: paused %v, pending %v", inc.PausedTargets, inc.Pending)
	}
}

// TestEngineRecordsHeldSpans: the incident keeps when windows held it, a
// hand-over to another window continuing the same span, so reports can
// count its times without them.
func TestEngineRecordsHeldSpans(t *testing.T) {
	e, s := engLoad(t)
	mins := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	inc, _ := engTriggerHeld(t, e, s, 30*time.Minute)
	if want := []HeldSpan{{From: t0}}; !reflect.DeepEqual(inc.Held, want) {
		t.Fatalf("held from the trigger: %v, want %v", inc.Held, want)
	}
	// Handed to a window ending at 40m: one span, 0 to 40m.
	inc, _ = engApply(t, e, inc, Event{Kind: EventRelease, Hold: &Hold{ID: "mw-1"}, Then: &Hold{ID: "mw-7", Until: mins(40)}}, mins(10))
	inc, _ = engRun(t, e, inc, mins(40))
	// Held again from 50m, escalated out of it at 55m; held from 60m and
	// resolved at 70m while held.
	inc, _ = engApply(t, e, inc, Event{Kind: EventHold, Hold: &Hold{ID: "mw-8", Until: mins(120)}}, mins(50))
	inc, _ = engApply(t, e, inc, Event{Kind: EventEscalate, Actor: "a"}, mins(55))
	inc, _ = engApply(t, e, inc, Event{Kind: EventHold, Hold: &Hold{ID: "mw-9", Until: mins(120)}}, mins(60))
	if got := HeldBefore(inc.Held, mins(65)); got != 50*time.Minute {
		t.Fatalf("held before 65m, still held: %v, want 40m+5m+5m", got)
	}
	inc, _ = engApply(t, e, inc, Event{Kind: EventResolve, Actor: "a"}, mins(70))
	want := []HeldSpan{{t0, mins(40)}, {mins(50), mins(55)}, {mins(60), mins(70)}}
	if !reflect.DeepEqual(inc.Held, want) {
		t.Fatalf("held spans %v, want %v", inc.Held, want)
	}
	for _, c := range []struct {
		at   int
		want time.Duration
	}{{0, 0}, {20, 20 * time.Minute}, {45, 40 * time.Minute}, {52, 42 * time.Minute}, {200, 55 * time.Minute}} {
		if got := HeldBefore(inc.Held, mins(c.at)); got != c.want {
			t.Errorf("held before %dm: %v, want %v", c.at, got, c.want)
		}
	}
	// A trigger after the resolution starts afresh.
	rt := e.Config.Route(s, map[string]string{"severity": "critical"}, t0)
	if again, _ := engApply(t, e, inc, Event{Kind: EventTrigger, Route: &rt}, mins(80)); len(again.Held) != 0 {
		t.Fatalf("a new trigger kept the old spans: %v", again.Held)
	}
}

// TestEngineWindowEndHandsOverToTheNextWindow: the end of the window
// holding an incident, fired with the window that covers it then (the
// next of two back to back), hands it over: nobody is paged, the span
// goes on, and the next window's end is its deadline; fired at that end
// with none, it is paged as new.
func TestEngineWindowEndHandsOverToTheNextWindow(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTriggerHeld(t, e, s, 30*time.Minute)
	d, _ := inc.Next()
	next := &Hold{ID: "mw-2", Name: "second", Until: t0.Add(time.Hour)}
	inc, acts := engApply(t, e, inc, Event{Kind: EventDeadline, Deadline: d.ID, Then: next}, d.At)
	if lines := engSummary(acts); len(lines) != 1 || !strings.Contains(acts[0].Detail, "still covers it") {
		t.Fatalf("at the first window's end: %q (%+v), want only the hand-over", lines, acts)
	}
	if inc.Maintenance == nil || inc.Maintenance.ID != "mw-2" || !reflect.DeepEqual(engPendingAt(inc, DeadlineMaintenance), []time.Time{next.Until}) {
		t.Fatalf("held by %+v, pending %+v; want mw-2 until its end", inc.Maintenance, inc.Pending)
	}
	inc, lines := engRun(t, e, inc, t0.Add(61*time.Minute))
	if want := []string{"1h maintenance first", "1h notify first a push"}; !reflect.DeepEqual(lines, want) {
		t.Fatalf("after the hand-over:\n got %q\nwant %q", lines, want)
	}
	if want := []HeldSpan{{t0, next.Until}}; !reflect.DeepEqual(inc.Held, want) {
		t.Fatalf("held spans %v, want %v", inc.Held, want)
	}
}

// TestEngineAutoEscalationOfAnAcknowledgedHeldIncident: an acknowledged
// incident a window holds, joined by an alert of the same priority whose
// rule pages a level at once (page_immediately): paging, that re-opens it
// and pages the level; held, nobody is paged until the window ends, and
// then the incident must be paged as new with that level. It was left
// acknowledged, recorded the level as paged at once, and at the window's
// end paged nobody: the level the rule asked for was never paged (and a
// later repeat of the alert, finding the level recorded, paged it never).
func TestEngineAutoEscalationOfAnAcknowledgedHeldIncident(t *testing.T) {
	c, err := Parse([]byte(strings.Replace(engConfig, "    escalation_policy: p\n",
		"    escalation_policy: p\n    rules:\n      - {name: breach, matchers: ['kind=\"breach\"'], priority: P0, page_immediately: [second]}\n", 1)), "engine.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e, s := &Engine{Config: c}, c.Service("svc")
	plain := c.Route(s, map[string]string{"severity": "critical"}, t0)
	breach := c.Route(s, map[string]string{"severity": "critical", "kind": "breach"}, t0)
	if plain.Priority != breach.Priority {
		t.Fatalf("priorities %s and %s: the test needs the same", plain.Priority, breach.Priority)
	}
	h := &Hold{ID: "mw-1", Until: t0.Add(30 * time.Minute)}
	inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &plain}, t0)
	inc, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "a"}, t0.Add(time.Minute))
	inc, _ = engApply(t, e, inc, Event{Kind: EventHold, Hold: h}, t0.Add(2*time.Minute))
	inc, acts := engApply(t, e, inc, Event{Kind: EventTrigger, Route: &breach}, t0.Add(3*time.Minute))
	if k := engPendingKinds(inc); k[DeadlineNotify] != 0 {
		t.Fatalf("a held incident armed pages: %v (%+v)", k, acts)
	}
	inc, acts = engApply(t, e, inc, Event{Kind: EventRelease, Hold: h}, t0.Add(30*time.Minute))
	var users []string
	for _, d := range inc.Pending {
		if d.Kind == DeadlineNotify && d.Channel == "push" {
			users = append(users, d.User)
		}
	}
	if inc.Status != StatusTriggered || !reflect.DeepEqual(users, []string{"a", "b"}) {
		var got []string
		for _, a := range acts {
			got = append(got, string(a.Kind)+" "+a.LevelName+" "+a.Detail)
		}
		t.Fatalf("after the window: %s, pushes to %v, actions %q; want triggered, paged as new with level second", inc.Status, users, got)
	}
}

// TestEngineWindowEscalatedPastIsNotHandedTheIncident: a person escalated
// past window mw-1; window mw-2, started later, holds the incident. When
// mw-2 ends, mw-1 still covers it (Then): handed to mw-1, the pages the
// person asked for would stop until mw-1's end. It is paged instead.
func TestEngineWindowEscalatedPastIsNotHandedTheIncident(t *testing.T) {
	e, s := engLoad(t)
	inc, _ := engTriggerHeld(t, e, s, 2*time.Hour)
	inc, _ = engApply(t, e, inc, Event{Kind: EventEscalate, Actor: "a"}, t0.Add(time.Minute))
	inc, _ = engApply(t, e, inc, Event{Kind: EventHold, Hold: &Hold{ID: "mw-2", Name: "network", Until: t0.Add(time.Hour)}}, t0.Add(30*time.Minute))
	if inc.Maintenance == nil || inc.Maintenance.ID != "mw-2" {
		t.Fatalf("mw-2 did not hold it: %+v", inc.Maintenance)
	}
	mw1 := &Hold{ID: "mw-1", Name: "db upgrade", Until: t0.Add(2 * time.Hour)}
	after, _ := engApply(t, e, inc, Event{Kind: EventRelease, Hold: &Hold{ID: "mw-2"}, Then: mw1}, t0.Add(time.Hour))
	if after.Maintenance != nil || engPendingKinds(after)[DeadlineNotify] == 0 {
		t.Fatalf("handed to the window escalated past: held by %+v, pending %v", after.Maintenance, engPendingKinds(after))
	}
}

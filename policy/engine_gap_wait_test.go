package policy

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// officeOnlyConfig is gapConfig with a service whose only level is the
// primary tier, held 09:00-17:00 on weekdays: an alert at 06:00 finds
// nobody on call at any level of its policy, and its ladder runs out at
// once.
var officeOnlyConfig = strings.Replace(gapConfig, "services:\n", `  - name: office-only
    levels:
      - {name: office, targets: [{schedule: s, tier: primary}], timeout: 15m}
    unresolved:
      - {priorities: [P0], after: 30m, notify: [{user: b}]}
  - name: office-then-night
    levels:
      - {name: office, targets: [{schedule: s, tier: primary}], timeout: 15m}
      - {name: late, targets: [{schedule: s, tier: night}], timeout: 10m}
services:
  - {name: office, priority_scheme: P0-P3, escalation_policy: office-only}
  - {name: office-night, priority_scheme: P0-P3, escalation_policy: office-then-night}
`, 1)

// gapWed6 is Wednesday 06:00 UTC: three hours before the office tier is
// held.
var gapWed6 = time.Date(2025, 1, 8, 6, 0, 0, 0, time.UTC)

// gapEngine parses cfg and triggers an incident of svc with severity
// (warning: P2, which the office-only policy's unresolved rule leaves
// alone) at gapWed6.
func gapEngine(t *testing.T, cfg, svc, severity string) (*Engine, Incident) {
	t.Helper()
	c, err := Parse([]byte(cfg), "gap.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Config: c}
	rt := c.Route(c.Service(svc), map[string]string{"severity": severity}, gapWed6)
	inc, _, err := e.Apply(Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, gapWed6)
	if err != nil {
		t.Fatal(err)
	}
	return e, inc
}

// gapRun fires inc's deadlines in order up to end and returns it with
// its pages ("offset user channel", from gapWed6), escalations ("offset
// escalate level: detail") and the looks it made (DeadlineOnCall fired).
func gapRun(t *testing.T, e *Engine, inc Incident, end time.Time) (_ Incident, pages, escalations []string, looks []time.Time) {
	t.Helper()
	for {
		d, ok := inc.Next()
		if !ok || d.At.After(end) {
			return inc, pages, escalations, looks
		}
		if d.Kind == DeadlineOnCall {
			looks = append(looks, d.At)
		}
		var acts []Action
		inc, acts = engApply(t, e, inc, Event{Kind: EventDeadline, Deadline: d.ID}, d.At)
		for _, a := range acts {
			switch a.Kind {
			case ActionNotify:
				pages = append(pages, Duration(a.At.Sub(gapWed6)).String()+" "+a.User+" "+a.Channel)
			case ActionEscalate:
				escalations = append(escalations, Duration(a.At.Sub(gapWed6)).String()+" escalate "+a.LevelName+": "+a.Detail)
			}
		}
	}
}

// TestEngineAlertInAGapPagesWhoComesOnCall: an alert at Wednesday 06:00
// whose policy's only tier is held 09:00-17:00 pages nobody at 06:00 (its
// ladder runs out at once), and at 09:00 ann, the first person on call,
// is paged, push first and then the rest of her ladder, and the level's
// timeout runs again, with the timeline saying why. Until then the
// incident looks again at least every 15 minutes (an override made at run
// time may put someone on call at any time) and at the tier's next
// shift boundary.
func TestEngineAlertInAGapPagesWhoComesOnCall(t *testing.T) {
	e, inc := gapEngine(t, officeOnlyConfig, "office", "warning")
	if k := engPendingKinds(inc); k[DeadlineNotify] != 0 || k[DeadlineEscalate] != 0 || k[DeadlineOnCall] != 1 || !inc.Unpaged {
		t.Fatalf("after the trigger at 06:00: unpaged %v, pending %+v; want nobody paged and one look for someone on call", inc.Unpaged, inc.Pending)
	}
	inc, pages, esc, looks := gapRun(t, e, inc, gapWed6.Add(3*time.Hour+6*time.Minute))
	if want := []string{"3h a push", "3h2m a sms", "3h5m a voice"}; !reflect.DeepEqual(pages, want) {
		t.Fatalf("pages = %q, want %q", pages, want)
	}
	if want := []string{"3h escalate office: nobody was on call when the alert came (rule severity=warning); level office has someone now"}; !reflect.DeepEqual(esc, want) {
		t.Fatalf("escalations = %q, want %q", esc, want)
	}
	for i, at := range looks {
		prev := gapWed6
		if i > 0 {
			prev = looks[i-1]
		}
		if at.Sub(prev) > onCallLookEvery {
			t.Fatalf("looks at %v: %v after the one before, want at most %v", looks, at.Sub(prev), onCallLookEvery)
		}
	}
	if last := looks[len(looks)-1]; !last.Equal(gapWed6.Add(3 * time.Hour)) {
		t.Fatalf("last look at %v, want 09:00, when the tier is held", last)
	}
	if inc.Unpaged || engPendingKinds(inc)[DeadlineOnCall] != 0 || engPendingKinds(inc)[DeadlineEscalate] != 0 {
		// The only level, not repeated: no timeout, and no more looks:
		// ann was paged.
		t.Fatalf("after the page: unpaged %v, pending %+v", inc.Unpaged, inc.Pending)
	}
}

// TestEngineAlertInAGapRoundsRunOutFirst: with levels and repeat to run
// through, the ladder's rounds run out first (each level paging nobody,
// as before), and only then does the incident wait; someone coming on
// call at a later level's tier (night, 22:00) pages from level 1, which
// is skipped at once, as for an alert that comes then.
func TestEngineAlertInAGapRoundsRunOutFirst(t *testing.T) {
	e, inc := gapEngine(t, gapConfig, "nobody", "critical") // policy empty: office, then night, repeat 1
	// 06:00 is before office hours; the office tier is held at 09:00.
	_, pages, esc, looks := gapRun(t, e, inc, gapWed6.Add(3*time.Hour+time.Minute))
	if len(looks) == 0 || !looks[0].Equal(gapWed6.Add(30*time.Minute)) {
		t.Fatalf("looks %v: want the first at 06:30, 15 minutes after the second round ran out at 06:15", looks)
	}
	if want := []string{"3h a push"}; !reflect.DeepEqual(pages, want) {
		t.Fatalf("pages = %q, want %q", pages, want)
	}
	if !slices.Contains(esc, "3h escalate first: nobody was on call when the alert came (rule severity=critical); level first has someone now") {
		t.Fatalf("escalations = %q", esc)
	}

	// At 17:30 office is over; night (second level) is held at 22:00.
	c := e.Config
	evening := time.Date(2025, 1, 8, 17, 30, 0, 0, time.UTC)
	rt := c.Route(c.Service("nobody"), map[string]string{"severity": "critical"}, evening)
	inc, _, err := e.Apply(Incident{ID: "i2"}, Event{Kind: EventTrigger, Route: &rt}, evening)
	if err != nil {
		t.Fatal(err)
	}
	var acts []Action
	for {
		d, ok := inc.Next()
		if !ok || d.At.After(evening.Add(5*time.Hour)) {
			break
		}
		var a []Action
		inc, a = engApply(t, e, inc, Event{Kind: EventDeadline, Deadline: d.ID}, d.At)
		acts = append(acts, a...)
	}
	var first time.Time
	for _, a := range acts {
		if a.Kind == ActionNotify && first.IsZero() {
			first = a.At
			if a.User != "a" || a.LevelName != "second" || a.Channel != "push" {
				t.Fatalf("first page %+v, want a's push at level second", a)
			}
		}
	}
	if want := time.Date(2025, 1, 8, 22, 0, 0, 0, time.UTC); !first.Equal(want) {
		t.Fatalf("first page at %v, want %v", first, want)
	}
}

// TestEngineAlertInAGapAcknowledgedOrResolvedWaitsNoMore: an
// acknowledgement or a resolve during the gap, or a maintenance window
// holding the incident, stops the wait: nobody is paged at 09:00 (the
// window's end pages the incident as new, and so waits again).
func TestEngineAlertInAGapAcknowledgedOrResolvedWaitsNoMore(t *testing.T) {
	for _, ev := range []Event{{Kind: EventAcknowledge, Actor: "b"}, {Kind: EventResolve, Actor: "b"}} {
		t.Run(string(ev.Kind), func(t *testing.T) {
			e, inc := gapEngine(t, officeOnlyConfig, "office", "warning")
			inc, _, _, _ = gapRun(t, e, inc, gapWed6.Add(time.Hour))
			inc, _ = engApply(t, e, inc, ev, gapWed6.Add(time.Hour+time.Minute))
			if engPendingKinds(inc)[DeadlineOnCall] != 0 {
				t.Fatalf("after %s: pending %+v, want no look", ev.Kind, inc.Pending)
			}
			if _, pages, _, _ := gapRun(t, e, inc, gapWed6.Add(4*time.Hour)); len(pages) != 0 {
				t.Fatalf("paged %q after %s", pages, ev.Kind)
			}
		})
	}
	t.Run("maintenance", func(t *testing.T) {
		e, inc := gapEngine(t, officeOnlyConfig, "office", "warning")
		inc, _ = engApply(t, e, inc, Event{Kind: EventHold, Hold: &Hold{ID: "mw-1", Until: gapWed6.Add(4 * time.Hour)}}, gapWed6.Add(time.Hour))
		if engPendingKinds(inc)[DeadlineOnCall] != 0 {
			t.Fatalf("held: pending %+v, want no look", inc.Pending)
		}
		_, pages, _, _ := gapRun(t, e, inc, gapWed6.Add(4*time.Hour+time.Minute))
		if want := []string{"4h a push"}; !reflect.DeepEqual(pages, want) {
			t.Fatalf("pages = %q, want %q: none while held, ann at the window's end", pages, want)
		}
	})
}

// TestEngineAlertInAGapOverrideComesOnCall: an override made at run time
// during the gap (bob on the office tier from 07:30) is found by the next
// look: bob is paged within 15 minutes of 07:30, here at 07:30, since the
// look before it saw the override's start as the tier's next boundary.
// Made after that look, it is found by the one 15 minutes later at most.
func TestEngineAlertInAGapOverrideComesOnCall(t *testing.T) {
	from, until := gapWed6.Add(90*time.Minute), gapWed6.Add(3*time.Hour)
	ov := Override{Reason: "cover", ID: "ov-1", CreatedBy: "api:ops", Tiers: map[string]string{"primary": "b"},
		From: Moment{Instant: from, set: true}, Until: Moment{Instant: until, set: true}}
	for _, made := range []time.Duration{80 * time.Minute, 91 * time.Minute} {
		t.Run(Duration(made).String(), func(t *testing.T) {
			e, inc := gapEngine(t, officeOnlyConfig, "office", "warning")
			inc, pages, _, _ := gapRun(t, e, inc, gapWed6.Add(made))
			if len(pages) != 0 {
				t.Fatalf("paged %q before the override", pages)
			}
			with := &Engine{Config: e.Config.WithOverrides(map[string][]Override{"s": {ov}})}
			_, pages, esc, _ := gapRun(t, with, inc, gapWed6.Add(3*time.Hour))
			if len(pages) == 0 || !strings.HasSuffix(pages[0], " b push") {
				t.Fatalf("pages %q, want bob's push first", pages)
			}
			at, _ := time.ParseDuration(strings.Fields(pages[0])[0])
			if at < 90*time.Minute || at > 105*time.Minute {
				t.Fatalf("bob paged at +%v, want within 15 minutes of the override's start (+1h30m)", at)
			}
			if len(esc) == 0 || !strings.Contains(esc[0], "nobody was on call when the alert came") {
				t.Fatalf("escalations %q", esc)
			}
		})
	}
}

// TestEngineAlertInAGapReloadKeepsTheWait: a reload that changes the
// policy (a level put in before the office level, in its own gap) while
// the incident waits keeps the wait, and the look under the new config
// pages who is on call then.
func TestEngineAlertInAGapReloadKeepsTheWait(t *testing.T) {
	e, inc := gapEngine(t, officeOnlyConfig, "office", "warning")
	inc, _, _, _ = gapRun(t, e, inc, gapWed6.Add(time.Hour))
	after := engReload(t, officeOnlyConfig, "      - {name: office, targets: [{schedule: s, tier: primary}], timeout: 15m}\n    unresolved:",
		"      - {name: late, targets: [{schedule: s, tier: night}], timeout: 10m}\n      - {name: office, targets: [{schedule: s, tier: primary}], timeout: 15m}\n    unresolved:")
	_, pages, esc, _ := gapRun(t, after, inc, gapWed6.Add(3*time.Hour+time.Minute))
	if want := []string{"3h a push"}; !reflect.DeepEqual(pages, want) {
		t.Fatalf("pages = %q, want %q", pages, want)
	}
	if len(esc) != 2 || !strings.Contains(esc[0], "level office has someone now") || !strings.Contains(esc[1], "level late pages nobody") {
		t.Fatalf("escalations %q", esc)
	}
}

// TestEngineAlertInAGapUnresolvedRulePagesAndTheWaitGoesOn: the policy's
// unresolved rules keep their times (counted from the trigger) during the
// wait: a P0's rule pages bob, a manager on call at no level of the
// policy, at 06:30 (push, SMS, call). His page is to a person, not to the
// team: until someone acknowledges, the incident still waits, looking
// every 15 minutes while his ladder runs, and ann, who comes on call at
// 09:00, is paged then, as she would be had the rule paged nobody. Once
// bob acknowledges, nobody else is paged.
func TestEngineAlertInAGapUnresolvedRulePagesAndTheWaitGoesOn(t *testing.T) {
	e, inc := gapEngine(t, officeOnlyConfig, "office", "critical")
	inc, pages, esc, looks := gapRun(t, e, inc, gapWed6.Add(3*time.Hour+time.Minute))
	if want := []string{"30m b push", "32m b sms", "35m b voice", "3h a push"}; !reflect.DeepEqual(pages, want) {
		t.Fatalf("pages = %q (escalations %q), want %q: bob's by the rule at 30m, ann's when she comes on call", pages, esc, want)
	}
	if !slices.ContainsFunc(looks, func(at time.Time) bool { return at.Equal(gapWed6.Add(45 * time.Minute)) }) {
		t.Fatalf("looks %v: want one at 06:45, while bob's ladder is done, and every 15 minutes on", looks)
	}
	if inc.Unpaged || engPendingKinds(inc)[DeadlineOnCall] != 0 {
		t.Fatalf("after ann's page: unpaged %v, pending %+v", inc.Unpaged, inc.Pending)
	}

	e, inc = gapEngine(t, officeOnlyConfig, "office", "critical")
	inc, _, _, _ = gapRun(t, e, inc, gapWed6.Add(40*time.Minute))
	if !inc.Unpaged || engPendingKinds(inc)[DeadlineOnCall] != 1 {
		t.Fatalf("after bob's page by the rule: unpaged %v, pending %+v, want the wait kept", inc.Unpaged, inc.Pending)
	}
	inc, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "b"}, gapWed6.Add(41*time.Minute))
	if _, pages, _, _ := gapRun(t, e, inc, gapWed6.Add(4*time.Hour)); len(pages) != 0 {
		t.Fatalf("paged %q after bob acknowledged", pages)
	}
}

// TestEngineAlertInAGapUnresolvedRulePagingTheLevelEndsTheWait: a rule
// that pages someone on call at a level of the policy (bob, put on the
// office tier by an override from 06:20, made after the look of 06:15,
// so the next look is at 06:30, after the rule's step due then) has paged
// the team: the wait ends there, and the look does not page bob again.
func TestEngineAlertInAGapUnresolvedRulePagingTheLevelEndsTheWait(t *testing.T) {
	ov := Override{Reason: "cover", ID: "ov-1", CreatedBy: "api:ops", Tiers: map[string]string{"primary": "b"},
		From: Moment{Instant: gapWed6.Add(20 * time.Minute), set: true}, Until: Moment{Instant: gapWed6.Add(3 * time.Hour), set: true}}
	e, inc := gapEngine(t, officeOnlyConfig, "office", "critical")
	inc, _, _, _ = gapRun(t, e, inc, gapWed6.Add(19*time.Minute))
	with := &Engine{Config: e.Config.WithOverrides(map[string][]Override{"s": {ov}})}
	inc, pages, esc, _ := gapRun(t, with, inc, gapWed6.Add(time.Hour))
	if want := []string{"30m b push", "32m b sms", "35m b voice"}; !reflect.DeepEqual(pages, want) {
		t.Fatalf("pages = %q (escalations %q), want %q: bob's by the rule, once", pages, esc, want)
	}
	if inc.Unpaged || engPendingKinds(inc)[DeadlineOnCall] != 0 {
		t.Fatalf("unpaged %v, pending %+v", inc.Unpaged, inc.Pending)
	}
}

// TestEngineAlertInAGapStoredBeforeItWasKept: an incident stored by a
// version before Unpaged was kept (or written back by one) does not
// wait: its pages may have reached someone.
func TestEngineAlertInAGapStoredBeforeItWasKept(t *testing.T) {
	e, inc := gapEngine(t, officeOnlyConfig, "office", "warning")
	inc.Unpaged = false
	inc.Pending = slices.DeleteFunc(inc.Pending, func(d Deadline) bool { return d.Kind == DeadlineOnCall })
	inc, pages, _, looks := gapRun(t, e, inc, gapWed6.Add(4*time.Hour))
	if len(pages) != 0 || len(looks) != 0 {
		t.Fatalf("pages %q, looks %v", pages, looks)
	}
}

// TestEngineAlertInAGapLookFiredLate: a look fired late (a takeover after
// a crash, a backlog) pages from when it fires, not from its own time:
// ann's push then, her SMS two minutes later, not all her steps at once.
func TestEngineAlertInAGapLookFiredLate(t *testing.T) {
	e, inc := gapEngine(t, officeOnlyConfig, "office", "warning")
	inc, _, _, _ = gapRun(t, e, inc, gapWed6.Add(3*time.Hour-time.Second))
	d, ok := inc.Next()
	if !ok || d.Kind != DeadlineOnCall || !d.At.Equal(gapWed6.Add(3*time.Hour)) {
		t.Fatalf("next %+v, want the 09:00 look", d)
	}
	late := d.At.Add(10 * time.Minute)
	inc, _ = engApply(t, e, inc, Event{Kind: EventDeadline, Deadline: d.ID}, late)
	var steps []string
	for _, p := range inc.Pending {
		if p.Kind == DeadlineNotify {
			steps = append(steps, Duration(p.At.Sub(late)).String()+" "+p.Channel)
		}
	}
	slices.Sort(steps)
	if want := []string{"0s push", "2m sms", "5m voice"}; !reflect.DeepEqual(steps, want) {
		t.Fatalf("ann's steps from the late look: %q, want %q", steps, want)
	}
}

// TestPreviewSaysAnAlertInAGapWaits: `pagerd route` says an alert that
// no level pages anyone for waits for the next person on call, as the
// engine has it; not when a level pages someone.
func TestPreviewSaysAnAlertInAGapWaits(t *testing.T) {
	c, err := Parse([]byte(officeOnlyConfig), "gap.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	lbls := map[string]string{"severity": "warning"}
	for _, tc := range []struct {
		svc  string
		at   time.Time
		want bool
	}{
		{"office", gapWed6, true},
		{"office", gapWed6.Add(4 * time.Hour), false},
		{"nobody", gapWed6, true}, // two levels and repeat, none held at 06:00
		{"svc", gapWed6, false},   // bob's secondary is held
	} {
		if got := c.Preview(c.Service(tc.svc), lbls, tc.at).WaitsForOnCall; got != tc.want {
			t.Errorf("%s at %v: WaitsForOnCall %v, want %v", tc.svc, tc.at, got, tc.want)
		}
	}
}

// breachConfig is officeOnlyConfig with a second level, exec (bob, held
// 09:00-17:00 on weekdays, as ann's office tier), which the office
// service's rule for category=security_breach pages at once
// (page_immediately), as the auto-escalation triggers do.
func breachConfig() string {
	cfg := strings.Replace(officeOnlyConfig, "      - {name: secondary, start: 2025-01-06, members: [b]}\n",
		"      - {name: secondary, start: 2025-01-06, members: [b]}\n      - name: exec\n        layers:\n          - {name: office, start: 2025-01-06, members: [b], restrictions: [{days: [mon, tue, wed, thu, fri], start: \"09:00\", end: \"17:00\"}]}\n", 1)
	cfg = strings.Replace(cfg, "  - name: office-only\n    levels:\n      - {name: office, targets: [{schedule: s, tier: primary}], timeout: 15m}\n",
		"  - name: office-only\n    levels:\n      - {name: office, targets: [{schedule: s, tier: primary}], timeout: 15m}\n      - {name: exec, targets: [{schedule: s, tier: exec}], timeout: 15m}\n", 1)
	cfg = strings.Replace(cfg, "  - {name: office, priority_scheme: P0-P3, escalation_policy: office-only}\n",
		"  - name: office\n    priority_scheme: P0-P3\n    escalation_policy: office-only\n    rules:\n      - {name: breach, matchers: ['category=\"security_breach\"'], priority: P2, page_immediately: [exec]}\n", 1)
	return cfg
}

// TestEngineAlertInAGapPagesImmediatelyWhenSomeoneComes: an alert whose
// rule pages a level at once (page_immediately: the executives on an
// auto-escalation trigger) and that comes while nobody is on call at any
// level is paged, when someone comes on call, as an alert that comes then
// is: level 1 and the level its rule pages at once, together. bob's exec
// tier and ann's office tier are both held from 09:00: an alert at 09:00
// pages both at 09:00, and so must one that came at 06:00 and waited,
// not bob only after ann's 15 minutes.
func TestEngineAlertInAGapPagesImmediatelyWhenSomeoneComes(t *testing.T) {
	c, err := Parse([]byte(breachConfig()), "gap.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Config: c}
	nine := gapWed6.Add(3 * time.Hour)
	want := []string{"3h a push", "3h b push"}
	for _, at := range []time.Time{nine, gapWed6} {
		rt := c.Route(c.Service("office"), map[string]string{"category": "security_breach"}, at)
		inc, acts, err := e.Apply(Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, at)
		if err != nil {
			t.Fatal(err)
		}
		if at.Equal(gapWed6) && (!inc.Unpaged || engPendingKinds(inc)[DeadlineOnCall] != 1) {
			t.Fatalf("at 06:00: unpaged %v, pending %+v, want a wait", inc.Unpaged, inc.Pending)
		}
		_, pages, esc, _ := gapRun(t, e, inc, nine)
		slices.Sort(pages)
		if !reflect.DeepEqual(pages, want) {
			t.Fatalf("alert at %s: pages by 09:00 %q (escalations %q, trigger %+v), want %q: ann's level and the exec level the rule pages at once",
				at.Format("15:04"), pages, esc, acts, want)
		}
	}
}

// TestEngineAlertInAGapAcknowledgedThenReopenedPagingNobody: an
// unresolved rule that reopens an acknowledged incident and pages nobody
// (its tier, night, is in a gap) does not make the incident wait for
// someone on call: a look would start the ladder from level 1 and phone
// ann, who acknowledged it and is working on it, with a timeline saying
// that nobody was on call when the alert came. Whether ann was paged
// before acknowledging (09:30) or acknowledged, through the API, an
// incident that waited (06:00), the rule paging nobody pages nobody after
// it: as before incidents waited, and as a repeat of the ladder after an
// acknowledgement does not wrap to level 1 (mayRepeat).
func TestEngineAlertInAGapAcknowledgedThenReopenedPagingNobody(t *testing.T) {
	cfg := strings.Replace(officeOnlyConfig, "      - {priorities: [P0], after: 30m, notify: [{user: b}]}",
		"      - {priorities: [P2], after: 30m, notify: [{schedule: s, tier: night}]}", 1)
	c, err := Parse([]byte(cfg), "gap.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Config: c}
	for _, at := range []time.Time{gapWed6.Add(210 * time.Minute), gapWed6} {
		t.Run(at.Format("15:04"), func(t *testing.T) {
			rt := c.Route(c.Service("office"), map[string]string{"severity": "warning"}, at)
			inc, _, err := e.Apply(Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, at)
			if err != nil {
				t.Fatal(err)
			}
			inc, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "a"}, at.Add(time.Minute))
			inc, pages, esc, looks := gapRun(t, e, inc, at.Add(6*time.Hour))
			if len(pages) != 0 || len(looks) != 0 {
				t.Fatalf("after ann acknowledged: pages %q, looks %v, escalations %q; want none after the rule paged nobody", pages, looks, esc)
			}
			if want := "unresolved after 30m: the rule pages nobody (nobody is on call for it)"; len(esc) != 1 || !strings.HasSuffix(esc[0], want) {
				t.Fatalf("escalations %q, want the rule's, saying it paged nobody", esc)
			}
			if inc.Unpaged {
				t.Fatalf("unpaged after ann's acknowledgement: pending %+v", inc.Pending)
			}
		})
	}
}

// TestEngineAlertInAGapAutoEscalationReopensIntoAGap: an auto-escalation
// trigger (a security breach) joining an incident ann acknowledged makes
// it one nobody has acknowledged, as a priority raise does
// (reopenUnacknowledged): when it comes at 18:00, after both the office
// and the exec tiers' hours, it pages nobody then, and the incident waits
// for someone on call like a new alert of that time: ann and bob (exec,
// paged at once) at 09:00 the next morning.
func TestEngineAlertInAGapAutoEscalationReopensIntoAGap(t *testing.T) {
	c, err := Parse([]byte(breachConfig()), "gap.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Config: c}
	at := gapWed6.Add(10 * time.Hour) // 16:00
	rt := c.Route(c.Service("office"), map[string]string{"severity": "warning"}, at)
	inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, at)
	inc, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "a"}, at.Add(time.Minute))
	breach := at.Add(2 * time.Hour) // 18:00
	brt := c.Route(c.Service("office"), map[string]string{"severity": "warning", "category": "security_breach"}, breach)
	inc, acts := engApply(t, e, inc, Event{Kind: EventTrigger, Route: &brt}, breach)
	if inc.Status != StatusTriggered || len(acts) == 0 {
		t.Fatalf("after the breach: status %s, actions %+v; want re-opened", inc.Status, acts)
	}
	_, pages, esc, _ := gapRun(t, e, inc, gapWed6.Add(27*time.Hour))
	slices.Sort(pages)
	if want := []string{"1d3h a push", "1d3h b push"}; !reflect.DeepEqual(pages, want) {
		t.Fatalf("pages by Thursday 09:00 %q (escalations %q), want %q", pages, esc, want)
	}
}

// TestEngineAlertInAGapPagedThenHeldWaitsAtTheWindowsEnd: ann is paged at
// 09:30 and, before she acknowledges, a maintenance window holds the
// incident until 18:00. Still firing at the window's end, it is paged as
// new, and pages nobody (the office tier is held 09:00-17:00): it must
// wait for someone on call, as an alert that comes at 18:00 does, and
// page ann at 09:00 the next morning. Its page at 09:30 had cleared
// Unpaged, and the window's end did not set it again: the incident stayed
// triggered, paging nobody and waiting for nobody, for good.
func TestEngineAlertInAGapPagedThenHeldWaitsAtTheWindowsEnd(t *testing.T) {
	c, err := Parse([]byte(officeOnlyConfig), "gap.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Config: c}
	at := gapWed6.Add(210 * time.Minute) // 09:30
	rt := c.Route(c.Service("office"), map[string]string{"severity": "warning"}, at)
	inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, at)
	inc, _ = engApply(t, e, inc, Event{Kind: EventHold, Hold: &Hold{ID: "mw-1", Until: gapWed6.Add(12 * time.Hour)}}, at.Add(time.Minute))
	inc, pages, esc, _ := gapRun(t, e, inc, gapWed6.Add(27*time.Hour+time.Minute))
	if want := []string{"1d3h a push"}; !reflect.DeepEqual(pages, want) {
		t.Fatalf("pages after the window's end at 18:00 = %q (escalations %q, unpaged %v, pending %+v), want %q: ann at Thursday 09:00",
			pages, esc, inc.Unpaged, inc.Pending, want)
	}
}

// TestEngineAlertInAGapTimelineSaysTheWaitOnce: the timeline says when an
// incident begins to wait for someone on call, with the next look, once:
// over a wait of three days (ann's office tier held on Saturdays only, the
// alert on Wednesday at 06:00) the 300 looks add nothing more, until the
// one that finds ann. A new wait (the incident paged as new at a window's
// end, into the gap again) says so again.
func TestEngineAlertInAGapTimelineSaysTheWaitOnce(t *testing.T) {
	cfg := strings.Replace(officeOnlyConfig, `restrictions: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]`,
		`restrictions: [{days: [sat], start: "09:00", end: "17:00"}]`, 1)
	c, err := Parse([]byte(cfg), "gap.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Config: c}
	rt := c.Route(c.Service("office"), map[string]string{"severity": "warning"}, gapWed6)
	inc, acts := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, gapWed6)
	waits := func(acts []Action) (out []string) {
		for _, a := range acts {
			if a.Kind == ActionWaitOnCall {
				out = append(out, Duration(a.At.Sub(gapWed6)).String()+" "+a.Detail)
			}
		}
		return out
	}
	if got, want := waits(acts), []string{"0s nobody is on call at any level of office-only; waiting for the next person on call (next look 2025-01-08T06:15:00Z)"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("at the trigger: %q, want %q", got, want)
	}
	saturday9 := time.Date(2025, 1, 11, 9, 0, 0, 0, time.UTC)
	looks, all := 0, []Action(nil)
	for {
		d, ok := inc.Next()
		if !ok || d.At.After(saturday9) {
			break
		}
		if d.Kind == DeadlineOnCall {
			looks++
		}
		inc, acts = engApply(t, e, inc, Event{Kind: EventDeadline, Deadline: d.ID}, d.At)
		all = append(all, acts...)
	}
	if looks < 72*4 {
		t.Fatalf("%d looks, want one every 15 minutes over 75 hours", looks)
	}
	if got := waits(all); len(got) != 0 {
		t.Fatalf("the looks said the wait again: %q", got)
	}
	if len(all) == 0 || all[0].Kind != ActionEscalate || !all[0].At.Equal(saturday9) || !IsOnCallLook(all[0].Detail) {
		t.Fatalf("actions of the looks %+v, want only the one that finds ann on Saturday at 09:00", all)
	}

	// Held and released into the gap again: a new wait, said again.
	e2, inc2 := gapEngine(t, cfg, "office", "warning")
	inc2, _ = engApply(t, e2, inc2, Event{Kind: EventHold, Hold: &Hold{ID: "mw-1", Until: gapWed6.Add(time.Hour)}}, gapWed6.Add(time.Minute))
	var again []Action
	for {
		d, ok := inc2.Next()
		if !ok || d.At.After(gapWed6.Add(2*time.Hour)) {
			break
		}
		inc2, acts = engApply(t, e2, inc2, Event{Kind: EventDeadline, Deadline: d.ID}, d.At)
		again = append(again, acts...)
	}
	if got, want := waits(again), []string{"1h nobody is on call at any level of office-only; waiting for the next person on call (next look 2025-01-08T07:15:00Z)"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after the window's end: %q, want %q", got, want)
	}
}

// TestEngineAlertInAGapLookSaysWhatHappened: the look that finds someone
// on call says what happened while nobody was, and names the rule that
// applies now, not "the alert came" with the incident's first rule: a
// priority raise (a critical alert joining a warning one ann was paged
// for at 16:00, at 18:00, after her hours), an auto-escalation trigger
// re-opening the incident ann acknowledged (its exec level, paged at once
// with it, is named by the trigger's rule too), and a maintenance
// window's end paging it as new. Each waits for Thursday 09:00.
func TestEngineAlertInAGapLookSaysWhatHappened(t *testing.T) {
	c, err := Parse([]byte(breachConfig()), "gap.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Config: c}
	at, six := gapWed6.Add(10*time.Hour), gapWed6.Add(12*time.Hour) // 16:00, 18:00
	route := func(lbls map[string]string) *Route {
		rt := c.Route(c.Service("office"), lbls, at)
		return &rt
	}
	for _, tc := range []struct {
		name string
		then func(inc Incident) Incident
		want []string
	}{
		{"priority raised", func(inc Incident) Incident {
			inc, _ = engApply(t, e, inc, Event{Kind: EventTrigger, Route: route(map[string]string{"severity": "critical"})}, six)
			return inc
		}, []string{"1d3h escalate office: nobody was on call when the priority was raised to P0 (rule severity=critical); level office has someone now"}},
		{"re-opened by an auto-escalation trigger", func(inc Incident) Incident {
			inc, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "a"}, at.Add(time.Minute))
			inc, _ = engApply(t, e, inc, Event{Kind: EventTrigger, Route: route(map[string]string{"severity": "warning", "category": "security_breach"})}, six)
			return inc
		}, []string{"1d3h escalate office: nobody was on call when an auto-escalation trigger re-opened the incident (rule breach); level office has someone now",
			"1d3h escalate exec: auto-escalation trigger (breach)"}},
		{"maintenance window ended", func(inc Incident) Incident {
			inc, _ = engApply(t, e, inc, Event{Kind: EventHold, Hold: &Hold{ID: "mw-1", Until: six}}, at.Add(time.Minute))
			return inc
		}, []string{"1d3h escalate office: nobody was on call when the maintenance window holding the incident ended (rule severity=warning); level office has someone now"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: route(map[string]string{"severity": "warning"})}, at)
			inc = tc.then(inc)
			_, _, esc, _ := gapRun(t, e, inc, gapWed6.Add(27*time.Hour))
			var looks []string
			for _, s := range esc {
				if strings.HasPrefix(s, "1d3h ") {
					looks = append(looks, s)
				}
			}
			if !reflect.DeepEqual(looks, tc.want) {
				t.Fatalf("escalations at Thursday 09:00 %q (all %q), want %q", looks, esc, tc.want)
			}
			for _, s := range looks {
				if _, detail, _ := strings.Cut(s, ": "); strings.Contains(s, "has someone now") && !IsOnCallLook(detail) {
					t.Fatalf("IsOnCallLook(%q) = false", detail)
				}
			}
		})
	}
}

// TestPreviewUnresolvedRuleAfterTheWaitIsOver: `pagerd route` says of an
// unresolved rule paging bob, a manager on call at no level, what the
// engine does: the wait goes on for a rule due while nobody is on call
// (an alert at 06:00, the rule at 06:30; one at 08:30, the rule at
// 09:00, before the look of 09:00 that pages ann), but an alert at
// 08:45 has waited only until 09:00, when ann came on call and was
// paged: the rule's page at 09:15 is one more, with no wait left to go
// on, and route must not say that it goes on.
func TestPreviewUnresolvedRuleAfterTheWaitIsOver(t *testing.T) {
	c, err := Parse([]byte(officeOnlyConfig), "gap.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Config: c}
	lbls := map[string]string{"severity": "critical"}
	for _, at := range []time.Time{gapWed6, gapWed6.Add(150 * time.Minute), gapWed6.Add(165 * time.Minute)} {
		p := c.Preview(c.Service("office"), lbls, at)
		if !p.WaitsForOnCall || len(p.Unresolved) != 1 {
			t.Fatalf("alert at %s: preview %+v, want a wait and the rule", at.Format("15:04"), p)
		}
		u := p.Unresolved[0]
		// The engine: is the incident still waiting when the rule has paged bob?
		rt := c.Route(c.Service("office"), lbls, at)
		inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, at)
		waitedUntilRule := true
		for {
			d, ok := inc.Next()
			if !ok || d.At.After(u.At) {
				t.Fatalf("alert at %s: the rule never fired", at.Format("15:04"))
			}
			if d.Kind == DeadlineUnresolved {
				waitedUntilRule = inc.Unpaged
				inc, _ = engApply(t, e, inc, Event{Kind: EventDeadline, Deadline: d.ID}, d.At)
				break
			}
			inc, _ = engApply(t, e, inc, Event{Kind: EventDeadline, Deadline: d.ID}, d.At)
		}
		goesOn := waitedUntilRule && inc.Unpaged
		if got := !u.WaitOver && !u.EndsWait; got != goesOn {
			t.Errorf("alert at %s, rule at %s: route says the wait goes on %v (wait_over %v, ends_wait %v); the engine: waiting until the rule %v, after it %v",
				at.Format("15:04"), u.At.Format("15:04"), got, u.WaitOver, u.EndsWait, waitedUntilRule, inc.Unpaged)
		}
		if u.WaitOver == waitedUntilRule {
			t.Errorf("alert at %s: wait_over %v, but the engine was waiting until the rule: %v", at.Format("15:04"), u.WaitOver, waitedUntilRule)
		}
	}
}

// TestEngineAlertInAGapLookNamesTheRuleOfEachLevel: the look that finds
// someone on call after an auto-escalation trigger re-opened an incident
// names, for each level it pages at once, the rule that pages it so: the
// lead level, paged at once since the incident's own rule (outage) opened
// it, is not the breach trigger's, which added only the exec level. ann
// acknowledged the outage at 16:01; the breach alert joined at 18:00,
// when nobody was on call; the look is on Thursday at 09:00.
func TestEngineAlertInAGapLookNamesTheRuleOfEachLevel(t *testing.T) {
	cfg := strings.Replace(breachConfig(), "      - {name: exec, targets: [{schedule: s, tier: exec}], timeout: 15m}\n",
		"      - {name: lead, targets: [{schedule: s, tier: exec}], timeout: 15m}\n      - {name: exec, targets: [{schedule: s, tier: exec}], timeout: 15m}\n", 1)
	cfg = strings.Replace(cfg, "    rules:\n", "    rules:\n      - {name: outage, matchers: ['category=\"outage\"'], priority: P2, page_immediately: [lead]}\n", 1)
	c, err := Parse([]byte(cfg), "gap.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Config: c}
	at, six := gapWed6.Add(10*time.Hour), gapWed6.Add(12*time.Hour) // 16:00, 18:00
	route := func(category string) *Route {
		rt := c.Route(c.Service("office"), map[string]string{"severity": "warning", "category": category}, at)
		return &rt
	}
	inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: route("outage")}, at)
	inc, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "a"}, at.Add(time.Minute))
	inc, _ = engApply(t, e, inc, Event{Kind: EventTrigger, Route: route("security_breach")}, six)
	_, _, esc, _ := gapRun(t, e, inc, gapWed6.Add(27*time.Hour))
	var looks []string
	for _, s := range esc {
		if strings.HasPrefix(s, "1d3h ") {
			looks = append(looks, s)
		}
	}
	want := []string{"1d3h escalate office: nobody was on call when an auto-escalation trigger re-opened the incident (rule breach); level office has someone now",
		"1d3h escalate lead: auto-escalation trigger (outage)",
		"1d3h escalate exec: auto-escalation trigger (breach)"}
	if !reflect.DeepEqual(looks, want) {
		t.Fatalf("escalations at Thursday 09:00 %q (all %q), want %q", looks, esc, want)
	}
}

// TestEngineAlertInAGapLookNamesTheRuleOfEachLevelOfAGroup: a group's
// route pages at once the levels of every alert's rule (RouteGroup), and
// its Rule is the deciding alert's alone: an outage alert (P2, lead at
// once) and a breach alert (P2, exec at once) in one group are decided by
// the outage's, whose rule pages exec at nobody's word. Opened by the group
// at 06:00, when nobody is on call, the look at 09:00 names each level by
// its own rule; and the group joining an incident the outage opened (lead
// paged at once already) re-opens it by the breach's rule, which added
// exec, not the outage's, which added nothing.
func TestEngineAlertInAGapLookNamesTheRuleOfEachLevelOfAGroup(t *testing.T) {
	cfg := strings.Replace(breachConfig(), "      - {name: exec, targets: [{schedule: s, tier: exec}], timeout: 15m}\n",
		"      - {name: lead, targets: [{schedule: s, tier: exec}], timeout: 15m}\n      - {name: exec, targets: [{schedule: s, tier: exec}], timeout: 15m}\n", 1)
	cfg = strings.Replace(cfg, "    rules:\n", "    rules:\n      - {name: outage, matchers: ['category=\"outage\"'], priority: P2, page_immediately: [lead]}\n", 1)
	c, err := Parse([]byte(cfg), "gap.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Config: c}
	group := func(at time.Time) *Route {
		rt, _ := c.RouteGroup(c.Service("office"), []map[string]string{
			{"severity": "warning", "category": "outage"}, {"severity": "warning", "category": "security_breach"}}, at)
		return &rt
	}
	looksAt := func(esc []string, prefix string) []string {
		var looks []string
		for _, s := range esc {
			if strings.HasPrefix(s, prefix) {
				looks = append(looks, s)
			}
		}
		return looks
	}
	t.Run("opened by the group", func(t *testing.T) {
		inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: group(gapWed6)}, gapWed6)
		_, _, esc, _ := gapRun(t, e, inc, gapWed6.Add(3*time.Hour))
		want := []string{"3h escalate office: nobody was on call when the alert came (rule outage); level office has someone now",
			"3h escalate lead: auto-escalation trigger (outage)",
			"3h escalate exec: auto-escalation trigger (breach)"}
		if looks := looksAt(esc, "3h "); !reflect.DeepEqual(looks, want) {
			t.Fatalf("escalations at 09:00 %q (all %q), want %q", looks, esc, want)
		}
	})
	t.Run("joining the outage's incident", func(t *testing.T) {
		at, six := gapWed6.Add(10*time.Hour), gapWed6.Add(12*time.Hour) // 16:00, 18:00
		rt := c.Route(c.Service("office"), map[string]string{"severity": "warning", "category": "outage"}, at)
		inc, _ := engApply(t, e, Incident{ID: "i1"}, Event{Kind: EventTrigger, Route: &rt}, at)
		inc, _ = engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "a"}, at.Add(time.Minute))
		inc, _ = engApply(t, e, inc, Event{Kind: EventTrigger, Route: group(six)}, six)
		_, _, esc, _ := gapRun(t, e, inc, gapWed6.Add(27*time.Hour))
		want := []string{"1d3h escalate office: nobody was on call when an auto-escalation trigger re-opened the incident (rule breach); level office has someone now",
			"1d3h escalate lead: auto-escalation trigger (outage)",
			"1d3h escalate exec: auto-escalation trigger (breach)"}
		if looks := looksAt(esc, "1d3h "); !reflect.DeepEqual(looks, want) {
			t.Fatalf("escalations at Thursday 09:00 %q (all %q), want %q", looks, esc, want)
		}
	})
}

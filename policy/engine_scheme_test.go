package policy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// engSEVConfig is engConfig moved to SEV-1–4, its levels timing out per
// priority (the most urgent after 7m, the others after 20m) with no
// level-wide timeout: the shape where a priority the scheme lacks finds
// no timeout and the ladder stops.
var engSEVConfig = func() string {
	c := strings.NewReplacer(
		"priority_scheme: P0-P3", "priority_scheme: SEV-1-4",
		"priorities: [P0]", "priorities: [SEV-1]",
		"      P0: {acknowledge: 5m, status_update: 30m}\n      P3: {urgency: low}\n",
		"      SEV-1: {acknowledge: 5m, status_update: 30m}\n      SEV-4: {urgency: low}\n",
		"        timeout: 10m\n        timeouts: {P1: 20m}\n", "",
		"        timeout: 10m\n", "",
	).Replace(engConfig)
	per := "        timeouts: {SEV-1: 7m, SEV-2: 20m, SEV-3: 20m, SEV-4: 20m}\n"
	for _, lvl := range []string{"first", "second", "third"} {
		c = strings.Replace(c, "      - name: "+lvl+"\n", "      - name: "+lvl+"\n"+per, 1)
	}
	return c
}()

// TestServicePriorityInForce: a priority of the service's scheme is its
// own; one the scheme lacks is the scheme's most urgent, said with ok
// false.
func TestServicePriorityInForce(t *testing.T) {
	for _, tc := range []struct {
		scheme *Scheme
		p      string
		want   string
		ok     bool
	}{
		{SchemeP, "P0", "P0", true},
		{SchemeP, "P3", "P3", true},
		{SchemeP, "SEV-3", "P0", false},
		{SchemeSEV, "SEV-2", "SEV-2", true},
		{SchemeSEV, "P3", "SEV-1", false},
		{SchemeSEV, "", "SEV-1", false},
	} {
		s := &Service{scheme: tc.scheme}
		if got, ok := s.PriorityInForce(tc.p); got != tc.want || ok != tc.ok {
			t.Errorf("%s in %s: %s %v, want %s %v", tc.p, tc.scheme.Name, got, ok, tc.want, tc.ok)
		}
	}
}

// TestEngineEscalatesAPriorityTheSchemeLacksAsTheMostUrgent: a P3
// incident opened under P0–P3 and driven by a config whose service is on
// SEV-1–4 goes on as SEV-1: the level it escalates to times out after
// SEV-1's 7m (it used to find no timeout and stop there, so the third
// level was never paged), and SEV-1's missing-status-update
// and unresolved rules are armed for it (at an acknowledgement, at a
// maintenance window's end).
func TestEngineEscalatesAPriorityTheSchemeLacksAsTheMostUrgent(t *testing.T) {
	old, s := engLoad(t)
	inc, _ := engTrigger(t, old, s, "info")
	if inc.Priority != "P3" || inc.Urgency != UrgencyLow {
		t.Fatalf("trigger: %s %s, want P3 low", inc.Priority, inc.Urgency)
	}
	c, err := Parse([]byte(engSEVConfig), "engine.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Config: c}
	// Up to the first level's timeout, armed under P0–P3 (10m).
	var d Deadline
	for d.Kind != DeadlineEscalate {
		inc, _, d = engFire(t, e, inc)
	}
	if inc.Level != 1 || d.At != t0.Add(10*time.Minute) {
		t.Fatalf("level %d at %s; want the second level at 10m", inc.Level, d.At)
	}
	esc := -1
	for _, p := range inc.Pending {
		if p.Kind == DeadlineEscalate {
			esc = int(p.At.Sub(d.At) / time.Minute)
		}
	}
	if esc != 7 {
		t.Errorf("second level times out after %dm, want SEV-1's 7m (-1: never)", esc)
	}
	_, lines := engRun(t, e, inc, d.At.Add(7*time.Minute))
	if !slices.Contains(lines, "17m escalate third") {
		t.Errorf("after the second level: %v, want the third level at 17m", lines)
	}

	acked, _ := engApply(t, e, inc, Event{Kind: EventAcknowledge, Actor: "b"}, d.At.Add(time.Minute))
	if engPendingKinds(acked)[DeadlineStatusUpdate] != 1 {
		t.Errorf("acknowledged: pending %v, want SEV-1's missing-status-update rule armed", engPendingKinds(acked))
	}
	// A maintenance window's end arms the unresolved rules anew.
	h := &Hold{ID: "mw-1", Until: d.At.Add(time.Hour)}
	held, _ := engApply(t, e, acked, Event{Kind: EventHold, Hold: h}, d.At.Add(2*time.Minute))
	freed, _ := engApply(t, e, held, Event{Kind: EventRelease, Hold: h}, h.Until)
	if engPendingKinds(freed)[DeadlineUnresolved] != 1 {
		t.Errorf("after a maintenance window: pending %v, want SEV-1's unresolved rule armed", engPendingKinds(freed))
	}
}

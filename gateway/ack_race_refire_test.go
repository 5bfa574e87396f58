package gateway

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
)

// timelineHookStore runs hook, once, after the next read of incident id's
// timeline: a write another request makes between the decision's read and
// what it does on it.
type timelineHookStore struct {
	store.Store
	mu   sync.Mutex
	id   string
	hook func()
}

func (s *timelineHookStore) arm(id string, hook func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.id, s.hook = id, hook
}

func (s *timelineHookStore) Timeline(ctx context.Context, id string) ([]store.Entry, error) {
	tl, err := s.Store.Timeline(ctx, id)
	s.mu.Lock()
	hook := s.hook
	if id != s.id {
		hook = nil
	}
	if hook != nil {
		s.hook = nil
	}
	s.mu.Unlock()
	if hook != nil {

		hook()
	}
	return tl, err
}

// TestGroupFiringAnewAcknowledgedWhileDecidedPagesAtOnce: clocks in step.
// The group's resolve was withheld and its incident's ladder ran out,
// nobody acknowledging. Hours later the group fires anew (b); while pagerd
// decides on b's first notification (the timeline read, the resolve not
// yet written), ann acknowledges the old incident: about the outage it
// paged for, not b, which pagerd had not taken yet (as
// TestGroupFiringAnewAcknowledgedBeforeItsFirstNotificationPages). The
// acknowledgement, newer than the read, kept the incident open, the
// firing was taken as a repeat of it, and b paged nobody until its next
// notification (repeat_interval, 4 hours). Decided again on what the
// incident now holds, b pages at once.
func TestGroupFiringAnewAcknowledgedWhileDecidedPagesAtOnce(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			hs := &timelineHookStore{Store: open(t)}
			h := newHarness(t, withStore(hs), withConfig(noStorm))
			t0 := fixedNow
			a, b := lbl("X", "critical", "a"), lbl("X", "critical", "b")
			id, _ := withheldGroup(t, h, a)
			wantLadderOver(t, h, id, t0.Add(2*time.Hour))
			start := t0.Add(3 * time.Hour)
			acked := 0
			hs.arm(id, func() {
				acked = h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`).code
			})
			wantFiredAnewAt(t, h, id, start.Add(time.Minute), amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: start}),
				"b fired anew, ann acknowledging the old incident while its first notification was decided")
			if acked != 200 {
				t.Fatalf("the acknowledgement during the decision answered %d: the test wants it made", acked)
			}
		})
	}
}

// TestGroupFiringAnewEscalatedWhileDecidedIsNotedTaken: as
// TestGroupFiringAnewAcknowledgedWhileDecidedPagesAtOnce, but between the
// decision's read and its resolve ann escalates the old incident, which
// pages again: kept open (it pages: b, taken as a repeat, is paged for),
// b's taking went unnoted, as the resolve the store turned down had been
// applied to the incident the repeat went on with (resolved, in memory),
// so the pages after it held nothing, and once the ladder ran out, b's
// next notification (repeat_interval) resolved the incident and paged
// its people again for the outage they had been paged about.
func TestGroupFiringAnewEscalatedWhileDecidedIsNotedTaken(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			hs := &timelineHookStore{Store: open(t)}
			h := newHarness(t, withStore(hs), withConfig(noStorm))
			t0 := fixedNow
			a, b := lbl("X", "critical", "a"), lbl("X", "critical", "b")
			id, _ := withheldGroup(t, h, a)
			wantLadderOver(t, h, id, t0.Add(2*time.Hour))
			start := t0.Add(3 * time.Hour)
			escalated := 0
			hs.arm(id, func() {
				escalated = h.api("POST", "/api/v1/incidents/"+id+"/escalate", `{"user":"ann"}`).code
			})
			firing := amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: start})
			h.clock.Set(start.Add(time.Minute))
			h.am(amKey, firing)
			if escalated != 200 {
				t.Fatalf("the escalation during the decision answered %d: the test wants it made", escalated)
			}
			if v := h.incident(id); v.Status != "triggered" || v.NextStepAt == nil {
				t.Fatalf("after b's first notification, escalated meanwhile: %s (next step %v), want triggered and paging: %s", v.Status, v.NextStepAt, timelineTypes(v))
			}
			h.runUntil(start.Add(2 * time.Hour))
			v := h.incident(id)
			paged := false
			for _, e := range v.Timeline {
				paged = paged || (e.Type == "notify" && e.At.After(start.Add(time.Minute)))
			}
			if !paged || v.NextStepAt != nil {
				t.Fatalf("after the escalation: paged %v, next step %v; the test wants pages for b, then the ladder over: %s", paged, v.NextStepAt, timelineTypes(v))
			}
			before := len(h.rec.lines(t0))
			at := start.Add(4 * time.Hour)
			h.clock.Set(at)
			h.am(amKey, firing)
			h.runUntil(at.Add(time.Minute))
			firedAnewOrRepeat(t, h, id, h.rec.lines(t0)[before:], false, "triggered")
		})
	}
}

// TestGroupFiringAnewCutWhileItsLadderWasOverPagesOnceWhole: clocks in
// step. The group's resolve was withheld (max_alerts) and its incident's
// ladder ran out, nobody acknowledging. Hours later the group fires anew
// (b1 and b2, at 3h), its first notification cut (b2 left out): a repeat
// that pages nobody, as every cut notification is, noted with no start.
// Half an hour later ann acknowledges the old incident, which had paged
// nobody about b. Once b2 resolved, b1's notification comes whole: the
// acknowledgement, after the no-start entry, held the firing as if the
// entry's taking had told someone of it, and the new outage paged
// nobody, at that notification or any after. A firing taken while the
// incident paged nobody (its ladder over, unacknowledged) tells nobody,
// and noted, an acknowledgement of the old outage after it read as one
// of the new: it pages once it comes whole.
func TestGroupFiringAnewCutWhileItsLadderWasOverPagesOnceWhole(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(noStorm))
			t0 := fixedNow
			a, b := lbl("X", "critical", "a"), lbl("X", "critical", "b1")
			id, _ := withheldGroup(t, h, a)
			wantLadderOver(t, h, id, t0.Add(2*time.Hour))
			start := t0.Add(3 * time.Hour)
			h.clock.Set(start.Add(time.Minute))
			h.am(amKey, amBody("firing", "g", 1, amAlert{st: "firing", labels: b, starts: start}))
			h.runUntil(start.Add(30 * time.Minute))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("acknowledge: %d %s", r.code, r.body)
			}
			wantFiredAnewAt(t, h, id, start.Add(40*time.Minute), amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: start}),
				"b fired anew, first sent cut while the incident paged nobody, then acknowledged")
		})
	}
}

package gateway

import (
	"fmt"
	"testing"
	"time"
)

// Replicas whose clocks are not shared (Redis's TIME refused, or not yet
// read: sharedclock falls back to each host's clock) stamp the timeline
// entries they write with their own time. A firing the incident took
// (firing_taken) and a resolve withheld after it (resolve_withheld),
// written by two such replicas within the skew of each other, must still
// be read in the order they happened.

// TestWithheldResolveAfterAFiringTakenOnASkewedReplica: b fires anew
// while the incident pages, and replica other, whose clock runs skew off
// h's (by more than Alertmanager's group_interval either way), takes it
// (firing_taken); ann acknowledges. Then either b resolves, its resolve
// leaving alerts out (withheld by h, three minutes after other took the
// firing): the group's end, which a new firing of c hours later must read
// as such (the incident resolved, and c's incident pages); or b flaps
// hours later (Alertmanager sends no resolve within group_interval): still
// the firing the incident took, a repeat that pages nobody again. With
// the clocks in step (skew 0) both held; ahead, c paged nobody, and
// behind, b's flap paged ann again.
func TestWithheldResolveAfterAFiringTakenOnASkewedReplica(t *testing.T) {
	for _, skew := range []time.Duration{0, 10 * time.Minute, -10 * time.Minute} {
		for _, ended := range []bool{true, false} {
			t.Run(fmt.Sprintf("other off by %v/ended %v", skew, ended), func(t *testing.T) {
				st, _ := redisStore(t)
				h := newHarness(t, withStore(st), withConfig(noStorm))
				other := newHarness(t, withStore(st), withConfig(noStorm), replicas(0))
				t0 := fixedNow
				a, b, c := lbl("X", "critical", "a"), lbl("X", "critical", "b"), lbl("X", "critical", "c")
				id, _ := withheldGroup(t, h, a)
				h.runUntil(t0.Add(5 * time.Minute))
				other.clock.Set(t0.Add(5*time.Minute + skew))
				other.am(amKey, amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: t0.Add(4 * time.Minute)}))
				if v := h.incident(id); v.Status != "triggered" {
					t.Fatalf("after b's first notification: %s: %s; want triggered", v.Status, timelineTypes(v))
				}
				h.runUntil(t0.Add(6 * time.Minute))
				if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
					t.Fatalf("acknowledge: %d %s", r.code, r.body)
				}
				next := amAlert{st: "firing", labels: b, starts: t0.Add(2*time.Hour + 10*time.Minute)}
				if ended {
					w2 := t0.Add(8 * time.Minute)
					h.runUntil(w2)
					h.am(amKey, amBody("resolved", "g", 1, amAlert{st: "resolved", labels: b, starts: t0.Add(4 * time.Minute), ends: w2}))
					next = amAlert{st: "firing", labels: c, starts: t0.Add(6*time.Hour - 5*time.Minute)}
				}
				h.runUntil(t0.Add(2 * time.Hour))
				before := len(h.rec.lines(t0))
				at := t0.Add(6 * time.Hour)
				h.clock.Set(at)
				h.am(amKey, amBody("firing", "g", 0, next))
				h.runUntil(at.Add(time.Minute))
				firedAnewOrRepeat(t, h, id, h.rec.lines(t0)[before:], ended, "acknowledged")
			})
		}
	}
}

// TestGroupFiringAnewStartedAheadOfPagerdsClockPagesOnceItComes: the
// group's resolve, leaving alerts out, was withheld, and ann acknowledged
// the incident. Hours later the group fires anew, its alert's start ten
// minutes ahead of pagerd's clock (the sender's clock runs ahead, with
// pagerd's replicas in step): said to come, the start says nothing yet,
// and the notification is taken as a repeat. Its next notification
// (repeat_interval), the start past, is read as the group firing anew
// after its end: the incident is resolved and the new firing pages. The
// first, taken, must not stand as another firing taken before it (the
// firing the resolve withheld before it said nothing of): the group's new
// outage paged nobody, ever.
func TestGroupFiringAnewStartedAheadOfPagerdsClockPagesOnceItComes(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)), withConfig(noStorm))
			t0 := fixedNow
			a, c := lbl("X", "critical", "a"), lbl("X", "critical", "c")
			id, _ := withheldGroup(t, h, a)
			h.runUntil(t0.Add(3 * time.Minute))
			if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
				t.Fatalf("acknowledge: %d %s", r.code, r.body)
			}
			at := t0.Add(2 * time.Hour)
			h.runUntil(at)
			before := len(h.rec.lines(t0))
			next := amAlert{st: "firing", labels: c, starts: at.Add(10 * time.Minute)}
			h.am(amKey, amBody("firing", "g", 0, next))
			h.runUntil(at.Add(time.Minute))
			if v := h.incident(id); v.Status != "acknowledged" {
				t.Fatalf("a start said to come: the incident %s: %s; want it taken as a repeat for now", v.Status, timelineTypes(v))
			}
			at = at.Add(4 * time.Hour)
			h.runUntil(at)
			h.am(amKey, amBody("firing", "g", 0, next))
			h.runUntil(at.Add(time.Minute))
			firedAnewOrRepeat(t, h, id, h.rec.lines(t0)[before:], true, "acknowledged")
		})
	}
}

// TestGroupFiringStartedAheadTakenWhileItsIncidentPagedStaysARepeat: as
// TestGroupFiringAnewWhileItsIncidentPagedStaysARepeatWithNoAck, the
// group's resolve was withheld and it fired anew (b) while its incident
// still paged: a repeat, which the ladder then paged bob for, before it
// ran out with nobody acknowledging. b's start reads ahead of pagerd's
// clock (its sender's clock runs ahead, or pagerd's replicas behind), so
// its firing_taken is noted before the start, and the ladder's pages
// read as before it too. At b's next notification (repeat_interval) the
// entry, b's own, must still hold b: read as a firing taken after the
// withheld resolve, with no page after it on the sender's clock, the
// incident was resolved and bob paged again for the outage he had been
// paged about.
func TestGroupFiringStartedAheadTakenWhileItsIncidentPagedStaysARepeat(t *testing.T) {
	for name, open := range stores(t) {
		for _, ahead := range []time.Duration{0, 30 * time.Minute} {
			t.Run(fmt.Sprintf("%s/ahead %v", name, ahead), func(t *testing.T) {
				h := newHarness(t, withStore(open(t)), withConfig(noStorm))
				t0 := fixedNow
				a, b := lbl("X", "critical", "a"), lbl("X", "critical", "b")
				id, _ := withheldGroup(t, h, a)
				start := t0.Add(4*time.Minute + ahead) // on the sender's clock
				newFiring := amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: start})
				h.runUntil(t0.Add(5 * time.Minute))
				h.am(amKey, newFiring)
				if v := h.incident(id); v.Status != "triggered" || v.NextStepAt == nil {
					t.Fatalf("after b's firing, sent while the incident pages: %s (next step %v), want triggered and paging (a repeat)", v.Status, v.NextStepAt)
				}
				wantLadderOver(t, h, id, t0.Add(2*time.Hour))
				before := len(h.rec.lines(t0))
				at := start.Add(4 * time.Hour) // repeat_interval: the same firing again
				h.clock.Set(at)
				h.am(amKey, newFiring)
				h.runUntil(at.Add(time.Minute))
				firedAnewOrRepeat(t, h, id, h.rec.lines(t0)[before:], false, "triggered")
			})
		}
	}
}

// TestGroupFiringStartedAheadLeftOutOfALaterResolveStaysARepeat: the
// group (a) pages and ann acknowledges. An hour later a resolves as c
// joins, c's start ten minutes ahead of pagerd's clock (its sender's
// clock runs ahead); the notification after a's resolved one holds c
// alone: its start said to come, a repeat, and c's firing_taken is
// noted. Two minutes later the group's resolve leaves c out (max_alerts),
// so pagerd withholds it: c, left out, may still fire. At c's next
// notification (repeat_interval, the same start, now past) the resolve
// withheld after c's own entry was read as the group's end before c
// started (the start reads after it), and the incident ann was working
// was resolved and she was paged again. c's entry says c fired before
// that resolve, which ended nothing c started after, as with the clocks
// in step (ahead 0).
func TestGroupFiringStartedAheadLeftOutOfALaterResolveStaysARepeat(t *testing.T) {
	for name, open := range stores(t) {
		for _, ahead := range []time.Duration{0, 10 * time.Minute} {
			t.Run(fmt.Sprintf("%s/ahead %v", name, ahead), func(t *testing.T) {
				h := newHarness(t, withStore(open(t)), withConfig(noStorm))
				t0 := fixedNow
				a, c, e := lbl("X", "critical", "a"), lbl("X", "critical", "c"), lbl("X", "critical", "e")
				r := h.am(amKey, amBody("firing", "g", 0, amAlert{st: "firing", labels: a, starts: t0}))
				var res struct{ Incidents []string }
				r.json(t, &res)
				id := res.Incidents[0]
				h.runUntil(t0.Add(3 * time.Minute))
				if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
					t.Fatalf("acknowledge: %d %s", r.code, r.body)
				}
				at := t0.Add(time.Hour)
				h.runUntil(at)
				cFiring := amAlert{st: "firing", labels: c, starts: at.Add(-30*time.Second + ahead)}
				h.am(amKey, amBody("firing", "g", 0, amAlert{st: "resolved", labels: a, starts: t0, ends: at.Add(-time.Minute)}, cFiring))
				h.runUntil(at.Add(5 * time.Minute))
				h.am(amKey, amBody("firing", "g", 0, cFiring))
				if ahead > 0 && !h.timelineHas(id, "firing_taken", "") {
					t.Fatalf("c's firing not taken: %s", timelineTypes(h.incident(id)))
				}
				h.runUntil(at.Add(7 * time.Minute))
				h.am(amKey, amBody("resolved", "g", 1, amAlert{st: "resolved", labels: e, starts: t0.Add(30 * time.Minute), ends: at.Add(7 * time.Minute)}))
				if v := h.incident(id); v.Status != "acknowledged" || !h.timelineHas(id, "resolve_withheld", "") {
					t.Fatalf("after the resolve that left c out: %s: %s; want acknowledged, the resolve withheld", v.Status, timelineTypes(v))
				}
				h.runUntil(t0.Add(3 * time.Hour))
				before := len(h.rec.lines(t0))
				at = t0.Add(6 * time.Hour)
				h.clock.Set(at)
				h.am(amKey, amBody("firing", "g", 0, cFiring))
				h.runUntil(at.Add(time.Minute))
				firedAnewOrRepeat(t, h, id, h.rec.lines(t0)[before:], false, "acknowledged")
			})
		}
	}
}

// TestGroupFiringAnewAfterALastPageStampedAheadPages: as
// TestGroupFiringAnewWhileItsLadderReachedNobodyPages (the secondary has
// nobody on call), with the replicas' clocks apart (Redis's TIME unread):
// ann's voice call, her last page, went out from replica ahead, whose
// clock runs ten minutes ahead, before b started. b's first notification
// came while the incident still paged (its escalation pending), a repeat
// taken on h, in step; the ladder then ran out having told nobody of it.
// The call's time, stamped ahead, read as a page after b's taking, so b's
// next notification (repeat_interval) stayed a repeat and the new outage
// paged nobody. The timeline's order says the call came before.
func TestGroupFiringAnewAfterALastPageStampedAheadPages(t *testing.T) {
	cfg := secondaryInOfficeHours()
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			h := newHarness(t, withStore(st), withConfig(cfg))
			ahead := newHarness(t, withStore(st), withConfig(cfg))
			t0 := fixedNow
			a, b := lbl("X", "critical", "a"), lbl("X", "critical", "b")
			id, _ := withheldGroup(t, h, a)
			h.runUntil(t0.Add(4*time.Minute + 50*time.Second))
			ahead.step(t0.Add(14*time.Minute + 50*time.Second)) // ann's call, due at 5m
			if n := len(ahead.rec.lines(t0)); n != 1 {
				t.Fatalf("replica ahead sent %d pages, want ann's call", n)
			}
			start := t0.Add(5 * time.Minute)
			newFiring := amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: start})
			h.runUntil(start.Add(time.Minute))
			h.am(amKey, newFiring)
			if v := h.incident(id); v.Status != "triggered" || v.NextStepAt == nil || !h.timelineHas(id, "firing_taken", "") {
				t.Fatalf("after b's firing, sent while the incident pages: %s (next step %v): %s; want triggered and paging, b taken", v.Status, v.NextStepAt, timelineTypes(v))
			}
			wantLadderOver(t, h, id, t0.Add(2*time.Hour))
			// repeat_interval: the same firing again
			wantFiredAnewAt(t, h, id, start.Add(4*time.Hour), newFiring, "the group fired anew and the ladder reached nobody since")
		})
	}
}

// TestGroupFiringStartedAheadAcknowledgedAfterItsTakingStaysARepeat: as
// TestGroupFiringStartedAheadTakenWhileItsIncidentPagedStaysARepeat, but
// ann acknowledges the incident a minute after it took b, before any
// page after that: she acknowledged b while it fired. Her
// acknowledgement's time reads as before b's start (30m ahead) too, or,
// the clocks in step, less than a minute after it (b started at 4m40s,
// taken at 5m, acknowledged at 5m20s), so it did not hold b, and at b's next notification the incident was resolved
// and she was paged again for the outage she was working. Followed in
// the timeline by an acknowledgement, b's own entry holds b as a page
// after it does.
func TestGroupFiringStartedAheadAcknowledgedAfterItsTakingStaysARepeat(t *testing.T) {
	for name, open := range stores(t) {
		for _, tc := range []struct {
			start, ack time.Duration // b's start on the sender's clock, ann's acknowledgement
		}{{4 * time.Minute, 6 * time.Minute}, {34 * time.Minute, 6 * time.Minute}, {4*time.Minute + 40*time.Second, 5*time.Minute + 20*time.Second}} {
			t.Run(fmt.Sprintf("%s/start %v ack %v", name, tc.start, tc.ack), func(t *testing.T) {
				h := newHarness(t, withStore(open(t)), withConfig(noStorm))
				t0 := fixedNow
				a, b := lbl("X", "critical", "a"), lbl("X", "critical", "b")
				id, _ := withheldGroup(t, h, a)
				start := t0.Add(tc.start)
				newFiring := amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: start})
				h.runUntil(t0.Add(5 * time.Minute))
				h.am(amKey, newFiring)
				if v := h.incident(id); v.Status != "triggered" || !h.timelineHas(id, "firing_taken", "") {
					t.Fatalf("after b's firing, sent while the incident pages: %s: %s; want triggered, b taken", v.Status, timelineTypes(v))
				}
				h.runUntil(t0.Add(tc.ack))
				if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
					t.Fatalf("acknowledge: %d %s", r.code, r.body)
				}
				h.runUntil(t0.Add(2 * time.Hour))
				before := len(h.rec.lines(t0))
				at := start.Add(4 * time.Hour) // repeat_interval: the same firing again
				h.clock.Set(at)
				h.am(amKey, newFiring)
				h.runUntil(at.Add(time.Minute))
				firedAnewOrRepeat(t, h, id, h.rec.lines(t0)[before:], false, "acknowledged")
			})
		}
	}
}

package gateway

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/store"
)

// refusingFiringTakenStore refuses, while refuse is set, the Note that
// records a firing taken as a repeat (incident.FiringTaken), as a full
// disk or a Redis over its maxmemory would; every other write goes through.
type refusingFiringTakenStore struct {
	store.Store
	refuse  atomic.Bool
	refused atomic.Int64
}

func (s *refusingFiringTakenStore) Note(ctx context.Context, entries map[string][]store.Entry) error {
	if s.refuse.Load() {
		for _, es := range entries {
			for _, e := range es {
				if e.Type == incident.FiringTaken {
					s.refused.Add(1)
					return errDiskFull
				}
			}
		}
	}
	return s.Store.Note(ctx, entries)
}

// TestFiringTakenRefusedIsAnsweredRetry: clocks in step. The group's
// resolve was withheld (max_alerts) and it fired anew (b, at 4m) while
// its incident paged; its first notification (5m) was taken as a repeat,
// but the store refused the firing_taken note. pagerd logged it and
// answered 200: Alertmanager counted the firing delivered, the ladder
// paged ann (or she acknowledged) while b fired, and b's next
// notification (repeat_interval), finding no taking, read as the group
// firing anew: the incident was resolved and its people paged again for
// the outage they had been paged about. The note is part of what the
// notification stores: refused, the answer is a 503 (never "nothing was
// stored": the repeat was), Alertmanager retries, the retry takes the
// firing again as a repeat, harmlessly, and notes it; b's next
// notification stays a repeat. Also when the notification came cut (the
// firing noted with no start).
func TestFiringTakenRefusedIsAnsweredRetry(t *testing.T) {
	for name, open := range stores(t) {
		for _, tc := range []struct {
			name     string
			ack, cut bool
		}{{"paged", false, false}, {"acknowledged", true, false}, {"cut", false, true}} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				fs := &refusingFiringTakenStore{Store: open(t)}
				h := newHarness(t, withStore(fs), withConfig(noStorm))
				t0 := fixedNow
				a, b := lbl("X", "critical", "a"), lbl("X", "critical", "b")
				id, _ := withheldGroup(t, h, a)
				start := t0.Add(4 * time.Minute)
				left := 0
				if tc.cut {
					left = 1
				}
				first := amBody("firing", "g", left, amAlert{st: "firing", labels: b, starts: start})
				h.runUntil(t0.Add(5 * time.Minute))
				fs.refuse.Store(true)
				r := h.do("POST", "/api/v1/alertmanager", first, "Authorization", "Bearer "+amKey)
				fs.refuse.Store(false)
				if fs.refused.Load() == 0 {
					t.Fatalf("the firing_taken note was never written: the test wants it refused: %s", timelineTypes(h.incident(id)))
				}
				if r.code < 500 || strings.Contains(r.body, "nothing was stored") {
					t.Fatalf("the store refused the firing's taking: answered %d %s; want a 5xx that does not say nothing was stored", r.code, r.body)
				}
				h.am(amKey, first) // Alertmanager's retry
				if v := h.incident(id); v.Status != "triggered" || v.NextStepAt == nil || !h.timelineHas(id, incident.FiringTaken, "") {
					t.Fatalf("after the retry: %s (next step %v), want triggered, paging, the firing noted taken: %s", v.Status, v.NextStepAt, timelineTypes(v))
				}
				status := "triggered"
				if tc.ack {
					h.runUntil(t0.Add(6 * time.Minute))
					if r := h.api("POST", "/api/v1/incidents/"+id+"/acknowledge", `{"user":"ann"}`); r.code != 200 {
						t.Fatalf("acknowledge: %d %s", r.code, r.body)
					}
					status = "acknowledged"
				}
				h.runUntil(t0.Add(2 * time.Hour))
				before := len(h.rec.lines(t0))
				at := start.Add(4 * time.Hour)
				h.clock.Set(at)
				h.am(amKey, amBody("firing", "g", 0, amAlert{st: "firing", labels: b, starts: start}))
				h.runUntil(at.Add(time.Minute))
				firedAnewOrRepeat(t, h, id, h.rec.lines(t0)[before:], false, status)
			})
		}
	}
}

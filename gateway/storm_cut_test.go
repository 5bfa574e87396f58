package gateway

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/dispatch"
)

// TestStormHeldAfterTheTakeoversHoldIsNotTakenBackWithIt: ann's storm (a
// 5 m window, 3 pages at once) has let three pages out. Replica a claims
// a fourth incident's push and asks ann's storm; the store stalls on the
// question past a's lease, b takes the incident over and its storm holds
// the push, the fourth, recorded held for the window's message. Then a's
// question reaches the store, held too, past a's send window: a takes its
// hold back. Listed as gone out on its own after both holds, it took b's
// with it: the window's message left the incident out, and ann was never
// paged for it.
func TestStormHeldAfterTheTakeoversHoldIsNotTakenBackWithIt(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(stormConfig+"notifiers:\n  storm: {window: 5m, immediate: 3}\n"), replicas(0))
			fz := newFreeze()
			a, _ := h.dispatcher(func(o *dispatch.Options) {
				o.Lease = 30 * time.Second
				o.Store = frozenAdmit{Store: o.Store, fz: fz}
			})
			b, _ := h.dispatcher(func(o *dispatch.Options) { o.Lease = 30 * time.Second })
			storm(h, 3, "g")
			if _, err := b.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := len(h.rec.sentTo("ann", "push")); got != 3 {
				t.Fatalf("ann got %d pushes at once, want 3", got)
			}
			id, _ := takeOverWhileFrozen(t, h, a, fz)
			if !h.timelineHas(id, "notify_held", "alert storm") {
				t.Fatalf("b did not hold the push for the storm's message: %+v", h.incident(id).Timeline)
			}
			for _, at := range []time.Duration{5 * time.Minute, 11 * time.Minute} {
				h.clock.Set(fixedNow.Add(at))
				if _, err := b.RunOnce(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			var paged []string
			for _, m := range h.rec.sentTo("ann", "push") {
				if m.Incident == id || slices.Contains(m.Incidents, id) {
					paged = append(paged, m.At.Sub(fixedNow).String())
				}
			}
			if len(paged) != 1 {
				t.Errorf("ann was paged for %s at %v: want once, in the storm's message at 5m", id, paged)
			}
		})
	}
}

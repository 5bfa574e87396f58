package gateway

import (
	"testing"

	"github.com/pagerd/pagerd/gateway/store"
)

// TestStaleClaimLeavesTheTakeoversStormHold is what the fault soak found
// (docs/RELIABILITY.md, "The fault soak", seed 76324111): ann's storm (a
// 5 m window, 3 pages at once) has let three pages out. Replica a claims a
// fourth incident's push and asks ann's storm; the store holds the
// question past a's lease (a Redis stall), b takes the incident over and
// its storm holds the push for the window's message, recorded
// (notify_held). Then a's question reaches the store: the same page, held.
// a's answer is past its send window, so it takes the hold back from the
// storm as gone out on its own; its write putting the step back due fails
// (b took the incident over), but the withdrawal stands. At the window's
// end the storm's message leaves the incident out, and the incident holds
// its push as held: ann is never paged for it.
// Withdraw now leaves a step held twice to the message (5f0d061).
func TestStaleClaimLeavesTheTakeoversStormHold(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fz := newFreeze()
			h, a, _, b := stormTakeover(t, mk(t), func(st store.Store) store.Store { return frozenAdmit{Store: st, fz: fz} }, 3)
			id, _ := takeOverWhileFrozen(t, h, a, fz)
			paged := annPagedThroughTwoWindows(t, h, b, id)
			if len(paged) != 1 {
				t.Errorf("ann was paged for %s at %v: want once, in the storm's message at 5m; timeline: %+v", id, paged, h.incident(id).Timeline)
			}
		})
	}
}

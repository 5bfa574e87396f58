package gateway

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/store"
)

// admitAnsweredAsTheClaimEnds is a store whose storm admission freezes
// before it reaches the store (a Redis stalled while a page asks its
// storm) and then does its work whatever the claim's context says: the
// store took the question in before the claim's time ran out, and its
// answer comes back as it ends.
type admitAnsweredAsTheClaimEnds struct {
	store.Store
	fz *freeze
}

func (s admitAnsweredAsTheClaimEnds) Admit(ctx context.Context, key string, hp store.HeldPage, now time.Time, r store.StormRules) (store.Admission, error) {
	s.fz.point()
	return s.Store.Admit(context.WithoutCancel(ctx), key, hp, now, r)
}

// claimEndsWhileItsStormIsAsked fires an alert and lets replica a claim
// its push and ask ann's storm, where it freezes; moves the clock past a's
// 30 s lease, for b to take the incident over and page; then ends a's
// claim's context and lets the storm's answer reach a. It returns the
// incident.
func claimEndsWhileItsStormIsAsked(t *testing.T, h *harness, a, b *dispatch.Dispatcher, fz *freeze) string {
	t.Helper()
	id := fire(h)
	claimCtx, end := context.WithCancel(context.Background())
	aDone := make(chan struct{})
	go func() { defer close(aDone); _, _ = a.RunOnce(claimCtx) }()
	fz.wait(t)
	h.clock.Set(fixedNow.Add(31 * time.Second))
	if _, err := b.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	end() // the claim's time (its lease and a send timeout) is over
	close(fz.release)
	<-aDone
	if !strings.Contains(h.logs.String(), "while its alert storm was asked; left to the takeover") {
		t.Error("a did not leave its claim to the takeover as its context ended")
	}
	return id
}

// TestStormHeldAsItsClaimEndedAfterTakeoverPagesOnce: ann's storm (a 5 m
// window, 3 pages at once) has let two pages out. Replica a claims a third
// incident's push and asks ann's storm; the store stalls on the question
// past a's lease, b takes the incident over and its storm lets the push
// out at once, the third. Then a's question reaches the store, the fourth
// page of the window, held, and the answer comes as a's claim's context
// ends. a leaves the claim, recording nothing: the hold stayed listed,
// and ann got the incident on its own at 31 s and again in the storm's
// message at the window's end. The hold is taken back (listed as gone out
// on its own) on a context of its own.
func TestStormHeldAsItsClaimEndedAfterTakeoverPagesOnce(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fz := newFreeze()
			h, a, aReg, b := stormTakeover(t, mk(t), func(st store.Store) store.Store { return admitAnsweredAsTheClaimEnds{Store: st, fz: fz} }, 2)
			id := claimEndsWhileItsStormIsAsked(t, h, a, b, fz)
			if got := metric(t, aReg, "pagerd_dispatch_errors_total", "reason", "lease_ran_out"); got != 1 {
				t.Errorf("pagerd_dispatch_errors_total{reason=lease_ran_out} = %v on a, want 1", got)
			}
			paged := annPagedThroughTwoWindows(t, h, b, id)
			if len(paged) != 1 {
				t.Errorf("ann was paged for %s at %v: want once, by b at 31s", id, paged)
			}
		})
	}
}

// TestStormPageLetOutAsItsClaimEndedIsNotCounted: ann's storm (a 5 m
// window, 3 pages at once) is quiet. Replica a claims an incident's push
// and asks ann's storm; the store stalls on the question past a's lease,
// b takes the incident over and its storm lets the push out, the first
// of the window. Then a's question reaches the store and is let out too,
// the second, as a's claim's context ends: a sends nothing. Its count is
// taken back (on a context of its own): two more pages to ann in the
// window go out at once. Left, the window counted a page nobody got, and
// the third page of the storm waited for the window's end.
func TestStormPageLetOutAsItsClaimEndedIsNotCounted(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fz := newFreeze()
			h, a, _, b := stormTakeover(t, mk(t), func(st store.Store) store.Store { return admitAnsweredAsTheClaimEnds{Store: st, fz: fz} }, 0)
			id := claimEndsWhileItsStormIsAsked(t, h, a, b, fz)
			others := storm(h, 2, "g")
			if _, err := b.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range h.rec.sentTo("ann", "push") {
				got = append(got, m.Incident)
			}
			if len(got) != 3 || got[0] != id || got[1] == got[2] || !slices.Contains(others, got[1]) || !slices.Contains(others, got[2]) {
				t.Errorf("ann's pushes %v: want b's of %s, then two of %v at once (a's page, never sent, not counted in the storm)", got, id, others)
			}
		})
	}
}

// TestStormHeldAfterTheTakeoversHoldIsNotTakenBackWithIt: ann's storm (a
// 5 m window, 3 pages at once) has let three pages out. Replica a claims
// a fourth incident's push and asks ann's storm; the store stalls on the
// question past a's lease, b takes the incident over and its storm holds
// the push, the fourth, recorded held for the window's message. Then a's
// question reaches the store, held too, past a's send window or as its
// claim's context ends: a takes its hold back. Listed as gone out on its
// own after both holds, it took b's with it: the window's message left the
// incident out, and ann was never paged for it.
func TestStormHeldAfterTheTakeoversHoldIsNotTakenBackWithIt(t *testing.T) {
	for name, mk := range stores(t) {
		for _, ended := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/context_ended=%v", name, ended), func(t *testing.T) {
				fz := newFreeze()
				h, a, _, b := stormTakeover(t, mk(t), func(st store.Store) store.Store {
					if ended {
						return admitAnsweredAsTheClaimEnds{Store: st, fz: fz}
					}
					return frozenAdmit{Store: st, fz: fz}
				}, 3)
				var id string
				if ended {
					id = claimEndsWhileItsStormIsAsked(t, h, a, b, fz)
				} else {
					id, _ = takeOverWhileFrozen(t, h, a, fz)
				}
				if !h.timelineHas(id, "notify_held", "alert storm") {
					t.Fatalf("b did not hold the push for the storm's message: %+v", h.incident(id).Timeline)
				}
				paged := annPagedThroughTwoWindows(t, h, b, id)
				if len(paged) != 1 {
					t.Errorf("ann was paged for %s at %v: want once, in the storm's message at 5m", id, paged)
				}
			})
		}
	}
}

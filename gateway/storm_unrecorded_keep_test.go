package gateway

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/notify"
)

// refusingFlush is a replica's view of a store that refuses a storm's
// record, its flush and its notes in the incidents' timelines
// (unavailable: nothing written), for refuseFor from the first flush;
// every other call goes through.
type refusingFlush struct {
	store.Store
	refuseFor time.Duration

	mu      sync.Mutex
	first   time.Time
	refused int
}

func (f *refusingFlush) refuse() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.first.IsZero() {
		f.first = time.Now()
	}
	if time.Since(f.first) >= f.refuseFor {
		return nil
	}
	f.refused++
	return fmt.Errorf("%w: redis: i/o timeout", store.ErrUnavailable)
}

func (f *refusingFlush) Flushed(ctx context.Context, c store.Claim, n, top int, now time.Time, r store.StormRules) (bool, error) {
	if err := f.refuse(); err != nil {
		return false, err
	}
	return f.Store.Flushed(ctx, c, n, top, now, r)
}

func (f *refusingFlush) Note(ctx context.Context, entries map[string][]store.Entry) error {
	if err := f.refuse(); err != nil {
		return err
	}
	return f.Store.Note(ctx, entries)
}

// TestUnrecordedStormMessageKeepsItsClaimWhileItsRecordIsRetried: ann's
// storm (a 1 s window, 3 pages at once) holds the fourth of four P0s;
// replica a sends the storm's message at the window's end, and then the
// store refuses the storm's record for 1.5 s, past half of a's 2 s lease.
// The record was tried for half the lease and given up, the claim cut
// back, and replica b took the storm over and sent its message again: ann
// got the held incident twice, as an incident's page did before its claim
// was kept for its record (TestUnrecordedPageKeepsItsClaimWhileItsRecordIsRetried).
func TestUnrecordedStormMessageKeepsItsClaimWhileItsRecordIsRetried(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			h := newHarness(t, withStore(mk(t)), withConfig(stormConfig+"notifiers:\n  storm: {window: 1s, immediate: 3}\n"),
				withNow(time.Now), withNotifier("log", rec), replicas(0))
			refusing := &refusingFlush{Store: h.store, refuseFor: 1500 * time.Millisecond}
			scaled := func(o *dispatch.Options) { o.Lease, o.SendTimeout, o.Now = 2*time.Second, 5*time.Second, time.Now }
			a, aReg := h.dispatcher(func(o *dispatch.Options) { scaled(o); o.Store = refusing })
			b, bReg := h.dispatcher(scaled)
			storm(h, 4, "p")
			messages := func() []notify.Message {
				var out []notify.Message
				for _, m := range rec.sentTo("ann", "push") {
					if len(m.Incidents) > 0 {
						out = append(out, m)
					}
				}
				return out
			}

			aDone := make(chan struct{})
			go func() {
				defer close(aDone)
				for len(messages()) == 0 {
					if _, err := a.RunOnce(context.Background()); err != nil {
						t.Error(err)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}()
			for deadline := time.Now().Add(10 * time.Second); len(messages()) == 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("a never sent the storm's message")
				}
			}
			// b looks while a retries the record, and for two leases
			// after: a claim given up would run out meanwhile.
			lookAfter(t, b, aDone, 2*2*time.Second, nil)
			if got := messages(); len(got) != 1 || len(rec.sentTo("ann", "push")) != 4 {
				t.Fatalf("ann got %d storm messages and %d pushes in all (%v), want one message after 3 pushes: b took the storm over while a retried its record (%d refused)",
					len(got), len(rec.sentTo("ann", "push")), rec.lines(fixedNow), refusing.refused)
			}
			if n := metric(t, bReg, "pagerd_dispatch_takeovers_total"); n != 0 {
				t.Errorf("b took %v claims over", n)
			}
			if n := metric(t, aReg, "pagerd_dispatch_unrecorded"); n != 0 {
				t.Errorf("pagerd_dispatch_unrecorded = %v on a, want 0: the message is recorded", n)
			}
		})
	}
}

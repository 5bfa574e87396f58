package gateway

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/gateway/store"
)

// refusingFinish is a replica's view of a store that refuses its
// Finishes (unavailable: nothing written) for refuseFor from the first
// one, or for good when refuseFor is zero; every other call goes through.
type refusingFinish struct {
	store.Store
	refuseFor time.Duration

	mu      sync.Mutex
	first   time.Time
	refused int
}

func (f *refusingFinish) Finish(ctx context.Context, c store.Claim, inc *store.Incident, tl []store.Entry) error {
	f.mu.Lock()
	if f.first.IsZero() {
		f.first = time.Now()
	}
	refuse := f.refuseFor == 0 || time.Since(f.first) < f.refuseFor
	if refuse {
		f.refused++
	}
	f.mu.Unlock()
	if refuse {
		return fmt.Errorf("%w: redis: i/o timeout", store.ErrUnavailable)
	}
	return f.Store.Finish(ctx, c, inc, tl)
}

func (f *refusingFinish) refusals() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refused
}

// A page whose record the store refuses for longer than half the lease
// keeps its claim while the record is retried, so no other replica takes
// the step over and pages it again. Replica a pushes ann; its store
// refuses a's record for 600 ms (a 400 ms lease), while replica b looks
// for due work every 20 ms. Before, a gave up the record at half the
// lease (RecordRetry), its claim ran out at 400 ms with the push only in
// a's journal, and b took the step over and pushed ann a second time.
func TestUnrecordedPageKeepsItsClaimWhileItsRecordIsRetried(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			h := newHarness(t, withStore(mk(t)), withNow(time.Now), withNotifier("log", rec))
			refusing := &refusingFinish{Store: h.store, refuseFor: 600 * time.Millisecond}
			scaled := func(o *dispatch.Options) {
				o.Lease, o.SendTimeout, o.Now = 400*time.Millisecond, 3*time.Second, time.Now
			}
			a, aReg := h.dispatcher(func(o *dispatch.Options) { scaled(o); o.Store = refusing })
			b, bReg := h.dispatcher(scaled)
			id := fire(h)

			aDone := runOnceAside(t, a)
			for len(rec.sentTo("ann", "push")) == 0 {
				select {
				case <-aDone:
					t.Fatal("a stopped before it pushed")
				case <-time.After(time.Millisecond):
				}
			}
			// And a lease after a is done: the claim would run out.
			lookAfter(t, b, aDone, 2*400*time.Millisecond, nil)
			if got := rec.sentTo("ann", "push"); len(got) != 1 || got[0].Incident != id {
				t.Fatalf("ann was pushed %d times, want once: b took the step over while a retried its record (%d refused)", len(got), refusing.refusals())
			}
			if n := metric(t, bReg, "pagerd_dispatch_takeovers_total"); n != 0 {
				t.Errorf("b took %v claims over", n)
			}
			if n := metric(t, aReg, "pagerd_dispatch_lease_keeps_total", "result", "kept"); n < 1 {
				t.Errorf("a kept its claim's lease %v times, want at least once", n)
			}
			if n := metric(t, aReg, "pagerd_dispatch_unrecorded"); n != 0 {
				t.Errorf("pagerd_dispatch_unrecorded = %v on a, want 0: the push is recorded", n)
			}
			pushedOnceInTimeline(t, h, id, "")
		})
	}
}

// goneAfterFinish is a replica's view of a store it loses for good at its
// first Finish (a network partition, say): that and every call after it
// is refused, as unavailable, nothing written.
type goneAfterFinish struct {
	store.Store
	gone atomic.Bool
}

var errGone = fmt.Errorf("%w: dial tcp: connection refused", store.ErrUnavailable)

func (g *goneAfterFinish) Finish(context.Context, store.Claim, *store.Incident, []store.Entry) error {
	g.gone.Store(true)
	return errGone
}

func (g *goneAfterFinish) Get(ctx context.Context, id string) (*store.Incident, error) {
	if g.gone.Load() {
		return nil, errGone
	}
	return g.Store.Get(ctx, id)
}

func (g *goneAfterFinish) Extend(ctx context.Context, c store.Claim, until time.Time) (bool, error) {
	if g.gone.Load() {
		return false, errGone
	}
	return g.Store.Extend(ctx, c, until)
}

func (g *goneAfterFinish) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Claim, error) {
	if g.gone.Load() {
		return nil, errGone
	}
	return g.Store.ClaimDue(ctx, now, lease, max)
}

func (g *goneAfterFinish) Timeline(ctx context.Context, id string) ([]store.Entry, error) {
	if g.gone.Load() {
		return nil, errGone
	}
	return g.Store.Timeline(ctx, id)
}

// A replica that loses its store for good right after a page holds the
// page's claim no longer than the lease it had from the store: its keeps
// fail, and another replica takes the step over when that lease ends and
// pages (a duplicate, as after a crash, rather than a page missed), here
// within a lease of a's claim (400 ms), well before the claim's own time
// (a lease and the send timeout, 1.4 s) that bounds the record's retries.
func TestUnrecordedPageOfAReplicaThatLostItsStoreIsTakenOver(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			h := newHarness(t, withStore(mk(t)), withNow(time.Now), withNotifier("log", rec))
			gone := &goneAfterFinish{Store: h.store}
			const lease, send = 400 * time.Millisecond, time.Second
			scaled := func(o *dispatch.Options) { o.Lease, o.SendTimeout, o.Now = lease, send, time.Now }
			a, _ := h.dispatcher(func(o *dispatch.Options) { scaled(o); o.Store = gone })
			b, bReg := h.dispatcher(scaled)
			id := fire(h)

			start := time.Now()
			aDone := make(chan struct{})
			go func() {
				defer close(aDone)
				a.RunOnce(context.Background()) // fails: its store is gone
			}()
			var again time.Duration
			lookAfter(t, b, aDone, 2*lease, func() bool {
				if len(rec.sentTo("ann", "push")) < 2 {
					return false
				}
				again = time.Since(start)
				return true
			})
			<-aDone
			if got := rec.sentTo("ann", "push"); len(got) != 2 || got[1].Incident != id {
				t.Fatalf("ann was pushed %d times, want twice (a's, whose record its store refused, then the takeover's)", len(got))
			}
			// The lease as a claimed it, and a lease for b's look and
			// push (b looks every 20 ms).
			if bound := 2 * lease; again > bound {
				t.Errorf("the takeover pushed %v after a's claim, want within %v", again.Round(time.Millisecond), bound)
			}
			if n := metric(t, bReg, "pagerd_dispatch_takeovers_total"); n != 1 {
				t.Errorf("b took %v claims over, want 1", n)
			}
			pushedOnceInTimeline(t, h, id, " (the takeover's)")
		})
	}
}

// lookAfter has replica b look for due work every 20 ms until running
// has closed and then for after more, or until done, when set, says so.
func lookAfter(t *testing.T, b *dispatch.Dispatcher, running <-chan struct{}, after time.Duration, done func() bool) {
	t.Helper()
	var end time.Time
	for done == nil || !done() {
		if end.IsZero() {
			select {
			case <-running:
				end = time.Now().Add(after)
			default:
			}
		} else if time.Now().After(end) {
			return
		}
		time.Sleep(20 * time.Millisecond)
		if _, err := b.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

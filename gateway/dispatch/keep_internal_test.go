package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pagerd/pagerd/gateway/store"
)

// keeperOf is the keeper keepLease put in ctx.
func keeperOf(t *testing.T, ctx context.Context) *keeper {
	t.Helper()
	k, ok := ctx.Value(keeperKey{}).(*keeper)
	if !ok {
		t.Fatal("no keeper in the claim's context")
	}
	return k
}

// nextDue is when the store has anything due next.
func nextDue(t *testing.T, d *Dispatcher) time.Time {
	t.Helper()
	at, ok, err := d.o.Store.NextDue(context.Background())
	if err != nil || !ok {
		t.Fatalf("NextDue: %v %v %v", at, ok, err)
	}
	return at
}

// A claim kept (its lease moved a lease ahead at half of it) and then
// left to run out (its pages could no longer start in time) is taken
// over when its lease as claimed ends, not a lease after its last keep:
// leaving a claim must not make its pages later than before there were
// keeps. The keeps are called by hand on the test's clock.
func TestLeftClaimRunsOutWhenItsClaimedLeaseEnds(t *testing.T) {
	d, _, clk, t0 := flushSetup(t, &countingNotifier{})
	c := claimStorm(t, d, t0)
	ctx, stop := d.keepLease(context.Background(), c, t0)
	defer stop()
	k := keeperOf(t, ctx)

	clk.set(t0.Add(d.o.Lease / 2))
	k.keep()
	if at, want := nextDue(t, d), t0.Add(d.o.Lease*3/2); !at.Equal(want) {
		t.Fatalf("the storm is due at %v after a keep at half its lease, want %v (a lease after the keep)", at.Sub(t0), want.Sub(t0))
	}
	if got := testutil.ToFloat64(d.m.keeps.WithLabelValues(keepKept)); got != 1 {
		t.Fatalf("pagerd_dispatch_lease_keeps_total{result=%q} = %v, want 1", keepKept, got)
	}

	clk.set(t0.Add(d.sendWindow() + time.Second))
	if err := d.leaveToRunOut(ctx, c, t0.Add(d.sendWindow())); err != nil {
		t.Fatal(err)
	}
	if at, want := nextDue(t, d), t0.Add(d.o.Lease); !at.Equal(want) {
		t.Fatalf("the storm left to run out is due at %v, want %v: its lease as claimed", at.Sub(t0), want.Sub(t0))
	}
	cs, err := d.o.Store.ClaimDue(context.Background(), t0.Add(d.o.Lease), d.o.Lease, 10)
	if err != nil || len(cs) != 1 || !cs[0].Takeover {
		t.Fatalf("claims at the claimed lease's end: %+v %v, want the storm taken over", cs, err)
	}
	// Left, the claim is kept no more.
	k.keep()
	if got := testutil.ToFloat64(d.m.keeps.WithLabelValues(keepKept)); got != 1 {
		t.Fatalf("a claim left to run out was kept again: %v keeps", got)
	}
}

// refusingExtend is a store that does not take keeps.
type refusingExtend struct{ store.Store }

func (refusingExtend) Extend(context.Context, store.Claim, time.Time) (bool, error) {
	return false, errors.New("redis: connection refused")
}

// A keep the store does not take is counted and tried again soon: if the
// lease runs out meanwhile, another replica may page a second time, and
// nothing said so.
func TestRefusedKeepIsCounted(t *testing.T) {
	d, st, clk, t0 := flushSetup(t, &countingNotifier{})
	c := claimStorm(t, d, t0)
	d.o.Store = refusingExtend{st}
	ctx, stop := d.keepLease(context.Background(), c, t0)
	defer stop()
	clk.set(t0.Add(d.o.Lease / 2))
	keeperOf(t, ctx).keep()
	if got := testutil.ToFloat64(d.m.keeps.WithLabelValues(keepFailed)); got != 1 {
		t.Fatalf("pagerd_dispatch_lease_keeps_total{result=%q} = %v after a refused keep, want 1", keepFailed, got)
	}
	if at := nextDue(t, d); !at.Equal(t0.Add(d.o.Lease)) {
		t.Fatalf("the storm is due at %v, want at its lease's end", at.Sub(t0))
	}
}

// heldExtend is a store whose first Extend (a keep) waits, once in the
// store, until release: a keep slow to answer.
type heldExtend struct {
	store.Store
	entered, release chan struct{}
	once             sync.Once
}

func (s *heldExtend) Extend(ctx context.Context, c store.Claim, until time.Time) (bool, error) {
	first := false
	s.once.Do(func() { first = true })
	held, err := s.Store.Extend(ctx, c, until)
	if first {
		close(s.entered)
		<-s.release
	}
	return held, err
}

// A claim left to run out while its first keep is still on its way to the
// store is cut back all the same once that keep is in. The keep moved the
// lease end; the cut back, which waits for it, did not know (a keep that
// finds its keeper stopped recorded nothing), and left the claim to run
// out a lease after the keep: its step a lease later than the claim's own
// end. The same for a claim whose work failed during its first keep.
func TestClaimLeftDuringItsFirstKeepIsCutBack(t *testing.T) {
	d, st, clk, t0 := flushSetup(t, &countingNotifier{})
	c := claimStorm(t, d, t0)
	held := &heldExtend{Store: st, entered: make(chan struct{}), release: make(chan struct{})}
	d.o.Store = held
	ctx, stop := d.keepLease(context.Background(), c, t0)
	defer stop()
	k := keeperOf(t, ctx)

	clk.set(t0.Add(d.o.Lease / 2))
	go k.keep()
	<-held.entered // the keep moved the lease end; its answer is on its way
	left := make(chan error)
	go func() { left <- d.leaveToRunOut(ctx, c, t0.Add(d.sendWindow())) }()
	for stopped := false; !stopped; time.Sleep(time.Millisecond) {
		k.mu.Lock()
		stopped = k.done
		k.mu.Unlock()
	}
	close(held.release)
	if err := <-left; err != nil {
		t.Fatal(err)
	}
	if at, want := nextDue(t, d), t0.Add(d.o.Lease); !at.Equal(want) {
		t.Fatalf("the storm left to run out during its first keep is due at %v, want %v: its lease as claimed", at.Sub(t0), want.Sub(t0))
	}
}

// lostExtend is a store that moves a keep's lease end and loses its
// answer (a Redis that ran the script and timed out before answering).
type lostExtend struct{ store.Store }

func (s lostExtend) Extend(ctx context.Context, c store.Claim, until time.Time) (bool, error) {
	if _, err := s.Store.Extend(ctx, c, until); err != nil {
		return false, err
	}
	return false, fmt.Errorf("redis: i/o timeout: %w", store.ErrOutcomeUnknown)
}

// A keep whose answer was lost may have moved the lease end: a claim left
// to run out after it is cut back all the same. It was not (only a keep
// answered "kept" counted), and when that keep was the claim's first, the
// claim was taken over a lease after it, not when its claimed lease ended.
func TestClaimLeftAfterAKeepWhoseAnswerWasLostIsCutBack(t *testing.T) {
	d, st, clk, t0 := flushSetup(t, &countingNotifier{})
	c := claimStorm(t, d, t0)
	d.o.Store = lostExtend{st}
	ctx, stop := d.keepLease(context.Background(), c, t0)
	defer stop()

	clk.set(t0.Add(d.o.Lease / 2))
	keeperOf(t, ctx).keep()
	if got := testutil.ToFloat64(d.m.keeps.WithLabelValues(keepFailed)); got != 1 {
		t.Fatalf("pagerd_dispatch_lease_keeps_total{result=%q} = %v after a keep whose answer was lost, want 1", keepFailed, got)
	}
	d.o.Store = st
	if err := d.leaveToRunOut(ctx, c, t0.Add(d.sendWindow())); err != nil {
		t.Fatal(err)
	}
	if at, want := nextDue(t, d), t0.Add(d.o.Lease); !at.Equal(want) {
		t.Fatalf("the storm left to run out after a keep whose answer was lost is due at %v, want %v: its lease as claimed", at.Sub(t0), want.Sub(t0))
	}
}

// A claim held up past its send window and kept again (sendAgain) gets a
// send window anew from the keep, but its context still ends a lease and
// a send timeout after the claim: a page that asks later in that window,
// when less than a send timeout of the claim's time is left, must not
// start. Cut short by the claim's context it is not known to be sent, the
// claim is cut back and taken over, and the takeover pages the step
// again: a page that went out is sent twice.
func TestPageAfterASendAgainNeedsASendTimeoutOfTheClaimsTime(t *testing.T) {
	d, _, clk, t0 := flushSetup(t, &countingNotifier{})
	c := claimStorm(t, d, t0)
	claimCtx, cancel := context.WithTimeout(context.Background(), d.o.SendTimeout+time.Minute)
	defer cancel()
	ctx, stop := d.keepLease(claimCtx, c, t0)
	defer stop()
	sendBy := t0.Add(d.sendWindow())

	clk.set(sendBy.Add(time.Second)) // held up past the send window
	if d.pastSendBy(ctx, sendBy) {
		t.Fatal("a claim still this replica's, with its time left, may not page after a keep")
	}
	// Later in the new window, with less than a send timeout of the
	// claim's context left.
	clk.set(sendBy.Add(2 * time.Second))
	short, cancelShort := context.WithTimeout(ctx, d.o.SendTimeout/2)
	defer cancelShort()
	if !d.pastSendBy(short, sendBy) {
		t.Fatalf("a page may start with %v of its claim's time left, less than the send timeout (%v): cut short, it is sent again by the takeover",
			d.o.SendTimeout/2, d.o.SendTimeout)
	}
}

// countingExtends counts a store's Extend calls.
type countingExtends struct {
	store.Store
	n atomic.Int32
}

func (s *countingExtends) Extend(ctx context.Context, c store.Claim, until time.Time) (bool, error) {
	s.n.Add(1)
	return s.Store.Extend(ctx, c, until)
}

// A claim held up past its send window and taken over meanwhile: the
// first page's keep finds it no longer this replica's, and the claim's
// other pages do not ask the store again (each asked, a store call a page
// for an answer already known).
func TestSendAgainAsksOnceAClaimTakenOver(t *testing.T) {
	d, st, clk, t0 := flushSetup(t, &countingNotifier{})
	c := claimStorm(t, d, t0)
	sendBy := t0.Add(d.sendWindow())
	claimCtx, cancel := context.WithTimeout(context.Background(), d.o.SendTimeout+time.Minute)
	defer cancel()
	ctx, stop := d.keepLease(claimCtx, c, t0) // its own keep is half a lease away
	defer stop()
	clk.set(t0.Add(d.o.Lease))
	if cs := claimStorm(t, d, clk.now()); !cs.Takeover {
		t.Fatalf("not a takeover: %+v", cs)
	}
	counting := &countingExtends{Store: st}
	d.o.Store = counting
	for page := range 3 {
		if !d.pastSendBy(ctx, sendBy) {
			t.Fatalf("page %d may start in a claim taken over", page)
		}
	}
	if n := counting.n.Load(); n != 1 {
		t.Fatalf("%d keeps asked for the claim's 3 pages, want 1: the first found it taken over", n)
	}
}

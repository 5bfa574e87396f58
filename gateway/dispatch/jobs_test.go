package dispatch

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/policy"
)

// jobStore opens an embedded store for a job test, closed when it ends,
// with a clock the test sets, at base.
func jobStore(t *testing.T) (st store.Store, base time.Time, clock func() time.Time, set func(time.Time)) {
	bs, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bs.Close() })
	base = time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := base
	clock = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set = func(at time.Time) { mu.Lock(); defer mu.Unlock(); now = at }
	return bs, base, clock, set
}

// TestJobsRunOnceAcrossReplicas: a job is done by exactly one of three
// dispatchers, at its time, and its handler's next run is stored and done
// in turn; a job of a kind nobody handles is dropped, not retried forever.
func TestJobsRunOnceAcrossReplicas(t *testing.T) {
	st, base, clock, set := jobStore(t)
	var runs atomic.Int64
	handler := func(ctx context.Context, j *store.Job) (*store.Job, error) {
		n := runs.Add(1)
		if n >= 2 {
			return nil, nil
		}
		return &store.Job{Due: j.Due.Add(time.Hour), Data: j.Data}, nil
	}
	var ds []*Dispatcher
	for i := 0; i < 3; i++ {
		ds = append(ds, New(Options{Store: st, Config: func() *policy.Config { return &policy.Config{} }, Now: clock,
			Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Jobs: map[string]JobHandler{"notice": handler}}))
	}
	ctx := context.Background()
	if err := st.PutJob(ctx, store.Job{Kind: "notice", Key: "aivo", Due: base.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutJob(ctx, store.Job{Kind: "gone", Key: "x", Due: base.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	step := func(at time.Time) {
		set(at)
		var wg sync.WaitGroup
		for _, d := range ds {
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = d.RunOnce(ctx) }()
		}
		wg.Wait()
	}
	step(base.Add(59 * time.Second))
	if runs.Load() != 0 {
		t.Fatal("a job ran before its time")
	}
	step(base.Add(time.Minute))
	if runs.Load() != 1 {
		t.Fatalf("%d runs at the job's time, want 1", runs.Load())
	}
	if _, err := st.GetJob(ctx, "gone", "x"); err == nil {
		t.Fatal("a job nothing handles was kept")
	}
	step(base.Add(time.Hour))
	if runs.Load() != 1 {
		t.Fatal("the next run came early")
	}
	step(base.Add(time.Hour + time.Minute))
	if runs.Load() != 2 {
		t.Fatalf("%d runs after the next run's time, want 2", runs.Load())
	}
	if _, err := st.GetJob(ctx, "notice", "aivo"); err == nil {
		t.Fatal("a job whose handler said it is done was kept")
	}
}

// heldUpClaims is a store whose claims come back with the clock moved on
// by by (the replica stopped between asking for them and working them).
type heldUpClaims struct {
	store.Store
	by      time.Duration
	advance func(time.Duration)
}

func (s *heldUpClaims) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Claim, error) {
	claims, err := s.Store.ClaimDue(ctx, now, lease, max)
	if len(claims) > 0 {
		s.advance(s.by)
	}
	return claims, err
}

// TestJobPastSendByIsLeftToTheTakeover: a replica held up after claiming
// a job until past the claim's sendBy (three quarters of its lease), whose
// store does not take the keep of its lease (so it cannot tell whether
// another replica took the job over), does not run it: a job sends (a
// shift notice), and the replica that takes it over when the lease ends
// may have sent it. The job runs once, there.
func TestJobPastSendByIsLeftToTheTakeover(t *testing.T) {
	st, base, clock, set := jobStore(t)
	advance := func(by time.Duration) { set(clock().Add(by)) }
	var runs atomic.Int64
	handler := func(ctx context.Context, j *store.Job) (*store.Job, error) { runs.Add(1); return nil, nil }
	mk := func(s store.Store) *Dispatcher {
		return New(Options{Store: s, Config: func() *policy.Config { return &policy.Config{} }, Now: clock, Lease: 30 * time.Second,
			Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Jobs: map[string]JobHandler{"notice": handler}})
	}
	a := mk(refusingExtend{&heldUpClaims{Store: st, by: 25 * time.Second, advance: advance}})
	b := mk(st)
	ctx := context.Background()
	if err := st.PutJob(ctx, store.Job{Kind: "notice", Key: "aivo", Due: base}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := runs.Load(); n != 0 {
		t.Fatalf("the held-up replica ran the job %d times past sendBy, want 0", n)
	}
	if got := testutil.ToFloat64(a.m.errors.WithLabelValues(leaseRanOut)); got != 1 {
		t.Errorf("pagerd_dispatch_errors_total{reason=lease_ran_out} = %v, want 1", got)
	}
	advance(6 * time.Second) // past the lease
	if _, err := b.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("the job ran %d times after the lease ended, want once", n)
	}
}

// TestJobPastSendByKeptStillItsOwnSendsItsNotices: a replica held up after
// claiming a job until past the claim's sendBy, whose keep finds the
// claim still its own, runs the job, and its handler (shift notices,
// which look at SendBy before each message) is told the window the keep
// opened: told the claim's first one, every notice was past it and put
// off to the job's next run.
func TestJobPastSendByKeptStillItsOwnSendsItsNotices(t *testing.T) {
	st, base, clock, set := jobStore(t)
	advance := func(by time.Duration) { set(clock().Add(by)) }
	var runs, inWindow atomic.Int64
	handler := func(ctx context.Context, j *store.Job) (*store.Job, error) {
		runs.Add(1)
		if by, ok := SendBy(ctx); ok && !clock().After(by) {
			inWindow.Add(1)
		}
		return nil, nil
	}
	a := New(Options{Store: &heldUpClaims{Store: st, by: 25 * time.Second, advance: advance}, Config: func() *policy.Config { return &policy.Config{} },
		Now: clock, Lease: 30 * time.Second, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Jobs: map[string]JobHandler{"notice": handler}})
	ctx := context.Background()
	if err := st.PutJob(ctx, store.Job{Kind: "notice", Key: "aivo", Due: base}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("the job ran %d times, want once: the keep found its claim still this replica's", n)
	}
	if inWindow.Load() != 1 {
		t.Fatal("the job's handler was told a send window already over: its notices wait for the job's next run")
	}
}

package dispatch

import (
	"context"
	"fmt"
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

// countingClaims counts the dispatcher's looks at the due set, and
// which incidents they claimed.
type countingClaims struct {
	store.Store
	claims  atomic.Int64
	mu      sync.Mutex
	claimed map[string]bool
}

func (c *countingClaims) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Claim, error) {
	c.claims.Add(1)
	cs, err := c.Store.ClaimDue(ctx, now, lease, max)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.claimed == nil {
		c.claimed = map[string]bool{}
	}
	for _, cl := range cs {
		c.claimed[cl.Incident] = true
	}
	return cs, err
}

// claimedAll is how many of ids were claimed.
func (c *countingClaims) claimedAll(ids []string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, id := range ids {
		if c.claimed[id] {
			n++
		}
	}
	return n
}

// TestWakesInAFloodAreFewClaims: in a flood every alert wakes the
// dispatcher, and a look at the due set for each cost more than the alert
// (every shard read, on Redis): the wakes that come within wakeGap of a
// claim are one claim.
func TestWakesInAFloodAreFewClaims(t *testing.T) {
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cs := &countingClaims{Store: st}
	d := New(Options{Store: cs, Config: func() *policy.Config { return &policy.Config{} }, Now: time.Now,
		MaxSleep: time.Hour, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = d.Run(ctx) }()
	for cs.claims.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	before := cs.claims.Load()
	start := time.Now()
	for range 400 {
		d.Wake()
		time.Sleep(250 * time.Microsecond)
	}
	time.Sleep(2 * wakeGap) // the last wake's claim
	elapsed := time.Since(start)
	claims := cs.claims.Load() - before
	if most := int64(elapsed/wakeGap) + 2; claims > most {
		t.Errorf("400 wakes over %v made %d claims, want at most %d (one per %v)", elapsed.Round(time.Millisecond), claims, most, wakeGap)
	}
	if claims == 0 {
		t.Error("400 wakes made no claim")
	}

	// A flood of incidents, each due at once and each waking it: their
	// steps finishing are no claim each either, and every one is worked.
	// Twenty senders at once, so the embedded store's commits are
	// shared and the flood comes faster than one a wakeGap.
	before, start = cs.claims.Load(), time.Now()
	ids := make([]string, 200)
	var wg sync.WaitGroup
	for w := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(ids); i += 20 {
				now := time.Now().UTC()
				key := fmt.Sprintf("flood-%d", i)
				inc := &store.Incident{ID: store.NewID(store.ShardOf("api", key), now), Service: "api", DedupKey: key,
					CreatedAt: now, UpdatedAt: now, LastSeen: now,
					State: policy.Incident{Status: policy.StatusTriggered, Pending: []policy.Deadline{{ID: "0001.000001.notify", At: now, Kind: policy.DeadlineNotify, User: "ann", Channel: "push", Seq: 1}}}}
				if _, _, err := st.Trigger(ctx, inc, nil); err != nil {
					t.Error(err)
					return
				}
				ids[i] = inc.ID
				d.Wake()
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for cs.claimedAll(ids) < len(ids) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d incidents claimed 10 s after the flood", cs.claimedAll(ids), len(ids))
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(2 * wakeGap) // their steps finish
	elapsed = time.Since(start)
	cancel()
	<-ran
	claims = cs.claims.Load() - before
	t.Logf("200 incidents over %v: %d claims", elapsed, claims)
	if most := int64(elapsed/wakeGap) + 2; claims > most {
		t.Errorf("200 incidents over %v made %d claims, want at most %d (one per %v)", elapsed.Round(time.Millisecond), claims, most, wakeGap)
	}
}

// slowClaims makes its claims, then answers after delay, or fails when
// its caller gives up first, as a slow store does: the claims are made
// either way.
type slowClaims struct {
	store.Store
	delay time.Duration
}

func (s *slowClaims) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]store.Claim, error) {
	cs, err := s.Store.ClaimDue(context.WithoutCancel(ctx), now, lease, max)
	select {
	case <-time.After(s.delay):
		return cs, err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", store.ErrUnavailable, ctx.Err())
	}
}

// TestClaimsAnsweredSlowlyAreWorked: the loop gave a claim the 5 s of its
// other store calls (here shortened to 50 ms), and a store that answered
// later made the claims all the same: they were dropped, leased, and
// nobody worked them until the lease ran out, at every claim while the
// store stayed that slow. A claim is waited for half the lease now (here
// 1 s, for a store answering in 300 ms).
func TestClaimsAnsweredSlowlyAreWorked(t *testing.T) {
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	inc := &store.Incident{ID: store.NewID(store.ShardOf("gone", "k"), now), Service: "gone", DedupKey: "k", CreatedAt: now, UpdatedAt: now, LastSeen: now,
		State: policy.Incident{Status: policy.StatusTriggered, Pending: []policy.Deadline{{ID: "0001.000001.notify", At: now, Kind: policy.DeadlineNotify, User: "ann", Channel: "push", Seq: 1}}}}
	if _, _, err := st.Trigger(context.Background(), inc, nil); err != nil {
		t.Fatal(err)
	}
	d := New(Options{Store: &slowClaims{Store: st, delay: 300 * time.Millisecond}, Config: func() *policy.Config { return &policy.Config{} },
		Now: time.Now, Lease: 2 * time.Second, MaxSleep: time.Hour, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	d.callTimeout = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = d.Run(ctx) }()
	defer func() { cancel(); <-ran }()
	// Its service is in no config: working it counts unknown_service.
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(d.m.errors.WithLabelValues("unknown_service")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the incident claimed by a store answering in 300 ms was not worked in 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

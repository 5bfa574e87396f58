package boltstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/storetest"
	"github.com/pagerd/pagerd/policy"
)

func open(tb testing.TB, dir string) *Store {
	tb.Helper()
	s, err := Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() }) // a second Close is harmless
	return s
}

// TestConformance runs the store suite; Reopen closes the database and
// opens the same data directory again, as a restart does.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Factory{
		New: func(t *testing.T) store.Store { return open(t, t.TempDir()) },
		Reopen: func(t *testing.T, s store.Store) store.Store {
			dir := s.(*Store).dir
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, dir)
		},
	})
}

// TestSecondOpenFails: a second pagerd on the same data directory gets a
// clear error after the lock timeout, not a hang.
func TestSecondOpenFails(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	start := time.Now()
	s2, err := Open(dir)
	elapsed := time.Since(start)
	if err == nil {
		s2.Close()
		t.Fatal("a second Open of a data dir in use succeeded")
	}
	if want := fmt.Sprintf("data dir %s is in use by another pagerd", dir); err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	if elapsed > LockTimeout+time.Second {
		t.Fatalf("second Open took %v", elapsed)
	}
}

var base = time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)

func newIncident(service, dedup string, at time.Time, deadlines int) *store.Incident {
	inc := &store.Incident{
		ID: store.NewID(store.ShardOf(service, dedup), at), Service: service, DedupKey: dedup,
		Source: "api", Summary: "disk full", CreatedAt: at, UpdatedAt: at, LastSeen: at,
		State: policy.Incident{Service: service, Priority: "P1", Urgency: "high", Status: policy.StatusTriggered,
			Epoch: 1, TriggeredAt: at, LevelStartedAt: at},
	}
	inc.State.ID = inc.ID
	for i := range deadlines {
		inc.State.Pending = append(inc.State.Pending, policy.Deadline{
			ID: fmt.Sprintf("0001.%06d.notify", i+1), At: at.Add(time.Duration(i) * time.Minute),
			Kind: policy.DeadlineNotify, User: "u", Channel: "sms", Seq: i + 1,
		})
	}
	inc.State.Seq = deadlines
	return inc
}

// A deadline that stays pending across an Update keeps its lease: the claim
// in flight must not come due again and page twice.
func TestUpdateKeepsLease(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	id, _, err := s.Trigger(ctx, newIncident("api", "g1", base, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := s.ClaimDue(ctx, base, time.Minute, 10)
	if err != nil || len(cs) != 1 {
		t.Fatalf("claim %v %v", cs, err)
	}
	inc, _ := s.Get(ctx, id)
	inc.State.StatusUpdates++
	if err := s.Update(ctx, inc, nil); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.ClaimDue(ctx, base.Add(30*time.Second), time.Minute, 10); len(again) != 0 {
		t.Fatalf("a leased deadline came due again after an update: %+v", again)
	}
	if at, ok, _ := s.NextDue(ctx); !ok || !at.Equal(base.Add(time.Minute)) {
		t.Fatalf("NextDue %v %v, want the lease end", at, ok)
	}
	if err := s.Complete(ctx, cs[0]); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.NextDue(ctx); ok {
		t.Fatal("the claim survived the update: Complete did not remove it")
	}
}

// A repeat between Get and Update does not bump the version, so the Update
// succeeds; it must not write back the repeat count it read.
func TestUpdateKeepsRepeat(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	id, _, _ := s.Trigger(ctx, newIncident("api", "g1", base, 1), nil)
	inc, _ := s.Get(ctx, id)
	rep := newIncident("api", "g1", base.Add(time.Minute), 1)
	rep.Details = []byte(`{"v":2}`)
	if _, out, err := s.Trigger(ctx, rep, nil); err != nil || out != store.Repeated {
		t.Fatalf("repeat %v %v", out, err)
	}
	inc.State.Status = policy.StatusAcknowledged
	if err := s.Update(ctx, inc, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, id)
	if got.Repeats != 1 || !got.LastSeen.Equal(rep.LastSeen) || string(got.Details) != `{"v":2}` || got.Version != 2 {
		t.Fatalf("after update: repeats %d last seen %v details %s version %d", got.Repeats, got.LastSeen, got.Details, got.Version)
	}
}

func TestCompleteWithoutTokenIsVoid(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	id, _, _ := s.Trigger(ctx, newIncident("api", "g1", base, 1), nil)
	if err := s.Complete(ctx, store.Claim{Incident: id, Deadline: "0001.000001.notify"}); err != nil {
		t.Fatal(err)
	}
	if cs, _ := s.ClaimDue(ctx, base, time.Minute, 10); len(cs) != 1 {
		t.Fatal("a Complete without a claim removed the deadline")
	}
}

// Keys sort in time order before 1970 too: a zero deadline is due at once.
func TestZeroTimeDeadline(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	s.Trigger(ctx, newIncident("api", "g1", base, 1), nil)
	inc := newIncident("api", "g2", base, 1)
	inc.State.Pending[0].At = time.Time{}
	s.Trigger(ctx, inc, nil)
	at, ok, err := s.NextDue(ctx)
	if err != nil || !ok || at.UnixMilli() != (time.Time{}).UnixMilli() {
		t.Fatalf("NextDue %v %v %v", at, ok, err)
	}
	if cs, _ := s.ClaimDue(ctx, base, time.Minute, 1); len(cs) != 1 || cs[0].Incident != inc.ID {
		t.Fatalf("claim %+v", cs)
	}
}

// A dedup key longer than bbolt's key limit still deduplicates.
func TestLongDedupKey(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	key := strings.Repeat("k", bbolt.MaxKeySize+1)
	id, _, err := s.Trigger(ctx, newIncident("api", key, base, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if id2, out, err := s.Trigger(ctx, newIncident("api", key, base, 0), nil); err != nil || out != store.Repeated || id2 != id {
		t.Fatalf("repeat %v %v %v", id2, out, err)
	}
	if got, err := s.FindByDedup(ctx, "api", key); err != nil || got.ID != id {
		t.Fatalf("FindByDedup %v", err)
	}
}

func TestClosedIsUnavailable(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	id, _, _ := s.Trigger(ctx, newIncident("api", "g1", base, 1), nil)
	s.Close()
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Ping after Close: %v", err)
	}
	if _, err := s.Get(ctx, id); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Get after Close: %v", err)
	}
	if _, _, err := s.Trigger(ctx, newIncident("api", "g2", base, 1), nil); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Trigger after Close: %v", err)
	}
}

// BenchmarkTrigger creates distinct incidents with 5 pending deadlines and
// a timeline entry: one fsynced transaction each.
func BenchmarkTrigger(b *testing.B) {
	s, ctx := open(b, b.TempDir()), context.Background()
	incs := make([]*store.Incident, b.N)
	for i := range incs {
		incs[i] = newIncident("api", fmt.Sprintf("k%d", i), base.Add(time.Duration(i)*time.Millisecond), 5)
	}
	tl := []store.Entry{{At: base, Type: "trigger", Actor: "alertmanager"}}
	b.ResetTimer()
	for i := range b.N {
		if _, out, err := s.Trigger(ctx, incs[i], tl); err != nil || out != store.Created {
			b.Fatal(out, err)
		}
	}
}

// BenchmarkClaimComplete claims one due deadline and completes it: two
// fsynced transactions, the dispatcher's steady state.
func BenchmarkClaimComplete(b *testing.B) {
	s, ctx := open(b, b.TempDir()), context.Background()
	// Load the deadlines in big transactions, outside the timer.
	for i := 0; i < b.N; {
		err := s.db.Update(func(tx *bbolt.Tx) error {
			for n := 0; n < 1000 && i < b.N; n++ {
				inc := newIncident("api", fmt.Sprintf("k%d", i), base, 5)
				if _, _, err := triggerTx(tx, inc, nil); err != nil {
					return err
				}
				i += 5
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	now := base.Add(time.Hour)
	b.ResetTimer()
	for range b.N {
		cs, err := s.ClaimDue(ctx, now, time.Minute, 1)
		if err != nil || len(cs) != 1 {
			b.Fatal(cs, err)
		}
		if err := s.Complete(ctx, cs[0]); err != nil {
			b.Fatal(err)
		}
	}
}

package boltstore

import (
	"context"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/pagerd/pagerd/gateway/store"
)

// TestFlushedReplacesAStormStateItCannotRead: a storm whose stored state
// does not decode failed every Flushed: its held pages were never dropped
// nor its window reopened, and its flush failed at every claim. Now
// Flushed writes the next window's state over it.
func TestFlushedReplacesAStormStateItCannotRead(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	t0 := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	r := store.StormRules{Window: 10 * time.Second, Immediate: 3}
	key := store.StormKey("ann", "push")
	for _, inc := range []string{"a", "b"} {
		p := store.HeldPage{Incident: inc, Deadline: "1.1", Service: "api", Priority: "P1", Rank: 1, Summary: inc, Due: t0}
		if _, err := s.HoldFailed(ctx, key, p, t0, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketStorms).Put([]byte(key), []byte("{")) }); err != nil {
		t.Fatal(err)
	}
	cs, err := s.ClaimDue(ctx, t0.Add(r.Window), 5*time.Second, 10)
	if err != nil || len(cs) != 1 {
		t.Fatalf("claims %+v, %v", cs, err)
	}
	ok, err := s.Flushed(ctx, cs[0], 2, 1, t0.Add(r.Window), r)
	if err != nil || !ok {
		t.Fatalf("Flushed: %v, %v; want it stored", ok, err)
	}
	held, err := s.Held(ctx, key)
	if err != nil || len(held) != 0 {
		t.Fatalf("held after the flush: %+v, %v; want none", held, err)
	}
	if err := s.db.View(func(tx *bbolt.Tx) error { _, err := readStorm(tx, key); return err }); err != nil {
		t.Fatalf("the storm's state after the flush: %v", err)
	}
}

package boltstore

import (
	"context"
	"fmt"
	"sync/atomic"
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
	if err := s.db.View(func(tx *bbolt.Tx) error { _, err := s.readStorm(tx, key); return err }); err != nil {
		t.Fatalf("the storm's state after the flush: %v", err)
	}
}

// BenchmarkAdmitConcurrent is a flood's pages to one person from 16
// callers at once (the load run's closed loop: every alert pages the one
// on call, and past the burst's first pages each is held): an Admit of
// each, in the storm's window, through the one writer.
func BenchmarkAdmitConcurrent(b *testing.B) {
	s, ctx := open(b, b.TempDir()), context.Background()
	t0 := time.Now().UTC()
	r := store.StormRules{Window: time.Hour, Immediate: 3}
	key := store.StormKey("ann", "push")
	var n atomic.Int64
	cpu := cpuTime(b)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			p := store.HeldPage{Incident: fmt.Sprintf("%02x-%d", i%32, i), Deadline: "0001.000001.notify", Service: "api", Priority: "P1", Rank: 1,
				Urgency: "high", Level: 1, Summary: "disk full on db-01", Due: t0}
			if _, err := s.Admit(ctx, key, p, t0.Add(time.Duration(i)*time.Microsecond), r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64((cpuTime(b)-cpu).Microseconds())/float64(b.N), "cpu-µs/page")
}

package boltstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/pagerd/pagerd/gateway/store"
)

// TestPutBundleSweepsTheExpired: a bundle put drops the bundles that
// expired, in every shard, and keeps the rest, one that does not decode
// too; one that expired after one sent before it that is still kept (a
// shorter link_ttl) may stay until a later sweep, but is not handed out.
func TestPutBundleSweepsTheExpired(t *testing.T) {
	s, ctx := open(t, t.TempDir()), context.Background()
	t0 := time.Now()
	put := func(shard int, at time.Duration, ttl time.Duration) string {
		t.Helper()
		b := &store.Bundle{ID: "b" + store.NewID(shard, t0.Add(at)), User: "ann", Channel: "push", Incidents: []string{"x"}, SentAt: t0.Add(at)}
		if err := s.PutBundle(ctx, b, ttl); err != nil {
			t.Fatal(err)
		}
		return b.ID
	}
	var expired, kept []string
	for shard := range 3 {
		for i := range 3 {
			expired = append(expired, put(shard, time.Duration(i)*time.Millisecond, -time.Minute))
		}
		kept = append(kept, put(shard, 10*time.Millisecond, time.Hour))
	}
	// In shard 1, one that does not decode, then one more expired.
	undecodable := "b" + store.NewID(1, t0.Add(20*time.Millisecond))
	// And a key that is no bundle id, kept: the sweep must not take its
	// first characters for a shard's and seek back to it for ever.
	odd := "b01x-kept"
	if err := s.update(ctx, func(tx *bbolt.Tx) error {
		v, err := json.Marshal(keptBundle{Expires: t0.Add(time.Hour).UnixMilli(), Bundle: &store.Bundle{ID: odd}})
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketBundles).Put([]byte(odd), v); err != nil {
			return err
		}
		return tx.Bucket(bucketBundles).Put([]byte(undecodable), []byte("not json"))
	}); err != nil {
		t.Fatal(err)
	}
	late := put(1, 30*time.Millisecond, -time.Minute) // sent after a kept one: left for now
	// The put that sweeps.
	kept = append(kept, put(5, time.Second, time.Hour))
	keys := map[string]bool{}
	if err := s.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketBundles).ForEach(func(k, _ []byte) error { keys[string(k)] = true; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range expired {
		if keys[id] {
			t.Errorf("expired bundle %s still kept", id)
		}
	}
	for _, id := range append(kept, undecodable, odd) {
		if !keys[id] {
			t.Errorf("bundle %s dropped before it expired", id)
		}
	}
	if _, err := s.GetBundle(ctx, late); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired bundle left by the sweep was handed out: %v", err)
	}
	for _, id := range kept {
		if _, err := s.GetBundle(ctx, id); err != nil {
			t.Errorf("kept bundle %s: %v", id, err)
		}
	}
}

// BenchmarkPutBundleWithManyKept: a bundle put while 2,000 bundles of 500
// incidents each are kept (a long storm's, within link_ttl). The sweep
// reads one value a shard, not every bundle.
func BenchmarkPutBundleWithManyKept(b *testing.B) {
	s, ctx := open(b, b.TempDir()), context.Background()
	ids := make([]string, 500)
	for i := range ids {
		ids[i] = store.NewID(i%store.Shards, time.Now())
	}
	t0 := time.Now()
	if err := s.update(ctx, func(tx *bbolt.Tx) error {
		for i := range 2000 {
			bd := &store.Bundle{ID: "b" + store.NewID(i%store.Shards, t0.Add(time.Duration(i)*time.Millisecond)), User: fmt.Sprintf("u%d", i%10), Channel: "push", Incidents: ids, SentAt: t0}
			v, err := json.Marshal(keptBundle{Expires: t0.Add(time.Hour).UnixMilli(), Bundle: bd})
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketBundles).Put([]byte(bd.ID), v); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		bd := &store.Bundle{ID: "b" + store.NewID(i%store.Shards, time.Now()), User: "ann", Channel: "push", Incidents: ids[:10], SentAt: time.Now()}
		if err := s.PutBundle(ctx, bd, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

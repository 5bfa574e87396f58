package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/internal/redistest"
)

// TestClusterClaimWithAShardFailingClaimsTheOthers: on Redis Cluster,
// ClaimDue reads and claims shard by shard, in pipelines. One shard that
// failed (its node down; here its due set made unreadable) made the whole
// claim fail with nothing claimed, though the other shards' scripts had
// leased theirs: while one node was down, every shard's pages waited for
// their leases to run out, at every claim. Now the claims of the shards
// that answered come back, with the error.
func TestClusterClaimWithAShardFailingClaimsTheOthers(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdb.Close() })
	s := redisstore.New(rdb, "cp")
	ctx := context.Background()
	shards := map[int]bool{}
	for _, key := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		inc := lostReplyIncident(key)
		if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
			t.Fatal(err)
		}
		shards[store.ShardOf("api", key)] = true
	}
	if len(shards) < 2 {
		t.Fatalf("the incidents are in %d shard, want several", len(shards))
	}
	broken := store.ShardOf("api", "a")
	due := redisstore.DueKey(s, broken)
	if err := rdb.Del(ctx, due).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, due, "not a sorted set", 0).Err(); err != nil {
		t.Fatal(err)
	}
	claims, err := s.ClaimDue(ctx, time.Date(2025, 9, 10, 7, 0, 0, 0, time.UTC), 30*time.Second, 100)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("ClaimDue with a shard failing: %v, want its error", err)
	}
	want := 0
	for _, key := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		if store.ShardOf("api", key) != broken {
			want++
		}
	}
	if len(claims) != want {
		t.Fatalf("%d claims with a shard failing, want the %d of the other shards", len(claims), want)
	}
}

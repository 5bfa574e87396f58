package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/policy"
)

// TestClusterExpireWithAMasterRefusingCountsWhatItRemoved: on Redis
// Cluster, Expire removes in one pipeline of a script per shard. With one
// master refusing writes, the scripts of the others still removed their
// incidents, but Expire answered 0 with the error: the retention job adds
// what Expire returns to pagerd_incidents_expired_total and its log line
// even on an error, so those removals went uncounted and unsaid.
func TestClusterExpireWithAMasterRefusingCountsWhatItRemoved(t *testing.T) {
	s, cc := clusterStore(t, "exp")
	ctx := context.Background()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 64 {
		at := base.Add(time.Duration(i) * time.Second)
		dedup := "k" + itoa(i)
		inc := &store.Incident{ID: store.NewID(store.ShardOf("api", dedup), at), Service: "api", DedupKey: dedup, Source: "api",
			Summary: "s", CreatedAt: at, UpdatedAt: at, LastSeen: at,
			State: policy.Incident{Service: "api", Priority: "P1", Status: policy.StatusResolved, TriggeredAt: at, ResolvedAt: at}}
		inc.State.ID = inc.ID
		if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, inc.ID)
	}
	accept := refuseWrites(t, cc, s, store.ShardOf("api", "k0"))
	n, _, err := s.Expire(ctx, base.Add(24*time.Hour), len(ids))
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Expire with a master refusing writes: %v, want ErrUnavailable", err)
	}
	accept()
	removed := 0
	for _, id := range ids {
		if _, err := s.Get(ctx, id); errors.Is(err, store.ErrNotFound) {
			removed++
		}
	}
	if removed == 0 || removed == len(ids) {
		t.Fatalf("%d of %d removed: the test wants the other masters' removals to happen and the refusing one's not", removed, len(ids))
	}
	if n != removed {
		t.Fatalf("Expire answered %d removed (with %v), but removed %d", n, err, removed)
	}
}

package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/gateway/store/storetest"
	"github.com/pagerd/pagerd/internal/redistest"
	"github.com/pagerd/pagerd/policy"
)

// TestConformance runs the store suite against a real redis-server of its
// own. Each test gets its own key prefix on the one server.
func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	n := 0
	storetest.Run(t, storetest.Factory{
		New: func(t *testing.T) store.Store {
			n++
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
			t.Cleanup(func() { rdb.Close() })
			return redisstore.New(rdb, "t"+string(rune('a'+n%26))+itoa(n))
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			prefix := redisstore.Prefix(s.(*redisstore.Store))
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
			t.Cleanup(func() { rdb.Close() })
			return redisstore.New(rdb, prefix)
		},
	})
}

// TestConformanceCluster runs the same suite on a 3-master Redis Cluster:
// every script must touch one hash slot, or Redis refuses it (CROSSSLOT).
func TestConformanceCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the cluster test starts three redis-servers")
	}
	c := redistest.StartCluster(t, 3)
	n := 0
	open := func(t *testing.T, prefix string) store.Store {
		rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, ContextTimeoutEnabled: true})
		t.Cleanup(func() { rdb.Close() })
		return redisstore.New(rdb, prefix)
	}
	storetest.Run(t, storetest.Factory{
		New: func(t *testing.T) store.Store {
			n++
			return open(t, "c"+itoa(n))
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			return open(t, redisstore.Prefix(s.(*redisstore.Store)))
		},
	})
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestClaimAfterScriptFlush: after Redis loses its script cache (a restart),
// the pipelined claim falls back and still claims.
func TestClaimAfterScriptFlush(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := redisstore.New(rdb, "flush")
	ctx := context.Background()
	if err := s.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	inc := &store.Incident{ID: store.NewID(store.ShardOf("api", "k"), at), Service: "api", DedupKey: "k", CreatedAt: at, LastSeen: at,
		State: policy.Incident{Status: policy.StatusTriggered, Pending: []policy.Deadline{{ID: "1.1", At: at, Kind: policy.DeadlineNotify}}}}
	if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	cs, err := s.ClaimDue(ctx, at, time.Minute, 10)
	if err != nil || len(cs) != 1 || cs[0].Incident != inc.ID {
		t.Fatalf("claim after SCRIPT FLUSH: %+v %v", cs, err)
	}
}

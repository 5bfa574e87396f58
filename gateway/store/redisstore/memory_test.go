package redisstore

import (
	"context"
	"errors"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/redistest"
)

// Memory reports the maxmemory-policy a server runs with (read from INFO,
// which managed Redis leaves enabled where CONFIG GET is not) and the keys
// it evicted, and on a cluster those of every master: each holds some of
// pagerd's shards.
func TestMemoryReportsThePolicyOfEveryMaster(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := New(rdb, "mem")
	for _, policy := range []string{"noeviction", "allkeys-lru", "volatile-ttl"} {
		if err := rdb.ConfigSet(ctx, "maxmemory-policy", policy).Err(); err != nil {
			t.Fatal(err)
		}
		got, err := s.Memory(ctx)
		if err != nil || len(got) != 1 || got[0].Policy != policy || got[0].Node != "" || got[0].MaxMemory != 0 {
			t.Fatalf("policy %s: Memory() = %+v, %v", policy, got, err)
		}
	}
	// maxmemory: without one (0) Redis evicts nothing, whatever its policy.
	if err := rdb.ConfigSet(ctx, "maxmemory", "1mb").Err(); err != nil {
		t.Fatal(err)
	}
	got, err := s.Memory(ctx)
	if err != nil || len(got) != 1 || got[0].MaxMemory != 1<<20 {
		t.Fatalf("maxmemory 1mb: Memory() = %+v, %v", got, err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	// INFO persistence's aof_enabled: off on redistest's servers, then on.
	if got[0].AOF != 0 {
		t.Fatalf("appendonly no: Memory() = %+v, want AOF 0", got)
	}
	if err := rdb.ConfigSet(ctx, "appendonly", "yes").Err(); err != nil {
		t.Fatal(err)
	}
	if got, err = s.Memory(ctx); err != nil || got[0].AOF != 1 {
		t.Fatalf("appendonly yes: Memory() = %+v, %v, want AOF 1", got, err)
	}

	cl := redistest.StartCluster(t, 3)
	cc := cl.ClusterClient(t)
	// One master evicts: the report must show it, not only the node a
	// command happens to reach.
	var (
		mu       sync.Mutex
		evicting string
	)
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		if evicting == "" || c.Options().Addr < evicting {
			evicting = c.Options().Addr
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	one := redis.NewClient(&redis.Options{Addr: evicting})
	defer one.Close()
	if err := one.ConfigSet(ctx, "maxmemory-policy", "allkeys-lfu").Err(); err != nil {
		t.Fatal(err)
	}
	got, err = New(cc, "mem").Memory(ctx)
	if err != nil || len(got) != 3 {
		t.Fatalf("cluster: Memory() = %+v, %v; want 3 masters", got, err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Node < got[j].Node })
	for i, m := range got {
		want := "noeviction"
		if i == 0 {
			want = "allkeys-lfu"
		}
		if m.Policy != want || (i == 0) != (m.Node == evicting) {
			t.Fatalf("cluster: %+v, want %s at %s only", got, "allkeys-lfu", evicting)
		}
	}

	srv.Stop(t)
	if _, err := s.Memory(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Memory with Redis down: %v, want ErrUnavailable", err)
	}
}

// A cluster none of whose nodes answers fails before any master is
// reached: that is Redis unavailable (the probe's to report), not a server
// refusing INFO (which the guard says once and never again).
func TestMemoryOfAClusterThatDoesNotAnswerIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}, ContextTimeoutEnabled: true, MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond})
	defer cc.Close()
	if _, err := New(cc, "mem").Memory(context.Background()); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Memory of a cluster that does not answer: %v, want ErrUnavailable", err)
	}
}

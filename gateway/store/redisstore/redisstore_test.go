package redisstore_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/gateway/store/storetest"
	"github.com/pagerd/pagerd/internal/redistest"
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

package replicaconfig_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/replicaconfig"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/boltstore"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/internal/redistest"
	"github.com/pagerd/pagerd/policy"
)

var t0 = time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }
func cfg(hash string) *policy.Config { return &policy.Config{Hash: hash} }
func quiet() *slog.Logger            { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func reg() *prometheus.Registry      { return prometheus.NewRegistry() }
func hashes(r *prometheus.Registry) string {
	mfs, _ := r.Gather()
	var out []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			out = append(out, m.GetLabel()[0].GetValue()+"="+fmt.Sprint(m.GetGauge().GetValue()))
		}
	}
	return strings.Join(out, ",")
}

func stores(t *testing.T) map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"embedded": func(t *testing.T) store.Store {
			s, err := boltstore.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"redis": func(t *testing.T) store.Store {
			r := redistest.Start(t)
			rdb := redis.NewClient(&redis.Options{Addr: r.Addr, ContextTimeoutEnabled: true})
			t.Cleanup(func() { rdb.Close() })
			return redisstore.New(rdb, "t")
		},
	}
}

// TestNewerConfig: on both stores, a replica whose config was taken into
// use before another live replica's different one is behind it (Newer),
// and the other is not; a reload of the same config keeps its load time
// (reloading every replica must not make the old config look newest);
// once the newer replica stops writing its entry, it drops out within
// the TTL (a dead replica holds nothing), and a replica that stops
// cleanly removes its entry at once. pagerd_config_replicas counts the
// live replicas by hash.
func TestNewerConfig(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			ctx := context.Background()
			c := &clock{t: t0}
			ra, rb := reg(), reg()
			a := replicaconfig.New(replicaconfig.Options{Store: st, Now: c.Now, Logger: quiet(), Registry: ra, ID: "a"})
			b := replicaconfig.New(replicaconfig.Options{Store: st, Now: c.Now, Logger: quiet(), Registry: rb, ID: "b"})
			a.Loaded(cfg("0ld0000000000000"))
			if got := hashes(ra); got != "0ld000000000=1" {
				t.Errorf("a's pagerd_config_replicas before it read the registry: %q, want itself", got)
			}
			if err := a.Publish(ctx); err != nil {
				t.Fatal(err)
			}
			if _, ok := a.Newer(ctx); ok {
				t.Error("a replica alone is behind")
			}
			c.Add(10 * time.Second)
			b.Loaded(cfg("new0000000000000"))
			if err := b.Publish(ctx); err != nil {
				t.Fatal(err)
			}
			if e, ok := a.Newer(ctx); !ok || e.Replica != "b" || !e.LoadedAt.Equal(t0.Add(10*time.Second)) {
				t.Errorf("a on the old config: Newer = %+v, %v; want b's entry", e, ok)
			}
			if e, ok := b.Newer(ctx); ok {
				t.Errorf("b on the newest config is behind %+v", e)
			}
			if got := hashes(rb); got != "0ld000000000=1,new000000000=1" {
				t.Errorf("b's pagerd_config_replicas: %s", got)
			}
			// a reloads the same old file: it stays behind.
			c.Add(10 * time.Second)
			a.Loaded(cfg("0ld0000000000000"))
			if err := a.Publish(ctx); err != nil {
				t.Fatal(err)
			}
			if _, ok := a.Newer(ctx); !ok {
				t.Error("a reload of the same config made a look as new as b")
			}
			// b stops writing (killed): gone once its TTL passed.
			c.Add(replicaconfig.TTL - 10*time.Second - time.Second)
			if _, ok := a.Newer(ctx); !ok {
				t.Error("b dropped out before its TTL")
			}
			c.Add(time.Second)
			if e, ok := a.Newer(ctx); ok {
				t.Errorf("b's entry outlived its TTL: %+v", e)
			}
			if err := a.Publish(ctx); err != nil {
				t.Fatal(err)
			}
			if got := hashes(ra); got != "0ld000000000=1" {
				t.Errorf("a's pagerd_config_replicas once b is gone: %s", got)
			}
			if docs, _, err := st.ListDocs(ctx, replicaconfig.Kind); err != nil || len(docs) != 1 {
				t.Errorf("registry after a's write: %d entries (%v), want b's dropped", len(docs), err)
			}
			// b comes back with the new config, then stops cleanly.
			b.Loaded(cfg("new0000000000000"))
			run, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { b.Run(run); close(done) }()
			waitFor(t, func() bool { _, ok := a.Newer(ctx); return ok })
			stop()
			<-done
			if e, ok := a.Newer(ctx); ok {
				t.Errorf("b stopped, and its entry is still there: %+v", e)
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("timed out")
}

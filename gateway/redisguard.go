package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
)

// redisGuard checks, with every readiness probe (the first at start), that
// the Redis pagerd keeps its incidents in does not delete them on its own.
// A maxmemory-policy of allkeys-* evicts any key when memory runs out:
// incidents and their deadlines vanish after pagerd answered 2xx for them,
// so pagerd is not ready on it. Only with a maxmemory, though: with none
// (0, the Redis default) memory never "runs out" and Redis evicts nothing
// whatever its policy, so such a Redis is safe today and pagerd stays
// ready, with a warning that it would evict the day someone sets one (and
// that pagerd would then turn not ready). volatile-* evicts only keys with a TTL,
// and pagerd's are the probe's own key and alert-storm bundles (what a
// storm message's ack link, SMS reply code and call act on): losing one
// early means that message can no longer be acknowledged from the page,
// while its incidents still can, and their ladders go on paging; no page
// is lost, so that is a warning. The policy is read from INFO (CONFIG GET
// is often disabled on managed Redis), on every master of a cluster.
//
// It also says, with a warning, when a server keeps no append-only file
// (appendonly no): it then keeps pagerd's data only in RDB snapshots, if
// at all, and a restart of Redis loses the open incidents and pending
// pages written since the last one, which pagerd can report only when a
// running replica's probe sees the loss first (docs/OPERATIONS.md).
// pagerd stays ready: such a Redis takes writes and keeps them while it
// runs, and managed Redis often runs so, with replicas instead.
type redisGuard struct {
	s   *redisstore.Store
	log *slog.Logger

	// evicted is evicted_keys summed over the masters, at the last read.
	evicted atomic.Int64

	mu sync.Mutex
	// said is what was last logged for each node ("" for a standalone
	// server), so each is said once, and again when it changes.
	said map[string]memoryState
	// aof is each node's aof_enabled as last said (absent: not yet).
	aof map[string]int
	// infoRefused: a server refused INFO, said once until INFO answers
	// again.
	infoRefused bool
}

// memoryState is what the guard says of one node: its policy, and whether
// that evicts any key now (allkeys-* with a maxmemory).
type memoryState struct {
	policy string
	evicts bool
}

// newRedisGuard guards s, exporting pagerd_redis_evicted_keys to reg.
func newRedisGuard(s *redisstore.Store, log *slog.Logger, reg prometheus.Registerer) *redisGuard {
	g := &redisGuard{s: s, log: log, said: map[string]memoryState{}, aof: map[string]int{}}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "pagerd_redis_evicted_keys",
		Help: "Keys Redis evicted since it started (INFO stats evicted_keys, summed over a cluster's masters), as of the last readiness probe.",
	}, func() float64 { return float64(g.evicted.Load()) }))
	return g
}

// check reads the policy of every master and returns why pagerd is not
// ready on it, or nil. A Redis that does not answer is the probe's to
// report.
func (g *redisGuard) check(ctx context.Context) error {
	nodes, err := g.s.Memory(ctx)
	if errors.Is(err, store.ErrUnavailable) {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		if !g.infoRefused {
			g.infoRefused = true
			g.log.Warn("cannot tell whether Redis evicts pagerd's keys: make sure its maxmemory-policy is noeviction, or accepted alerts may vanish when its memory runs out", "err", err)
		}
		return nil
	}
	g.infoRefused = false
	var evicted int64
	var evicting []string
	for _, n := range nodes {
		evicted += n.EvictedKeys
		where := []any{"maxmemory_policy", n.Policy}
		at := ""
		if n.Node != "" {
			where = append(where, "node", n.Node)
			at = " on " + n.Node
		}
		g.sayAOF(n)
		allKeys := strings.HasPrefix(n.Policy, "allkeys-")
		// A maxmemory Redis does not report (-1) is taken as set.
		now := memoryState{policy: n.Policy, evicts: allKeys && n.MaxMemory != 0}
		if now.evicts {
			evicting = append(evicting, n.Policy+at)
		}
		prev, known := g.said[n.Node]
		if known && prev == now {
			continue
		}
		g.said[n.Node] = now
		switch {
		case now.evicts:
			g.log.Error("Redis evicts any key when its memory runs out (maxmemory-policy "+n.Policy+"): accepted alerts, open incidents and their pending pages may vanish; pagerd is not ready until Redis runs with maxmemory-policy noeviction", where...)
		case allKeys:
			g.log.Warn("Redis runs with maxmemory-policy "+n.Policy+" and no maxmemory: it evicts nothing now, but the day someone sets maxmemory it will evict any key (accepted alerts, open incidents and their pending pages) when its memory runs out, and pagerd will then be not ready; set maxmemory-policy noeviction", where...)
		case strings.HasPrefix(n.Policy, "volatile-"):
			g.log.Warn("Redis evicts keys with a TTL when its memory runs out (maxmemory-policy "+n.Policy+"): pagerd's are alert-storm bundles, so a storm message could no longer be acknowledged from the page (its incidents still can, and are paged on); set maxmemory-policy noeviction", where...)
		case n.Policy == "":
			g.log.Warn("Redis does not report its maxmemory_policy: make sure it does not evict keys (maxmemory-policy noeviction), or accepted alerts may vanish when its memory runs out", where...)
		case known && prev.policy != n.Policy:
			g.log.Info("Redis maxmemory-policy changed", append(where, "was", prev.policy)...)
		}
	}
	g.evicted.Store(evicted)
	if len(evicting) > 0 {
		return fmt.Errorf("redis evicts any key when its memory runs out (maxmemory-policy %s): accepted alerts may vanish; set maxmemory-policy noeviction", strings.Join(evicting, ", "))
	}
	return nil
}

// sayAOF says, once and again when it changes, whether node n keeps an
// append-only file.
func (g *redisGuard) sayAOF(n redisstore.NodeMemory) {
	prev, known := g.aof[n.Node]
	if known && prev == n.AOF {
		return
	}
	g.aof[n.Node] = n.AOF
	var where []any
	if n.Node != "" {
		where = []any{"node", n.Node}
	}
	switch {
	case n.AOF == 0:
		g.log.Warn("Redis keeps no append-only file (appendonly no): pagerd's data is on its disk only in RDB snapshots, if it takes any, and a restart of Redis loses the open incidents and pending pages written since the last one; run Redis with appendonly yes (appendfsync always or everysec)", where...)
	case known && prev == 0 && n.AOF == 1:
		g.log.Info("Redis keeps an append-only file now (appendonly yes)", where...)
	}
}

package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// NodeMemory is what one Redis server says of what it does when its memory
// runs out: a maxmemory-policy that evicts deletes pagerd's keys (incidents,
// their deadlines) after pagerd answered 2xx for them.
type NodeMemory struct {
	// Node is the server's address on a cluster, "" otherwise.
	Node string
	// Policy is INFO memory's maxmemory_policy ("noeviction",
	// "allkeys-lru", "volatile-ttl", ...), "" when the server does not
	// report it (some Redis-compatible servers).
	Policy string
	// MaxMemory is INFO memory's maxmemory in bytes: 0 is no limit (the
	// Redis default), under which Redis never evicts whatever its policy;
	// -1 when the server does not report it.
	MaxMemory int64
	// EvictedKeys is INFO stats' evicted_keys: keys evicted since the
	// server started.
	EvictedKeys int64
	// AOF is INFO persistence's aof_enabled: 1 when the server writes
	// every change to its append-only file, 0 when it keeps its data only
	// in RDB snapshots, if at all (a restart loses what came since the
	// last one), -1 when it does not say.
	AOF int
}

// Memory reads INFO memory, stats and persistence (not CONFIG GET, which managed
// Redis often disables) of the server, or of every master of a cluster,
// whose shards each hold some of pagerd's keys. A server that does not
// answer (or answers BUSY, running a script), or a cluster whose layout
// cannot be had, is store.ErrUnavailable; one that refuses INFO is
// another error.
func (s *Store) Memory(ctx context.Context) ([]NodeMemory, error) {
	c, ok := s.rdb.(*redis.ClusterClient)
	if !ok {
		m, err := readMemory(ctx, s.rdb)
		if err != nil {
			return nil, err
		}
		return []NodeMemory{m}, nil
	}
	var (
		mu      sync.Mutex
		out     []NodeMemory
		reached bool
	)
	err := c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		mu.Lock()
		reached = true
		mu.Unlock()
		m, err := readMemory(ctx, node)
		if err != nil {
			return fmt.Errorf("node %s: %w", node.Options().Addr, err)
		}
		m.Node = node.Options().Addr
		mu.Lock()
		out = append(out, m)
		mu.Unlock()
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if err != nil && !reached {
		// The cluster's layout could not be had (no node answers): that
		// is Redis unavailable, not a server refusing INFO.
		return nil, unavailable(err)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readMemory reads one server's INFO memory, stats and persistence in one
// round trip.
func readMemory(ctx context.Context, c redis.Cmdable) (NodeMemory, error) {
	var mem, stats, persistence *redis.StringCmd
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		mem, stats, persistence = p.Info(ctx, "memory"), p.Info(ctx, "stats"), p.Info(ctx, "persistence")
		return nil
	})
	// An error reply is a server that refuses INFO (an ACL without it, a
	// renamed command), but BUSY: a script running past
	// busy-reply-threshold holds every command back for now, and INFO
	// runs once it ends.
	var refused redis.Error
	if err != nil && (!errors.As(err, &refused) || strings.HasPrefix(refused.Error(), "BUSY ")) {
		return NodeMemory{}, unavailable(err)
	}
	if err != nil {
		return NodeMemory{}, fmt.Errorf("redis refuses INFO: %w", err)
	}
	m := NodeMemory{Policy: infoField(mem.Val(), "maxmemory_policy"), MaxMemory: -1}
	if v, err := strconv.ParseInt(infoField(mem.Val(), "maxmemory"), 10, 64); err == nil {
		m.MaxMemory = v
	}
	m.EvictedKeys, _ = strconv.ParseInt(infoField(stats.Val(), "evicted_keys"), 10, 64)
	m.AOF = -1
	if v, err := strconv.Atoi(infoField(persistence.Val(), "aof_enabled")); err == nil {
		m.AOF = v
	}
	return m, nil
}

// infoField is a field of an INFO reply, "" when it has none.
func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

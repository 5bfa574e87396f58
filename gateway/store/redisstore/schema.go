package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
)

// SchemaVersion is the layout of the keys and records this pagerd reads and
// writes (the package doc). It is recorded at "<prefix>:schema", so a pagerd
// never misreads data of another layout: CheckSchema refuses a newer one
// and upgrades an older one. Version 1 is the first layout; Redis data from
// before the key existed is version 1.
const SchemaVersion = 1

// schemaVersion is SchemaVersion, a variable so the upgrade path can be
// tested before a second layout exists.
var schemaVersion = SchemaVersion

// ErrNewerSchema: the Redis data was written by a newer pagerd.
var ErrNewerSchema = errors.New("redis data written by a newer pagerd")

// schemaMigrations[n] upgrades the data of schema n to n+1. There is none
// yet: version 1 is the only layout so far. Replicas start together, so a
// migration must be safe to run concurrently and twice (a lock key, work
// shard by shard in scripts); CheckSchema records the new version only
// after every step has returned.
var schemaMigrations = map[int]func(ctx context.Context, s *Store) error{}

func (s *Store) schemaKey() string { return s.prefix + ":schema" }

// CheckSchema makes sure the data under the store's prefix is in the layout
// this pagerd reads: it records the version on first use, upgrades an older
// one (returning the version it upgraded from, 0 otherwise) and refuses a
// newer one with ErrNewerSchema. A Redis that does not answer is
// ErrUnavailable: check again once it does.
func (s *Store) CheckSchema(ctx context.Context) (upgradedFrom int, err error) {
	from, err := s.checkSchema(ctx)
	if err == nil {
		s.schemaSeen.Store(true)
	}
	return from, err
}

func (s *Store) checkSchema(ctx context.Context) (upgradedFrom int, err error) {
	v, err := s.rdb.Get(ctx, s.schemaKey()).Result()
	if errors.Is(err, redis.Nil) {
		// First use. The markers go first: written after the schema key,
		// a first start that wrote only some of them (a cluster master
		// not answering) was checked again as data of this schema with
		// markers missing, and its probe said a loss that never was.
		if err := s.markShards(ctx, true); err != nil {
			return 0, err
		}
		set, err := s.rdb.SetNX(ctx, s.schemaKey(), schemaVersion, 0).Result()
		if err != nil {
			return 0, unavailable(err)
		}
		if set {
			return 0, nil
		}
		return s.checkSchema(ctx) // another replica's first start wrote it meanwhile
	}
	if err != nil {
		return 0, unavailable(err)
	}
	have, err := strconv.Atoi(v)
	switch {
	case err != nil || have < 1:
		return 0, fmt.Errorf("redis key %s holds %q, not a schema version pagerd writes", s.schemaKey(), v)
	case have > schemaVersion:
		return 0, fmt.Errorf("%w: schema %d under prefix %q, this pagerd reads schema %d and older: run the newer pagerd, or restore the Redis data from before the upgrade",
			ErrNewerSchema, have, s.prefix, schemaVersion)
	case have == schemaVersion:
		return 0, s.markShards(ctx, false)
	}
	for v := have; v < schemaVersion; v++ {
		m := schemaMigrations[v]
		if m == nil {
			return 0, fmt.Errorf("no upgrade from redis schema %d", v)
		}
		if err := m(ctx, s); err != nil {
			return 0, fmt.Errorf("upgrade redis schema %d to %d: %w", v, v+1, err)
		}
	}
	if err := s.rdb.Set(ctx, s.schemaKey(), schemaVersion, 0).Err(); err != nil {
		return 0, unavailable(err)
	}
	return have, s.markShards(ctx, false)
}

// shardMarker is shard NN's own copy of the schema key,
// "<prefix>:{NN}:schema". On Redis Cluster a shard's keys live on the
// master that serves its hash slot, and a master that loses its data
// (restarted without persistence, failed over to a replica that had not
// had the writes) loses only its own slots' keys: the schema key, on one
// master, finds only that one's loss. Each shard's marker finds the loss
// of the master it is on; Probe puts a missing one back and says which
// shards lost their data.
func (s *Store) shardMarker(shard int) string { return s.key(shard, "schema") }

// markShards writes the shards' markers when the schema key was just
// written (fresh: a first start) or when none of them is there (data
// written by a pagerd from before the markers). When some are there and
// some are not, those shards lost their data since pagerd last ran: they
// are left for the first probe to find, say and put back, so that a
// replica starting on a Redis Cluster one of whose masters came back empty
// does not hide the loss by writing them.
func (s *Store) markShards(ctx context.Context, fresh bool) error {
	if !fresh {
		pipe := s.rdb.Pipeline()
		there := make([]*redis.IntCmd, store.Shards)
		for i := range there {
			there[i] = pipe.Exists(ctx, s.shardMarker(i))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return unavailable(err)
		}
		for _, c := range there {
			if c.Val() > 0 {
				return nil
			}
		}
	}
	pipe := s.rdb.Pipeline()
	for i := range store.Shards {
		pipe.Set(ctx, s.shardMarker(i), schemaVersion, 0)
	}
	_, err := pipe.Exec(ctx)
	return unavailable(err)
}

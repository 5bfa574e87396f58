package redisstore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/internal/redistest"
)

// The schema version is recorded on first use, accepted as is, upgraded
// from an older one through the migration slots, and a newer or unknown
// one is refused with what to do.
func TestCheckSchema(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()

	s := New(rdb, "fresh")
	if from, err := s.CheckSchema(ctx); err != nil || from != 0 {
		t.Fatalf("first check: %d %v", from, err)
	}
	if v, _ := rdb.Get(ctx, "fresh:schema").Result(); v != "1" {
		t.Fatalf("recorded schema %q, want 1", v)
	}
	if from, err := s.CheckSchema(ctx); err != nil || from != 0 {
		t.Fatalf("second check: %d %v", from, err)
	}

	for _, tc := range []struct{ stored, want string }{
		{"2", "schema 2 under prefix \"other\", this pagerd reads schema 1 and older"},
		{"x", `redis key other:schema holds "x", not a schema version pagerd writes`},
		{"0", `holds "0"`},
	} {
		rdb.Set(ctx, "other:schema", tc.stored, 0)
		_, err := New(rdb, "other").CheckSchema(ctx)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("schema %q: %v, want an error saying %q", tc.stored, err, tc.want)
		}
		if errors.Is(err, ErrNewerSchema) != (tc.stored == "2") {
			t.Fatalf("schema %q: errors.Is(ErrNewerSchema) wrong: %v", tc.stored, err)
		}
		if v, _ := rdb.Get(ctx, "other:schema").Result(); v != tc.stored {
			t.Fatalf("a refused schema was changed to %q", v)
		}
	}

	// The upgrade path, with a pretend version 2 whose migration renames a
	// key: it runs once, then the new version is recorded.
	old, oldM := schemaVersion, schemaMigrations
	t.Cleanup(func() { schemaVersion, schemaMigrations = old, oldM })
	runs := 0
	schemaVersion = 2
	schemaMigrations = map[int]func(context.Context, *Store) error{1: func(ctx context.Context, s *Store) error {
		runs++
		return s.rdb.Set(ctx, s.prefix+":migrated", "yes", 0).Err()
	}}
	if from, err := s.CheckSchema(ctx); err != nil || from != 1 || runs != 1 {
		t.Fatalf("upgrade: from %d, %d runs, %v", from, runs, err)
	}
	if v, _ := rdb.Get(ctx, "fresh:schema").Result(); v != "2" {
		t.Fatalf("schema after the upgrade %q, want 2", v)
	}
	if from, err := s.CheckSchema(ctx); err != nil || from != 0 || runs != 1 {
		t.Fatalf("check after the upgrade: from %d, %d runs, %v", from, runs, err)
	}
	// A failed migration leaves the old version recorded.
	rdb.Set(ctx, "fail:schema", "1", 0)
	schemaMigrations[1] = func(context.Context, *Store) error { return errors.New("boom") }
	if _, err := New(rdb, "fail").CheckSchema(ctx); err == nil || !strings.Contains(err.Error(), "upgrade redis schema 1 to 2: boom") {
		t.Fatalf("failed migration: %v", err)
	}
	if v, _ := rdb.Get(ctx, "fail:schema").Result(); v != "1" {
		t.Fatalf("schema after a failed upgrade %q, want 1", v)
	}

	// Redis gone: unavailable, so the daemon checks again later.
	srv.Stop(t)
	if _, err := New(rdb, "fresh").CheckSchema(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("check with Redis down: %v", err)
	}
}

// Once the schema key has been seen, a probe that finds it gone (Redis
// restarted without persistence, failed over to a replica that had not
// had it, flushed) says the data was lost, once, and puts the key back.
// Before the schema was checked (Redis down at start), a missing key is
// first use, not a loss.
func TestProbeFindsTheDataLost(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := New(rdb, "lost")
	if err := s.Probe(ctx); err != nil {
		t.Fatalf("probe before the schema check: %v", err)
	}
	if n, _ := rdb.Exists(ctx, "lost:schema").Result(); n != 0 {
		t.Fatal("a probe before the schema check wrote the schema key: CheckSchema's to write")
	}
	if _, err := s.CheckSchema(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Probe(ctx); err != nil {
		t.Fatalf("probe with the data there: %v", err)
	}
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Probe(ctx); !errors.Is(err, store.ErrDataLost) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("probe after the data was lost: %v, want ErrDataLost", err)
	}
	if v, _ := rdb.Get(ctx, "lost:schema").Result(); v != "1" {
		t.Fatalf("schema key after the loss %q, want it written again", v)
	}
	if err := s.Probe(ctx); err != nil {
		t.Fatalf("the next probe: %v, want the loss said once", err)
	}
	// Another replica's store, which saw the schema too, finds nothing:
	// the first probe after the loss said it.
	other := New(rdb, "lost")
	if _, err := other.CheckSchema(ctx); err != nil {
		t.Fatal(err)
	}
	if err := other.Probe(ctx); err != nil {
		t.Fatalf("another replica's probe: %v", err)
	}
}

// A shard whose keys are gone while the schema key is still there (on
// Redis Cluster, the master serving the shard's slot came back empty) is a
// loss too: the probe says which shard's marker it put back, once.
func TestProbeFindsAShardsLostData(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	s := New(rdb, "lost")
	if _, err := s.CheckSchema(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range store.Shards {
		if n, _ := rdb.Exists(ctx, s.shardMarker(i)).Result(); n != 1 {
			t.Fatalf("after the first schema check, no marker %s", s.shardMarker(i))
		}
	}
	if err := rdb.Del(ctx, "lost:{05}:schema").Err(); err != nil {
		t.Fatal(err)
	}
	err := s.Probe(ctx)
	if !errors.Is(err, store.ErrDataLost) || !strings.Contains(err.Error(), "lost:{05}:schema") {
		t.Fatalf("probe after shard 05 lost its keys: %v, want ErrDataLost naming lost:{05}:schema", err)
	}
	if err := s.Probe(ctx); err != nil {
		t.Fatalf("the next probe: %v, want the loss said once", err)
	}
}

// On a Redis Cluster the loss of a master that does not hold
// "<prefix>:schema" is found: its shards' markers are gone.
func TestProbeFindsTheLossOfAClusterMaster(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the cluster test starts three redis-servers")
	}
	ctx := context.Background()
	c := redistest.StartCluster(t, 3)
	cc := c.ClusterClient(t)
	s := New(cc, "lost")
	if _, err := s.CheckSchema(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Probe(ctx); err != nil {
		t.Fatalf("probe with the data there: %v", err)
	}
	schemaMaster, err := cc.MasterForKey(ctx, s.schemaKey())
	if err != nil {
		t.Fatal(err)
	}
	// A master other than the schema key's that holds a shard's marker.
	var wiped *redis.Client
	for i := range store.Shards {
		m, err := cc.MasterForKey(ctx, s.shardMarker(i))
		if err != nil {
			t.Fatal(err)
		}
		if addr := m.Options().Addr; addr != schemaMaster.Options().Addr {
			wiped = redis.NewClient(&redis.Options{Addr: addr})
			t.Cleanup(func() { wiped.Close() })
			break
		}
	}
	if wiped == nil {
		t.Fatal("every shard is on the schema key's master")
	}
	if err := wiped.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if n, _ := cc.Exists(ctx, s.schemaKey()).Result(); n != 1 {
		t.Fatal("the schema key went with the wiped master: this test is of the others")
	}
	if err := s.Probe(ctx); !errors.Is(err, store.ErrDataLost) {
		t.Fatalf("probe after a master other than the schema key's lost its data: %v, want ErrDataLost", err)
	}
	if err := s.Probe(ctx); err != nil {
		t.Fatalf("the next probe: %v, want the loss said once", err)
	}
}

// A replica starting on data whose markers are partly gone leaves them for
// the probe to find (writing them would hide the loss); data from a
// pagerd before the markers, with none of them, gets them all.
func TestCheckSchemaLeavesAShardsLossToTheProbe(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	s := New(rdb, "lost")
	if _, err := s.CheckSchema(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Del(ctx, s.shardMarker(3)).Err(); err != nil {
		t.Fatal(err)
	}
	starting := New(rdb, "lost")
	if _, err := starting.CheckSchema(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, s.shardMarker(3)).Result(); n != 0 {
		t.Fatal("a starting replica wrote the marker of a shard that lost its keys")
	}
	if err := starting.Probe(ctx); !errors.Is(err, store.ErrDataLost) || !strings.Contains(err.Error(), s.shardMarker(3)) {
		t.Fatalf("the starting replica's first probe: %v, want ErrDataLost naming %s", err, s.shardMarker(3))
	}

	older := New(rdb, "older")
	if err := rdb.Set(ctx, older.schemaKey(), schemaVersion, 0).Err(); err != nil { // a pagerd before the markers
		t.Fatal(err)
	}
	if _, err := older.CheckSchema(ctx); err != nil {
		t.Fatal(err)
	}
	if err := older.Probe(ctx); err != nil {
		t.Fatalf("probe on data from before the markers, after the schema check: %v", err)
	}
	for i := range store.Shards {
		if n, _ := rdb.Exists(ctx, older.shardMarker(i)).Result(); n != 1 {
			t.Fatalf("no marker %s after the schema check of older data", older.shardMarker(i))
		}
	}
}

// A master that lost its data is found even when another master refuses
// the same probe (here writes are refused on it: min-replicas-to-write
// with no replica). The probe puts the lost markers back on the master
// that answered, so a probe that dropped what it found for the other's
// error left nothing for the next probe to find: the loss was never said.
func TestProbeFindsAClusterMastersLossWhileAnotherRefusesWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the cluster test starts three redis-servers")
	}
	ctx := context.Background()
	c := redistest.StartCluster(t, 3)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, ContextTimeoutEnabled: true, MaxRedirects: -1})
	t.Cleanup(func() { cc.Close() })
	s := New(cc, "lost")
	if _, err := s.CheckSchema(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Probe(ctx); err != nil {
		t.Fatalf("probe with the data there: %v", err)
	}
	schemaMaster, err := cc.MasterForKey(ctx, s.schemaKey())
	if err != nil {
		t.Fatal(err)
	}
	// The wiped master is not the schema key's; the refusing one is
	// another.
	var wiped, refusing string
	for i := range store.Shards {
		m, err := cc.MasterForKey(ctx, s.shardMarker(i))
		if err != nil {
			t.Fatal(err)
		}
		addr := m.Options().Addr
		switch {
		case wiped == "" && addr != schemaMaster.Options().Addr:
			wiped = addr
		case refusing == "" && wiped != "" && addr != wiped:
			refusing = addr
		}
	}
	if wiped == "" || refusing == "" {
		t.Fatalf("the shards are not spread over the masters (wiped %q, refusing %q)", wiped, refusing)
	}
	node := func(addr string) *redis.Client {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { rdb.Close() })
		return rdb
	}
	if err := node(wiped).FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := node(refusing).ConfigSet(ctx, "min-replicas-to-write", "1").Err(); err != nil {
		t.Fatal(err)
	}
	first := s.Probe(ctx)
	if !errors.Is(first, store.ErrUnavailable) {
		t.Fatalf("probe with a master refusing writes: %v, want ErrUnavailable", first)
	}
	if err := node(refusing).ConfigSet(ctx, "min-replicas-to-write", "0").Err(); err != nil {
		t.Fatal(err)
	}
	second := s.Probe(ctx)
	if !errors.Is(first, store.ErrDataLost) && !errors.Is(second, store.ErrDataLost) {
		t.Fatalf("the loss of %s's data was never said: probes answered %v, then %v", wiped, first, second)
	}
	t.Logf("first probe: %v; second: %v", first, second)
}

// A first start whose writing of the shards' markers failed in part (on a
// cluster, a master refusing writes) is checked again once it answers:
// the markers it did not write are written then, not taken for a master
// that lost its data. The schema key had been written first, so the check
// again saw data of this schema with some markers there and some not, left
// the missing ones for the probe, and the probe said the data of a
// Redis that had lost nothing was lost: an ERROR, pagerd not ready for a
// minute, pagerd_store_data_lost_total counted.
func TestFirstStartWhoseMarkersFailedInPartIsNoLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the cluster test starts three redis-servers")
	}
	ctx := context.Background()
	c := redistest.StartCluster(t, 3)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, ContextTimeoutEnabled: true, MaxRedirects: -1})
	t.Cleanup(func() { cc.Close() })
	s := New(cc, "first")
	schemaMaster, err := cc.MasterForKey(ctx, s.schemaKey())
	if err != nil {
		t.Fatal(err)
	}
	var refusing *redis.Client
	for i := range store.Shards {
		m, err := cc.MasterForKey(ctx, s.shardMarker(i))
		if err != nil {
			t.Fatal(err)
		}
		if m.Options().Addr != schemaMaster.Options().Addr {
			refusing = redis.NewClient(&redis.Options{Addr: m.Options().Addr})
			t.Cleanup(func() { refusing.Close() })
			break
		}
	}
	if refusing == nil {
		t.Fatal("every shard is on the schema key's master")
	}
	if err := refusing.ConfigSet(ctx, "min-replicas-to-write", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckSchema(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("first start with a master refusing writes: %v, want ErrUnavailable", err)
	}
	if err := refusing.ConfigSet(ctx, "min-replicas-to-write", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckSchema(ctx); err != nil {
		t.Fatalf("the check again, the master answering: %v", err)
	}
	if err := s.Probe(ctx); err != nil {
		t.Fatalf("probe after a first start that was checked again: %v, want no loss: nothing was lost", err)
	}
}

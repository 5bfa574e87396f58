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

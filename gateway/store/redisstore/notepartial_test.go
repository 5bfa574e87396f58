package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/internal/redistest"
)

// TestClusterNoteWithAMasterRefusingNotesTheOthersOnce: Note appends in a
// pipeline of a script per shard, and removes from its map what it noted,
// so that a call again after an error notes only the rest (the storm
// flush calls it again for as long as it fails). With one master refusing
// writes, the scripts of the other masters appended their notes, but the
// map kept them: every call again appended them once more, and their
// incidents' timelines said the storm message went out as many times.
func TestClusterNoteWithAMasterRefusingNotesTheOthersOnce(t *testing.T) {
	s, cc := clusterStore(t, "note")
	ctx := context.Background()
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	notes := map[string][]store.Entry{}
	var ids []string
	for i := range 32 {
		inc := lostReplyIncident("k" + itoa(i))
		if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, inc.ID)
		notes[inc.ID] = []store.Entry{{At: at, Type: "notify", User: "ann", Channel: "sms", Bundle: "b1"}}
	}
	accept := refuseWrites(t, cc, s, store.ShardOf("api", "k0"))
	if err := s.Note(ctx, notes); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Note with a master refusing writes: %v, want ErrUnavailable", err)
	}
	accept()
	if err := s.Note(ctx, notes); err != nil { // called again, as the storm flush does
		t.Fatal(err)
	}
	for _, id := range ids {
		tl, err := s.Timeline(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(tl) != 1 {
			t.Fatalf("incident %s has the note %d times after a call that failed in part and a call again, want once: %+v", id, len(tl), tl)
		}
	}
}

// clusterStore starts a Redis Cluster of three masters and a store on it
// under prefix, for the tests of one master failing while the others
// answer. The client neither retries nor follows redirects, as the
// daemon's does not.
func clusterStore(t *testing.T, prefix string) (*redisstore.Store, *redis.ClusterClient) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the cluster test starts three redis-servers")
	}
	c := redistest.StartCluster(t, 3)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, ContextTimeoutEnabled: true, MaxRedirects: -1})
	t.Cleanup(func() { cc.Close() })
	return redisstore.New(cc, prefix), cc
}

// refuseWrites makes the master that serves the shard refuse writes (it
// has no replica, and now needs one: min-replicas-to-write) until accept
// is called.
func refuseWrites(t *testing.T, cc *redis.ClusterClient, s *redisstore.Store, shard int) (accept func()) {
	t.Helper()
	ctx := context.Background()
	m, err := cc.MasterForKey(ctx, redisstore.DueKey(s, shard))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ConfigSet(ctx, "min-replicas-to-write", "1").Err(); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := m.ConfigSet(ctx, "min-replicas-to-write", "0").Err(); err != nil {
			t.Fatal(err)
		}
	}
}

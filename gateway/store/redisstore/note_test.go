package redisstore_test

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/internal/redistest"
	"github.com/pagerd/pagerd/policy"
)

// TestNoteIsAScriptPerShard: a storm bundle's notes, one per incident,
// reach Redis as one script per shard (and per hundred incidents in it),
// not one per incident, and every incident's timeline still gets its own
// entries: a script call costs Redis as much as several of the commands it
// runs, and in a flood every page's incident gets a note.
func TestNoteIsAScriptPerShard(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	s := redisstore.New(rdb, "n")
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	// 250 incidents in shard 3 (three scripts' worth) and one in each
	// of shards 7 and 9: five scripts.
	var ids []string
	for i := range 252 {
		shard := 3
		switch i {
		case 250:
			shard = 7
		case 251:
			shard = 9
		}
		id := store.NewID(shard, at)
		inc := &store.Incident{ID: id, Service: "api", DedupKey: "k" + strconv.Itoa(i), CreatedAt: at, UpdatedAt: at, LastSeen: at,
			State: policy.Incident{Status: policy.StatusTriggered}}
		// The dedup key must be of the id's shard: find one that is.
		for n := 0; store.ShardOf("api", inc.DedupKey) != shard; n++ {
			inc.DedupKey = "k" + strconv.Itoa(i) + "-" + strconv.Itoa(n)
		}
		if _, _, err := s.Trigger(ctx, inc, []store.Entry{{At: at, Type: "trigger"}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	notes := map[string][]store.Entry{}
	for i, id := range ids {
		notes[id] = []store.Entry{{At: at.Add(time.Minute), Type: "notify", User: "ann", Channel: "push", Detail: "bundle " + strconv.Itoa(i)}}
	}
	// And one incident that is gone: skipped, not created.
	gone := store.NewID(3, at)
	notes[gone] = notes[ids[0]]
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Note(ctx, notes); err != nil {
		t.Fatal(err)
	}
	stats, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`cmdstat_evalsha:calls=(\d+)`).FindStringSubmatch(stats)
	if m == nil || m[1] != "5" {
		t.Errorf("Note of 253 incidents in 3 shards made %v script calls, want 5 (one per shard and per 100 in it):\n%s", m, stats)
	}
	for i, id := range ids {
		tl, err := s.Timeline(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(tl) != 2 || tl[0].Type != "trigger" || tl[1].Detail != "bundle "+strconv.Itoa(i) {
			t.Fatalf("timeline of incident %d after the note: %+v", i, tl)
		}
	}
	if _, err := s.Get(ctx, gone); err != store.ErrNotFound {
		t.Fatalf("the note of an incident that is gone made one: %v", err)
	}
}

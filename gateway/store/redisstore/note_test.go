package redisstore_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
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

// TestANotedRecordTakesItsOwnSize: an incident's record after a note takes
// in Redis about its length, as a written one does. Redis's APPEND, which
// the note used, reserves as much room again as the string's new length
// for the appends to come (Redis 7: an 850-byte string took 1,840 bytes),
// and a storm's bundle notes every incident it held, often as their last
// write (resolved before the bundle went out): twice the memory, for as
// long as they are kept.
func TestANotedRecordTakesItsOwnSize(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	s := redisstore.New(rdb, "m")
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	inc := &store.Incident{ID: store.NewID(store.ShardOf("api", "k"), at), Service: "api", DedupKey: "k", Summary: strings.Repeat("disk full on db1 ", 30),
		CreatedAt: at, UpdatedAt: at, LastSeen: at, State: policy.Incident{Status: policy.StatusTriggered}}
	if _, _, err := s.Trigger(ctx, inc, []store.Entry{{At: at, Type: "trigger"}}); err != nil {
		t.Fatal(err)
	}
	key := "m:{" + fmt.Sprintf("%02x", store.ShardOf("api", "k")) + "}:inc:" + inc.ID
	before, err := rdb.StrLen(ctx, key).Result()
	if err != nil || before == 0 {
		t.Fatalf("record %s: length %d, %v", key, before, err)
	}
	// What Redis takes besides the string: the key, the object, the
	// allocator's rounding up of the record as written.
	usedBefore, err := rdb.MemoryUsage(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	overhead := usedBefore - before
	if err := s.Note(ctx, map[string][]store.Entry{inc.ID: {{At: at.Add(time.Minute), Type: "notify", User: "ann", Channel: "push",
		Detail: "via webhook, in one message for 40 incidents"}}}); err != nil {
		t.Fatal(err)
	}
	n, err := rdb.StrLen(ctx, key).Result()
	if err != nil || n <= before {
		t.Fatalf("record's length after the note %d (before %d), %v", n, before, err)
	}
	used, err := rdb.MemoryUsage(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	// The overhead of the record as written, and the allocator's size
	// classes (a quarter apart at these sizes).
	if used > n+overhead+n/4 {
		t.Errorf("the noted record of %d bytes takes %d in Redis (%d for %d before the note), want about its length", n, used, usedBefore, before)
	}
	if tl, err := s.Timeline(ctx, inc.ID); err != nil || len(tl) != 2 || tl[1].Type != "notify" {
		t.Errorf("timeline after the note %+v, %v", tl, err)
	}
}

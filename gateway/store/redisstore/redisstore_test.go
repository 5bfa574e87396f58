package redisstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/gateway/store/storetest"
	"github.com/pagerd/pagerd/internal/logtest"
	"github.com/pagerd/pagerd/internal/redistest"
	"github.com/pagerd/pagerd/policy"
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
		SpoilHeld: func(t *testing.T, s store.Store, storm string, i int) {
			if err := redisstore.SpoilHeld(context.Background(), s.(*redisstore.Store), storm, i); err != nil {
				t.Fatal(err)
			}
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
		SpoilHeld: func(t *testing.T, s store.Store, storm string, i int) {
			if err := redisstore.SpoilHeld(context.Background(), s.(*redisstore.Store), storm, i); err != nil {
				t.Fatal(err)
			}
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

// TestClaimAfterScriptFlush: after Redis loses its script cache (a restart),
// the pipelined claim falls back and still claims.
func TestClaimAfterScriptFlush(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := redisstore.New(rdb, "flush")
	ctx := context.Background()
	if err := s.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	inc := &store.Incident{ID: store.NewID(store.ShardOf("api", "k"), at), Service: "api", DedupKey: "k", CreatedAt: at, LastSeen: at,
		State: policy.Incident{Status: policy.StatusTriggered, Pending: []policy.Deadline{{ID: "1.1", At: at, Kind: policy.DeadlineNotify}}}}
	if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	cs, err := s.ClaimDue(ctx, at, time.Minute, 10)
	if err != nil || len(cs) != 1 || cs[0].Incident != inc.ID {
		t.Fatalf("claim after SCRIPT FLUSH: %+v %v", cs, err)
	}
}

// zsliceCounter counts the index entries Redis returns, in pipelines too.
type zsliceCounter struct{ n atomic.Int64 }

func (c *zsliceCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *zsliceCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if z, ok := cmd.(*redis.ZSliceCmd); ok {
			c.n.Add(int64(len(z.Val())))
		}
		return err
	}
}

func (c *zsliceCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			if z, ok := cmd.(*redis.ZSliceCmd); ok {
				c.n.Add(int64(len(z.Val())))
			}
		}
		return err
	}
}

// TestExpireReadsTheIndexAPageAtATime: a batch of Expire reads a page of
// each shard's index, not the whole backlog past the cut-off, so catching
// up on a large backlog (retention shortened, the job down for weeks) is
// not quadratic in it.
func TestExpireReadsTheIndexAPageAtATime(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := redisstore.New(rdb, "exp")
	ctx := context.Background()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const backlog = 2000
	for i := range backlog {
		at := base.Add(time.Duration(i) * time.Second)
		dedup := "k" + itoa(i)
		inc := &store.Incident{ID: store.NewID(store.ShardOf("api", dedup), at), Service: "api", DedupKey: dedup, Source: "api",
			Summary: "s", CreatedAt: at, UpdatedAt: at, LastSeen: at,
			State: policy.Incident{Service: "api", Priority: "P1", Status: policy.StatusResolved, TriggeredAt: at, ResolvedAt: at}}
		inc.State.ID = inc.ID
		if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
			t.Fatal(err)
		}
	}
	var c zsliceCounter
	rdb.AddHook(&c)
	const max = 10
	n, more, err := s.Expire(ctx, base.Add(24*time.Hour), max)
	if err != nil || n != max || !more {
		t.Fatalf("Expire = %d %v %v, want %d and more", n, more, err, max)
	}
	// The open index (empty here), and a page of max+1 per shard.
	if read, bound := c.n.Load(), int64(store.Shards*(max+1)); read > bound {
		t.Fatalf("one batch of %d read %d index entries of a backlog of %d; want at most %d", max, read, backlog, bound)
	}
}

// undecodable are the two ways a stored record can fail to decode: its
// header does not parse, or (the header valid, as the record's status
// needs) its document, as long as before, is not JSON.
var undecodable = []struct {
	name    string
	corrupt func(t *testing.T, v string) string
}{
	{"header", func(*testing.T, string) string { return "not an incident record" }},
	{"document", func(t *testing.T, v string) string {
		parts, err := redisstore.ParseRecord(v)
		if err != nil {
			t.Fatal(err)
		}
		header, _, _ := strings.Cut(v, "\n")
		return header + "\n" + strings.Repeat("x", len(parts.Doc)) + parts.Details + parts.Timeline
	}},
}

// corrupter rewrites the record of an incident of s with corrupt.
func corrupter(rdb *redis.Client, s *redisstore.Store, corrupt func(*testing.T, string) string) func(t *testing.T, id string) {
	return func(t *testing.T, id string) {
		ctx := context.Background()
		keys, err := rdb.Keys(ctx, redisstore.Prefix(s)+":*:inc:"+id).Result()
		if err != nil || len(keys) != 1 {
			t.Fatalf("record key of %s: %v %v", id, keys, err)
		}
		v, err := rdb.Get(ctx, keys[0]).Result()
		if err != nil {
			t.Fatal(err)
		}
		if err := rdb.Set(ctx, keys[0], corrupt(t, v), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCountOpenSkipsUndecodable: an open incident record whose header does
// not parse, or whose document does not decode, is left out of the counts
// and named, and the others are still counted
// (storetest.CountOpenSkipsUndecodable).
func TestCountOpenSkipsUndecodable(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	for _, tc := range undecodable {
		t.Run(tc.name, func(t *testing.T) {
			s := redisstore.New(rdb, "count-undecodable-"+tc.name)
			storetest.CountOpenSkipsUndecodable(t, s, corrupter(rdb, s, tc.corrupt))
		})
	}
}

// TestExpireLogsUndecodable: an incident record whose header does not
// parse, or whose document does not decode, is kept by retention and said
// in the log the daemon gives Open (storetest.ExpireLogsUndecodable), not
// passed over in silence.
func TestExpireLogsUndecodable(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	for _, tc := range undecodable {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			var logs logtest.Buffer
			s, err := redisstore.Open(ctx, "redis://"+srv.Addr, "undecodable-"+tc.name, slog.New(slog.NewJSONHandler(&logs, nil)))
			t.Cleanup(logging.Enable) // Open set go-redis's logger to this test's
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			storetest.ExpireLogsUndecodable(t, s, logs.String, corrupter(rdb, s, tc.corrupt))
		})
	}
}

// cmdCounter counts the commands a client sends, in pipelines too.
type cmdCounter struct{ n atomic.Int64 }

func (c *cmdCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *cmdCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *cmdCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// dueEverySecond loads the store's scripts and stores n incidents, the
// i-th due at i seconds past at, and returns their ids in that order.
func dueEverySecond(t *testing.T, s *redisstore.Store, at time.Time, n int) []string {
	t.Helper()
	ctx := context.Background()
	if err := s.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range n {
		key := "k" + strconv.Itoa(i)
		inc := &store.Incident{ID: store.NewID(store.ShardOf("api", key), at), Service: "api", DedupKey: key, CreatedAt: at, LastSeen: at,
			State: policy.Incident{Status: policy.StatusTriggered, Pending: []policy.Deadline{{ID: "1.1", At: at.Add(time.Duration(i) * time.Second), Kind: policy.DeadlineNotify}}}}
		if _, _, err := s.Trigger(ctx, inc, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, inc.ID)
	}
	return ids
}

// TestClaimDueNextIsOneCommand: on a Redis that holds every shard, the
// dispatcher's claim and its look at the next due time are one script,
// not a command per shard to read the due sets, one per shard claimed
// from, and a command per shard again for the next due time (65 and more
// per look, at every new incident's wake: a fifth of pagerd's CPU at
// 1,000 alerts/s).
func TestClaimDueNextIsOneCommand(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := redisstore.New(rdb, "one")
	ctx := context.Background()
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	ids := dueEverySecond(t, s, at, 20)
	var c cmdCounter
	rdb.AddHook(&c)
	cs, next, ok, more, err := s.ClaimDueNext(ctx, at.Add(9*time.Second), time.Minute, 64)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 10 || cs[0].Incident != ids[0] || cs[9].Incident != ids[9] || more {
		t.Fatalf("claims %d (more=%v), want the 10 due in order", len(cs), more)
	}
	if !ok || !next.Equal(at.Add(10*time.Second)) {
		t.Fatalf("next due %v ok=%v, want +10s", next, ok)
	}
	if n := c.n.Load(); n != 1 {
		t.Errorf("a claim and next due time took %d commands, want 1", n)
	}
}

// TestClaimsOnAServerThatRefusesUndeclaredKeys: a server that refuses the
// script claiming over every shard, as Dragonfly does by default because
// the script names its keys itself, gets the cluster's claims shard by
// shard instead: the claims and the next due time are what they would
// have been, the refusal is met once and said once in the log, and later
// claims do not try the refused script again.
func TestClaimsOnAServerThatRefusesUndeclaredKeys(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := redisstore.New(rdb, "df")
	logs := &logtest.Buffer{}
	redisstore.SetLog(s, slog.New(slog.NewJSONHandler(logs, nil)))
	ctx := context.Background()
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	ids := dueEverySecond(t, s, at, 20)
	refuse := &redistest.RefuseUndeclaredKeys{}
	rdb.AddHook(refuse)

	cs, next, ok, more, err := s.ClaimDueNext(ctx, at.Add(4*time.Second), time.Minute, 64)
	if err != nil {
		t.Fatalf("the first claim on a server that refuses undeclared keys: %v", err)
	}
	if len(cs) != 5 || cs[0].Incident != ids[0] || cs[4].Incident != ids[4] || more {
		t.Fatalf("claims %d (more=%v), want the 5 due in order", len(cs), more)
	}
	if !ok || !next.Equal(at.Add(5*time.Second)) {
		t.Fatalf("next due %v ok=%v, want +5s", next, ok)
	}
	cs, err = s.ClaimDue(ctx, at.Add(9*time.Second), time.Minute, 64)
	if err != nil || len(cs) != 5 || cs[0].Incident != ids[5] || cs[4].Incident != ids[9] {
		t.Fatalf("ClaimDue after the refusal: %d claims, %v; want the next 5 in order", len(cs), err)
	}
	if _, _, _, _, err := s.ClaimDueNext(ctx, at.Add(19*time.Second), time.Minute, 64); err != nil {
		t.Fatal(err)
	}
	if n := refuse.Refused.Load(); n != 1 {
		t.Errorf("the refused script was tried %d times, want once", n)
	}
	warned := 0
	for _, l := range logtest.Lines(t, logs.String()) {
		if l["level"] == "WARN" && strings.Contains(fmt.Sprint(l["msg"]), "names its own keys") &&
			strings.Contains(fmt.Sprint(l["err"]), "undeclared key") {
			warned++
		}
	}
	if warned != 1 {
		t.Errorf("%d warnings about the refusal, want 1:\n%s", warned, logs.String())
	}
}

// TestCheckScriptKeysRefusesDragonfly: a server that refuses every script
// reading a key of its shard it was not passed (Dragonfly without
// allow-undeclared-keys) fails the check Open makes, naming the flag:
// the per-shard claims and repeated alerts would fail there too, and the
// fallback's warning alone would have let pagerd start and page nobody.
// A proxy that refuses only keyless scripts, and Redis itself, pass.
func TestCheckScriptKeysRefusesDragonfly(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		hook  *redistest.RefuseUndeclaredKeys
		fails bool
	}{
		{"redis", nil, false},
		{"a proxy that routes by declared keys", &redistest.RefuseUndeclaredKeys{}, false},
		{"dragonfly", &redistest.RefuseUndeclaredKeys{ReadsOwnShard: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb := srv.Client(t)
			if tc.hook != nil {
				rdb.AddHook(tc.hook)
			}
			err := redisstore.New(rdb, "probe").CheckScriptKeys(ctx)
			if tc.fails != (err != nil) {
				t.Fatalf("check: %v, want an error: %v", err, tc.fails)
			}
			if tc.fails && !strings.Contains(err.Error(), "--default_lua_flags=allow-undeclared-keys") {
				t.Fatalf("the error does not name Dragonfly's flag: %v", err)
			}
		})
	}
}

// TestServerTime: the store reads Redis's clock (which the replicas run
// on, gateway/sharedclock): on one host, the host's.
func TestServerTime(t *testing.T) {
	srv := redistest.Start(t)
	s := redisstore.New(srv.Client(t), "t")
	before := time.Now()
	got, err := s.ServerTime(context.Background())
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if got.Before(before.Add(-time.Millisecond).Round(0)) || got.After(after.Add(time.Millisecond).Round(0)) {
		t.Errorf("server time %v, want between %v and %v", got, before, after)
	}
}

// TestStormSentBackOfAnEarlierWindowDoesNotCount: a flush by a replica of
// a version before Storms.SentBack (its script leaves the storm hash's
// sentback fields as they are) opens the next window with them still
// there. The next window's message must get its own minute on the
// provider's word, not fail at its first 429 on the last message's.
func TestStormSentBackOfAnEarlierWindowDoesNotCount(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := redisstore.New(rdb, "sentback")
	ctx := context.Background()
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	key := store.StormKey("ann", "sms")
	r := store.StormRules{Window: 10 * time.Second, Immediate: 1}
	for i := range 3 {
		p := store.HeldPage{Incident: fmt.Sprint("i", i), Service: "api", Priority: "P0", Rank: 0, Summary: "s", Due: at}
		if _, err := s.Admit(ctx, key, p, at, r); err != nil {
			t.Fatal(err)
		}
	}
	if first, err := s.SentBack(ctx, key, at.Add(time.Minute)); err != nil || !first.Equal(at.Add(time.Minute)) {
		t.Fatalf("first send-back %v %v", first, err)
	}
	keys, err := rdb.Keys(ctx, "*storm:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("storm keys %v %v", keys, err)
	}
	// The old flush: the next window's end, the sentback fields left.
	if err := rdb.HSet(ctx, keys[0], "end", at.Add(3*time.Minute).UnixMilli()).Err(); err != nil {
		t.Fatal(err)
	}
	if first, err := s.SentBack(ctx, key, at.Add(4*time.Minute)); err != nil || !first.Equal(at.Add(4*time.Minute)) {
		t.Fatalf("the next window's first send-back says %v (%v), want 4m: the last window's counted", first.Sub(at), err)
	}
}

package redisstore_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/internal/redistest"
	"github.com/pagerd/pagerd/policy"
)

// dueIn stores an incident of key whose one step is due at, and returns
// its id and shard.
func dueIn(t *testing.T, s *redisstore.Store, key string, created, at time.Time) (string, int) {
	t.Helper()
	shard := store.ShardOf("api", key)
	inc := &store.Incident{ID: store.NewID(shard, created), Service: "api", DedupKey: key, CreatedAt: created, LastSeen: created,
		State: policy.Incident{Status: policy.StatusTriggered, Pending: []policy.Deadline{{ID: "1.1", At: at, Kind: policy.DeadlineNotify}}}}
	if _, _, err := s.Trigger(context.Background(), inc, nil); err != nil {
		t.Fatal(err)
	}
	return inc.ID, shard
}

// keyInShard is a dedup key of service api in none of the shards of not.
func keyInShard(t *testing.T, not ...int) string {
	t.Helper()
	for i := range 10000 {
		k := "k" + strconv.Itoa(i)
		s := store.ShardOf("api", k)
		clash := false
		for _, n := range not {
			clash = clash || s == n
		}
		if !clash {
			return k
		}
	}
	t.Fatal("no key outside the shards")
	return ""
}

// dueReads is how many reads of due sets Redis has run (INFO
// commandstats: ZRANGE and ZRANGEBYSCORE, inside scripts too).
func dueReads(t *testing.T, rdb *redis.Client) int64 {
	t.Helper()
	return commandCalls(t, rdb, func(name string) bool { return name == "zrange" || name == "zrangebyscore" })
}

// TestScopedClaimReadsOnlyShardsThatMayHoldSomethingDue: a claim that is
// not asked to look everywhere reads only the shards where the store
// knows something may be due (a dispatcher's wake read all 32, a quarter
// of Redis's time per alert in a flood), asks nothing at all when none
// may, and still claims an entry of a shard nobody wrote to since it was
// read once its time has come.
func TestScopedClaimReadsOnlyShardsThatMayHoldSomethingDue(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := redisstore.New(rdb, "sc")
	ctx := context.Background()
	if err := s.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	claim := func(now time.Time, everywhere bool) ([]store.Claim, time.Time, bool, int64, int64) {
		t.Helper()
		var c cmdCounter
		rdb.AddHook(&c) // counts from here on
		before, cmds0 := dueReads(t, rdb), c.n.Load()
		cs, next, ok, more, err := s.ClaimDueNextScoped(ctx, now, time.Minute, 64, everywhere)
		if err != nil || more {
			t.Fatalf("claim at %v: more=%v, %v", now.Sub(at), more, err)
		}
		cmds := c.n.Load() - cmds0
		reads := dueReads(t, rdb) - before
		return cs, next, ok, cmds, reads
	}
	a, shardA := dueIn(t, s, keyInShard(t), at, at.Add(10*time.Second))
	b, shardB := dueIn(t, s, keyInShard(t, shardA), at, at.Add(20*time.Second))

	cs, next, ok, _, reads := claim(at, true)
	if len(cs) != 0 || !ok || !next.Equal(at.Add(10*time.Second)) || reads < store.Shards {
		t.Fatalf("claim everywhere: %d claims, next %v ok=%v, %d reads; want none, +10s, every shard read", len(cs), next, ok, reads)
	}
	cs, next, ok, cmds, _ := claim(at.Add(time.Second), false)
	if len(cs) != 0 || !ok || !next.Equal(at.Add(10*time.Second)) || cmds != 0 {
		t.Fatalf("scoped claim with nothing due: %d claims, next %v ok=%v, %d commands; want none, +10s, no command", len(cs), next, ok, cmds)
	}
	c, shardC := dueIn(t, s, keyInShard(t, shardA, shardB), at, at.Add(time.Second))
	cs, _, _, _, reads = claim(at.Add(time.Second), false)
	if len(cs) != 1 || cs[0].Incident != c || reads > 3 {
		t.Fatalf("scoped claim after a new incident due now in shard %d: %+v, %d reads of due sets; want it, 3 reads at most", shardC, cs, reads)
	}
	cs, next, ok, _, reads = claim(at.Add(10*time.Second), false)
	if len(cs) != 1 || cs[0].Incident != a || reads > 3 {
		t.Fatalf("scoped claim at +10s: %+v, %d reads; want the incident of shard %d due then, nobody having written there since", cs, reads, shardA)
	}
	if !ok || !next.Equal(at.Add(20*time.Second)) {
		t.Fatalf("next after the claim at +10s: %v ok=%v, want +20s", next, ok)
	}
	cs, _, _, _, _ = claim(at.Add(20*time.Second), false)
	if len(cs) != 1 || cs[0].Incident != b {
		t.Fatalf("scoped claim at +20s: %+v, want the incident of shard %d", cs, shardB)
	}
}

// TestScopedClaimFindsOtherReplicasWrites: what another replica writes
// is found by the claim everywhere (which the dispatcher makes at least
// every MaxSleep), and at once by a scoped one when its nudge names the
// shard: in a flood the replica that takes an alert may have every
// worker busy, and another must page it as soon as before.
func TestScopedClaimFindsOtherReplicasWrites(t *testing.T) {
	srv := redistest.Start(t)
	rdbA, rdbB := srv.Client(t), srv.Client(t)
	a, b := redisstore.New(rdbA, "rep"), redisstore.New(rdbB, "rep")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	if _, _, _, _, err := a.ClaimDueNextScoped(ctx, at, time.Minute, 64, true); err != nil {
		t.Fatal(err)
	}
	one, _ := dueIn(t, b, "one", at, at)
	cs, _, _, _, err := a.ClaimDueNextScoped(ctx, at, time.Minute, 64, true)
	if err != nil || len(cs) != 1 || cs[0].Incident != one {
		t.Fatalf("claim everywhere after another replica's write: %+v, %v; want its incident", cs, err)
	}

	nudges := a.Nudges(ctx)
	for {
		n, err := rdbA.PubSubNumSub(ctx, "rep:nudge").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n["rep:nudge"] > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	two, shard := dueIn(t, b, keyInShard(t, store.ShardOf("api", "one")), at, at)
	if err := b.Nudge(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-nudges:
	case <-time.After(5 * time.Second):
		t.Fatal("no nudge came")
	}
	cs, _, _, _, err = a.ClaimDueNextScoped(ctx, at, time.Minute, 64, false)
	if err != nil || len(cs) != 1 || cs[0].Incident != two {
		t.Fatalf("scoped claim after a nudge from the replica that wrote shard %d: %+v, %v; want its incident", shard, cs, err)
	}
}

// TestScopedClaimFindsALeaseMovedEarlier: a claim's lease end moved
// earlier than the claim put it (Extend to a nearer time) comes due then,
// and a scoped claim takes it over then, not at the next claim
// everywhere.
func TestScopedClaimFindsALeaseMovedEarlier(t *testing.T) {
	srv := redistest.Start(t)
	s := redisstore.New(srv.Client(t), "ext")
	ctx := context.Background()
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	id, _ := dueIn(t, s, "k", at, at)
	cs, _, _, _, err := s.ClaimDueNextScoped(ctx, at, time.Minute, 64, true)
	if err != nil || len(cs) != 1 || cs[0].Incident != id {
		t.Fatalf("claim: %+v, %v", cs, err)
	}
	if ok, err := s.Extend(ctx, cs[0], at.Add(time.Second)); !ok || err != nil {
		t.Fatalf("extend: %v, %v", ok, err)
	}
	again, _, _, _, err := s.ClaimDueNextScoped(ctx, at.Add(2*time.Second), time.Minute, 64, false)
	if err != nil || len(again) != 1 || again[0].Incident != id || !again[0].Takeover {
		t.Fatalf("scoped claim after the lease ran out at +1s: %+v, %v; want it taken over", again, err)
	}
}

// holdArg holds every command that names arg until release is closed,
// and then sends it as if its bytes had been on their way all along (a
// pipeline waiting for a connection, a slow write): it runs whether its
// caller still waits or not.
type holdArg struct {
	arg     string
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

func (h *holdArg) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *holdArg) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if slices.Contains(cmd.Args(), any(h.arg)) {
			h.once.Do(func() { close(h.arrived) })
			<-h.release
			return next(context.WithoutCancel(ctx), cmd)
		}
		return next(ctx, cmd)
	}
}

func (h *holdArg) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestScopedClaimFindsAWriteThatRanAfterItsCallerGaveUp: a write whose
// caller gave up once a sender had taken it (its outcome unknown) may
// still run in Redis after a claim has read its shard: the claim's
// reading must not leave the store believing the shard holds nothing due.
// Before, the store marked the shard unknown when the caller gave up, the
// next claim read it before the write ran and found it empty, and the
// incident's first page (its sender's retry a repeat, which wakes nobody)
// waited for the next claim everywhere, up to a second late.
func TestScopedClaimFindsAWriteThatRanAfterItsCallerGaveUp(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := redisstore.New(rdb, "late")
	bg := context.Background()
	if err := s.LoadScripts(bg); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	if _, _, _, _, err := s.ClaimDueNextScoped(bg, at, time.Minute, 64, true); err != nil {
		t.Fatal(err)
	}
	shard := store.ShardOf("api", "late")
	inc := &store.Incident{ID: store.NewID(shard, at), Service: "api", DedupKey: "late", CreatedAt: at, LastSeen: at,
		State: policy.Incident{Status: policy.StatusTriggered, Pending: []policy.Deadline{{ID: "1.1", At: at, Kind: policy.DeadlineNotify}}}}
	h := &holdArg{arg: inc.ID, arrived: make(chan struct{}), release: make(chan struct{})}
	rdb.AddHook(h)
	defer func() {
		select {
		case <-h.release:
		default:
			close(h.release)
		}
	}()
	// No deadline: the trigger goes through a sender, and its caller
	// gives up at the cancel.
	ctx, cancel := context.WithCancel(bg)
	errc := make(chan error, 1)
	go func() {
		_, _, err := s.Trigger(ctx, inc, nil)
		errc <- err
	}()
	select {
	case <-h.arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the trigger never reached Redis")
	}
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("trigger given up on its way: no error")
	}
	// A claim reads the shard (the write's outcome is unknown) before the
	// write runs.
	if cs, _, _, _, err := s.ClaimDueNextScoped(bg, at, time.Minute, 64, false); err != nil || len(cs) != 0 {
		t.Fatalf("claim before the write ran: %+v, %v", cs, err)
	}
	close(h.release)
	due := fmt.Sprintf("late:{%02x}:due", shard)
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, err := rdb.ZScore(bg, due, inc.ID).Result(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the held trigger never ran")
		}
		time.Sleep(time.Millisecond)
	}
	for {
		cs, _, _, _, err := s.ClaimDueNextScoped(bg, at.Add(time.Second), time.Minute, 64, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 1 && cs[0].Incident == inc.ID {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("scoped claims for 2s after the write ran: %+v; want its incident, due since before (it waits for the next claim everywhere)", cs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// keysInShard is n dedup keys of service api in the shard.
func keysInShard(t *testing.T, shard, n int) []string {
	t.Helper()
	var keys []string
	for i := 0; len(keys) < n; i++ {
		if i == 100000 {
			t.Fatalf("fewer than %d keys in shard %d", n, shard)
		}
		if k := "s" + strconv.Itoa(i); store.ShardOf("api", k) == shard {
			keys = append(keys, k)
		}
	}
	return keys
}

// TestScopedClaimOfAKnownShardTellsItsHead: a claim reads a shard this
// store knows holds something due by its first few entries, and when
// fewer of them are due than it read, tells the shard's head after the
// claim from the entry after them (or the lease end, when earlier), not a
// look at the head: the next due time and the next claims must be those
// a look would give, however many are due, whether an entry follows and
// whether it comes before the lease end or after. More due than it read,
// and it reads them all, and the head, as before.
func TestScopedClaimOfAKnownShardTellsItsHead(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	const lease = time.Minute
	for i, tc := range []struct {
		due   int
		after time.Duration // the shard's next entry not due, 0 for none
		reads int64         // reads of due sets by the claim
	}{
		{1, 0, 1}, {1, 10 * time.Second, 1}, {1, 2 * time.Minute, 1},
		{3, 0, 1}, {3, 10 * time.Second, 1}, {3, 2 * time.Minute, 1},
		{4, 0, 3}, {4, 10 * time.Second, 3}, {4, 2 * time.Minute, 3},
		{9, 10 * time.Second, 3},
	} {
		t.Run(fmt.Sprintf("due=%d,after=%v", tc.due, tc.after), func(t *testing.T) {
			s := redisstore.New(rdb, "head"+strconv.Itoa(i))
			ctx := context.Background()
			if err := s.LoadScripts(ctx); err != nil {
				t.Fatal(err)
			}
			// The dispatcher's first look, everywhere: every shard's
			// head known, so that what follows is written through
			// this store.
			if cs, _, _, _, err := s.ClaimDueNextScoped(ctx, at, lease, 64, true); err != nil || len(cs) != 0 {
				t.Fatalf("first claim: %+v, %v", cs, err)
			}
			shard := 5
			keys := keysInShard(t, shard, tc.due+1)
			want := at.Add(lease)
			if tc.after > 0 {
				dueIn(t, s, keys[tc.due], at.Add(-time.Hour), at.Add(tc.after))
				want = at.Add(min(lease, tc.after))
			}
			ids := map[string]bool{}
			for _, k := range keys[:tc.due] {
				id, _ := dueIn(t, s, k, at, at)
				ids[id] = true
			}
			before := dueReads(t, rdb)
			cs, next, ok, more, err := s.ClaimDueNextScoped(ctx, at, lease, 64, false)
			if err != nil || more || len(cs) != tc.due {
				t.Fatalf("claim: %d claims, more=%v, %v; want %d", len(cs), more, err, tc.due)
			}
			for _, c := range cs {
				if !ids[c.Incident] || !c.Due.Equal(at) {
					t.Fatalf("claimed %+v, want one of the incidents due at %v", c, at)
				}
			}
			if reads := dueReads(t, rdb) - before; reads != tc.reads {
				t.Errorf("the claim read due sets %d times, want %d", reads, tc.reads)
			}
			if !ok || !next.Equal(want) {
				t.Fatalf("next due after the claim: %v ok=%v, want %v", next, ok, want)
			}
			// What a look at every shard's head gives, from a store
			// that knows nothing of them.
			if got, ok, err := redisstore.New(rdb, "head"+strconv.Itoa(i)).NextDue(ctx); err != nil || !ok || !got.Equal(want) {
				t.Fatalf("NextDue: %v %v %v, want %v", got, ok, err, want)
			}
			// Nothing more due until then, and what comes due then is
			// claimed then.
			if cs, next, ok, _, err := s.ClaimDueNextScoped(ctx, want.Add(-time.Millisecond), lease, 64, false); err != nil || len(cs) != 0 || !ok || !next.Equal(want) {
				t.Fatalf("claim just before %v: %+v, next %v %v, %v; want none, next then", want, cs, next, ok, err)
			}
			if cs, _, _, _, err := s.ClaimDueNextScoped(ctx, want, lease, 64, false); err != nil || len(cs) == 0 {
				t.Fatalf("claim at %v: %+v, %v; want what comes due then", want, cs, err)
			}
		})
	}
}

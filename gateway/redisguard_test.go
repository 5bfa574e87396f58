package gateway

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/internal/redistest"
)

// waitReady polls /-/ready until it answers want with a body holding every
// part, and returns the body.
func (h *harness) waitReady(t *testing.T, want int, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := h.do("GET", "/-/ready", "")
		ok := r.code == want
		for _, p := range parts {
			ok = ok && strings.Contains(r.body, p)
		}
		if ok {
			return r.body
		}
		if time.Now().After(deadline) {
			t.Fatalf("/-/ready answers %d %q; want %d with %q", r.code, r.body, want, parts)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// probes waits until the readiness probe has run n more times.
func (h *harness) probes(t *testing.T, n int) {
	t.Helper()
	last := func() time.Time {
		h.d.health.mu.Lock()
		defer h.d.health.mu.Unlock()
		return h.d.health.probed
	}
	deadline := time.Now().Add(10 * time.Second)
	for seen, at := 0, last(); seen < n; {
		if now := last(); now != at {
			seen, at = seen+1, now
		}
		if time.Now().After(deadline) {
			t.Fatalf("the readiness probe ran %d times in 10 s, want %d", seen, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logLines are the daemon's log lines at level that hold every part.
func (h *harness) logLines(level string, parts ...string) []string {
	var out []string
	for _, l := range strings.Split(h.logs.String(), "\n") {
		ok := strings.Contains(l, `"level":"`+level+`"`)
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// probedOnRedis is a harness on a Redis of the test's own, probed every
// 20 ms, and a client of that Redis.
func probedOnRedis(t *testing.T) (*harness, *redis.Client) {
	t.Helper()
	st, r := redisStore(t)
	return newHarness(t, withStore(st), probing(20*time.Millisecond)), r.Client(t)
}

// configSet sets Redis's config parameters, in pairs of name and value.
func configSet(t *testing.T, rdb *redis.Client, pairs ...string) {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		if err := rdb.ConfigSet(context.Background(), pairs[i], pairs[i+1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// A Redis whose maxmemory-policy evicts any key (allkeys-lru, what many
// managed Redis offer) and that has a maxmemory deletes incidents after
// pagerd answered 2xx for them: pagerd is not ready on it and says so once,
// naming the policy and the fix, and is ready again once Redis runs with
// noeviction.
func TestNotReadyWhileRedisEvictsAnyKey(t *testing.T) {
	st, r := redisStore(t)
	rdb := r.Client(t)
	ctx := context.Background()
	configSet(t, rdb, "maxmemory-policy", "allkeys-lru", "maxmemory", "1gb")
	h := newHarness(t, withStore(st), probing(20*time.Millisecond))
	h.waitReady(t, 503, "maxmemory-policy allkeys-lru", "set maxmemory-policy noeviction")
	h.probes(t, 5)
	if got := h.logLines("ERROR", "maxmemory-policy allkeys-lru", "maxmemory-policy noeviction"); len(got) != 1 {
		t.Fatalf("ERROR lines naming the policy and the fix: %d, want 1 (once, not at every probe):\n%s", len(got), h.logs)
	}
	if v := metric(t, h.reg, "pagerd_ready"); v != 0 {
		t.Fatalf("pagerd_ready %v on an evicting Redis", v)
	}

	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	h.waitReady(t, 200)
	if got := h.logLines("INFO", "maxmemory-policy changed", `"was":"allkeys-lru"`); len(got) != 1 {
		t.Fatalf("INFO lines saying the policy changed: %d, want 1:\n%s", len(got), h.logs)
	}
}

// With no maxmemory (0, the Redis default) Redis never evicts, whatever its
// policy: an allkeys-* policy there is no reason to turn every replica not
// ready (it did, on upgrade, against a Redis that was safe). pagerd stays
// ready and warns once that eviction would start the day maxmemory is set;
// that day it is not ready, and says why.
func TestReadyOnAllKeysPolicyWithoutMaxmemory(t *testing.T) {
	st, r := redisStore(t)
	rdb := r.Client(t)
	configSet(t, rdb, "maxmemory-policy", "allkeys-lru", "maxmemory", "0")
	h := newHarness(t, withStore(st), probing(20*time.Millisecond))
	h.probes(t, 5)
	h.waitReady(t, 200)
	if got := h.logLines("WARN", "maxmemory-policy allkeys-lru and no maxmemory", "the day someone sets maxmemory", "set maxmemory-policy noeviction"); len(got) != 1 {
		t.Fatalf("WARN lines about allkeys-lru without maxmemory: %d, want 1:\n%s", len(got), h.logs)
	}
	if got := h.logLines("ERROR"); len(got) != 0 {
		t.Fatalf("ERROR lines on a Redis that evicts nothing:\n%s", got)
	}

	configSet(t, rdb, "maxmemory", "1gb")
	h.waitReady(t, 503, "maxmemory-policy allkeys-lru", "set maxmemory-policy noeviction")
	if got := h.logLines("ERROR", "maxmemory-policy allkeys-lru", "maxmemory-policy noeviction"); len(got) != 1 {
		t.Fatalf("ERROR lines once maxmemory is set: %d, want 1:\n%s", len(got), h.logs)
	}
}

// A Redis that refuses INFO (an ACL without it) leaves pagerd unable to
// tell whether it evicts: one WARN while it refuses, not one per probe; and
// once INFO answers again, a later refusal is said again.
func TestWarnsOnceForEachStreakOfRefusedInfo(t *testing.T) {
	h, rdb := probedOnRedis(t)
	ctx := context.Background()
	acl := func(rule string) {
		t.Helper()
		if err := rdb.Do(ctx, "ACL", "SETUSER", "default", rule).Err(); err != nil {
			t.Fatal(err)
		}
	}
	const cannot = "cannot tell whether Redis evicts pagerd's keys"
	for streak := 1; streak <= 2; streak++ {
		h.probes(t, 2) // INFO answers
		acl("-info")
		h.probes(t, 5)
		if got := h.logLines("WARN", cannot); len(got) != streak {
			t.Fatalf("WARN lines after %d streaks of refused INFO, each of 5 probes: %d, want %d:\n%s", streak, len(got), streak, h.logs)
		}
		acl("+info")
	}
}

// volatile-* evicts only keys with a TTL: pagerd's are the probe's and
// alert-storm bundles, whose loss costs the ack link of a storm message,
// not a page. pagerd warns once, saying what it costs, and stays ready.
func TestWarnsOnceAndStaysReadyWhileRedisEvictsKeysWithATTL(t *testing.T) {
	st, r := redisStore(t)
	if err := r.Client(t).ConfigSet(context.Background(), "maxmemory-policy", "volatile-lru").Err(); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, withStore(st), probing(20*time.Millisecond))
	h.probes(t, 5)
	h.waitReady(t, 200)
	if got := h.logLines("WARN", "maxmemory-policy volatile-lru", "alert-storm bundles", "maxmemory-policy noeviction"); len(got) != 1 {
		t.Fatalf("WARN lines about volatile-lru: %d, want 1:\n%s", len(got), h.logs)
	}
}

// pagerd_redis_evicted_keys follows INFO stats' evicted_keys.
func TestEvictedKeysGauge(t *testing.T) {
	h, rdb := probedOnRedis(t)
	ctx := context.Background()
	h.probes(t, 1)
	if v := metric(t, h.reg, "pagerd_redis_evicted_keys"); v != 0 {
		t.Fatalf("pagerd_redis_evicted_keys %v before any eviction", v)
	}
	// Keys of another application, with a TTL, evicted by a tight
	// maxmemory.
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "volatile-random").Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		rdb.Set(ctx, fmt.Sprintf("other:%d", i), strings.Repeat("x", 1000), time.Hour)
	}
	used, _ := rdb.Info(ctx, "memory").Result()
	if err := rdb.ConfigSet(ctx, "maxmemory", strings.TrimSpace(infoValue(used, "used_memory"))).Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		rdb.Set(ctx, fmt.Sprintf("more:%d", i), strings.Repeat("x", 2000), time.Hour)
	}
	t.Cleanup(func() { rdb.ConfigSet(ctx, "maxmemory", "0") })
	deadline := time.Now().Add(10 * time.Second)
	for metric(t, h.reg, "pagerd_redis_evicted_keys") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("pagerd_redis_evicted_keys still 0; Redis says %s", infoValue(rdb.Info(ctx, "stats").Val(), "evicted_keys"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// infoValue is a field of an INFO reply.
func infoValue(info, name string) string {
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Redis that lost pagerd's data under a running daemon (restarted without
// persistence, failed over to a stale replica, flushed): open incidents and
// their pending pages are gone. pagerd says so (an ERROR,
// pagerd_store_data_lost_total), writes the schema key again so that the
// next loss is found too, re-arms its jobs, and is not ready for
// dataLostHold.
func TestReadinessRedWhenRedisLostTheData(t *testing.T) {
	h, rdb := probedOnRedis(t)
	ctx := context.Background()
	h.probes(t, 2)
	h.waitReady(t, 200)
	if _, ok := findMetric(t, h, "pagerd_store_data_lost_total"); !ok {
		t.Fatal("pagerd_store_data_lost_total is not exported before a loss: an alert rule would not see it start")
	}
	select {
	case <-h.d.storeBack: // drained: the loss must send its own
	default:
	}

	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	h.waitReady(t, 503, "lost its data", "open incidents and their pending pages are gone")
	if v := metric(t, h.reg, "pagerd_store_data_lost_total"); v != 1 {
		t.Fatalf("pagerd_store_data_lost_total %v, want 1", v)
	}
	if got := h.logLines("ERROR", "Redis lost pagerd's data: open incidents and their pending pages are gone"); len(got) != 1 {
		t.Fatalf("ERROR lines about the loss: %d, want 1:\n%s", len(got), h.logs)
	}
	if n, _ := rdb.Exists(ctx, "t:schema").Result(); n != 1 {
		t.Fatal("the schema key was not written again: the next loss would go unseen")
	}
	select {
	case <-h.d.storeBack:
	default:
		t.Fatal("the jobs were not re-armed after the loss (storeBack not told)")
	}
	h.probes(t, 5)
	if v := metric(t, h.reg, "pagerd_store_data_lost_total"); v != 1 {
		t.Fatalf("pagerd_store_data_lost_total %v after more probes, want the loss counted once", v)
	}
	h.waitReady(t, 503, "lost its data")

	// The hold ends: ready again.
	h.d.health.mu.Lock()
	h.d.health.lostAt = h.d.health.lostAt.Add(-dataLostHold)
	h.d.health.mu.Unlock()
	h.waitReady(t, 200)
}

// findMetric says whether reg exports name at all.
func findMetric(t *testing.T, h *harness, name string) (float64, bool) {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return metric(t, h.reg, name), true
		}
	}
	return 0, false
}

// A Redis without an append-only file (its data on disk only in RDB
// snapshots, if any) is said once with a warning, pagerd staying ready;
// turned on, it is said once, and turned off again, warned again.
func TestWarnsOnceWhileRedisKeepsNoAppendOnlyFile(t *testing.T) {
	h, rdb := probedOnRedis(t) // redistest's servers run with appendonly no
	const warn = "Redis keeps no append-only file (appendonly no)"
	h.probes(t, 5)
	h.waitReady(t, 200)
	if got := h.logLines("WARN", warn, "appendonly yes"); len(got) != 1 {
		t.Fatalf("WARN lines about appendonly: %d, want 1:\n%s", len(got), h.logs)
	}
	configSet(t, rdb, "appendonly", "yes")
	h.probes(t, 5)
	h.waitReady(t, 200)
	if got := h.logLines("INFO", "append-only file now"); len(got) != 1 {
		t.Fatalf("INFO lines about appendonly turned on: %d, want 1:\n%s", len(got), h.logs)
	}
	configSet(t, rdb, "appendonly", "no")
	h.probes(t, 5)
	if got := h.logLines("WARN", warn); len(got) != 2 {
		t.Fatalf("WARN lines about appendonly after it was turned off again: %d, want 2:\n%s", len(got), h.logs)
	}
}

// A Redis that keeps an append-only file from the start is not warned
// about.
func TestNoAppendOnlyWarningWithAppendOnly(t *testing.T) {
	r := redistest.Start(t, redistest.WithAOF())
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdb.Close() })
	h := newHarness(t, withStore(redisstore.New(rdb, "t")), probing(20*time.Millisecond))
	h.probes(t, 5)
	h.waitReady(t, 200)
	if got := h.logLines("WARN", "append-only file"); len(got) != 0 {
		t.Fatalf("WARN lines about appendonly with appendonly yes: %d, want none:\n%s", len(got), h.logs)
	}
}

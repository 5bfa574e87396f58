//go:build load

package main

import (
	"context"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestLoadRedisScripts says where Redis's time per webhook goes, script by
// script, in a closed loop on the Redis store: every command Redis runs for
// 5 s is in its slow log (threshold 0), scripts named by their first key
// (trigger: dedup, Update and Finish: inc, claim: the shard's due set,
// storm admission: storm), with the commands they call apart. It is part
// of make load (4 s); alone: make load LOAD=TestLoadRedisScripts. The slow
// log times with the wall clock, so on a busy box its figures include time
// Redis waited for a CPU.
func TestLoadRedisScripts(t *testing.T) {
	r := startIngest(t, "redis")
	rdb := redis.NewClient(&redis.Options{Addr: r.l.redis})
	defer rdb.Close()
	ctx := context.Background()
	r.closedLoop(32, 2*time.Second) // warm up
	const keep = 500000
	for _, kv := range [][2]string{{"slowlog-max-len", "500000"}, {"slowlog-log-slower-than", "0"}} {
		if err := rdb.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	rdb.SlowLogReset(ctx)
	cpu0 := redisCPU(t, rdb)
	shots := summarize(r.closedLoop(32, time.Second))
	cpu := redisCPU(t, rdb) - cpu0
	if err := rdb.ConfigSet(ctx, "slowlog-log-slower-than", "-1").Err(); err != nil {
		t.Fatal(err)
	}
	logs, err := rdb.SlowLogGet(ctx, keep).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) == keep {
		t.Fatalf("the slow log held %d entries, all it keeps: the figures would miss some", keep)
	}
	type agg struct {
		all   []time.Duration
		total time.Duration
	}
	by := map[string]*agg{}
	shard := regexp.MustCompile(`^[^{]*\{[0-9a-f]+\}:?`)
	for _, l := range logs {
		name := strings.ToLower(l.Args[0])
		if name == "evalsha" && len(l.Args) > 3 {
			k, _, _ := strings.Cut(shard.ReplaceAllString(l.Args[3], ""), ":")
			name = "script on " + strings.TrimSuffix(k, "/push")
			if k == "" {
				name = "script on due"
			}
		}
		a := by[name]
		if a == nil {
			a = &agg{}
			by[name] = a
		}
		a.all = append(a.all, l.Duration)
		a.total += l.Duration
	}
	// A moderate rate, open loop, without the slow log: each wake of the
	// dispatcher then finds an alert or two, so what a claim costs
	// besides the alerts it claims (reading the shards) weighs more per
	// alert than in the closed loop.
	const rate = 500
	calls0, cpu0 := r.l.redisCalls(), redisCPU(t, rdb)
	open, _ := r.openLoop(rate, 2*time.Second)
	calls1, cpu1 := r.l.redisCalls(), redisCPU(t, rdb)
	moderate := summarize(open)
	if moderate.ok > 0 {
		t.Logf("at %d/s open loop for 2 s: %d accepted, Redis CPU %.0f µs a webhook; %s", rate, moderate.ok,
			(cpu1-cpu0).Seconds()*1e6/float64(moderate.ok), perWebhook(calls0, calls1, moderate.ok))
	}
	names := make([]string, 0, len(by))
	for k := range by {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return by[names[i]].total > by[names[j]].total })
	// Redis's CPU (user and system, as the kernel counts it: unlike the
	// slow log's times, not inflated by waiting for a core), with the
	// slow log's own cost in it.
	t.Logf("%d webhooks accepted in 1 s, %d commands logged (%.1f a webhook), Redis CPU %.0f µs a webhook",
		shots.ok, len(logs), float64(len(logs))/float64(shots.ok), cpu.Seconds()*1e6/float64(shots.ok))
	for _, k := range names {
		a := by[k]
		sort.Slice(a.all, func(i, j int) bool { return a.all[i] < a.all[j] })
		t.Logf("%-24s %.2f a webhook, p50 %s, mean %s, p99 %s: %s per webhook",
			k, float64(len(a.all))/float64(shots.ok), a.all[len(a.all)/2], a.total/time.Duration(len(a.all)),
			a.all[len(a.all)*99/100], (a.total / time.Duration(shots.ok)).Round(100*time.Nanosecond))
	}
}

// redisCPU is the CPU time Redis has used so far (INFO cpu).
func redisCPU(t *testing.T, rdb *redis.Client) time.Duration {
	t.Helper()
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("INFO cpu %s: %v", k, err)
			}
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

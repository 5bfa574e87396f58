//go:build load

package main

import (
	"context"
	"regexp"
	"sort"
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
	shots := summarize(r.closedLoop(32, time.Second))
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
	names := make([]string, 0, len(by))
	for k := range by {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return by[names[i]].total > by[names[j]].total })
	t.Logf("%d webhooks accepted in 1 s, %d commands logged", shots.ok, len(logs))
	for _, k := range names {
		a := by[k]
		sort.Slice(a.all, func(i, j int) bool { return a.all[i] < a.all[j] })
		t.Logf("%-24s %.2f a webhook, p50 %s, mean %s, p99 %s: %s per webhook",
			k, float64(len(a.all))/float64(shots.ok), a.all[len(a.all)/2], a.total/time.Duration(len(a.all)),
			a.all[len(a.all)*99/100], (a.total / time.Duration(shots.ok)).Round(100*time.Nanosecond))
	}
}

package redisstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/pagerd/pagerd/gateway/incident"
	"github.com/pagerd/pagerd/gateway/ingest"
	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/internal/redistest"
	"github.com/pagerd/pagerd/policy"
)

// benchConfig is one service with the default ladder.
const benchConfig = `
users:
  - {id: ann, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
schedules:
  - name: s
    handoff: {weekday: monday, time: "00:00"}
    tiers: [{name: primary, start: 2025-01-06, members: [ann]}]
escalation_policies:
  - name: p
    levels: [{name: primary, targets: [{schedule: s, tier: primary}], timeout: 15m}]
services:
  - name: api
    priority_scheme: P0-P3
    escalation_policy: p
    integrations: {alertmanager_key: bench-key-0123456789abcdef0123456}
    targets:
      P0: {acknowledge: 5m}
`

// benchAlert is a single-alert Alertmanager notification, as the ingest
// benchmarks send it (gateway/bench_test.go).
const benchAlert = `{"version":"4","groupKey":"{}:{alertname=\"Bench1\"}","status":"firing","receiver":"pagerd",
"groupLabels":{"alertname":"DiskFull"},"commonLabels":{"alertname":"Bench1","severity":"critical","instance":"db1"},
"commonAnnotations":{},"externalURL":"http://am:9093","alerts":[{"status":"firing",
"labels":{"alertname":"Bench1","severity":"critical","instance":"db1"},"annotations":{"summary":"disk almost full"},
"startsAt":"2025-09-10T05:59:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prom/graph","fingerprint":""}]}`

// benchStore is a store on a Redis server of its own, with its client.
func benchStore(b *testing.B) (*redistest.Server, *redis.Client, *redisstore.Store) {
	r := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, ContextTimeoutEnabled: true})
	b.Cleanup(func() { rdb.Close() })
	return r, rdb, redisstore.New(rdb, "bench")
}

// BenchmarkRedisBenchmarkTriggerScript is the ceiling of the ingest path
// (the gateway's benchmarks): redis-benchmark calling the same ingest
// script directly (EVALSHA, 50 connections, pipelining off), with
// arguments the size of a real single-alert incident and a new dedup key
// each time. pagerd's webhooks/s divided by this is how close it gets to
// what Redis allows on this machine.
func BenchmarkRedisBenchmarkTriggerScript(b *testing.B) {
	r, rdb, st := benchStore(b)
	ctx := context.Background()
	if err := st.LoadScripts(ctx); err != nil {
		b.Fatal(err)
	}
	// Take the real arguments from one real incident, stored as the
	// daemon stores an alert: decoded by the intake, opened by the
	// incident service.
	cfg, err := policy.Parse([]byte(benchConfig), "bench.yaml", "")
	if err != nil {
		b.Fatal(err)
	}
	msg, err := ingest.DecodeAlertmanager([]byte(benchAlert))
	if err != nil {
		b.Fatal(err)
	}
	g := msg.Groups(false)[0]
	svc := cfg.Service("api")
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	incidents := incident.New(incident.Options{Store: st, Config: func() *policy.Config { return cfg }, Now: func() time.Time { return at }})
	id, _, err := incidents.Trigger(ctx, cfg, incident.Alert{Service: svc, DedupKey: g.DedupKey, Source: "alertmanager", Actor: "alertmanager",
		Labels: g.Labels, Titles: g.Titles, Summary: g.Summary, Details: g.Details})
	if err != nil {
		b.Fatal(err)
	}
	keys, err := rdb.Keys(ctx, "bench:*:inc:"+id).Result()
	if err != nil || len(keys) == 0 {
		b.Fatalf("no incident stored: %v", err)
	}
	rec, err := rdb.Get(ctx, keys[0]).Result()
	if err != nil {
		b.Fatal(err)
	}
	h, err := redisstore.ParseRecord(rec)
	if err != nil {
		b.Fatal(err)
	}
	// The packed document and details are binary, which exec cannot pass:
	// printable stand-ins of the same sizes do the same work in the script.
	doc, det := strings.Repeat("d", len(h.Doc)), strings.Repeat("e", len(h.Details))
	tag := "rb:{00}:"
	_, port, _ := strings.Cut(r.Addr, ":")
	// Key names differ only in the NUL separator, which exec cannot pass.
	args := []string{"-h", "127.0.0.1", "-p", port, "-n", "100000", "-c", "50", "-r", "1000000000", "--csv",
		"EVALSHA", redisstore.TriggerScriptSHA(), "5",
		tag + "dedup:api/__rand_int__", tag + "inc:__rand_int__", tag + "due", tag + "idx", tag + "open",
		tag + "inc:", "__rand_int__", doc, "triggered", det, "2025-09-10T06:00:00Z", "1757484000000", "1757484000000", h.Timeline, "1757484000000",
		// A new incident's: no resolve score, no record asked back, no
		// ReceivedBy, no LastReceived (ARGV[11..14]; the fifth key, the
		// resolve index, is read only on a repeat).
		"", "", "", ""}
	for b.Loop() {
		out, err := exec.Command("redis-benchmark", args...).CombinedOutput()
		if err != nil {
			b.Fatalf("redis-benchmark: %v\n%s", err, out)
		}
		// --csv: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		fields := strings.Split(lines[len(lines)-1], ",")
		if len(fields) < 7 {
			b.Fatalf("unexpected redis-benchmark output:\n%s", out)
		}
		num := func(i int) float64 {
			v, _ := strconv.ParseFloat(strings.Trim(fields[i], `"`), 64)
			return v
		}
		if bytes.Contains(out, []byte("ERR")) || num(1) == 0 {
			b.Fatalf("redis-benchmark failed:\n%s", out)
		}
		b.ReportMetric(num(1), "scripts/s")
		b.ReportMetric(num(4), "p50-ms")
		b.ReportMetric(num(6), "p99-ms")
	}
}

// BenchmarkCountOpen is the open-incidents gauge's read (a Prometheus
// scrape, at most every 15 s a replica) in a storm: 20,000 incidents open
// and not acknowledged, 50 acknowledged among the oldest, each with the
// timeline a storm leaves (its trigger, its held page and the storm
// message's note). The gauge counts the newest 10,000 of each status, so
// with fewer acknowledged it looks at every open incident, and reads each
// whole record. Tried on 2026-12-05: the header of each first (a GETRANGE
// of headerPeek), then the document alone of those counted, moved 6.6 MB
// instead of 20.6 MB but took 20-50% longer (207-275 ms against 152-184
// ms, alternating): twice the commands, and decoding 10,000 documents
// (half of the CPU) stays.
func BenchmarkCountOpen(b *testing.B) {
	_, rdb, st := benchStore(b)
	ctx := context.Background()
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	const open, acked = 20000, 50
	var g errgroup.Group
	g.SetLimit(16)
	for i := range open {
		g.Go(func() error {
			created := at.Add(time.Duration(i) * time.Millisecond)
			dedup := fmt.Sprintf("{}:{alertname=\"DiskFull\",instance=\"db%d\"}", i)
			inc := &store.Incident{
				ID: store.NewID(store.ShardOf("api", dedup), created), Service: "api", DedupKey: dedup,
				Source: "alertmanager", Summary: fmt.Sprintf("disk almost full on db%d", i), CreatedAt: created, UpdatedAt: created, LastSeen: created,
				Details: json.RawMessage(fmt.Sprintf(`{"labels":{"alertname":"DiskFull","instance":"db%d:9100","job":"node","severity":"critical","cluster":"eu-west-1","namespace":"storage","pod":"db%d-0"},`+
					`"annotations":{"summary":"disk almost full on db%d","description":"/var/lib/postgresql is 97%% full and will be full within 2 hours at the current rate","runbook_url":"https://runbooks.example.com/disk-full"},`+
					`"generatorURL":"http://prometheus.example.com:9090/graph?g0.expr=node_filesystem_avail_bytes%%7Bmountpoint%%3D%%22%%2Fvar%%2Flib%%2Fpostgresql%%22%%7D+%%3C+0.03","startsAt":"2025-09-10T05:59:00Z"}`, i, i, i)),
				State: policy.Incident{Service: "api", Priority: "P1", Urgency: "high", Status: policy.StatusTriggered,
					Epoch: 1, TriggeredAt: created, LevelStartedAt: created},
			}
			inc.State.ID = inc.ID
			if i < acked {
				inc.State.Status = policy.StatusAcknowledged
			}
			tl := []store.Entry{
				{At: created, Type: "trigger", Detail: "alertmanager: firing"},
				{At: created, Type: "held", Level: 1, User: "ann", Channel: "push", Detail: "held for an alert storm message"},
				{At: created.Add(10 * time.Second), Type: "notify", Level: 1, User: "ann", Channel: "push", Detail: "via webhook, in one message for 1,000 incidents (alert storm)"},
			}
			_, _, err := st.Trigger(ctx, inc, tl)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	sent := func() int64 {
		info, err := rdb.Info(ctx, "stats").Result()
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "total_net_output_bytes:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		b.Fatal("no total_net_output_bytes in INFO stats")
		return 0
	}
	before, n := sent(), 0
	for b.Loop() {
		got, err := st.CountOpen(ctx, 10000)
		if err != nil {
			b.Fatal(err)
		}
		if c := got.ByKey[store.OpenKey{Service: "api", Priority: "P1", Status: policy.StatusAcknowledged}]; c != acked {
			b.Fatalf("counted %d acknowledged, want %d", c, acked)
		}
		n++
	}
	b.ReportMetric(float64(sent()-before)/float64(n)/1e6, "MB-from-redis/op")
}

// BenchmarkHeld is a storm's flush reading the pages it held: 1,000, as
// the load run's 1,000 alerts/s hold for each of its 12 people in a 10 s
// window. The pages are decoded by hand (docjson.DecodeHeldPage), their
// strings sliced from Redis's reply: 1.3-1.5 ms, 1,013 allocations and
// 0.4 MB a read on 2026-12-05, against 4.6-5.8 ms, 14,013 and 1.1 MB with
// json.Unmarshal (alternating runs, the Redis server on the same cores).
func BenchmarkHeld(b *testing.B) {
	_, _, st := benchStore(b)
	ctx := context.Background()
	at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
	rules := store.StormRules{Window: 10 * time.Second, Immediate: 3}
	const held = 1000
	for i := range held + rules.Immediate {
		created := at.Add(time.Duration(i) * time.Millisecond)
		p := store.HeldPage{Incident: store.NewID(i%store.Shards, created), Deadline: "1.3", Service: "api", Priority: "P1", Rank: 1, Urgency: "high",
			Summary: fmt.Sprintf(`disk almost full on db%d: /var/lib/postgresql is 97%% full`, i), Due: created, Via: "webhook"}
		if _, err := st.Admit(ctx, store.StormKey("ann", "push"), p, created, rules); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		pages, err := st.Held(ctx, store.StormKey("ann", "push"))
		if err != nil || len(pages) != held || pages[0].Unreadable != "" {
			b.Fatalf("%d pages, %v", len(pages), err)
		}
	}
}

// BenchmarkClaimAtAWake is the dispatcher's claim at a wake for one new
// incident (its first page due now) with 20,000 incidents open, their
// next steps later: the claim everywhere read the head of each of the 32
// shards to find the one due; the scoped claim (store.ScopedClaimer)
// reads the shard the trigger wrote. It reports the reads of due sets
// Redis ran a claim and Redis's time in the claim script (INFO
// commandstats; the triggers between claims are not counted).
func BenchmarkClaimAtAWake(b *testing.B) {
	for _, everywhere := range []bool{true, false} {
		b.Run(fmt.Sprintf("everywhere=%v", everywhere), func(b *testing.B) {
			_, rdb, st := benchStore(b)
			ctx := context.Background()
			if err := st.LoadScripts(ctx); err != nil {
				b.Fatal(err)
			}
			at := time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)
			n := 0
			trigger := func(due time.Time) {
				n++
				key := "k" + strconv.Itoa(n)
				inc := &store.Incident{ID: store.NewID(store.ShardOf("api", key), at), Service: "api", DedupKey: key, CreatedAt: at, LastSeen: at,
					Summary: "disk almost full on db1", State: policy.Incident{Status: policy.StatusTriggered,
						Pending: []policy.Deadline{{ID: "0001.000001.notify", At: due, Kind: policy.DeadlineNotify, User: "ann", Channel: "push", Seq: 1}}}}
				if _, _, err := st.Trigger(ctx, inc, nil); err != nil {
					b.Fatal(err)
				}
			}
			for range 20000 {
				trigger(at.Add(time.Hour))
			}
			stats := func() (reads, scriptUsec int64) {
				info, err := rdb.Info(ctx, "commandstats").Result()
				if err != nil {
					b.Fatal(err)
				}
				for _, line := range strings.Split(info, "\r\n") {
					name, rest, ok := strings.Cut(line, ":calls=")
					if !ok {
						continue
					}
					calls, rest, _ := strings.Cut(rest, ",usec=")
					usec, _, _ := strings.Cut(rest, ",")
					c, _ := strconv.ParseInt(calls, 10, 64)
					u, _ := strconv.ParseInt(usec, 10, 64)
					switch name {
					case "cmdstat_zrange", "cmdstat_zrangebyscore":
						reads += c
					case "cmdstat_evalsha":
						scriptUsec += u
					}
				}
				return reads, scriptUsec
			}
			if _, _, _, _, err := st.ClaimDueNextScoped(ctx, at, time.Minute, 128, true); err != nil {
				b.Fatal(err)
			}
			var reads, usec int64
			claims := 0
			for b.Loop() {
				b.StopTimer()
				trigger(at)
				r0, u0 := stats()
				b.StartTimer()
				cs, _, _, _, err := st.ClaimDueNextScoped(ctx, at, time.Minute, 128, everywhere)
				b.StopTimer()
				if err != nil || len(cs) != 1 {
					b.Fatalf("claim: %d claims, %v; want the new incident", len(cs), err)
				}
				r1, u1 := stats()
				reads, usec, claims = reads+r1-r0, usec+u1-u0, claims+1
				b.StartTimer()
			}
			b.ReportMetric(float64(reads)/float64(claims), "due-reads/claim")
			b.ReportMetric(float64(usec)/float64(claims), "redis-µs/claim")
		})
	}
}

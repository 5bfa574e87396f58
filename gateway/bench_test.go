package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/internal/redistest"
)

// The daemon's ingest path under load, on this machine, against a local
// redis-server of its own: HTTP, decoding, routing, the state machine and
// the one-round-trip store script. `make bench` runs these; the figures go
// in docs/BENCHMARKS.md.

type benchEnv struct {
	url   string
	rdb   *redis.Client
	redis *redistest.Server
}

// newBenchEnv is the daemon on a private redis-server, on the real clock,
// with no dispatcher running: what ingestion alone can do.
func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	r := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, ContextTimeoutEnabled: true, PoolSize: 64})
	b.Cleanup(func() { rdb.Close() })
	st := redisstore.New(rdb, "bench")
	if err := st.LoadScripts(context.Background()); err != nil {
		b.Fatal(err)
	}
	// The benchmarks measure ingestion at full speed on one key: the
	// per-key rate limit would measure itself.
	h := newHarness(b, withStore(st), withConfig(testConfig+"server: {rate_limit: {per_second: 0}}\n"), withNow(time.Now), quiet())
	return &benchEnv{url: h.url, rdb: rdb, redis: r}
}

var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}

var benchSeq atomic.Int64

// post sends one single-alert webhook for a group never seen before, so
// every request opens an incident (the expensive case).
func (e *benchEnv) post() (time.Duration, error) {
	n := benchSeq.Add(1)
	body := amPayload("firing", fmt.Sprintf(`{}:{alertname="Bench%d"}`, n),
		map[string]string{"alertname": fmt.Sprintf("Bench%d", n), "severity": "critical", "instance": "db" + strconv.FormatInt(n%100, 10)})
	req, _ := http.NewRequest("POST", e.url+"/api/v1/alertmanager", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+amKey)
	start := time.Now()
	resp, err := benchClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if resp.StatusCode != 200 {
		return d, fmt.Errorf("status %d", resp.StatusCode)
	}
	return d, nil
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func reportLatency(b *testing.B, ds []time.Duration) {
	b.ReportMetric(float64(percentile(ds, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(ds, 0.99).Microseconds())/1000, "p99-ms")
}

// BenchmarkAlertmanagerWebhook is closed-loop throughput: as many
// single-alert webhooks as 32 concurrent senders can push.
func BenchmarkAlertmanagerWebhook(b *testing.B) {
	e := newBenchEnv(b)
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(16) // 16 x GOMAXPROCS(2) = 32 senders
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			d, err := e.post()
			if err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, d)
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "webhooks/s")
	reportLatency(b, lat)
}

// BenchmarkWebhookLatencyAt1000PerSecond is open-loop: webhooks are sent on
// a fixed schedule of 1,000 a second for 5 seconds whatever the answers do,
// so latency is measured the way Alertmanager would see it.
func BenchmarkWebhookLatencyAt1000PerSecond(b *testing.B) {
	e := newBenchEnv(b)
	const rate, seconds = 1000, 5
	for b.Loop() {
		total := rate * seconds
		lat := make([]time.Duration, total)
		var wg sync.WaitGroup
		var failed atomic.Int64
		start := time.Now()
		for i := 0; i < total; i++ {
			due := start.Add(time.Duration(i) * time.Second / rate)
			if w := time.Until(due); w > 0 {
				time.Sleep(w)
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				d, err := e.post()
				if err != nil {
					failed.Add(1)
				}
				lat[i] = d
			}(i)
		}
		wg.Wait()
		if failed.Load() > 0 {
			b.Fatalf("%d of %d webhooks failed", failed.Load(), total)
		}
		b.ReportMetric(float64(total)/time.Since(start).Seconds(), "webhooks/s")
		reportLatency(b, lat)
		b.ReportMetric(float64(slices.Max(lat).Microseconds())/1000, "max-ms")
	}
}

// BenchmarkRedisMemoryPerIncident opens 20,000 incidents through the
// webhook and reports Redis's used_memory growth per open incident: the
// incident hash, its dedup key, timeline entry, index entries and its
// pending deadlines in the due set.
func BenchmarkRedisMemoryPerIncident(b *testing.B) {
	for b.Loop() {
		e := newBenchEnv(b)
		before := usedMemory(b, e.rdb)
		const n = 20000
		var wg sync.WaitGroup
		work := make(chan struct{})
		for w := 0; w < 32; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range work {
					if _, err := e.post(); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		for i := 0; i < n; i++ {
			work <- struct{}{}
		}
		close(work)
		wg.Wait()
		after := usedMemory(b, e.rdb)
		b.ReportMetric(float64(after-before)/n, "bytes/incident")
	}
}

func usedMemory(b *testing.B, rdb *redis.Client) int64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	m := regexp.MustCompile(`used_memory:(\d+)`).FindStringSubmatch(info)
	if m == nil {
		b.Fatal("no used_memory in INFO")
	}
	v, _ := strconv.ParseInt(m[1], 10, 64)
	return v
}

// BenchmarkRedisBenchmarkTriggerScript is the ceiling: redis-benchmark
// calling the same ingest script directly (EVALSHA, 50 connections,
// pipelining off), with arguments the size of a real single-alert incident
// and a new dedup key each time. pagerd's webhooks/s divided by this is how
// close it gets to what Redis allows on this machine.
func BenchmarkRedisBenchmarkTriggerScript(b *testing.B) {
	e := newBenchEnv(b)
	// Take the real arguments from one real incident.
	if _, err := e.post(); err != nil {
		b.Fatal(err)
	}
	keys, err := e.rdb.Keys(context.Background(), "bench:*:inc:*").Result()
	if err != nil || len(keys) == 0 {
		b.Fatalf("no incident stored: %v", err)
	}
	rec, err := e.rdb.Get(context.Background(), keys[0]).Result()
	if err != nil {
		b.Fatal(err)
	}
	h, err := redisstore.ParseRecordForTest(rec)
	if err != nil {
		b.Fatal(err)
	}
	// The packed document and details are binary, which exec cannot pass:
	// printable stand-ins of the same sizes do the same work in the script.
	doc, det := strings.Repeat("d", len(h.Doc)), strings.Repeat("e", len(h.Details))
	tag := "rb:{00}:"
	// Key names differ only in the NUL separator, which exec cannot pass.
	args := []string{"-h", "127.0.0.1", "-p", portOf(e.redis.Addr), "-n", "100000", "-c", "50", "-r", "1000000000", "--csv",
		"EVALSHA", redisstore.TriggerScriptSHA(), "5",
		tag + "dedup:api/__rand_int__", tag + "inc:__rand_int__", tag + "due", tag + "idx", tag + "open",
		tag + "inc:", "__rand_int__", doc, "triggered", det, "2025-09-10T06:00:00Z", "1757484000000", "1757484000000", h.Timeline}
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

func portOf(addr string) string {
	_, p, _ := strings.Cut(addr, ":")
	return p
}

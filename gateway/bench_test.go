package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
	h     *harness
	rdb   *redis.Client
	redis *redistest.Server
}

// newBenchEnv is the daemon on a private redis-server, on the real clock,
// with no dispatcher running: what ingestion alone can do.
func newBenchEnv(b testing.TB, opts ...option) *benchEnv {
	b.Helper()
	r := redistest.Start(b)
	// The client pagerd serve builds (redisstore.Open's options: its
	// dialer, no retries), not a plain one: a plain client's pool checks
	// every connection it hands out with a system call (a non-blocking
	// read), which serve's dialer skips for a connection used in the last
	// second, and the benchmark measured that call at every webhook.
	ro, err := redisstore.ParseURL("redis://" + r.Addr)
	if err != nil {
		b.Fatal(err)
	}
	o := ro.Simple()
	o.PoolSize = 64
	rdb := redis.NewClient(o)
	b.Cleanup(func() { rdb.Close() })
	st := redisstore.New(rdb, "bench")
	if err := st.LoadScripts(context.Background()); err != nil {
		b.Fatal(err)
	}
	// The benchmarks measure ingestion at full speed on one key: the
	// per-key rate limit would measure itself.
	opts = append([]option{withStore(st), withConfig(testConfig + "server: {rate_limit: {per_second: 0}}\n"), withNow(time.Now), quiet()}, opts...)
	h := newHarness(b, opts...)
	return &benchEnv{url: h.url, h: h, rdb: rdb, redis: r}
}

// TestBenchRedisClientIsServes: the benchmarks talk to Redis through the
// client pagerd serve builds, whose pool takes a connection dialled (or
// used) in the last second as alive without a system call; a plain
// go-redis client's pool checks it with a non-blocking read at every
// command, a cost the benchmarks then reported and the daemon never had.
func TestBenchRedisClientIsServes(t *testing.T) {
	e := newBenchEnv(t)
	o := e.rdb.Options()
	c, err := o.Dialer(context.Background(), "tcp", o.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatalf("the dialer gave a %T, not a socket", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	checked := false
	_ = raw.Read(func(uintptr) bool { checked = true; return true })
	if checked {
		t.Error("a connection dialled just now is checked on the socket: the benchmarks' client is not pagerd serve's")
	}
	if o.MaxRetries != 0 { // serve's -1, as go-redis keeps it: no retries
		t.Errorf("MaxRetries %d: serve's client retries no command", o.MaxRetries)
	}
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

// BenchmarkAlertmanagerWebhookServerSide is what the daemon alone spends
// on one single-alert webhook that opens an incident: the handler called
// in-process, middleware included, on the real Redis store, logging at
// pagerd serve's default level (info). The requests are built before the
// timer starts, so -benchmem counts the server's allocations only, not
// the HTTP client's or the connection's. ns/op is mostly the wait for
// Redis; cpu-ns/op is the CPU the process spent (the handler, the store's
// batcher, the collector), the figure the overload targets are set in.
func BenchmarkAlertmanagerWebhookServerSide(b *testing.B) {
	e := newBenchEnv(b, logLevel(slog.LevelInfo))
	handler := e.h.d.Handler()
	reqs, recs := newWebhookRequests(b.N)
	serveTimed(b, handler, reqs, recs)
}

// BenchmarkAlertmanagerWebhookRepeatServerSide is
// BenchmarkAlertmanagerWebhookServerSide for a webhook that repeats an
// open incident (Alertmanager's group_interval and repeat_interval resend
// a firing group): the trigger script records the repeat, and the intake
// looks at the incident to raise it if the alert made it worse.
func BenchmarkAlertmanagerWebhookRepeatServerSide(b *testing.B) {
	e := newBenchEnv(b, logLevel(slog.LevelInfo))
	handler := e.h.d.Handler()
	const groups = 100
	body := func(g int) string {
		return amPayload("firing", fmt.Sprintf(`{}:{alertname="Repeat%d"}`, g),
			map[string]string{"alertname": fmt.Sprintf("Repeat%d", g), "severity": "critical", "instance": "db1"})
	}
	reqs := make([]*http.Request, b.N+groups)
	recs := make([]*httptest.ResponseRecorder, len(reqs))
	for i := range reqs {
		reqs[i] = httptest.NewRequest("POST", "/api/v1/alertmanager", strings.NewReader(body(i%groups)))
		reqs[i].Header.Set("Content-Type", "application/json")
		reqs[i].Header.Set("Authorization", "Bearer "+amKey)
		recs[i] = httptest.NewRecorder()
	}
	for i := range groups { // the incidents the benchmark repeats
		handler.ServeHTTP(recs[i], reqs[i])
	}
	reqs, recs = reqs[groups:], recs[groups:]
	serveTimed(b, handler, reqs, recs)
}

// serveTimed serves reqs[:b.N] to handler as the benchmark's timed work,
// each answered 200, and reports the process's CPU per request.
func serveTimed(b *testing.B, handler http.Handler, reqs []*http.Request, recs []*httptest.ResponseRecorder) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		handler.ServeHTTP(recs[i], reqs[i])
		if recs[i].Code != 200 {
			b.Fatalf("status %d: %s", recs[i].Code, recs[i].Body)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// newWebhookRequests are n single-alert webhooks, each for a group never
// seen before, as in-process requests with their recorders.
func newWebhookRequests(n int) ([]*http.Request, []*httptest.ResponseRecorder) {
	reqs := make([]*http.Request, n)
	recs := make([]*httptest.ResponseRecorder, n)
	for i := range reqs {
		seq := benchSeq.Add(1)
		body := amPayload("firing", fmt.Sprintf(`{}:{alertname="Bench%d"}`, seq),
			map[string]string{"alertname": fmt.Sprintf("Bench%d", seq), "severity": "critical", "instance": "db" + strconv.FormatInt(seq%100, 10)})
		req := httptest.NewRequest("POST", "/api/v1/alertmanager", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+amKey)
		reqs[i], recs[i] = req, httptest.NewRecorder()
	}
	return reqs, recs
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

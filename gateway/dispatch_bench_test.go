package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store"
	"github.com/pagerd/pagerd/gateway/store/redisstore"
	"github.com/pagerd/pagerd/internal/redistest"
	"github.com/pagerd/pagerd/notify"
	"github.com/pagerd/pagerd/policy"
	"net"
)

// The paging path under load, on this machine, against a local redis-server
// of its own, on the real clock: how soon after an alert arrives its first
// page goes out, and how late the dispatcher fires steps that were stored in
// advance while a large number of other incidents wait. `make bench` runs
// these with the ingest benchmarks; the figures go in docs/BENCHMARKS.md.

const (
	dbBenchKey    = "dbbench-am-key-0123456789abcdef012"
	dbBenchPrefix = "dbbench"
)

// dbBenchConfig pages one person per level, every channel through the "log"
// transport, which the benchmarks replace with a clock (dbPageClock). The
// users have the default ladder: push at once, SMS at 2m, voice at 5m.
// Storm bundling and the per-key rate limit are off: these measure the
// dispatcher's own path for every incident (a storm to one person would fold it into a few messages). The
// daemon as shipped, bundling and the webhook transport included, is
// measured by the load runs (cmd/pagerd/load_test.go, make load).
const dbBenchConfig = `
server:
  rate_limit: {per_second: 0}
notifiers:
  storm: {window: 0s}
users:
  - {id: dbann, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
  - {id: dbbob, name: Bob, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}
schedules:
  - name: dbsched
    handoff: {weekday: monday, time: "00:00"}
    tiers:
      - {name: primary, start: 2025-01-06, members: [dbann]}
      - {name: secondary, start: 2025-01-06, members: [dbbob]}
escalation_policies:
  - name: dbpolicy
    levels:
      - {name: primary, targets: [{schedule: dbsched, tier: primary}], timeout: 15m}
      - {name: secondary, targets: [{schedule: dbsched, tier: secondary}]}
services:
  - name: dbsvc
    priority_scheme: P0-P3
    escalation_policy: dbpolicy
    integrations: {alertmanager_key: ` + dbBenchKey + `}
    targets:
      P0: {acknowledge: 5m}
`

// dbPageClock is a transport that only notes when each incident's first
// page was handed to it.
type dbPageClock struct {
	mu    sync.Mutex
	first map[string]time.Time
}

func (p *dbPageClock) Notify(_ context.Context, m notify.Message) error {
	now := time.Now()
	p.mu.Lock()
	if _, ok := p.first[m.Incident]; !ok {
		p.first[m.Incident] = now
	}
	p.mu.Unlock()
	return nil
}

func (p *dbPageClock) reset() {
	p.mu.Lock()
	p.first = map[string]time.Time{}
	p.mu.Unlock()
}

// firstOf returns the first-page times of the incidents, and how many have
// none yet.
func (p *dbPageClock) firstOf(ids []string) ([]time.Time, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]time.Time, len(ids))
	missing := 0
	for i, id := range ids {
		t, ok := p.first[id]
		if !ok {
			missing++
		}
		out[i] = t
	}
	return out, missing
}

// waitFor waits until every incident has had its first page, or until
// the deadline; it reports how many are still missing.
func (p *dbPageClock) waitFor(ids []string, until time.Time) int {
	for {
		_, missing := p.firstOf(ids)
		if missing == 0 || time.Now().After(until) {
			return missing
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type dbDispatchEnv struct {
	h     *harness
	url   string
	rdb   *redis.Client
	st    *redisstore.Store
	cfg   *policy.Config
	svc   *policy.Service
	pages *dbPageClock
}

// newDBDispatchEnv builds the daemon (not running) on a private
// redis-server, on the real clock, its "log" transport the clock of first
// pages.
func newDBDispatchEnv(b *testing.B, maxSleepFor time.Duration) *dbDispatchEnv {
	b.Helper()
	r := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, ContextTimeoutEnabled: true, PoolSize: 64})
	b.Cleanup(func() { rdb.Close() })
	st := redisstore.New(rdb, dbBenchPrefix)
	if err := st.LoadScripts(context.Background()); err != nil {
		b.Fatal(err)
	}
	pages := &dbPageClock{first: map[string]time.Time{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	h := newHarness(b, withStore(st), withConfig(dbBenchConfig), withNow(time.Now), withNotifier("log", pages),
		maxSleep(maxSleepFor), onListener(l), quiet())
	cfg := h.config()
	return &dbDispatchEnv{h: h, url: h.url, rdb: rdb, st: st, cfg: cfg, svc: cfg.Service("dbsvc"), pages: pages}
}

// run runs the daemon; the returned stop ends it and waits for it.
func (e *dbDispatchEnv) run() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := e.h.run(ctx)
	return func() { cancel(); <-done }
}

var dbBenchSeq atomic.Int64

// post sends one single-alert webhook for a group never seen before and
// returns the incident it opened and when the request started.
func (e *dbDispatchEnv) post() (id string, start time.Time, err error) {
	n := dbBenchSeq.Add(1)
	body := amPayload("firing", fmt.Sprintf(`{}:{alertname="DBBench%d"}`, n),
		map[string]string{"alertname": fmt.Sprintf("DBBench%d", n), "severity": "critical", "instance": fmt.Sprintf("db%d", n%100)})
	req, _ := http.NewRequest("POST", e.url+"/api/v1/alertmanager", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+dbBenchKey)
	start = time.Now()
	resp, err := benchClient.Do(req)
	if err != nil {
		return "", start, err
	}
	defer resp.Body.Close()
	var res struct {
		Incidents []string `json:"incidents"`
	}
	if resp.StatusCode != 200 {
		return "", start, fmt.Errorf("status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || len(res.Incidents) != 1 {
		return "", start, fmt.Errorf("unexpected answer (%v): %v", err, res.Incidents)
	}
	return res.Incidents[0], start, nil
}

// incident builds a new incident triggered at the given time, the way the
// incident service does (Trigger), so its first page is due at at.
func (e *dbDispatchEnv) incident(n int64, at time.Time) (*store.Incident, []store.Entry, error) {
	at = at.UTC().Truncate(time.Millisecond)
	labels := map[string]string{"alertname": fmt.Sprintf("DBPending%d", n), "severity": "critical", "instance": fmt.Sprintf("db%d", n%100)}
	dedup := fmt.Sprintf(`{}:{alertname="DBPending%d"}`, n)
	rt, _ := e.cfg.RouteGroup(e.svc, []map[string]string{labels}, at)
	id := store.NewID(store.ShardOf(e.svc.Name, dedup), at)
	eng := policy.Engine{Config: e.cfg}
	st, acts, err := eng.Apply(policy.Incident{ID: id}, policy.Event{Kind: policy.EventTrigger, Route: &rt}, at)
	if err != nil {
		return nil, nil, err
	}
	details, _ := json.Marshal(map[string]any{"labels": labels, "annotations": map[string]string{"summary": "disk almost full"}})
	inc := &store.Incident{ID: id, Service: e.svc.Name, DedupKey: dedup, Source: "alertmanager", Summary: "disk almost full",
		CreatedAt: at, UpdatedAt: at, LastSeen: at, Details: details, State: st}
	tl := append([]store.Entry{{At: at, Type: "trigger", Actor: "alertmanager",
		Detail: fmt.Sprintf("%s, %s urgency, rule %s", st.Priority, st.Urgency, st.Rule)}}, store.ActionEntries(acts, "alertmanager")...)
	return inc, tl, nil
}

// triggerAll stores one new incident per due time, directly through the
// store (no wake, no nudge), from 32 goroutines. It returns their ids in
// the order of dues.
func (e *dbDispatchEnv) triggerAll(b *testing.B, dues []time.Time) []string {
	b.Helper()
	ids := make([]string, len(dues))
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(dues) || failed.Load() != nil {
					return
				}
				inc, tl, err := e.incident(dbBenchSeq.Add(1), dues[i])
				if err == nil {
					var out store.Outcome
					ids[i], out, err = e.st.Trigger(context.Background(), inc, tl)
					if err == nil && out != store.Created {
						err = fmt.Errorf("incident %d was a repeat", i)
					}
				}
				if err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	return ids
}

// pending is how many incidents have a deadline in the due set.
func (e *dbDispatchEnv) pending(b *testing.B) int64 {
	b.Helper()
	pipe := e.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, store.Shards)
	for shard := range cmds {
		cmds[shard] = pipe.ZCard(context.Background(), fmt.Sprintf("%s:{%02x}:due", dbBenchPrefix, shard))
	}
	if _, err := pipe.Exec(context.Background()); err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n
}

// forget takes incidents out of the due set (their later steps would
// otherwise stay pending), so every iteration starts from the same count.
func (e *dbDispatchEnv) forget(b *testing.B, ids []string) {
	b.Helper()
	pipe := e.rdb.Pipeline()
	for _, id := range ids {
		shard, err := store.ShardOfID(id)
		if err != nil {
			b.Fatal(err)
		}
		pipe.ZRem(context.Background(), fmt.Sprintf("%s:{%02x}:due", dbBenchPrefix, shard), id)
		pipe.HDel(context.Background(), fmt.Sprintf("%s:{%02x}:claims", dbBenchPrefix, shard), id)
	}
	if _, err := pipe.Exec(context.Background()); err != nil {
		b.Fatal(err)
	}
}

func dbReportSpread(b *testing.B, ds []time.Duration) {
	reportLatency(b, ds)
	b.ReportMetric(float64(slices.Max(ds).Microseconds())/1000, "max-ms")
}

// BenchmarkFirstPageLatency is alert to first page: webhooks for new groups
// arrive at a steady 200 a second for 5 seconds, and each incident's
// latency is from its request starting to its first page being handed to
// the transport, through ingest, the store, the wake and the dispatcher.
// The target is a p99 under 50 ms.
func BenchmarkFirstPageLatency(b *testing.B) {
	e := newDBDispatchEnv(b, 0)
	stop := e.run()
	defer stop()
	const rate, seconds = 200, 5
	for b.Loop() {
		e.pages.reset()
		total := rate * seconds
		ids := make([]string, total)
		starts := make([]time.Time, total)
		var wg sync.WaitGroup
		var failed atomic.Int64
		begin := time.Now()
		for i := 0; i < total; i++ {
			if w := time.Until(begin.Add(time.Duration(i) * time.Second / rate)); w > 0 {
				time.Sleep(w)
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				id, start, err := e.post()
				if err != nil {
					b.Error(err)
					failed.Add(1)
				}
				ids[i], starts[i] = id, start
			}(i)
		}
		wg.Wait()
		if failed.Load() > 0 {
			b.Fatalf("%d of %d webhooks failed", failed.Load(), total)
		}
		if missing := e.pages.waitFor(ids, time.Now().Add(10*time.Second)); missing > 0 {
			b.Fatalf("%d of %d incidents had no page 10s after the last webhook", missing, total)
		}
		firsts, _ := e.pages.firstOf(ids)
		lat := make([]time.Duration, total)
		for i := range lat {
			lat[i] = firsts[i].Sub(starts[i])
		}
		dbReportSpread(b, lat)
	}
}

// BenchmarkStepLatenessAt100kPending is how late steps stored in advance
// fire while 100,000 other incidents have deadlines pending (1 to 6 hours
// ahead). 2,000 incidents whose first step comes due at a steady 200 a
// second over 10 seconds are stored directly: nothing wakes the dispatcher
// for them, it finds them at its next look (at most MaxSleep, 1s by
// default, later), 2 s before the first is due, and from then on sleeps
// until each next deadline. Each one's lateness is from its deadline to its
// page being handed to the transport. The target is a p99 under 250 ms.
func BenchmarkStepLatenessAt100kPending(b *testing.B) {
	const preload, measured, rate = 100_000, 2_000, 200
	e := newDBDispatchEnv(b, 0)
	base := time.Now().Add(time.Hour)
	dues := make([]time.Time, preload)
	for i := range dues {
		dues[i] = base.Add(time.Duration(i) * 5 * time.Hour / preload)
	}
	t0 := time.Now()
	e.triggerAll(b, dues)
	b.Logf("preloaded %d incidents in %.1fs", preload, time.Since(t0).Seconds())
	stop := e.run()
	defer stop()
	for b.Loop() {
		e.pages.reset()
		pending := e.pending(b)
		first := time.Now().Add(2 * time.Second).Truncate(time.Millisecond)
		dues := make([]time.Time, measured)
		for i := range dues {
			dues[i] = first.Add(time.Duration(i) * time.Second / rate)
		}
		ids := e.triggerAll(b, dues)
		if time.Now().After(first) {
			b.Fatalf("storing the %d incidents took past the first deadline", measured)
		}
		if missing := e.pages.waitFor(ids, dues[measured-1].Add(10*time.Second)); missing > 0 {
			b.Fatalf("%d of %d steps were not sent 10s after the last was due", missing, measured)
		}
		firsts, _ := e.pages.firstOf(ids)
		late := make([]time.Duration, measured)
		for i := range late {
			late[i] = firsts[i].Sub(dues[i])
		}
		dbReportSpread(b, late)
		b.ReportMetric(float64(pending), "pending")
		e.forget(b, ids)
	}
}

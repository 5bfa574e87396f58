package gateway

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store/redisstore"
)

// What Redis runs for each single-alert webhook that opens an incident,
// the dispatcher's first page of it included, on the daemon as shipped
// (storm bundling on, its default ladder): counted, not timed, so a
// change that adds a command or a round trip shows here whatever the
// machine's load. Redis's CPU shares the cores with pagerd's, so each
// command and each round trip counts in the CPU a webhook costs.

// cmdCounter is a Redis client hook that counts round trips (a command
// sent alone is one, a pipeline is one) and the scripts sent.
type cmdCounter struct {
	mu      sync.Mutex
	trips   int
	scripts int
}

func (c *cmdCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *cmdCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if n := cmd.Name(); n != "hello" && n != "info" && n != "subscribe" && n != "ping" {
			c.mu.Lock()
			c.trips++
			c.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

func (c *cmdCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n := 0
		for _, cmd := range cmds {
			// A new connection's handshake (HELLO, CLIENT SETINFO).
			if cmd.Name() != "client" && cmd.Name() != "hello" {
				n++
			}
		}
		if n > 0 {
			c.mu.Lock()
			c.trips++
			c.mu.Unlock()
		}
		return next(ctx, cmds)
	}
}

func (c *cmdCounter) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.trips
	c.trips = 0
	return n
}

// commandStat is a command's line of INFO commandstats: its calls, and
// the time Redis spent in them (a script's includes its commands').
type commandStat struct{ calls, usec int64 }

// commandStats is INFO commandstats by command (lower case), the calls
// inside scripts included, INFO's own left out.
func commandStats(t testing.TB, rdb *redis.Client) map[string]commandStat {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]commandStat{}
	for _, line := range strings.Split(info, "\n") {
		// cmdstat_evalsha:calls=123,usec=456,usec_per_call=...
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		name = strings.TrimPrefix(name, "cmdstat_")
		if name == "info" {
			continue
		}
		calls, rest, _ := strings.Cut(rest, ",usec=")
		usec, _, _ := strings.Cut(rest, ",")
		var st commandStat
		st.calls, _ = strconv.ParseInt(calls, 10, 64)
		st.usec, _ = strconv.ParseInt(usec, 10, 64)
		out[name] = st
	}
	return out
}

// webhookCommands is what single-alert webhooks (each opening an
// incident) and the dispatcher's work on their first pages cost in Redis:
// commands run per webhook (scripts' own commands and the scripts
// themselves, as INFO commandstats counts them), of which scripts
// (EVALSHA), round trips per webhook, and the commands by name.
type webhookCommands struct {
	cmds, scripts, trips float64
	by                   map[string]float64
	// usec is Redis's time in the commands the client sent (scripts
	// and PUBLISH), per webhook: timed, so only logged.
	usec float64
}

func (w webhookCommands) String() string {
	type kv struct {
		name string
		n    float64
	}
	var by []kv
	for name, n := range w.by {
		by = append(by, kv{name, n})
	}
	sort.Slice(by, func(i, j int) bool { return by[i].n > by[j].n || by[i].n == by[j].n && by[i].name < by[j].name })
	parts := make([]string, len(by))
	for i, x := range by {
		parts[i] = fmt.Sprintf("%s %.2f", x.name, x.n)
	}
	return fmt.Sprintf("%.2f commands (%.2f scripts), %.2f round trips a webhook (Redis's time in them %.1f µs): %s",
		w.cmds, w.scripts, w.trips, w.usec, strings.Join(parts, ", "))
}

// measureWebhookCommands runs the whole daemon (its dispatcher's own
// loop, woken by each new incident) on a Redis of its own, and sends it
// n webhooks, perWake at once (concurrently) and then waits until Redis
// has been idle a while: the dispatcher has claimed and worked every
// first page. The clock does not move, so no later step comes due, and
// the dispatcher's look at every shard (once a MaxSleep) comes only at
// its start, as does the readiness probe (every few seconds in the
// daemon: 67 commands a probe): what is counted is the webhooks' own. 1 a wake is a quiet
// day's pace, where each claim takes one incident; more is a storm's.
// Past the storm's first pages (a warm-up) every page is held, as in
// the load runs' closed loop.
func measureWebhookCommands(t testing.TB, n, perWake int) webhookCommands {
	t.Helper()
	trips := &cmdCounter{}
	st, srv := redisStore(t, trips)
	if err := st.(*redisstore.Store).LoadScripts(context.Background()); err != nil {
		t.Fatal(err)
	}
	rdb := srv.Client(t)
	h := newHarness(t, withStore(st), withConfig(testConfig+"server: {rate_limit: {per_second: 0}}\n"), maxSleep(time.Hour), probing(time.Hour), quiet())
	h.runFor(t)
	var seq, refused atomic.Int64
	post := func() {
		i := seq.Add(1)
		body := amPayload("firing", fmt.Sprintf(`{}:{alertname="Cmd%d"}`, i),
			map[string]string{"alertname": fmt.Sprintf("Cmd%d", i), "severity": "critical", "instance": "db" + strconv.FormatInt(i%100, 10)})
		// Refused at the door (admission control: 20 at once on a busy
		// box, or its brake while the dispatcher is behind), it is sent
		// again, as Alertmanager would: a refusal is answered before the
		// store is asked anything.
		for try := 1; ; try++ {
			r := h.do("POST", "/api/v1/alertmanager", body, "Authorization", "Bearer "+amKey)
			if r.code == 200 {
				return
			}
			if (r.code != 503 && r.code != 429) || try == 100 {
				t.Errorf("webhook: %d %s (try %d)", r.code, r.body, try)
				return
			}
			refused.Add(1)
			time.Sleep(10 * time.Millisecond)
		}
	}
	total := func(m map[string]commandStat) (n int64) {
		for _, c := range m {
			n += c.calls
		}
		return n
	}
	// idle waits until Redis has run nothing for 20 ms.
	idle := func() map[string]commandStat {
		last := commandStats(t, rdb)
		for {
			time.Sleep(20 * time.Millisecond)
			now := commandStats(t, rdb)
			if total(now) == total(last) {
				return now
			}
			last = now
		}
	}
	burst := func(k int) {
		var wg sync.WaitGroup
		for range k {
			wg.Add(1)
			go func() { defer wg.Done(); post() }()
		}
		wg.Wait()
	}
	// Warm: what is read once (the maintenance windows), the look at
	// every shard at the dispatcher's start, and the storm's first
	// pages, sent at once.
	burst(10)
	before := idle()
	trips.take()
	for i := 0; i < n; i += perWake {
		burst(perWake)
		if perWake == 1 {
			idle()
		}
	}
	after := idle()
	w := webhookCommands{trips: float64(trips.take()) / float64(n), by: map[string]float64{}}
	for name, c := range after {
		d := c.calls - before[name].calls
		if d == 0 {
			continue
		}
		w.by[name] = float64(d) / float64(n)
		w.cmds += float64(d) / float64(n)
		switch name {
		case "evalsha", "eval":
			w.scripts += float64(d) / float64(n)
			fallthrough
		case "publish":
			w.usec += float64(c.usec-before[name].usec) / float64(n)
		}
	}
	// Every first page was worked: nothing is due at the clock's time.
	claims, err := st.ClaimDue(context.Background(), h.clock.Now(), time.Minute, 1000)
	if err != nil || len(claims) != 0 {
		t.Fatalf("after the webhooks, %d steps still due (%v): the dispatcher did not work them all", len(claims), err)
	}
	if n := refused.Load(); n > 0 {
		t.Logf("%d webhooks refused at the door and sent again", n)
	}
	return w
}

// TestRedisCommandsPerWebhook logs what a new incident's webhook and its
// first page cost in Redis, commands and round trips, and fails if the
// commands grew past what they were when last cut (a little over, for the
// daemon's own timers: the maintenance windows' reads). A change that
// adds a command to the path must say why, and raise max here.
func TestRedisCommandsPerWebhook(t *testing.T) {
	for _, tc := range []struct {
		n, perWake int
		max        float64
	}{
		// 23.1 a webhook: trigger 7 (EVALSHA, GET, SET 2, ZADD 3),
		// claim 5 (EVALSHA, ZRANGE, GET, HSETNX, ZADD), storm admit 4
		// (EVALSHA, HMGET, RPUSH, HSET), Finish 6 (EVALSHA, HGET, GET,
		// SET, ZADD, HDEL), the nudge's PUBLISH; 5 round trips. (28.1
		// when every write added its incident to the open index again,
		// and the claim looked at the head of a shard it knew held
		// something due, and read the incident's entry in claims
		// before writing it; 25.1 when the admit of a page held read
		// the held count, which its RPUSH answers; 24.1 when the claim
		// read the shard's due entries, and its head after them, apart.)
		{100, 1, 23.5},
		// 21.4: claims of several incidents, nudges coalesced.
		// Capped as one a wake: how many incidents each claim takes
		// depends on the scheduler (a busy CI box claims the first of a
		// burst alone), and one a wake is what no timing can exceed.
		{200, 20, 23.5},
	} {
		t.Run(fmt.Sprintf("webhooks-a-wake=%d", tc.perWake), func(t *testing.T) {
			w := measureWebhookCommands(t, tc.n, tc.perWake)
			t.Log(w)
			if w.cmds > tc.max {
				t.Errorf("%.2f Redis commands a webhook, want at most %.2f", w.cmds, tc.max)
			}
		})
	}
}

package gateway

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/pagerd/pagerd/gateway/store/redisstore"
)

// tripCounter is a Redis client hook that counts round trips: a command
// sent alone is one, a pipeline (a batch of scripts) is one.
type tripCounter struct {
	mu    sync.Mutex
	trips []string
}

func (c *tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		// A new incident's nudge to the other replicas goes out on a
		// goroutine of its own, at most one per 5 ms however many
		// alerts come (nudgeGap): not the intake's.
		if cmd.Name() != "publish" && cmd.Name() != "hello" {
			c.note(cmd.Name())
		}
		return next(ctx, cmd)
	}
}

func (c *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		var names []string
		for _, cmd := range cmds {
			// A new connection's handshake (HELLO, CLIENT SETINFO).
			if cmd.Name() != "client" && cmd.Name() != "hello" {
				names = append(names, cmd.Name())
			}
		}
		if len(names) > 0 {
			c.note(fmt.Sprintf("pipeline[%s]", strings.Join(names, " ")))
		}
		return next(ctx, cmds)
	}
}

func (c *tripCounter) note(what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trips = append(c.trips, what)
}

// take returns the round trips since the last take.
func (c *tripCounter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.trips
	c.trips = nil
	return t
}

// TestRedisRoundTripsPerWebhook: a single-alert webhook costs the intake
// one round trip to Redis, whether it opens an incident or repeats an open
// one (the trigger script hands the repeated incident back, for the raise
// to look at, instead of a second read). Counted, not timed: a change that
// adds a round trip to the intake fails here, and must say why.
func TestRedisRoundTripsPerWebhook(t *testing.T) {
	trips := &tripCounter{}
	st, _ := redisStore(t, trips)
	// As the daemon does at its start (redisstore.Open): a script's first
	// call is then not sent twice (EVALSHA, NOSCRIPT, EVAL).
	if err := st.(*redisstore.Store).LoadScripts(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, withStore(st), quiet())
	post := func(group, severity string) {
		t.Helper()
		r := h.do("POST", "/api/v1/alertmanager", amPayload("firing", group, map[string]string{"alertname": "A" + group, "severity": severity}),
			"Authorization", "Bearer "+amKey)
		if r.code != 200 {
			t.Fatalf("webhook: %d %s", r.code, r.body)
		}
	}
	// The first webhook also reads what is read once (the maintenance
	// windows, the scripts).
	post("warm", "critical")
	trips.take()
	for _, tc := range []struct {
		name, group, severity string
		trips                 int
	}{
		{"new incident", "g1", "critical", 1},
		{"repeat of an open one", "g1", "critical", 1},
		{"another new one", "g2", "warning", 1},
		{"its repeat", "g2", "warning", 1},
		// The incident the repeat handed back is raised: the write alone.
		{"a repeat that raises it", "g2", "critical", 2},
	} {
		post(tc.group, tc.severity)
		if got := trips.take(); len(got) != tc.trips {
			t.Errorf("%s: %d round trips to Redis (%v), want %d", tc.name, len(got), got, tc.trips)
		}
	}
	raised := 0
	for _, v := range h.list("") {
		if v.Repeats == 2 { // g2's
			raised++
			if v.Priority != "P0" {
				t.Errorf("the repeat that raised g2's incident left it %s", v.Priority)
			}
		}
	}
	if raised != 1 {
		t.Errorf("%d incidents repeated twice, want 1 (g2's)", raised)
	}
}

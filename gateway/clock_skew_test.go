package gateway

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/dispatch"
	"github.com/pagerd/pagerd/notify"
)

// Replicas whose hosts' clocks disagree share one Redis: a lease is
// written by the claimer and judged by everyone else, a deadline written
// by the replica that took the alert and fired by whichever claims it.

// TestSkewedReplicasPageOnce: replica first takes an alert and claims its
// push and, while the send is in flight (a provider that takes a moment),
// replica second, another daemon whose host's clock is off first's, looks
// at the due set. Whichever runs ahead, by seconds or by minutes, second
// must not take the claim over and send the push again (a duplicate page
// in normal operation), nor page the SMS and the call, due at 2 and 5
// minutes, now.
func TestSkewedReplicasPageOnce(t *testing.T) {
	for _, c := range []struct {
		first, second time.Duration // each host's clock, off true time
	}{
		{0, 5 * time.Second},
		{0, time.Minute},
		{0, 10 * time.Minute},
		{-time.Minute, 0}, // first runs behind: its lease is over on second's clock
		{time.Minute, 0},
		{0, -time.Minute},
	} {
		t.Run(fmt.Sprintf("first%+v/second%+v", c.first, c.second), func(t *testing.T) {
			st, _ := redisStore(t)
			host := func(skew time.Duration) func() time.Time {
				return func() time.Time { return time.Now().Add(skew) }
			}
			h := newHarness(t, withStore(st), withConfig(dispatchConfig), replicas(0), onWall(host(c.first)))
			other := newHarness(t, withStore(st), withConfig(dispatchConfig), replicas(0), onWall(host(c.second)))
			second, _ := other.dispatcher(func(o *dispatch.Options) {
				o.Lease = 30 * time.Second
				withTransport(h.rec)(o)
			})
			var looked sync.Once
			first, _ := h.dispatcher(func(o *dispatch.Options) {
				o.Lease = 30 * time.Second
				withTransport(notifierFunc(func(ctx context.Context, m notify.Message) error {
					// The other replica looks while this send is in
					// flight.
					looked.Do(func() {
						if _, err := second.RunOnce(context.Background()); err != nil {
							t.Error(err)
						}
					})
					return h.rec.Notify(ctx, m)
				}))(o)
			})
			id := fire(h)
			if _, err := first.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := pages(h.rec); got != "L1 ann push" {
				t.Errorf("pages: %s; want the push once", got)
			}
			if _, err := second.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := pages(h.rec); got != "L1 ann push" {
				t.Errorf("pages after second looked again: %s; want the push alone until 2m", got)
			}
			v := h.incident(id)
			if n := len(entriesOf(v.Timeline, "notify", "push")); n != 1 {
				t.Errorf("%d pushes in the timeline, want 1", n)
			}
		})
	}
}

// pages are the pages r got, without their times.
func pages(r *recorder) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.msgs {
		out = append(out, fmt.Sprintf("L%d %s %s", m.Level, m.User, m.Channel))
	}
	return strings.Join(out, ", ")
}

// TestHeartbeatPingedOnASkewedReplicaIsNotMissed: a heartbeat (interval
// 1m, grace 30s) is pinged on time through a replica whose host's clock
// runs two minutes behind; another replica, on a host with the right
// time, claims its expiry job. The heartbeat must not be paged missed:
// its expiry is 90 s after the ping, on one clock.
func TestHeartbeatPingedOnASkewedReplicaIsNotMissed(t *testing.T) {
	st, _ := redisStore(t)
	host := func(skew time.Duration) func() time.Time {
		return func() time.Time { return time.Now().Add(skew) }
	}
	h := newHarness(t, withStore(st), withConfig(hbConfig), replicas(0), onWall(host(-2*time.Minute)))
	other := newHarness(t, withStore(st), withConfig(hbConfig), replicas(0), onWall(host(0)))
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.ping("watchdog", amKey, 200)
	for _, d := range []*dispatch.Dispatcher{other.d.Dispatcher(), h.d.Dispatcher()} {
		if _, err := d.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for _, inc := range other.list("") {
		t.Errorf("an incident right after an on-time ping: %s", inc.Summary)
	}
	if n := len(h.rec.lines(time.Time{})) + len(other.rec.lines(time.Time{})); n != 0 {
		t.Errorf("%d pages right after an on-time ping", n)
	}
}

// TestClaimsWaitForTheFirstReadingOfRedisClock: a replica that has not
// read Redis's clock yet (it started while Redis was down, or Redis
// refuses TIME) runs on its host's clock, which may be a lease ahead of
// the others: it claims nothing until its first reading, which comes
// within two seconds of Redis answering, or until clockWait, after which
// pages on its host's clock are better than none. Alerts are taken
// meanwhile.
func TestClaimsWaitForTheFirstReadingOfRedisClock(t *testing.T) {
	for _, c := range []struct {
		name  string
		wait  time.Duration
		grant bool // TIME allowed again while the replica waits
	}{
		{"read at last", time.Minute, true},
		{"never read", 300 * time.Millisecond, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			old := clockWait
			clockWait = c.wait
			t.Cleanup(func() { clockWait = old })
			st, r := redisStore(t)
			rdb := r.Client(t)
			acl := func(rule string) {
				t.Helper()
				if err := rdb.Do(context.Background(), "ACL", "SETUSER", "default", rule).Err(); err != nil {
					t.Fatal(err)
				}
			}
			acl("-time")
			h := newHarness(t, withStore(st), withConfig(dispatchConfig), replicas(0), onWall(time.Now))
			started := time.Now()
			h.runFor(t)
			fire(h)
			if c.grant {
				time.Sleep(500 * time.Millisecond)
				if got := pages(h.rec); got != "" {
					t.Fatalf("paged before Redis's clock was read: %s", got)
				}
				acl("+time")
			}
			waitUntil(t, 10*time.Second, "the push", func() bool { return pages(h.rec) != "" })
			if got := pages(h.rec); got != "L1 ann push" {
				t.Fatalf("pages: %s, want the push", got)
			}
			if !c.grant && time.Since(started) < c.wait {
				t.Fatalf("paged %s after the start on the host's clock, before clockWait %s", time.Since(started), c.wait)
			}
			if n := len(h.logLines("WARN", "claiming no due pages until Redis's clock is read")); n != 1 {
				t.Fatalf("%d WARN lines about the wait, want 1:\n%s", n, h.logs)
			}
		})
	}
}

// TestStoppedBeforeRedisClockIsReadStartsNoJobs: a replica stopped while
// it waits for its first reading of Redis's clock stops at once, and
// starts none of what it held on the way out: started on the ended run,
// the jobs' first tries failed at once and the log warned that the store
// jobs and heartbeats were not scheduled, at a shutdown that was fine.
func TestStoppedBeforeRedisClockIsReadStartsNoJobs(t *testing.T) {
	old := clockWait
	clockWait = time.Minute
	t.Cleanup(func() { clockWait = old })
	st, r := redisStore(t)
	if err := r.Client(t).Do(context.Background(), "ACL", "SETUSER", "default", "-time").Err(); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, withStore(st), withConfig(dispatchConfig), replicas(0), onWall(time.Now))
	ctx, cancel := context.WithCancel(context.Background())
	done := h.run(ctx)
	waitUntil(t, 5*time.Second, "the wait for Redis's clock", func() bool {
		return len(h.logLines("WARN", "claiming no due pages until Redis's clock is read")) == 1
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("pagerd Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pagerd still running 5s after it was stopped while waiting for Redis's clock")
	}
	time.Sleep(200 * time.Millisecond) // what the held goroutines would log
	for _, msg := range []string{"store jobs not scheduled yet", "not armed yet", "not re-armed"} {
		if l := h.logLines("WARN", msg); len(l) > 0 {
			t.Errorf("stopped while waiting for Redis's clock, the log warns: %s", l[0])
		}
	}
}

package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/replicaconfig"
)

// hbLengthened is hbConfig with the watchdog's interval lengthened from
// 1m to 10m: the newer config of a rollout.
var hbLengthened = strings.Replace(hbConfig, "{name: watchdog, interval: 1m,", "{name: watchdog, interval: 10m,", 1)

// hbRollout is a rolling config change half-way, on one Redis: replica a
// still runs hbConfig (watchdog 1m, grace 30s), taken into use a minute
// before replica b took hbLengthened (10m). Both armed. publish writes
// the registry entries listed (as Run does every replicaconfig.Interval).
func hbRollout(t *testing.T) (a, b *harness, publish func(hs ...*harness)) {
	t.Helper()
	st, _ := redisStore(t)
	a = newHarness(t, withStore(st), withConfig(hbConfig), startAt(fixedNow.Add(-time.Minute)))
	b = newHarness(t, withStore(st), withConfig(hbLengthened))
	a.clock.Set(fixedNow)
	for _, h := range []*harness{a, b} {
		if err := h.d.Arm(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	publish = func(hs ...*harness) {
		for _, h := range hs {
			if err := h.d.Replicas().Publish(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	return a, b, publish
}

// runRollout runs the replicas' dispatchers every second from fixedNow
// plus from to fixedNow plus end (a first on even seconds, b on odd ones, as runBoth), each
// publishing its registry entry every replicaconfig.Interval.
func runRollout(t *testing.T, from, end time.Duration, publish func(hs ...*harness), hs ...*harness) {
	t.Helper()
	for s := int(from / time.Second); s <= int(end/time.Second); s++ {
		at := fixedNow.Add(time.Duration(s) * time.Second)
		for _, h := range hs {
			h.clock.Set(at)
		}
		if s%int(replicaconfig.Interval/time.Second) == 0 {
			publish(hs...)
		}
		order := hs
		if s%2 == 1 && len(hs) == 2 {
			order = []*harness{hs[1], hs[0]}
		}
		for _, h := range order {
			h.step(at)
		}
	}
}

// TestHeartbeatLengthenedInARolloutIsNotMissedByAnOldReplica: the
// rollout lengthens the watchdog's interval to 10m, and its sender pings
// on the new cadence (every 5m) through either replica. Replica a, on the
// old config, claims the expiry (due 1m30s after a ping it took) and the
// recheck it arms for what it takes for a shortened interval (a ping b
// took is due 10m30s on); before, either paged the watchdog missed by the
// old interval, a false page in every rollout that lengthens one. Now a
// sees b's newer config in the registry and leaves the miss to b, which
// finds nothing due by the interval in force.
func TestHeartbeatLengthenedInARolloutIsNotMissedByAnOldReplica(t *testing.T) {
	a, b, publish := hbRollout(t)
	publish(a, b)
	a.ping("watchdog", amKey, 200) // due at 1m30s on a's config
	runRollout(t, 0, 5*time.Minute-time.Second, publish, a, b)
	b.clock.Set(fixedNow.Add(5 * time.Minute))
	b.ping("watchdog", amKey, 200) // due at 15m30s
	a.clock.Set(fixedNow.Add(5*time.Minute + 10*time.Second))
	if err := a.d.Arm(context.Background()); err != nil { // a's re-arm: a recheck at 6m40s
		t.Fatal(err)
	}
	runRollout(t, 5*time.Minute+11*time.Second, 9*time.Minute, publish, a, b)
	if incs := a.list(""); len(incs) != 0 {
		t.Fatalf("a heartbeat pinged within the newer config's interval was paged by the old replica: %+v", incs)
	}
	if !strings.Contains(a.logs.String(), "left to that replica (a rollout under way)") {
		t.Errorf("replica a never left a miss to b; the test proves nothing:\n%s", a.logs.String())
	}
}

// TestHeartbeatMissedInARolloutOnlyOldReplicasLeft: the same miss by the
// old config, but no newer replica is live (the rollout rolled back, or
// every replica is old): replica a raises it at the expiry, as before.
// And with b in the registry but taking nothing (stuck, or its entry
// outliving it), a leaves it for a lease (30s) and then raises it: a
// newer config in the registry delays a miss by a lease at most.
func TestHeartbeatMissedInARolloutOnlyOldReplicasLeft(t *testing.T) {
	t.Run("no newer replica", func(t *testing.T) {
		a, _, publish := hbRollout(t)
		a.ping("watchdog", amKey, 200)
		runRollout(t, 0, 90*time.Second, publish, a)
		a.wantPagedOnce("at the expiry, with no newer replica live", "Heartbeat watchdog missed")
	})
	t.Run("newer replica stuck", func(t *testing.T) {
		a, b, publish := hbRollout(t)
		publish(a, b)
		a.ping("watchdog", amKey, 200)
		publishBoth := func(hs ...*harness) {
			b.clock.Set(a.clock.Now()) // b runs, and writes its entry: its dispatcher alone is stuck
			publish(append(hs, b)...)
		}
		runRollout(t, 0, 2*time.Minute-time.Second, publishBoth, a)
		if incs := a.list(""); len(incs) != 0 {
			t.Fatalf("raised within a lease of the expiry, while a newer replica is live: %+v", incs)
		}
		runRollout(t, 2*time.Minute, 2*time.Minute, publishBoth, a)
		a.wantPagedOnce("a lease after the expiry, the newer replica taking nothing", "Heartbeat watchdog missed")
		if n := metric(t, a.reg, "pagerd_heartbeat_misses_held_total", "service", "api", "heartbeat", "watchdog", "reason", "newer_config"); n != 1 {
			t.Errorf("pagerd_heartbeat_misses_held_total{reason=newer_config} %v, want 1: left once, however often it came due again", n)
		}
	})
}

package gateway

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestHeartbeatMissTakenOverAfterACrashIsNotPostponed: the replica that
// claimed a heartbeat's expiry dies before raising its incident; another
// replica, running all along (and taking pings all along), takes the
// expiry over when the lease (90s here) ends. The sender is dead: the
// miss is paged at the takeover, not watched again as if no pagerd had
// been running (before: found more than Unworked past due, the expiry was
// re-watched, and the miss paged another interval and grace later; a
// nightly heartbeat with a 2h grace, 2h late). On both stores.
func TestHeartbeatMissTakenOverAfterACrashIsNotPostponed(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cfg := strings.Replace(hbConfig, "server:\n", "server:\n  lease: 90s\n", 1)
			h := newHarness(t, withStore(mk(t)), withConfig(cfg))
			ctx := context.Background()
			if err := h.d.Arm(ctx); err != nil {
				t.Fatal(err)
			}
			p := h.ping("watchdog", amKey, 200)
			// The replica that claims the expiry dies at once.
			cs, err := h.store.ClaimDue(ctx, p.ExpiresAt, 90*time.Second, 10)
			if err != nil || len(cs) != 1 || cs[0].Job == nil {
				t.Fatalf("the crashed replica's claim: %+v, %v", cs, err)
			}
			takeover := p.ExpiresAt.Add(90 * time.Second)
			h.runUntil(takeover)
			if incs := h.list(""); len(incs) != 1 || !strings.Contains(incs[0].Summary, "Heartbeat watchdog missed") || h.pushes() != 1 {
				t.Fatalf("at the takeover, %s after the expiry: incidents %+v, %d pushes; want the miss paged", takeover.Sub(p.ExpiresAt), incs, h.pushes())
			}
		})
	}
}

// TestHeartbeatExpiryInAStoreOutageIsWatchedAgain: the store stops
// answering (pings cannot be stored) before a heartbeat's expiry and comes
// back two minutes after it; the replica ran all along, but its probes saw
// the outage: the expiry is watched again from then, not paged at once,
// as for a stop of every replica.
func TestHeartbeatExpiryInAStoreOutageIsWatchedAgain(t *testing.T) {
	rs := &refusingAll{Store: boltStore(t)}
	h := newHarness(t, withStore(rs), withConfig(hbConfig), probing(20*time.Millisecond))
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := h.ping("watchdog", amKey, 200)
	back := p.ExpiresAt.Add(2 * time.Minute)
	h.clock.Set(back)
	rs.all.Store(true)
	waitUntil(t, 5*time.Second, "the store's outage seen", func() bool { return h.do("GET", "/-/ready", "").code == 503 })
	time.Sleep(100 * time.Millisecond) // probes at the outage's end
	rs.all.Store(false)
	waitUntil(t, 5*time.Second, "the store back", func() bool { return h.do("GET", "/-/ready", "").code == 200 })
	h.step(back)
	if incs := h.list(""); len(incs) != 0 {
		t.Fatalf("an expiry that came due while the store was down was paged at once: %+v", incs)
	}
	h.runUntil(back.Add(90 * time.Second))
	h.wantPagedOnce("no ping within its interval and grace of the store's return", "Heartbeat watchdog missed")
}

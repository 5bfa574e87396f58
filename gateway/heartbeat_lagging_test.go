package gateway

import (
	"strings"
	"testing"
	"time"
)

// TestHeartbeatShortExpiryNotPostponedByALaggingReplica: a heartbeat
// whose interval and grace (3s) are shorter than the wait a replica
// without it puts the expiry off by (10s). That replica, its config
// lagging, claims the expiry first; the replica that has it claims it 10s
// later. The sender is dead: the miss is paged then, not watched again as
// a heartbeat absent from every config (before: each time the lagging
// replica claimed first, the expiry was watched again from the next claim,
// so a lagging replica that always won the claim kept it from ever being
// paged). On both stores.
func TestHeartbeatShortExpiryNotPostponedByALaggingReplica(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cfg := strings.Replace(hbConfig, "{name: watchdog, interval: 1m, grace: 30s,", "{name: watchdog, interval: 2s, grace: 1s,", 1)
			a, b := replicaPair(t, mk(t), cfg)
			p := a.ping("watchdog", amKey, 200)
			b.step(p.ExpiresAt) // the lagging replica claims it first
			a.step(p.ExpiresAt.Add(10 * time.Second))
			if incs := a.list(""); len(incs) != 1 || !strings.Contains(incs[0].Summary, "Heartbeat watchdog missed") {
				t.Fatalf("claimed by the replica that has it, 10s after the lagging one: incidents %+v; want the miss raised", incs)
			}
		})
	}
}

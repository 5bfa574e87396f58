package gateway

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestHeartbeatRecheckDueInAStopIsWatchedAgain: a daily heartbeat's
// interval is cut to 10m at a reload, which arms its recheck 10m later;
// every replica is then stopped (an upgrade) from 5m after the reload to
// 2h later. Nobody could ping it meanwhile: the recheck found overdue at
// the start watches it again, as the heartbeat's own expiry does, and the
// miss is paged only if no ping comes within 10m of the start (before:
// paged the moment pagerd started). On both stores.
func TestHeartbeatRecheckDueInAStopIsWatchedAgain(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := mk(t)
			short := strings.Replace(noWatchdog, "{name: nightly, interval: 1d}", "{name: nightly, interval: 10m}", 1)
			h1 := newHarness(t, withStore(st), withConfig(noWatchdog))
			if err := h1.d.Arm(context.Background()); err != nil {
				t.Fatal(err)
			}
			h1.ping("nightly", amKey, 200)
			h1.clock.Set(fixedNow.Add(time.Hour))
			h1.reloadArmed(short)
			h1.runUntil(fixedNow.Add(time.Hour + 5*time.Minute))
			_ = h1.d.Close() // every replica stopped

			start := fixedNow.Add(3 * time.Hour)
			h2 := newHarness(t, withStore(st), withConfig(short), startAt(start))
			if err := h2.d.Arm(context.Background()); err != nil {
				t.Fatal(err)
			}
			h2.step(start)
			if incs := h2.list(""); len(incs) != 0 {
				t.Fatalf("paged at the start, before any ping could reach pagerd: %q", incs[0].Summary)
			}
			h2.runUntil(start.Add(10*time.Minute - time.Second))
			if n := len(h2.list("")); n != 0 {
				t.Fatalf("%d incidents within 10m of the start", n)
			}
			h2.runUntil(start.Add(10 * time.Minute))
			h2.wantPagedOnce("no ping within 10m of the start", "Heartbeat nightly missed")
		})
	}
}

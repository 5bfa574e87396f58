package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/heartbeat"
)

// TestHeartbeatPingHeldUpByAStallIsNotMissed: a replica alone, frozen
// (SIGSTOP, a VM pause) from 59s to 2m after the watchdog's ping; the
// sender pinged on time at 1m, and its ping waits unread in the socket.
// When the replica runs again, its dispatcher claims the expiry (due at
// 1m30s) before the ping is read, and before the monitor's own tick has
// seen the stall. Before, the miss was paged there, and resolved by the
// ping a moment later: a false page. Now it waits heartbeat.StallGrace
// for the pings taken since; the one from the backlog replaces it, and
// nothing is paged. On both stores.
func TestHeartbeatPingHeldUpByAStallIsNotMissed(t *testing.T) {
	for name, mk := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(mk(t)), withConfig(hbConfig))
			if err := h.d.Arm(context.Background()); err != nil {
				t.Fatal(err)
			}
			mon := h.d.Heartbeats()
			h.ping("watchdog", amKey, 200)
			h.clock.Set(fixedNow.Add(59 * time.Second))
			mon.Tick()
			resume := fixedNow.Add(2 * time.Minute)
			h.step(resume)
			if incs := h.list(""); len(incs) != 0 {
				t.Fatalf("paged as the replica ran again, before the ping waiting in its backlog was read: %+v", incs)
			}
			h.ping("watchdog", amKey, 200) // from the backlog
			h.runUntil(resume.Add(80 * time.Second))
			if incs := h.list(""); len(incs) != 0 || h.pushes() != 0 {
				t.Fatalf("a heartbeat pinged on time, its ping held up by a stall, was paged: %+v", incs)
			}
			if n := metric(t, h.reg, "pagerd_heartbeat_misses_held_total", "service", "api", "heartbeat", "watchdog", "reason", "stall"); n != 1 {
				t.Errorf("pagerd_heartbeat_misses_held_total{reason=stall} %v, want 1 (the stall was seen only in the log)", n)
			}
		})
	}
}

// TestHeartbeatMissInAStallIsPagedAfterTheGrace: the same stall, the
// sender dead: the miss that came due in it is paged StallGrace after the
// replica runs again (the bound docs/CONFIG.md gives), not before and not
// later, whether the monitor's tick or the dispatcher sees the stall
// first. A replica that runs all along (ticking every second) pages a
// miss at its expiry, not a grace later.
func TestHeartbeatMissInAStallIsPagedAfterTheGrace(t *testing.T) {
	resume := fixedNow.Add(2 * time.Minute)
	for _, tickFirst := range []bool{true, false} {
		h := newHarness(t, withConfig(hbConfig))
		if err := h.d.Arm(context.Background()); err != nil {
			t.Fatal(err)
		}
		mon := h.d.Heartbeats()
		h.ping("watchdog", amKey, 200)
		h.clock.Set(fixedNow.Add(59 * time.Second))
		mon.Tick()
		h.clock.Set(resume)
		if tickFirst {
			mon.Tick()
		}
		h.step(resume)
		// Running again: ticking every second, as WatchStalls does.
		for at := resume; at.Before(resume.Add(heartbeat.StallGrace)); at = at.Add(time.Second) {
			h.clock.Set(at)
			mon.Tick()
			h.step(at)
		}
		if incs := h.list(""); len(incs) != 0 {
			t.Fatalf("tick first %v: paged within the grace after the stall: %+v", tickFirst, incs)
		}
		h.clock.Set(resume.Add(heartbeat.StallGrace))
		mon.Tick()
		h.step(h.clock.Now())
		h.wantPagedOnce("the grace after the stall", "Heartbeat watchdog missed")
	}

	h := newHarness(t, withConfig(hbConfig))
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.ping("watchdog", amKey, 200)
	for s := 1; s <= 90; s++ {
		h.clock.Set(fixedNow.Add(time.Duration(s) * time.Second))
		h.d.Heartbeats().Tick()
		h.step(h.clock.Now())
	}
	h.wantPagedOnce("at the expiry, on a replica that ran all along", "Heartbeat watchdog missed")
}

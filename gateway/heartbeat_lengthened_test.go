package gateway

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestHeartbeatIntervalLengthenedAtReload: the watchdog (1m, grace 30s)
// pinged, then its interval lengthened to 10m at a reload, its sender
// silent: the longer interval counts from the last ping at once, as
// docs/CONFIG.md says, so nothing is missed at the old expiry, and the
// miss comes 10m30s after the last ping.
func TestHeartbeatIntervalLengthenedAtReload(t *testing.T) {
	h := newHarness(t, withConfig(hbConfig))
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.ping("watchdog", amKey, 200)
	h.clock.Set(fixedNow.Add(10 * time.Second))
	h.reloadArmed(strings.Replace(hbConfig, "{name: watchdog, interval: 1m,", "{name: watchdog, interval: 10m,", 1))
	h.runUntil(fixedNow.Add(10*time.Minute + 29*time.Second))
	if incs := h.list(""); len(incs) != 0 {
		t.Fatalf("incidents within the lengthened interval from the last ping: %+v", incs)
	}
	h.runUntil(fixedNow.Add(10*time.Minute + 30*time.Second))
	if incs := h.list(""); len(incs) != 1 {
		t.Fatalf("incidents once the lengthened interval and grace ran out from the last ping: %+v", incs)
	}
}

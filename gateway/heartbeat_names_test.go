package gateway

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestHeartbeatEdgeNamesArePinged: the names check-config takes that are
// closest to what it refuses (dots inside the segment, ending in a dot, a
// digit alone, every allowed character) are reached by a ping on pagerd's
// path and on Opsgenie's, and a ping keeps each from being missed: no
// heartbeat that passes check-config pages a false miss for want of a
// path to ping it on ("." and ".." are refused: policy's
// TestHeartbeatNameIsAPathSegment).
func TestHeartbeatEdgeNamesArePinged(t *testing.T) {
	names := []string{"a..", "job.", "v1..2", "9", "A_b-c.d"}
	var hbs strings.Builder
	for _, n := range names {
		hbs.WriteString("      - {name: \"" + n + "\", interval: 1m, grace: 30s}\n")
	}
	cfg := strings.Replace(hbConfig, "      - {name: nightly, interval: 1d}\n", hbs.String(), 1)
	h := newHarness(t, withConfig(cfg))
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.ping("watchdog", amKey, 200)
	for _, n := range names {
		if a := h.ping(n, amKey, 200); a.Heartbeat != n {
			t.Errorf("ping of %q answered for heartbeat %q", n, a.Heartbeat)
		}
	}
	// 80s on, every one pinged again through Opsgenie's path.
	h.clock.Set(fixedNow.Add(80 * time.Second))
	h.ping("watchdog", amKey, 200)
	for _, n := range names {
		h.og("GET", "/v2/heartbeats/"+n+"/ping", "", 202)
	}
	h.runUntil(fixedNow.Add(160 * time.Second))
	if incs := h.list(""); len(incs) != 0 {
		t.Fatalf("heartbeats pinged on time were paged missed: %+v", incs)
	}
}

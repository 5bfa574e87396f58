package gateway

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestReloadTakingOutAHeartbeatWithItsIncidentOpenIsRefused: the watchdog
// is missed and its incident pages. A reload that renames the heartbeat
// (its sender, alive again, pings the new name) or takes it out is
// refused, naming the incident: a ping is the one thing that resolves a
// heartbeat's incident, and none could any more, so it escalated on up
// its ladder for a heartbeat that was back (or gone), until someone
// resolved it by hand. Resolved, the reload is taken. (Before: taken at
// once, and the pings of the renamed heartbeat resolved nothing.)
func TestReloadTakingOutAHeartbeatWithItsIncidentOpenIsRefused(t *testing.T) {
	h := newHarness(t, withConfig(hbConfig))
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.ping("watchdog", amKey, 200)
	h.runUntil(fixedNow.Add(2 * time.Minute))
	incs := h.list("")
	if len(incs) != 1 || incs[0].Status != "triggered" {
		t.Fatalf("the watchdog's miss: %+v", incs)
	}
	renamed := strings.Replace(hbConfig, "{name: watchdog,", "{name: watchdog-v2,", 1)
	for what, yaml := range map[string]string{"renamed": renamed, "taken out": noWatchdog} {
		err := h.reload(yaml)
		if err == nil || !strings.Contains(err.Error(), "heartbeats") || !strings.Contains(err.Error(), "watchdog") ||
			!strings.Contains(err.Error(), incs[0].ID) {
			t.Fatalf("reload with the watchdog %s while its incident is open: %v, want refused naming the heartbeat and %s", what, err, incs[0].ID)
		}
	}
	if h.config().Service("api").Heartbeat("watchdog") == nil {
		t.Fatal("the refused reload took the watchdog out")
	}
	if r := h.api("POST", "/api/v1/incidents/"+incs[0].ID+"/resolve", ""); r.code != 200 {
		t.Fatalf("resolve: %d %s", r.code, r.body)
	}
	if err := h.reload(renamed); err != nil {
		t.Fatalf("reload with the watchdog renamed, its incident resolved: %v", err)
	}
}

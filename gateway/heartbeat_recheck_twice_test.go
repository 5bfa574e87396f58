package gateway

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/gateway/heartbeat"
	"github.com/pagerd/pagerd/gateway/store"
)

// TestHeartbeatShortenedAndDeadCountsEachMissOnce: a daily heartbeat's
// interval cut to 10m at a reload, its sender dead. The recheck raises the
// miss 10m after the reload and, while the old expiry is a day off, every
// 10m; once the expiry has come and watches every 10m itself, the recheck
// ends: each 10 minutes count one miss, not two. (Before: the recheck
// went on for as long as the heartbeat stayed dead, next to the expiry,
// and pagerd_heartbeat_misses_total counted every miss twice, an incident
// resolved by hand coming back at whichever of the two came first.)
func TestHeartbeatShortenedAndDeadCountsEachMissOnce(t *testing.T) {
	h := newHarness(t, withConfig(hbConfig))
	ctx := context.Background()
	if err := h.d.Arm(ctx); err != nil {
		t.Fatal(err)
	}
	h.ping("nightly", amKey, 200)
	h.clock.Set(fixedNow.Add(time.Hour))
	short := strings.Replace(strings.Replace(hbConfig, "{name: nightly, interval: 1d}", "{name: nightly, interval: 10m}", 1),
		"      - {name: watchdog, interval: 1m, grace: 30s, labels: {team: sre}}\n", "", 1)
	if err := h.reload(short); err != nil {
		t.Fatal(err)
	}
	if err := h.d.Arm(ctx); err != nil {
		t.Fatal(err)
	}
	// Past the old expiry (a day after the ping), and two hours on.
	h.runUntil(fixedNow.Add(26*time.Hour + time.Minute))
	misses := metric(t, h.reg, "pagerd_heartbeat_misses_total", "service", "api", "heartbeat", "nightly")
	// One a 10 minutes from the reload (1h10m) to 26h01m: 150, and at
	// most one more where the recheck hands over to the expiry.
	if misses < 150 || misses > 151 {
		t.Fatalf("pagerd_heartbeat_misses_total %v over 24h50m of a 10m heartbeat, want one a 10 minutes (150)", misses)
	}
	if _, err := h.store.GetJob(ctx, heartbeat.JobKind, "api/nightly#recheck"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the recheck once the expiry watches by 10m: %v, want ended", err)
	}
	if incs := h.list(""); len(incs) != 1 {
		t.Fatalf("incidents %+v, want one", incs)
	}
}

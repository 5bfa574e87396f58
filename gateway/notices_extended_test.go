package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
)

// TestShiftNoticeOfAnOverrideExtendingTheShiftRunningNow: bob, on call
// this week and told so until Monday Sep 15 00:00, is given ann's week
// too by an override made on Thursday (ann is ill), and his own turn
// follows it. Bob is the one paged until Sep 29: he is told at once that
// he stays on call until then, and
// the team's channel hears of it; once across replicas, and not again.
// (Before: nobody was told, bob's last word said his shift ended on
// Monday, and no handoff came to tell him otherwise.)
func TestShiftNoticeOfAnOverrideExtendingTheShiftRunningNow(t *testing.T) {
	sl := providertest.NewSlack(t)
	st, _ := redisStore(t)
	h := newHarness(t, withStore(st), withConfig(noticesConfig(sl.URL)), replicas(2))
	if err := h.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.runUntil(time.Date(2025, 9, 11, 12, 0, 0, 0, time.UTC))
	if r := h.api("POST", "/api/v1/schedules/s/overrides", `{"tier":"primary","user":"bob","start":"2025-09-15T00:00:00Z","end":"2025-09-22T00:00:00Z","reason":"ann ill"}`); r.code != 201 {
		t.Fatalf("override: %d %s", r.code, r.body)
	}
	h.runUntil(time.Date(2025, 9, 28, 1, 0, 0, 0, time.UTC))
	got := noticeTexts(h)
	want := []string{
		"Sep 11 12:00 bob sms: Change: you stay on call until Mon Sep 29 00:00 UTC: Primary of s (override: ann ill), not until Mon Sep 15 00:00 UTC.",
		"Sep 28 00:00 ann push: Your on-call shift starts in 1d: Primary of s, from Mon Sep 29 00:00 UTC until Mon Oct 6 00:00 UTC. You take over from Bob.",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("notices:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	team := strings.Join(teamTexts(sl), "\n")
	if !strings.Contains(team, "The on-call plan of s changed: Primary until Mon Sep 29 00:00 UTC: Bob stays on, not until Mon Sep 15 00:00 UTC (override: ann ill)") {
		t.Fatalf("team channel:\n%s", team)
	}
}

package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/internal/providertest"
)

// TestShiftNoticeJobClaimedByALaggingReplicaIsLeftToTheNewerOne: a
// rollout adds notices to schedule s. Replica b, its config a minute
// older and without them, claims s's job when ann's notice a day ahead
// comes due: it leaves the job to replica a, whose config has them, and
// ann is told on time. (Before: b ended the job, ann was never told, and
// a's next arming stored a new job from then on.)
func TestShiftNoticeJobClaimedByALaggingReplicaIsLeftToTheNewerOne(t *testing.T) {
	sl := providertest.NewSlack(t)
	st, _ := redisStore(t)
	withNotices := noticesConfig(sl.URL)
	without := strings.Replace(withNotices, "    notices: {before: 24h, slack_channel: \"#on-call-handoff\"}\n", "", 1)
	if without == withNotices {
		t.Fatal("the config without notices still has them")
	}
	b := newHarness(t, withStore(st), withConfig(without), startAt(fixedNow.Add(-time.Minute)))
	a := newHarness(t, withStore(st), withConfig(withNotices))
	ctx := context.Background()
	if err := a.d.Arm(ctx); err != nil {
		t.Fatal(err)
	}
	due := time.Date(2025, 9, 14, 0, 0, 0, 0, time.UTC)
	for _, h := range []*harness{a, b} {
		h.clock.Set(due)
		if err := h.d.Replicas().Publish(ctx); err != nil {
			t.Fatal(err)
		}
	}
	b.step(due)
	a.runUntil(due.Add(time.Minute))
	got := strings.Join(noticeTexts(a), "\n")
	if !strings.Contains(got, "Sep 14 00:00 ann push: Your on-call shift starts in 1d") {
		t.Fatalf("notices after the lagging replica claimed the job:\n%s\nwant ann's a day ahead", got)
	}
	if n := len(b.rec.notices()); n != 0 {
		t.Fatalf("the lagging replica sent %d notices", n)
	}
}

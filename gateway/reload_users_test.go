package gateway

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// annLeft is testConfig after ann left: cat, who took her place in the
// primary tier, replaces her among the users.
var annLeft = strings.Replace(strings.Replace(testConfig,
	"  - {id: ann, name: Ann, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}\n",
	"  - {id: cat, name: Cat, contacts: [{channel: push, via: log}, {channel: sms, via: log}, {channel: voice, via: log}]}\n", 1),
	"members: [ann]", "members: [cat]", 1)

// TestReloadRemovingThePersonPagedPagesWhoeverHoldsTheTier: a reload
// removes ann while her P0 ladder runs (her push sent) and gives her tier
// to cat. Her SMS at 2m and call at 5m were recorded notify_failed (no
// contact in the config) and cat was never paged at this level: the next
// page was bob's, at the 15m escalation. Now ann's steps are dropped at
// 2m, the timeline says why, cat's ladder starts then, and the level
// still times out at 15m.
func TestReloadRemovingThePersonPagedPagesWhoeverHoldsTheTier(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStore(open(t)))
			id := fire(h)
			h.step(fixedNow)
			if err := h.reload(annLeft); err != nil {
				t.Fatalf("reload refused: %v", err)
			}
			// A replica alone, in the registry of replicas' configs:
			// no newer config is live, so the removal is one.
			if err := h.d.Replicas().Publish(context.Background()); err != nil {
				t.Fatal(err)
			}
			h.runUntil(fixedNow.Add(16 * time.Minute))
			got := h.rec.lines(fixedNow)
			want := []string{"0s L1 ann push", "2m L1 cat push", "4m L1 cat sms", "7m L1 cat voice", "15m L2 bob push"}
			if !slices.Equal(got, want) {
				t.Fatalf("pages %v, want %v", got, want)
			}
			tl := h.incident(id).Timeline
			if f := entriesOf(tl, "notify_failed", "sms"); len(f) != 0 {
				t.Errorf("ann's steps failed instead of being dropped: %+v", f)
			}
			why := false
			for _, e := range tl {
				why = why || (e.Type == "escalate" && e.Detail == "ann is no longer in the config: level primary paged again")
			}
			if !why {
				t.Errorf("the timeline does not say why the level was paged again: %+v", tl)
			}
			if n := metric(t, h.reg, "pagerd_escalations_total", "level", "1"); n != 0 {
				t.Errorf("the page again counted as %v escalations to level 1", n)
			}
		})
	}
}
